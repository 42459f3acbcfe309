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

Former names follow the units, not their borders: a renamed unit that still exists
resolves to it (Guryev -> Atyrau, Tselinograd oblast -> Akmola), the former names of the
three cities resolve to the city (Alma-Ata, Tselinograd, Akmolinsk, Chimkent), Chimkent
oblast is South Kazakhstan. Units abolished in 1997, cities that are not regions and
ambiguous abbreviations raise :class:`RegionNameError` with their history
(:mod:`kzspatial.datasets._former_units`). Kazakh typed in Russian letters
(«Караганды облысы») folds to the Kazakh spelling.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets._former_units import FORMER_UNITS
from kzspatial.datasets._region_catalogue import CURRENT as _CURRENT
from kzspatial.datasets._region_catalogue import HISTORICAL as _HISTORICAL
from kzspatial.datasets._region_catalogue import Region

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


# Kazakh letters folded to the Russian (and Latin q to k) letters that stand for them
# when Kazakh is typed on a Russian keyboard: «Караганды облысы» = «Қарағанды облысы».
_KAZAKH_TO_RUSSIAN = str.maketrans(
    {"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х"}
    | {"і": "и", "ı": "i", "q": "k"}
)


def _fold(name: str) -> str:
    """Case-, diacritic-, space- and punctuation-insensitive key.

    Kazakh letters fold to the Russian ones that stand for them.
    """
    text = unicodedata.normalize("NFKD", str(name).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.translate(_KAZAKH_TO_RUSSIAN)
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


def _build_former_index() -> dict[str, str]:
    """Folded spelling -> explanation, for names that must not resolve silently."""
    index: dict[str, str] = {}
    for names, oblast, explanation in FORMER_UNITS:
        spellings = set(names)
        if oblast:
            spellings |= {f"{n} {suffix}" for n in names for suffix in _OBLAST_SUFFIXES}
        for s in spellings:
            key = _fold(s)
            if key not in _INDEX:  # a current name always wins
                index[key] = explanation
    return index


_FORMER_INDEX = _build_former_index()
#: Longer names are refused before fuzzy matching (difflib is quadratic in length).
_MAX_NAME_LENGTH = 200


def _key_of(name: object) -> str:
    """Fold ``name`` to its key, refusing missing, non-text and overlong names."""
    if name is None or (isinstance(name, float) and name != name):
        raise RegionNameError(
            "missing region name (empty cell); fill in the region of every row"
        )
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise RegionNameError(
            f"region names are text (or a KATO number), got {type(name).__name__} "
            f"{name!r}"
        )
    text = str(name)
    if len(text) > _MAX_NAME_LENGTH:
        raise RegionNameError(
            f"region name of {len(text):,} characters ({text[:40]!r}...) is not a "
            f"region name; names are at most {_MAX_NAME_LENGTH} characters"
        )
    key = _fold(text)
    if not key:
        raise RegionNameError(
            f"empty region name {text!r}; fill in the region of every row"
        )
    return key


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
    key = _key_of(name)
    region_id = _INDEX.get(key)
    if region_id is None and key in _FORMER_INDEX:
        raise RegionNameError(f"{name!r}: {_FORMER_INDEX[key]}")
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
