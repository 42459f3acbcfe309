"""Input checks of the attribute Moran statistics: alignment, islands, transformation.

Validation happens here once, at the public boundary; the statistics trust what it
returns. Weights may be a :class:`~kzspatial.core.weights.SpatialWeights` or a
libpysal ``Graph`` / ``W`` (converted by duck typing, without importing libpysal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.weights import SpatialWeights, as_spatial_weights
from kzspatial.core.weights._base import _resolve_islands

__all__ = ["prepare"]


def _align(
    values: ArrayLike, name: str, w: SpatialWeights, ids: Any
) -> NDArray[np.float64]:
    """Return ``values`` as float64 in ``w.ids`` order, checking alignment."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be 1-D, got shape {arr.shape}")
    if ids is None:
        if arr.size != w.n:
            raise AlignmentError(
                f"{name} has {arr.size} values but the weights have {w.n} units; pass "
                f"one value per weights id (in w.ids order) or give ids= to align by id"
            )
        return arr
    ids_t = tuple(ids)
    if len(ids_t) != arr.size:
        raise AlignmentError(f"{name} has {arr.size} values but {len(ids_t)} ids")
    missing = sorted(set(w.ids) - set(ids_t))
    extra = sorted(set(ids_t) - set(w.ids))
    if missing or extra or len(set(ids_t)) != len(ids_t):
        raise AlignmentError(
            f"ids of {name} do not match the weights ids: missing {missing[:10]}, "
            f"not in weights {extra[:10]}; subset the data or rebuild the weights so "
            "both cover the same units"
        )
    position = {uid: k for k, uid in enumerate(ids_t)}
    return arr[[position[u] for u in w.ids]]


def _check_values(arr: NDArray[np.float64], name: str) -> list[str]:
    problems = []
    if arr.size < 3:
        problems.append(f"{name} has {arr.size} units; Moran's I needs at least 3")
    bad = ~np.isfinite(arr)
    if bad.any():
        problems.append(
            f"{name} has {int(bad.sum())} NaN/infinite values; drop or impute them "
            "(and subset the weights) first"
        )
    elif arr.size and np.ptp(arr) == 0:
        problems.append(
            f"{name} is constant ({arr[0]!r}); Moran's I is undefined for a variable "
            "without variance"
        )
    return problems


def prepare(
    w: Any,
    values: dict[str, ArrayLike],
    ids: Any,
    islands: str,
    transformation: str,
) -> tuple[SpatialWeights, list[NDArray[np.float64]], tuple[str, ...]]:
    """Align values, apply the islands policy and the transformation."""
    w = as_spatial_weights(w)
    aligned = [_align(v, name, w, ids) for name, v in values.items()]
    w_used, dropped = _resolve_islands(w, islands)
    if dropped:
        keep = np.isin(
            np.asarray(w.ids, dtype=object), np.asarray(w_used.ids, dtype=object)
        )
        aligned = [a[keep] for a in aligned]
    problems = [
        p
        for name, a in zip(values, aligned, strict=True)
        for p in _check_values(a, name)
    ]
    if problems:
        raise ValidationError("; ".join(problems))
    if transformation != "o":
        w_used = w_used.transform(transformation)  # type: ignore[arg-type]
    return w_used, aligned, dropped
