"""Names the resolver answers with an explanation instead of a region id.

Three kinds of names are here, each with the history a user needs to place their data:

- oblasts abolished in 1997 whose territory no single unit of today covers
  (Semipalatinsk, Kokchetav, Taldy-Kurgan, Turgai, Dzhezkazgan);
- cities that are not first-level units (Shevchenko = Aktau, Leninsk = Baikonur);
- abbreviations that mean different regions in different languages ("SKO").

Renamed units that still exist are *not* here: their former names are aliases in
:mod:`kzspatial.datasets.regions` (Guryev -> Atyrau, Tselinograd oblast -> Akmola,
Chimkent oblast -> South Kazakhstan). Where kzspatial has no verified correspondence of
borders, the explanation says so instead of guessing one.
"""

from __future__ import annotations

__all__ = ["FORMER_UNITS"]

_ALMATY_2018 = "'Almaty Region (before June 2022)' (KZ-19-2018)"

#: (spellings, whether oblast suffixes are added, explanation)
FORMER_UNITS: tuple[tuple[tuple[str, ...], bool, str], ...] = (
    (
        (
            "Semipalatinsk",
            "Semipalatinskaya",
            "Семипалатинск",
            "Семипалатинская",
            "Semey oblysy",
            "Семей облысы",
        ),
        True,
        "Semipalatinsk oblast was merged into East Kazakhstan in 1997 and has no unit "
        "today. Abai Region (KZ-10, since June 2022; its centre Semey is the former "
        "Semipalatinsk) covers much of its territory, but kzspatial has no verified "
        "correspondence of the borders. Use 'Abai' (KZ-10) for data on Abai Region; data "
        "in the 1997-2022 borders belong to 'East Kazakhstan (before June 2022)' "
        "(KZ-63-2018)",
    ),
    (
        (
            "Kokchetav",
            "Kokchetavskaya",
            "Кокчетав",
            "Кокчетавская",
            "Kokshetau oblast",
            "Kokshetau region",
            "Kokshetau oblysy",
            "Көкшетау облысы",
        ),
        True,
        "Kokchetav (Kokshetau) oblast was abolished in 1997; its territory is today "
        "divided between North Kazakhstan (KZ-59) and Akmola (KZ-11, whose centre is now "
        "Kokshetau), so it has no single unit. Assign the data to those regions from "
        "district-level figures",
    ),
    (
        (
            "Taldy-Kurgan",
            "Taldykorgan",
            "Taldyqorgan",
            "Taldy-Kurganskaya",
            "Талды-Курган",
            "Талдыкорган",
            "Талды-Курганская",
            "Талдыкорганская",
            "Талдықорған",
        ),
        True,
        "Taldy-Kurgan oblast was merged into Almaty Region in 1997 and has no unit "
        "today. Zhetysu Region (KZ-33, since June 2022) has its centre at Taldykorgan, "
        "but kzspatial has no verified correspondence of the borders. Use 'Zhetysu' "
        f"(KZ-33) for data on Zhetysu Region; data in the 1997-2022 borders belong to "
        f"{_ALMATY_2018}",
    ),
    (
        (
            "Turgai",
            "Turgay",
            "Torgai",
            "Torgay",
            "Turgaiskaya",
            "Тургай",
            "Тургайская",
            "Торғай",
        ),
        True,
        "Turgai oblast (centre Arkalyk) was abolished in 1997 and divided between "
        "Kostanay (KZ-39) and Akmola (KZ-11); it has no single unit today. Assign the "
        "data to those regions from district-level figures",
    ),
    (
        (
            "Dzhezkazgan",
            "Zhezkazgan",
            "Jezkazgan",
            "Dzhezkazganskaya",
            "Джезказган",
            "Джезказганская",
            "Жезказган",
            "Жезқазған",
        ),
        True,
        "Dzhezkazgan (Zhezkazgan) oblast was merged into Karaganda in 1997 and has no "
        "unit today. Ulytau Region (KZ-62, since June 2022) has its centre at "
        "Zhezkazgan and covers part of the former oblast, but kzspatial has no verified "
        "correspondence of the borders. Use 'Ulytau' (KZ-62) for data on Ulytau Region; "
        "data in the 1997-2022 borders belong to 'Karaganda (before June 2022)' "
        "(KZ-35-2018)",
    ),
    (
        ("Shevchenko", "Шевченко"),
        False,
        "Shevchenko was the name (1964-1991) of Aktau, the centre of Mangystau Region; "
        "a city is not a first-level unit. Use 'Mangystau' (KZ-47) if the data are for "
        "the region",
    ),
    (
        ("Leninsk", "Ленинск", "Baikonur", "Baikonyr", "Байконур", "Байқоңыр"),
        False,
        "Leninsk is the former name of Baikonur, a city on the territory of Kyzylorda "
        "Region that is leased to and administered by Russia; it is not a first-level "
        "unit of Kazakhstan. Use 'Kyzylorda' (KZ-43) only if your source counts it there",
    ),
    (
        ("SKO",),
        False,
        "'SKO' is ambiguous: North Kazakhstan in Russian (СКО, Severo-Kazakhstanskaya) "
        "but South Kazakhstan in English. Write 'NKO' or 'North Kazakhstan' (KZ-59), or "
        "'South Kazakhstan' (KZ-51, before June 2018)",
    ),
)
