"""Catalogue of Kazakhstan's first-level units and one resolver for every spelling.

Region ids are ISO 3166-2:KZ numeric codes (``"KZ-71"`` = Astana). Their digits equal the
geokz ``ADM1_PCODE`` digits and the first two KATO digits. (geokz's ``ISO_3166_2`` field holds
the old letter codes such as ``KZ-AST``; join on PCODE/KATO, never on that field.)

Border configurations (``configuration=``):

``"2024"``
    20 units, June 2022 onwards: 17 oblasts + Astana, Almaty, Shymkent.
``"2018"``
    17 units, June 2018 - June 2022: Abai inside East Kazakhstan, Zhetysu inside Almaty Region,
    Ulytau inside Karaganda (ids ``KZ-63-2018``, ``KZ-19-2018``, ``KZ-35-2018``).
``"2010"``
    16 units, before June 2018: additionally Shymkent inside South Kazakhstan (``KZ-51``,
    KATO 51), which became Turkistan Region.

Every historical unit is an exact union of current units (``parts``), so any table in the
20-unit configuration aggregates exactly to the older ones (see :mod:`kzspatial.datasets.crosswalk`).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from kzspatial._errors import RegionNameError, ValidationError

__all__ = [
    "CONFIGURATIONS",
    "HUBS",
    "HUB_COLOURS",
    "HUB_IDS",
    "HUB_NAMES",
    "Hub",
    "Region",
    "configuration_ids",
    "get_region",
    "parent_in",
    "region_table",
    "resolve",
    "resolve_many",
]


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
_CURRENT = (
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
        ["Aqmola", "Akmolinskaya", "Ақмола", "Акмолинская", "Акмола"],
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
        ],
    ),
    _current(
        "23",
        "Atyrau",
        "Атырау облысы",
        "Атырауская область",
        "oblast",
        "Atyrau",
        ["Atyrau", "Atyrauskaya", "Атырау", "Атырауская", "Guryev"],
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
        ],
    ),
    _current(
        "31",
        "Zhambyl",
        "Жамбыл облысы",
        "Жамбылская область",
        "oblast",
        "Taraz",
        ["Jambyl", "Zhambyl", "Zhambylskaya", "Dzhambul", "Жамбылская", "Жамбыл"],
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
        ["Qyzylorda", "Kzyl-Orda", "Kyzylordinskaya", "Кызылординская", "Қызылорда"],
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
        ["Ulytau", "Ulutau", "Ulutay", "Ұлытау", "Улытауская"],
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

_HISTORICAL = (
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

_BY_ID = {r.id: r for r in (*_CURRENT, *_HISTORICAL)}

# Configuration name -> ordered unit ids. Older configurations replace the split units by
# their pre-split parent.
_MERGES_2018 = {
    "KZ-10": "KZ-63-2018",
    "KZ-63": "KZ-63-2018",
    "KZ-33": "KZ-19-2018",
    "KZ-19": "KZ-19-2018",
    "KZ-62": "KZ-35-2018",
    "KZ-35": "KZ-35-2018",
}
_MERGES_2010 = {**_MERGES_2018, "KZ-61": "KZ-51", "KZ-79": "KZ-51"}
_PARENT = {"2024": {}, "2018": _MERGES_2018, "2010": _MERGES_2010}
CONFIGURATIONS = tuple(_PARENT)


@dataclass(frozen=True)
class Hub:
    """One of the three cities whose catchments the study maps.

    Attributes
    ----------
    id : str
        Region id (2024 borders).
    name : str
        English name, used in column names (``share_astana``) and legends.
    colour : tuple of int
        RGBA, the same in rasters, QGIS styles and maps.
    """

    id: str
    name: str
    colour: tuple[int, int, int, int]


# The one hub catalogue; the colours live here, next to ids and names, so a hub cannot
# get a name in one module and a different colour or id in another (Astana blue,
# Almaty red, Shymkent green: ColorBrewer Paired).
HUBS = (
    Hub("KZ-71", "Astana", (31, 120, 180, 255)),
    Hub("KZ-75", "Almaty", (227, 26, 28, 255)),
    Hub("KZ-79", "Shymkent", (51, 160, 44, 255)),
)
HUB_IDS = tuple(h.id for h in HUBS)
#: Hub name by region id.
HUB_NAMES = {h.id: h.name for h in HUBS}
#: Hub RGBA colour by hub name.
HUB_COLOURS = {h.name: h.colour for h in HUBS}


def configuration_ids(configuration: str = "2024") -> tuple[str, ...]:
    """Ordered unit ids of a border configuration (20, 17 or 16 units)."""
    merges = _parent_map(configuration)
    out: list[str] = []
    for r in _CURRENT:
        target = merges.get(r.id, r.id)
        if target not in out:
            out.append(target)
    return tuple(out)


def _parent_map(configuration: str) -> dict[str, str]:
    try:
        return _PARENT[str(configuration)]
    except KeyError:
        raise ValidationError(
            f"unknown border configuration {configuration!r}; use one of {CONFIGURATIONS}"
        ) from None


def parent_in(region_id: str, configuration: str) -> str:
    """Id of the unit that contains current unit ``region_id`` in ``configuration``."""
    if region_id not in _BY_ID or _BY_ID[region_id].parts != (region_id,):
        raise ValidationError(f"{region_id!r} is not a current (20-unit) region id")
    return _parent_map(configuration).get(region_id, region_id)


def get_region(region_id: str) -> Region:
    """Catalogue entry of ``region_id`` (current or historical)."""
    try:
        return _BY_ID[region_id]
    except KeyError:
        raise RegionNameError(
            f"unknown region id {region_id!r}; known ids: {sorted(_BY_ID)}"
        ) from None


def _fold(name: str) -> str:
    """Case-, diacritic-, space- and punctuation-insensitive key."""
    text = unicodedata.normalize("NFKD", str(name).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    # BNS tables mark footnotes with a separated trailing digit ("Туркестанская 1").
    # (also "Turkestanskaya 3)" and, glued, "Туркестанская2)").
    text = re.sub(r"(?:(?<=[^\W\d_])\s+[\d*]+\)?|(?<=[^\W\d_.])\d+\))\s*$", "", text)
    return re.sub(r"[\W_]+", "", text)


_OBLAST_SUFFIXES = ("region", "oblast", "oblysy", "область", "обл.", "облысы")


def _build_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for r in _CURRENT + _HISTORICAL:
        spellings = {
            r.id,
            r.id.replace("-", ""),
            r.kato,
            r.name_en,
            r.name_kk,
            r.name_ru,
            *r.aliases,
        }
        if r.parts == (r.id,):  # geokz ADM1_PCODE
            spellings.add("KZ" + r.kato)
        if r.kind == "oblast":
            spellings |= {
                f"{s} {suffix}" for s in list(spellings) for suffix in _OBLAST_SUFFIXES
            }
        for s in spellings:
            key = _fold(s)
            if not key:
                continue
            # First come first served: current units precede historical ones, so a
            # historical unit never shadows the current unit of the same name.
            index.setdefault(key, r.id)
    return index


_INDEX = _build_index()


def resolve(name: str, *, configuration: str = "2024") -> str:
    """Resolve any spelling of a region to its id in ``configuration``.

    Parameters
    ----------
    name : str
        English, Kazakh or Russian name, transliteration, file-specific label
        (``"Almaty_city"``, ``"East_Kaz"``), ISO code (``"KZ-71"``), PCODE (``"KZ71"``) or
        KATO prefix (``"71"``). Case, spaces, diacritics and punctuation do not matter.
    configuration : {"2024", "2018", "2010"}
        Border configuration in which the returned id is expressed. A current unit that did
        not exist yet resolves to its parent (``"Abay"`` -> ``"KZ-63-2018"`` in ``"2018"``).

    Returns
    -------
    str
        Region id.

    Raises
    ------
    RegionNameError
        Unknown name (the message lists the closest candidates), or a historical unit asked
        for in a configuration where it had already been split.

    Examples
    --------
    >>> resolve("Almaty_city"), resolve("г. Алматы"), resolve("Almaty")
    ('KZ-75', 'KZ-75', 'KZ-19')
    >>> resolve("Ulutay"), resolve("Abay", configuration="2018")
    ('KZ-62', 'KZ-63-2018')
    """
    merges = _parent_map(configuration)
    key = _fold(name)
    region_id = _INDEX.get(key)
    if region_id is None:
        candidates = difflib.get_close_matches(key, list(_INDEX), n=4, cutoff=0.6)
        shown = sorted({f"{c!r} ({_INDEX[c]})" for c in candidates})
        hint = f"; closest known spellings: {', '.join(shown)}" if shown else ""
        raise RegionNameError(
            f"unknown region name {name!r}{hint}. Use an English, Kazakh or Russian name, "
            "or an ISO 3166-2:KZ code such as 'KZ-71'"
        )
    region = _BY_ID[region_id]
    if region.parts == (region_id,):
        return merges.get(region_id, region_id)
    # A historical name is valid where all its parts still lie in one unit.
    parents = {merges.get(p, p) for p in region.parts}
    if len(parents) == 1:
        return parents.pop()
    raise RegionNameError(
        f"{name!r} is {region.name_en}, which exists only {region.valid}; it has no single "
        f"unit in the {configuration} configuration. Aggregate the data to an older "
        "configuration with kzspatial.datasets.crosswalk instead"
    )


def resolve_many(
    names, *, configuration: str = "2024", source: str = "input"
) -> list[str]:
    """Resolve a sequence of names, reporting every unknown name at once.

    Raises
    ------
    RegionNameError
        Listing each unresolved name with its position in ``source``.
    """
    out, problems = [], []
    for i, n in enumerate(names):
        try:
            out.append(resolve(n, configuration=configuration))
        except RegionNameError as exc:
            problems.append(f"  row {i}: {exc}")
    if problems:
        raise RegionNameError(
            f"{len(problems)} region name(s) in {source} could not be resolved:\n"
            + "\n".join(problems)
        )
    return out


def region_table(configuration: str = "2024") -> list[dict[str, object]]:
    """Catalogue rows (plain dicts) for the units of ``configuration``, in id order."""
    return [
        {
            "region_id": r.id,
            "iso_3166_2": r.id if r.parts == (r.id,) else "",
            "kato": r.kato,
            "name_en": r.name_en,
            "name_kk": r.name_kk,
            "name_ru": r.name_ru,
            "kind": r.kind,
            "centre": r.centre,
            "parts": ",".join(r.parts),
            "valid": r.valid,
        }
        for r in (_BY_ID[i] for i in configuration_ids(configuration))
    ]
