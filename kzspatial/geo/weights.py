"""Adapters between GeoDataFrames and the numpy/scipy core.

This module may import geopandas, shapely and pyproj; the core modules may not. It
turns geometries into what the core needs (ids, coordinates, weights) and keeps the
region ids as the index of everything it returns.
"""

from __future__ import annotations

from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from kzspatial._errors import CRSError, ValidationError
from kzspatial.core.weights import (
    SpatialWeights,
    build_distance_band,
    build_inverse_distance,
    build_knn,
)

__all__ = [
    "build_contiguity",
    "weights_from_geodataframe",
]


# =====================================================================================
# Spatial weights from geometries
# =====================================================================================
def _region_ids(gdf: gpd.GeoDataFrame, id_col: str) -> list[str]:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(f"expected a GeoDataFrame, got {type(gdf).__name__}")
    if id_col not in gdf.columns:
        raise ValidationError(
            f"id column {id_col!r} not found; available columns: {list(gdf.columns)}"
        )
    ids = gdf[id_col].tolist()
    bad = [i for i in ids if not isinstance(i, str)]
    if bad:
        raise ValidationError(
            f"column {id_col!r} must hold string region codes, found "
            f"{type(bad[0]).__name__} values such as {bad[0]!r}; convert with "
            f"gdf[{id_col!r}].astype(str) (mind leading zeros)"
        )
    if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
        missing = [
            ids[i]
            for i in np.flatnonzero(
                (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
            )
        ]
        raise ValidationError(f"regions without geometry: {missing[:10]}")
    return ids


def build_contiguity(
    gdf: gpd.GeoDataFrame, *, id_col: str, rook: bool = False
) -> SpatialWeights:
    """Binary Queen or Rook contiguity from polygons.

    Neighbours are found from geometric relations (shapely), not from shared vertex
    coordinates, so an enclave whose ring is digitised with different vertices than
    the hole of the surrounding region is still linked to it.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        One (multi)polygon per region; any CRS (contiguity is topological).
    id_col : str
        Column of string region ids; the order of rows is the order of the weights.
    rook : bool, default False
        False: Queen, regions that touch at least at one point are neighbours.
        True: Rook, regions must share a boundary segment of positive length, so a
        vertex-only touch is not a link.

    Returns
    -------
    SpatialWeights
        Symmetric binary weights; see ``summary()`` for islands and one-neighbour
        regions.

    Raises
    ------
    ValidationError
        Missing id column, non-string or duplicate ids, empty geometries.

    Notes
    -----
    Pairs whose interiors overlap (digitising slivers) count as neighbours under both
    rules, as ``libpysal.graph.Graph.build_contiguity(strict=True)`` would treat them.
    """
    ids = _region_ids(gdf, id_col)
    geoms = np.asarray(gdf.geometry.array)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    other = left != right
    left, right = left[other], right[other]
    if rook:
        # a shared edge, or an overlap, has positive length; a shared point has none
        shared = shapely.intersection(geoms[left], geoms[right])
        keep = shapely.length(shared) > 0
        left, right = left[keep], right[keep]
    return SpatialWeights.from_adjacency(
        (np.asarray(ids, dtype=object)[left], np.asarray(ids, dtype=object)[right]),
        ids=ids,
    )


def _lonlat_points(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Representative points (inside each polygon) as EPSG:4326 lon/lat."""
    if gdf.crs is None:
        raise CRSError(
            "the GeoDataFrame has no CRS, so distances cannot be computed; set it "
            "with gdf.set_crs(...) (e.g. EPSG:4326 for longitude/latitude)"
        )
    # representative points in the source CRS lie inside the polygon, unlike
    # centroids of concave regions; then degrees for great-circle distances
    points = gdf.geometry.representative_point().to_crs(4326)
    return points.x.to_numpy(), points.y.to_numpy()


def weights_from_geodataframe(
    gdf: gpd.GeoDataFrame,
    kind: Literal["queen", "rook", "knn", "distance_band", "inverse_distance"],
    *,
    id_col: str,
    **kwargs: Any,
) -> SpatialWeights:
    """Spatial weights of the regions of a GeoDataFrame.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        One row per region.
    kind : {"queen", "rook", "knn", "distance_band", "inverse_distance"}
        Contiguity (:func:`build_contiguity`) or a distance-based builder of
        :mod:`kzspatial.core.weights` applied to representative points on the sphere.
    id_col : str
        Column of string region ids.
    **kwargs
        Passed to the builder: ``k`` for knn, ``threshold_km`` for distance_band,
        ``power`` and ``threshold_km`` for inverse_distance.

    Returns
    -------
    SpatialWeights

    Raises
    ------
    CRSError
        Distance-based ``kind`` on a GeoDataFrame without CRS.
    ValidationError
        Unknown ``kind`` or bad builder arguments.

    Notes
    -----
    Distance-based weights always use great-circle kilometres between
    representative points projected to EPSG:4326, whatever the input CRS.
    """
    builders = ("queen", "rook", "knn", "distance_band", "inverse_distance")
    if kind not in builders:
        raise ValidationError(f"kind must be one of {builders}, got {kind!r}")
    if kind in ("queen", "rook"):
        if kwargs:
            raise ValidationError(f"{kind} contiguity takes no options, got {kwargs}")
        return build_contiguity(gdf, id_col=id_col, rook=kind == "rook")
    ids = _region_ids(gdf, id_col)
    lon, lat = _lonlat_points(gdf)
    try:
        if kind == "knn":
            return build_knn(ids, lon, lat, **kwargs)
        if kind == "distance_band":
            return build_distance_band(ids, lon, lat, **kwargs)
        return build_inverse_distance(ids, lon, lat, **kwargs)
    except TypeError as err:  # wrong keyword for the builder
        raise ValidationError(f"bad options for kind={kind!r}: {err}") from err
