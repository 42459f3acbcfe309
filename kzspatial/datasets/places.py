"""Region centres for distances: population-weighted, administrative or representative.

A population-weighted centre is the normalised population-weighted mean of the unit
vectors of a region's settlements (a centre of mass on the sphere), so it is correct for
regions of any size and never depends on a map projection.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._errors import CRSError, ValidationError

__all__ = [
    "load_osm_settlements",
    "population_weighted_centres",
    "representative_centres",
    "spherical_mean",
]


def spherical_mean(lon, lat, weights) -> tuple[float, float]:
    """Weighted centre of mass of points on the sphere, in degrees (lon, lat)."""
    lam, phi = np.radians(np.asarray(lon, float)), np.radians(np.asarray(lat, float))
    w = np.asarray(weights, float)
    xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    v = xyz @ w
    norm = np.linalg.norm(v)
    if norm == 0:
        raise ValidationError("weights sum to zero; cannot form a weighted centre")
    v /= norm
    return float(np.degrees(np.arctan2(v[1], v[0]))), float(np.degrees(np.arcsin(v[2])))


def population_weighted_centres(
    regions: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    population_col: str = "population",
    region_col: str = "region_id",
    fallback: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Population-weighted centre of each region from settlement points.

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        Polygons with ``region_col``.
    points : geopandas.GeoDataFrame
        Settlement points with ``population_col`` (> 0).
    fallback : geopandas.GeoDataFrame, optional
        Points (``region_col`` + geometry, e.g. administrative centres) used for regions
        containing no settlement point; without it such regions raise.

    Returns
    -------
    geopandas.GeoDataFrame
        ``region_id, n_points, population_in_points, method, geometry`` in EPSG:4326, in
        the order of ``regions``.

    Raises
    ------
    CRSError
        Either input lacks a CRS.
    ValidationError
        A region has no settlement point and no fallback.
    """
    if regions.crs is None or points.crs is None:
        raise CRSError("regions and points need a CRS; set it with .set_crs(...)")
    regions_ll = regions[[region_col, "geometry"]].to_crs(4326)
    pts = points[[population_col, "geometry"]].to_crs(4326)
    pts = pts[pts[population_col].fillna(0) > 0]
    joined = gpd.sjoin(pts, regions_ll, how="inner", predicate="within")
    rows = []
    fallback_ll = (
        None if fallback is None else fallback.to_crs(4326).set_index(region_col)
    )
    for rid in regions_ll[region_col]:
        mine = joined[joined[region_col] == rid]
        if len(mine):
            lon, lat = spherical_mean(
                mine.geometry.x, mine.geometry.y, mine[population_col]
            )
            rows.append(
                (
                    rid,
                    len(mine),
                    float(mine[population_col].sum()),
                    "population-weighted",
                    lon,
                    lat,
                )
            )
        elif fallback_ll is not None and rid in fallback_ll.index:
            g = fallback_ll.loc[rid, "geometry"]
            rows.append((rid, 0, 0.0, "fallback (no settlement point)", g.x, g.y))
        else:
            raise ValidationError(
                f"region {rid} contains no settlement point with a "
                "population; pass fallback= (e.g. administrative centres)"
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            region_col,
            "n_points",
            "population_in_points",
            "method",
            "lon",
            "lat",
        ],
    )
    return gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame.lon, frame.lat),
        crs=4326,
    )


def representative_centres(
    regions: gpd.GeoDataFrame, *, region_col: str = "region_id"
) -> gpd.GeoDataFrame:
    """Place one point guaranteed inside each region polygon (representative point).

    Built in the equal-area KZ Albers CRS (a planar construction), returned in
    EPSG:4326. It ignores where people live, so it is the geometric alternative to
    :func:`population_weighted_centres` in sensitivity checks.

    Parameters
    ----------
    regions : geopandas.GeoDataFrame
        Polygons with ``region_col``.
    region_col : str, keyword-only

    Returns
    -------
    geopandas.GeoDataFrame
        ``region_id, method, geometry`` in the order of ``regions``.

    Raises
    ------
    CRSError
        ``regions`` lacks a CRS.
    """
    from kzspatial.geo.crs import KZ_AEA

    if regions.crs is None:
        raise CRSError("regions need a CRS; set it with .set_crs(...)")
    points = regions.geometry.to_crs(KZ_AEA).representative_point().to_crs(4326)
    return gpd.GeoDataFrame(
        {region_col: regions[region_col].to_numpy(), "method": "representative point"},
        geometry=points.to_numpy(),
        crs=4326,
    )


def load_osm_settlements(outline: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """OpenStreetMap settlement points with a population tag, clipped to Kazakhstan.

    Opt-in only: the data are under the ODbL 1.0 (share-alike), so anything derived from
    them and redistributed must be shared under the same licence, with "© OpenStreetMap
    contributors". Population tags are of mixed vintage and sources, not census values.

    Parameters
    ----------
    outline : geopandas.GeoDataFrame
        Country outline (e.g. ``load_boundaries("adm0", "2018")``); points outside it are
        dropped (the export holds places across the border).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name, place, population, osm_id, geometry`` (EPSG:4326) for points with a
        numeric population tag; ``attrs`` carry the licence and how many points were
        dropped.
    """
    from kzspatial.datasets.fetch import fetch, registry

    key = "osm_populated_places.geojson"
    raw = gpd.read_file(fetch(key), engine="pyogrio")
    population = pd.to_numeric(
        raw["population"].astype(str).str.replace(r"[\s,]", "", regex=True),
        errors="coerce",
    )
    tagged = raw.assign(population=population)[population > 0]
    inside = tagged[tagged.within(outline.to_crs(4326).union_all())]
    out = inside[["name", "place", "population", "osm_id", "geometry"]].reset_index(
        drop=True
    )
    entry = registry()[key]
    out.attrs.update(
        source=key,
        licence=entry.licence,
        attribution=entry.attribution,
        points_in_file=len(raw),
        points_with_population=len(tagged),
        dropped_outside=len(tagged) - len(inside),
    )
    return out
