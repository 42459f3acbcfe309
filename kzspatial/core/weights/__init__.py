"""Spatial weights: ordered region ids next to a sparse ``(n, n)`` matrix.

Pure numpy/scipy core. :class:`SpatialWeights` is an immutable value object: named
constructors convert existing data (``from_sparse``, ``from_adjacency``,
``from_libpysal``), ``build_*`` functions derive weights from point coordinates on the
sphere (k nearest neighbours, distance band, inverse distance; great-circle km), and
``transform`` returns a new object. Contiguity from polygons lives in
:mod:`kzspatial.geo.weights` because it needs shapely.

The vocabulary follows libpysal (``s0``, ``s1``, ``s2``, ``cardinalities``, ``islands``)
so results can be cross-checked against ``libpysal.graph.Graph`` and ``esda``
:cite:`rey2010pysal`.
"""

from kzspatial.core.weights._base import (
    ISLAND_POLICIES,
    SpatialWeights,
    WeightsSummary,
    as_spatial_weights,
)
from kzspatial.core.weights.builders import (
    KNN_TIE_KM,
    build_distance_band,
    build_inverse_distance,
    build_knn,
)

__all__ = [
    "ISLAND_POLICIES",
    "KNN_TIE_KM",
    "SpatialWeights",
    "WeightsSummary",
    "as_spatial_weights",
    "build_distance_band",
    "build_inverse_distance",
    "build_knn",
]
