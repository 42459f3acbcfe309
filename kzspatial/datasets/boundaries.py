"""Administrative boundaries of Kazakhstan (geokz, CC BY 4.0), cleaned for analysis.

Cleaning applied to every layer (each fixes a documented defect of the source):

- invalid polygons are repaired with ``make_valid`` (the Ulytau district of ADM2 2024 is
  invalid as shipped), and again after any projection (:func:`to_equal_area`), because
  four ADM1 2024 polygons become invalid when reprojected;
- polygon parts under ``min_part_km2`` (1 km2) are dropped: the 2018 Akmola polygon has two
  slivers (0.6 km2 inside Turkistan, a speck by Almaty city) that create false contiguity;
- region ids come from ``ADM1_PCODE`` via the catalogue, never from geokz's outdated
  ``ISO_3166_2`` letter codes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from kzspatial._errors import ValidationError
from kzspatial.datasets.fetch import fetch, registry
from kzspatial.datasets.regions import get_region, resolve
from kzspatial.geo.crs import KZ_AEA

__all__ = ["load_admin_centres", "load_boundaries", "to_equal_area"]

_LEVELS = {
    ("adm1", "2024"),
    ("adm1", "2018"),
    ("adm2", "2024"),
    ("adm2", "2018"),
    ("adm0", "2018"),
}


def to_equal_area(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject to the KZ Albers equal-area CRS and repair geometries made invalid."""
    out = gdf.to_crs(KZ_AEA)
    out["geometry"] = shapely.make_valid(out.geometry.values)
    return out


def _drop_small_parts(geoms: np.ndarray, min_part_km2: float) -> np.ndarray:
    """Remove polygon parts smaller than ``min_part_km2`` (areas in KZ Albers)."""
    series = gpd.GeoSeries(geoms, crs="EPSG:4326")
    parts = series.explode(index_parts=True)
    area_km2 = to_equal_area(parts.to_frame("geometry")).area.to_numpy() / 1e6
    kept = parts[(area_km2 >= min_part_km2) | ~parts.geom_type.isin(["Polygon"])]
    merged = kept.groupby(level=0).agg(lambda g: shapely.union_all(g.to_numpy()))
    return merged.reindex(range(len(geoms))).to_numpy()


def load_boundaries(
    level: str = "adm1", vintage: str = "2024", *, min_part_km2: float = 1.0
) -> gpd.GeoDataFrame:
    """Load cleaned boundaries with catalogue codes and names, in EPSG:4326.

    Parameters
    ----------
    level : {"adm1", "adm2", "adm0"}
        Regions (oblasts and republican cities), districts, or the country outline.
    vintage : {"2024", "2018"}
        Border configuration: ``"2024"`` has 20 regions / 224 districts, ``"2018"`` 17
        regions (June 2018 - June 2022) / 216 districts. The outline exists as ``"2018"``.
    min_part_km2 : float, default 1.0
        Polygon parts smaller than this are dropped (0 keeps all).

    Returns
    -------
    geopandas.GeoDataFrame
        ``adm1``: ``region_id, pcode, kato, name_en, name_kk, name_ru, kind, centre,
        configuration, geometry``; ``adm2``: ``district_id, name_en, name_kk, name_ru,
        region_id, configuration, geometry``; ``adm0``: ``name_en, geometry``.
    """
    if (level, vintage) not in _LEVELS:
        raise ValidationError(
            f"no boundaries for level={level!r}, vintage={vintage!r}; "
            f"available: {sorted(_LEVELS)}"
        )
    key = f"kaz_admbnda_{level}_{vintage}.shp"
    raw = gpd.read_file(fetch(key), engine="pyogrio")
    if raw.crs is None or raw.crs.to_epsg() != 4326:
        raise ValidationError(f"{key}: expected EPSG:4326, found {raw.crs}")
    geoms = shapely.make_valid(raw.geometry.values)
    if min_part_km2 > 0:
        geoms = _drop_small_parts(np.asarray(geoms), min_part_km2)
    if level == "adm0":
        out = gpd.GeoDataFrame(
            {"name_en": ["Kazakhstan"]},
            geometry=[shapely.union_all(geoms)],
            crs="EPSG:4326",
        )
    elif level == "adm1":
        ids = [resolve(p, configuration=vintage) for p in raw["ADM1_PCODE"]]
        regions = [get_region(r) for r in ids]
        out = gpd.GeoDataFrame(
            {
                "region_id": ids,
                "pcode": raw["ADM1_PCODE"].to_numpy(),
                "kato": [r.kato for r in regions],
                "name_en": [r.name_en for r in regions],
                "name_kk": [r.name_kk for r in regions],
                "name_ru": [r.name_ru for r in regions],
                "kind": [r.kind for r in regions],
                "centre": [r.centre for r in regions],
            },
            geometry=geoms,
            crs="EPSG:4326",
        )
    else:
        out = gpd.GeoDataFrame(
            {
                "district_id": raw["ADM2_PCODE"].to_numpy(),
                "name_en": raw["ADM2_EN"].to_numpy(),
                "name_kk": raw["ADM2_KK"].to_numpy(),
                "name_ru": raw["ADM2_RU"].to_numpy(),
                "region_id": [
                    resolve(p, configuration=vintage) for p in raw["ADM1_PCODE"]
                ],
            },
            geometry=geoms,
            crs="EPSG:4326",
        )
    if level != "adm0":
        out["configuration"] = vintage
    entry = registry()[key]
    out.attrs.update(
        source=entry.dataset, licence=entry.licence, attribution=entry.attribution
    )
    return out


def load_admin_centres() -> gpd.GeoDataFrame:
    """Administrative centres of the 20 regions (geokz ``cnt1_2022``), EPSG:4326.

    Baikonur (leased to Russia, centre of no region) is dropped.

    Returns
    -------
    geopandas.GeoDataFrame
        ``region_id, name_en, name_kk, name_ru, geometry``; one point per region.
    """
    raw = gpd.read_file(fetch("kaz_admbnda_cnt1_2022.shp"), engine="pyogrio")
    raw = raw[raw["TYPE_CNT1"] != 4]
    out = gpd.GeoDataFrame(
        {
            "region_id": [resolve(p) for p in raw["ADM1_PCODE"]],
            "name_en": raw["NAME_EN"].to_numpy(),
            "name_kk": raw["NAME_KK"].to_numpy(),
            "name_ru": raw["NAME_RU"].to_numpy(),
        },
        geometry=raw.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    if out["region_id"].duplicated().any():
        raise ValidationError(
            "kaz_admbnda_cnt1_2022: more than one centre per region: "
            f"{sorted(out.loc[out.region_id.duplicated(), 'region_id'])}"
        )
    return out.reset_index(drop=True)
