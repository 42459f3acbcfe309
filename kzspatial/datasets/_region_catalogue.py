"""The catalogue data: Kazakhstan's current first-level units and the historical ones.

One :class:`Region` per unit with its codes, names in English, Kazakh and Russian, kind,
administrative centre and the spellings found in the sources; the resolver and the border
configurations built on it are in :mod:`kzspatial.datasets.regions`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CURRENT", "HISTORICAL", "Region"]


@dataclass(frozen=True)
class Region:
    """One first-level unit, current or historical.

    Attributes
    ----------
    id : str
        ISO 3166-2:KZ numeric code (current units) or a kzspatial id for historical extents.
    kato : str
        Two-digit KATO prefix.
    name_en, name_kk, name_ru : str
        Official names in English, Kazakh and Russian.
    kind : {"oblast", "city"}
        Oblast or city of republican significance.
    centre : str
        Administrative centre (English name).
    parts : tuple of str
        Current (20-unit) ids whose union this unit is; ``(id,)`` for current units.
    valid : str
        Period in which the unit existed in this extent.
    aliases : tuple of str
        Further spellings found in sources (transliterations, file-specific names).
    """

    id: str
    kato: str
    name_en: str
    name_kk: str
    name_ru: str
    kind: str
    centre: str
    parts: tuple[str, ...]
    valid: str
    aliases: tuple[str, ...] = ()


def _current(kato, en, kk, ru, kind, centre, aliases):
    return Region(
        f"KZ-{kato}",
        kato,
        en,
        kk,
        ru,
        kind,
        centre,
        (f"KZ-{kato}",),
        "June 2022 -"
        if kato in {"10", "33", "62"}
        else ("June 2018 -" if kato in {"61", "79"} else "1997 -"),
        tuple(aliases),
    )


# Spellings collected from geokz (ADM1_EN/KK/RU), the BNS OD file (Diar299/kz-migration), the
# monthly file (kanatislambekov/internal-migration-flow-kz), BNS population/GRP workbooks and
# common transliterations. "Almaty" alone is the *region* (English usage in geokz and the OD
# file); Russian "Алматы" / «г. Алматы» is the *city*, as in BNS tables and geokz ADM1_RU.
CURRENT = (
    _current(
        "10",
        "Abai",
        "Абай облысы",
        "Абайская область",
        "oblast",
        "Semey",
        ["Abay", "Abai", "Abay region", "Abai oblysy", "Абай", "Абайская"],
    ),
    _current(
        "11",
        "Akmola",
        "Ақмола облысы",
        "Акмолинская область",
        "oblast",
        "Kokshetau",
        [
            "Aqmola",
            "Akmolinskaya",
            "Ақмола",
            "Акмолинская",
            "Акмола",
            "Akmolinsk oblast",
            "Tselinograd oblast",
            "Tselinogradskaya",
            "Целиноградская",
        ],
    ),
    _current(
        "15",
        "Aktobe",
        "Ақтөбе облысы",
        "Актюбинская область",
        "oblast",
        "Aktobe",
        [
            "Aqtobe",
            "Aktyubinsk",
            "Aktyubinskaya",
            "Aktubinskaya",
            "Ақтөбе",
            "Актюбинская",
            "Актобе",
            "Aqtóbe",
            "Актюбинск",
        ],
    ),
    _current(
        "19",
        "Almaty Region",
        "Алматы облысы",
        "Алматинская область",
        "oblast",
        "Konaev",
        [
            "Almaty",
            "Almaty region",
            "Almaty oblast",
            "Almatinskaya",
            "Алматинская",
            "Almaty oblysy",
            "Alma-Ata oblast",
            "Alma-Atinskaya",
            "Алма-Атинская",
        ],
    ),
    _current(
        "23",
        "Atyrau",
        "Атырау облысы",
        "Атырауская область",
        "oblast",
        "Atyrau",
        [
            "Atyrau",
            "Atyrauskaya",
            "Атырау",
            "Атырауская",
            "Guryev",
            "Gurev",
            "Guryevskaya",
            "Гурьев",
            "Гурьевская",
            "Atyraý",
        ],
    ),
    _current(
        "27",
        "West Kazakhstan",
        "Батыс Қазақстан облысы",
        "Западно-Казахстанская область",
        "oblast",
        "Oral",
        [
            "West_Kaz",
            "West Kazakhstan",
            "Batys Kazakhstan",
            "Batys Qazaqstan",
            "Западно-Казахстанская",
            "Батыс Қазақстан",
            "ZKO",
            "Zapadno-Kazakhstanskaya",
            "WKO",
            "ЗКО",
            "БҚО",
            "Uralsk",
            "Uralskaya",
            "Уральск",
            "Уральская",
        ],
    ),
    _current(
        "31",
        "Zhambyl",
        "Жамбыл облысы",
        "Жамбылская область",
        "oblast",
        "Taraz",
        [
            "Jambyl",
            "Zhambyl",
            "Zhambylskaya",
            "Dzhambul",
            "Жамбылская",
            "Жамбыл",
            "Dzhambulskaya",
            "Jambul",
            "Джамбул",
            "Джамбулская",
        ],
    ),
    _current(
        "33",
        "Zhetysu",
        "Жетісу облысы",
        "Жетысуская область",
        "oblast",
        "Taldykorgan",
        [
            "Jetisu",
            "Zhetisu",
            "Zhetysu",
            "Jetysu",
            "Жетісу",
            "Жетысу",
            "Жетысуская",
            "Жетысуская область",
            "Jetisý",
        ],
    ),
    _current(
        "35",
        "Karaganda",
        "Қарағанды облысы",
        "Карагандинская область",
        "oblast",
        "Karaganda",
        [
            "Karagandy",
            "Qaraghandy",
            "Qaraganda",
            "Karagandinskaya",
            "Karaganda",
            "Карагандинская",
            "Қарағанды",
            "Qaraǵandy",
        ],
    ),
    _current(
        "39",
        "Kostanay",
        "Қостанай облысы",
        "Костанайская область",
        "oblast",
        "Kostanay",
        [
            "Qostanay",
            "Kostanai",
            "Kustanai",
            "Kustanay",
            "Kustanaiskaya",
            "Кустанай",
            "Кустанайская",
            "Qostanaı",
            "Kostanaiskaya",
            "Костанайская",
            "Қостанай",
        ],
    ),
    _current(
        "43",
        "Kyzylorda",
        "Қызылорда облысы",
        "Кызылординская область",
        "oblast",
        "Kyzylorda",
        [
            "Qyzylorda",
            "Kzyl-Orda",
            "Kyzylordinskaya",
            "Кызылординская",
            "Қызылорда",
            "Kyzyl-Orda",
            "Кзыл-Орда",
            "Кзыл-Ординская",
        ],
    ),
    _current(
        "47",
        "Mangystau",
        "Маңғыстау облысы",
        "Мангистауская область",
        "oblast",
        "Aktau",
        [
            "Mangystau",
            "Mangistau",
            "Mangghystau",
            "Mangyshlak",
            "Mangistauskaya",
            "Мангистауская",
            "Маңғыстау",
            "Мангыстауская",
            "Mangyshlakskaya",
            "Мангышлак",
            "Мангышлакская",
            "Mańǵystaý",
        ],
    ),
    _current(
        "55",
        "Pavlodar",
        "Павлодар облысы",
        "Павлодарская область",
        "oblast",
        "Pavlodar",
        ["Pavlodar", "Pavlodarskaya", "Павлодарская", "Павлодар"],
    ),
    _current(
        "59",
        "North Kazakhstan",
        "Солтүстік Қазақстан облысы",
        "Северо-Казахстанская область",
        "oblast",
        "Petropavl",
        [
            "North_Kaz",
            "North Kazakhstan",
            "Soltustik Kazakhstan",
            "Soltustik Qazaqstan",
            "Северо-Казахстанская",
            "Солтүстік Қазақстан",
            "Солтүстiк Қазақстан",
            "NKO",
            "СКО",
        ],
    ),
    _current(
        "61",
        "Turkistan",
        "Түркістан облысы",
        "Туркестанская область",
        "oblast",
        "Turkistan",
        ["Turkestan", "Turkistan", "Turkestanskaya", "Туркестанская", "Түркістан"],
    ),
    _current(
        "62",
        "Ulytau",
        "Ұлытау облысы",
        "Улытауская область",
        "oblast",
        "Zhezkazgan",
        ["Ulytau", "Ulutau", "Ulutay", "Ұлытау", "Улытауская", "Ulytaý"],
    ),
    _current(
        "63",
        "East Kazakhstan",
        "Шығыс Қазақстан облысы",
        "Восточно-Казахстанская область",
        "oblast",
        "Oskemen",
        [
            "East_Kaz",
            "East Kazakhstan",
            "Shygys Kazakhstan",
            "Shyghys Qazaqstan",
            "Восточно-Казахстанская",
            "Шығыс Қазақстан",
            "VKO",
            "EKO",
            "ВКО",
            "ШҚО",
            "Shyǵys Qazaqstan",
        ],
    ),
    _current(
        "71",
        "Astana city",
        "Астана",
        "Астана",
        "city",
        "Astana",
        [
            "Astana",
            "Astana_city",
            "Astana (city)",
            "Nur-Sultan",
            "Nur-Sultan (city)",
            "Нур-Султан",
            "Нұр-Сұлтан",
            "г. Астана",
            "г.Астана",
            "г. Нур-Султан",
            "Астана (қала)",
            "Астана қаласы",
            "Astana qalasy",
            "Tselinograd",
            "Akmolinsk",
            "Целиноград",
            "Акмолинск",
            "г. Целиноград",
            "г. Акмола",
            "Akmola city",
        ],
    ),
    _current(
        "75",
        "Almaty city",
        "Алматы",
        "Алматы",
        "city",
        "Almaty",
        [
            "Almaty_city",
            "Almaty city",
            "Almaty (city)",
            "Алматы",
            "г. Алматы",
            "г.Алматы",
            "Алматы (қала)",
            "Алматы қаласы",
            "Almaty qalasy",
            "Alma-Ata",
            "Алма-Ата",
            "г. Алма-Ата",
            "Verny",
            "Vernyi",
            "Верный",
        ],
    ),
    _current(
        "79",
        "Shymkent city",
        "Шымкент",
        "Шымкент",
        "city",
        "Shymkent",
        [
            "Shymkent",
            "Shymkent_city",
            "Shymkent (city)",
            "Шымкент",
            "г. Шымкент",
            "г.Шымкент",
            "Чимкент",
            "Shymkent qalasy",
            "Шымкент (қала)",
            "Chimkent",
            "Shimkent city",
            "Shimkent",
        ],
    ),
)

HISTORICAL = (
    Region(
        "KZ-51",
        "51",
        "South Kazakhstan",
        "Оңтүстік Қазақстан облысы",
        "Южно-Казахстанская область",
        "oblast",
        "Shymkent",
        ("KZ-61", "KZ-79"),
        "before June 2018 (then Turkistan Region and Shymkent city)",
        (
            "South Kazakhstan",
            "South_Kaz",
            "Ontustik Kazakhstan",
            "Ontustik Qazaqstan",
            "Южно-Казахстанская",
            "Оңтүстік Қазақстан",
            "YUKO",
            "ЮКО",
            "ОҚО",
            "Chimkent oblast",
            "Chimkentskaya",
            "Чимкентская",
        ),
    ),
    Region(
        "KZ-63-2018",
        "63",
        "East Kazakhstan (before June 2022)",
        "Шығыс Қазақстан облысы",
        "Восточно-Казахстанская область",
        "oblast",
        "Oskemen",
        ("KZ-63", "KZ-10"),
        "before June 2022 (then East Kazakhstan and Abai)",
    ),
    Region(
        "KZ-19-2018",
        "19",
        "Almaty Region (before June 2022)",
        "Алматы облысы",
        "Алматинская область",
        "oblast",
        "Konaev",
        ("KZ-19", "KZ-33"),
        "before June 2022 (then Almaty Region and Zhetysu)",
    ),
    Region(
        "KZ-35-2018",
        "35",
        "Karaganda (before June 2022)",
        "Қарағанды облысы",
        "Карагандинская область",
        "oblast",
        "Karaganda",
        ("KZ-35", "KZ-62"),
        "before June 2022 (then Karaganda and Ulytau)",
    ),
)
