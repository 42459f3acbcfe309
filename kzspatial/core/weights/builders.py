"""Weights from point coordinates on the sphere.

k nearest neighbours, distance band and inverse distance on great-circle kilometres,
computed in blocks of rows to bound memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.distance import great_circle_km
from kzspatial.core.weights._base import SpatialWeights, _as_ids

__all__ = ["KNN_TIE_KM", "build_distance_band", "build_inverse_distance", "build_knn"]

# rows of the distance matrix computed at once by the coordinate builders; bounds memory
# to about _ROW_BLOCK * n * 8 bytes instead of n * n * 8
_ROW_BLOCK = 512

#: Great-circle distances (km) closer than this are ties in :func:`build_knn` (1 mm).
KNN_TIE_KM = 1e-6


def _check_points(
    ids: Sequence[str], lon: ArrayLike, lat: ArrayLike
) -> tuple[tuple[str, ...], NDArray[np.float64], NDArray[np.float64]]:
    ids_t = _as_ids(ids)
    lon_a = np.asarray(lon, dtype=np.float64).ravel()
    lat_a = np.asarray(lat, dtype=np.float64).ravel()
    if not (lon_a.size == lat_a.size == len(ids_t)):
        raise AlignmentError(
            f"got {len(ids_t)} ids, {lon_a.size} longitudes and {lat_a.size} "
            "latitudes; pass one coordinate pair per id"
        )
    if len(ids_t) < 2:
        raise ValidationError("at least two units are needed to build weights")
    if not (np.all(np.isfinite(lon_a)) and np.all(np.isfinite(lat_a))):
        raise ValidationError("coordinates contain NaN or infinite values")
    if np.any(np.abs(lat_a) > 90) or np.any(np.abs(lon_a) > 360):
        raise ValidationError(
            "coordinates out of range for degrees; pass longitude/latitude in EPSG:4326"
        )
    return ids_t, lon_a, lat_a


def _distance_blocks(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> Iterable[tuple[int, NDArray[np.float64]]]:
    """Yield ``(first_row, block)`` of the great-circle matrix with the diagonal at inf."""
    n = lon.size
    for start in range(0, n, _ROW_BLOCK):
        stop = min(start + _ROW_BLOCK, n)
        block = great_circle_km(
            lon[start:stop, None], lat[start:stop, None], lon[None, :], lat[None, :]
        )
        block[np.arange(stop - start), np.arange(start, stop)] = np.inf
        yield start, block


def build_knn(
    ids: Sequence[str], lon: ArrayLike, lat: ArrayLike, k: int
) -> SpatialWeights:
    """Binary k-nearest-neighbour weights on great-circle distance.

    Parameters
    ----------
    ids : sequence of str, length n
    lon, lat : array_like, shape (n,)
        Representative points in degrees (EPSG:4326).
    k : int
        Neighbours per unit, ``1 <= k < n``.

    Returns
    -------
    SpatialWeights
        Asymmetric in general; every unit has exactly ``k`` neighbours.

    Notes
    -----
    Distances are great-circle distances on the sphere, so the neighbours do not
    depend on a projection. They are compared in whole multiples of
    :data:`KNN_TIE_KM` (1 mm), so distances equal up to the rounding of the
    trigonometry are ties; ties are broken by id in string order, so the neighbours do
    not depend on the order of the units either.

    Examples
    --------
    >>> w = build_knn(["a", "b", "c"], [0, 1, 3], [0, 0, 0], k=1)
    >>> w.sparse.toarray().astype(int).tolist()
    [[0, 1, 0], [1, 0, 0], [0, 1, 0]]
    """
    ids_t, lon_a, lat_a = _check_points(ids, lon, lat)
    n = len(ids_t)
    if not (isinstance(k, (int, np.integer)) and 1 <= k < n):
        raise ValidationError(f"k must be an integer with 1 <= k < n={n}, got {k!r}")
    id_rank = np.argsort(np.argsort(np.asarray(ids_t, dtype=object), kind="stable"))
    cols = np.empty((n, k), dtype=np.int64)
    for start, block in _distance_blocks(lon_a, lat_a):
        ticks = np.round(block / KNN_TIE_KM)  # inf stays inf: a unit is not its own
        order = np.lexsort((np.broadcast_to(id_rank, block.shape), ticks), axis=1)
        cols[start : start + block.shape[0]] = order[:, :k]
    rows = np.repeat(np.arange(n), k)
    mat = sparse.coo_array((np.ones(n * k), (rows, cols.ravel())), shape=(n, n))
    return SpatialWeights(ids_t, mat.tocsr())


def build_distance_band(
    ids: Sequence[str], lon: ArrayLike, lat: ArrayLike, threshold_km: float
) -> SpatialWeights:
    """Binary weights linking units within ``threshold_km`` great-circle km.

    Parameters
    ----------
    ids : sequence of str, length n
    lon, lat : array_like, shape (n,)
        Degrees (EPSG:4326).
    threshold_km : float
        Positive band width; pairs with distance ``<= threshold_km`` are neighbours.

    Returns
    -------
    SpatialWeights
        Symmetric; units farther than the threshold from all others are islands.
    """
    return _threshold_weights(ids, lon, lat, threshold_km, power=None)


def build_inverse_distance(
    ids: Sequence[str],
    lon: ArrayLike,
    lat: ArrayLike,
    power: float = 1.0,
    threshold_km: float | None = None,
) -> SpatialWeights:
    """Inverse-distance weights ``d_ij ** -power`` on great-circle km.

    Parameters
    ----------
    ids : sequence of str, length n
    lon, lat : array_like, shape (n,)
        Degrees (EPSG:4326).
    power : float, default 1
        Positive decay exponent.
    threshold_km : float, optional
        Keep only pairs within this distance; default keeps all pairs (dense).

    Returns
    -------
    SpatialWeights

    Raises
    ------
    ValidationError
        Two distinct units share a location (infinite weight), or bad parameters.
    """
    if not power > 0:
        raise ValidationError(f"power must be positive, got {power!r}")
    return _threshold_weights(ids, lon, lat, threshold_km, power=power)


def _threshold_weights(
    ids: Sequence[str],
    lon: ArrayLike,
    lat: ArrayLike,
    threshold_km: float | None,
    *,
    power: float | None,
) -> SpatialWeights:
    ids_t, lon_a, lat_a = _check_points(ids, lon, lat)
    if threshold_km is not None and not (
        np.isfinite(threshold_km) and threshold_km > 0
    ):
        raise ValidationError(f"threshold_km must be positive, got {threshold_km!r}")
    limit = np.inf if threshold_km is None else float(threshold_km)
    rows, cols, vals = [], [], []
    for start, block in _distance_blocks(lon_a, lat_a):
        # the diagonal is inf, so it never passes
        r, c = np.nonzero(block <= limit)
        d = block[r, c]
        if power is not None:
            if np.any(d == 0):
                i = int(r[d == 0][0]) + start
                j = int(c[d == 0][0])
                raise ValidationError(
                    f"units {ids_t[i]!r} and {ids_t[j]!r} share a location, so their "
                    "inverse-distance weight is infinite; merge them or jitter the points"
                )
            vals.append(d**-power)
        else:
            vals.append(np.ones_like(d))
        rows.append(r + start)
        cols.append(c)
    n = len(ids_t)
    mat = sparse.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    )
    return SpatialWeights(ids_t, mat.tocsr())
