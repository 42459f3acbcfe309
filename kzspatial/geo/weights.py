"""Spatial weights from GeoDataFrames, and to libpysal.

This module may import geopandas, shapely, pyproj and libpysal; the core may not. The
builders of weights are the core's ``build_*`` functions (points on the sphere) plus
:func:`build_contiguity` here (polygon topology needs shapely);
:func:`weights_from_geodataframe` is the one GeoDataFrame entry point that dispatches
to them by ``kind``. :func:`to_libpysal_graph` and :func:`to_libpysal_w` convert back
to libpysal (the other way is the core's duck-typed
:meth:`~kzspatial.core.weights.SpatialWeights.from_libpysal`).
"""

from __future__ import annotations

from collections.abc import Callable
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
    "WEIGHTS_KINDS",
    "build_contiguity",
    "to_libpysal_graph",
    "to_libpysal_w",
    "weights_from_geodataframe",
]

WeightsKind = Literal["queen", "rook", "knn", "distance_band", "inverse_distance"]


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


def _check_geometries(gdf: gpd.GeoDataFrame, id_col: str) -> None:
    """Refuse an empty GeoDataFrame and invalid (e.g. self-intersecting) geometries."""
    if isinstance(gdf, gpd.GeoDataFrame) and len(gdf) == 0:
        raise ValidationError(
            "the GeoDataFrame has no rows; weights need at least two regions"
        )
    if not isinstance(gdf, gpd.GeoDataFrame) or id_col not in gdf.columns:
        return  # _region_ids names the problem
    invalid = np.flatnonzero(~shapely.is_valid(gdf.geometry.values))
    if invalid.size:
        k = invalid[0]
        reason = shapely.is_valid_reason(gdf.geometry.values[k])
        raise ValidationError(
            f"{invalid.size} invalid geometr{'y' if invalid.size == 1 else 'ies'}, e.g. "
            f"region {gdf[id_col].iloc[k]!r}: {reason}. Repair them first with "
            "gdf.geometry.make_valid() (and check the result)"
        )


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
    """Return representative points (inside each polygon, in EPSG:4326) as lon/lat."""
    if gdf.crs is None:
        raise CRSError(
            "the GeoDataFrame has no CRS, so distances cannot be computed; set it "
            "with gdf.set_crs(...) (e.g. EPSG:4326 for longitude/latitude)"
        )
    # Representative points lie inside the polygon, unlike centroids of concave
    # regions. They are taken in EPSG:4326, whatever the input CRS: a representative
    # point depends on the coordinates it is computed in, and points taken in the source
    # CRS moved enough between EPSG:4326 and EPSG:3857 to change 3 of the 80 links of
    # the regions' 4 nearest neighbours.
    points = gdf.geometry.to_crs(4326).representative_point()
    return points.x.to_numpy(), points.y.to_numpy()


def weights_from_geodataframe(
    gdf: gpd.GeoDataFrame,
    kind: WeightsKind,
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
    if kind not in WEIGHTS_KINDS:
        raise ValidationError(
            f"kind must be one of {tuple(WEIGHTS_KINDS)}, got {kind!r}"
        )
    _check_geometries(gdf, id_col)
    try:
        return WEIGHTS_KINDS[kind](gdf, id_col, **kwargs)
    except TypeError as err:  # wrong keyword for the builder
        detail = "contiguity takes no options" if kind in ("queen", "rook") else err
        raise ValidationError(f"bad options for kind={kind!r}: {detail}") from err


def _contiguity(rook: bool) -> Callable[..., SpatialWeights]:
    def build(gdf: gpd.GeoDataFrame, id_col: str) -> SpatialWeights:
        return build_contiguity(gdf, id_col=id_col, rook=rook)

    return build


def _on_points(builder: Callable[..., SpatialWeights]) -> Callable[..., SpatialWeights]:
    """Apply a core point builder to the regions' representative points."""

    def build(gdf: gpd.GeoDataFrame, id_col: str, **kwargs: Any) -> SpatialWeights:
        ids = _region_ids(gdf, id_col)
        lon, lat = _lonlat_points(gdf)
        return builder(ids, lon, lat, **kwargs)

    return build


#: ``kind`` of :func:`weights_from_geodataframe` -> builder of the weights from the
#: GeoDataFrame and its id column (contiguity, or a core point builder).
WEIGHTS_KINDS: dict[str, Callable[..., SpatialWeights]] = {
    "queen": _contiguity(rook=False),
    "rook": _contiguity(rook=True),
    "knn": _on_points(build_knn),
    "distance_band": _on_points(build_distance_band),
    "inverse_distance": _on_points(build_inverse_distance),
}


# =====================================================================================
# Conversion to libpysal
# =====================================================================================
def to_libpysal_graph(w: SpatialWeights) -> Any:
    """Convert to a ``libpysal.graph.Graph`` with the same ids, order and weights.

    Parameters
    ----------
    w : SpatialWeights

    Returns
    -------
    libpysal.graph.Graph
        Islands become libpysal isolates.
    """
    from libpysal.graph import Graph

    return Graph.from_sparse(w.sparse, ids=list(w.ids))


def to_libpysal_w(w: SpatialWeights) -> Any:
    """Convert to a ``libpysal.weights.W`` with the same ids, order and weights.

    Parameters
    ----------
    w : SpatialWeights

    Returns
    -------
    libpysal.weights.W
        Islands are kept (with no neighbours).
    """
    from libpysal.weights import W

    mat = w.sparse
    neighbors: dict[str, list[str]] = {}
    weights: dict[str, list[float]] = {}
    for i, uid in enumerate(w.ids):
        lo, hi = mat.indptr[i], mat.indptr[i + 1]
        neighbors[uid] = [w.ids[j] for j in mat.indices[lo:hi]]
        weights[uid] = mat.data[lo:hi].tolist()
    return W(neighbors, weights, id_order=list(w.ids), silence_warnings=True)
