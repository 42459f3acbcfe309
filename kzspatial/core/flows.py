"""Origin-destination flows as ids + matrices: conversion, margins, nets, aggregation.

Pure numpy core. A flow matrix ``F`` has shape (n, n) with ``F[i, j]`` the flow from
``ids[i]`` to ``ids[j]``; the diagonal holds intra-zonal flows (zero for interregional
migration). Region ids are strings and their order is always explicit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, ValidationError

__all__ = [
    "aggregate_matrix",
    "in_flows",
    "net_migration",
    "out_flows",
    "pairs_from_matrix",
    "to_matrix",
]


def to_matrix(
    origins: Sequence[str],
    destinations: Sequence[str],
    values: ArrayLike,
    ids: Sequence[str],
) -> NDArray[np.float64]:
    """Build the (n, n) flow matrix from pair lists; absent pairs are zero.

    Parameters
    ----------
    origins, destinations : sequence of str, length m
        Region ids of each pair.
    values : array_like, shape (m,)
        Flow of each pair.
    ids : sequence of str, length n
        Row/column order of the matrix.

    Returns
    -------
    numpy.ndarray, shape (n, n)

    Raises
    ------
    AlignmentError
        A pair names a region that is not in ``ids``, or the three sequences differ in
        length.
    ValidationError
        A pair occurs twice, ids repeat, or a value is missing (NaN), infinite or
        negative.
    """
    v = _flow_values(values)
    if not (len(origins) == len(destinations) == v.size):
        raise AlignmentError(
            f"origins, destinations and values must have one entry per pair; got "
            f"{len(origins)}, {len(destinations)} and {v.size}"
        )
    if len(set(ids)) != len(ids):
        raise ValidationError("ids repeat; give each region once")
    position = {r: k for k, r in enumerate(ids)}
    unknown = sorted({r for r in (*origins, *destinations) if r not in position})
    if unknown:
        raise AlignmentError(f"flow pairs name regions not in ids: {unknown}")
    i = np.fromiter((position[o] for o in origins), dtype=np.intp, count=len(origins))
    j = np.fromiter(
        (position[d] for d in destinations), dtype=np.intp, count=len(destinations)
    )
    n = len(ids)
    counts = np.bincount(i * n + j, minlength=n * n)
    if np.any(counts > 1):
        dup = np.flatnonzero(counts > 1)[:5]
        raise ValidationError(
            "duplicated origin-destination pairs: "
            + ", ".join(f"{ids[k // n]}->{ids[k % n]}" for k in dup)
        )
    F = np.zeros((n, n))
    F[i, j] = v
    return F


def _flow_values(values: ArrayLike) -> NDArray[np.float64]:
    """Flows as a 1-d float array, refusing text, NaN, infinities and negatives."""
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            "flow values must be numbers (persons); convert the column with "
            "pandas.to_numeric first"
        ) from None
    if v.ndim != 1:
        raise ValidationError(f"flow values must be 1-d, one per pair; got {v.shape}")
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise ValidationError(
            f"{bad.size} flow value(s) are missing or infinite (first at position "
            f"{bad[0]}: {v[bad[0]]}); fill or drop those pairs"
        )
    neg = np.flatnonzero(v < 0)
    if neg.size:
        raise ValidationError(
            f"{neg.size} flow value(s) are negative (first at position {neg[0]}: "
            f"{v[neg[0]]:g}); flows count persons and are >= 0"
        )
    return v


def _square(F: ArrayLike) -> NDArray[np.float64]:
    """``F`` as a square float matrix, or ValidationError."""
    try:
        M = np.asarray(F, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError("a flow matrix must hold numbers") from None
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValidationError(
            f"a flow matrix must be square (n origins x the same n destinations); "
            f"got shape {M.shape}"
        )
    return M


def pairs_from_matrix(
    F: ArrayLike, ids: Sequence[str], *, include_diagonal: bool = False
) -> tuple[list[str], list[str], NDArray[np.float64]]:
    """Inverse of :func:`to_matrix`: (origins, destinations, values) in row-major order."""
    M = np.asarray(F, dtype=np.float64)
    n = len(ids)
    i, j = np.divmod(np.arange(n * n), n)
    keep = np.ones(n * n, bool) if include_diagonal else i != j
    return ([ids[k] for k in i[keep]], [ids[k] for k in j[keep]], M.ravel()[keep])


def out_flows(F: ArrayLike) -> NDArray[np.float64]:
    """Out-migration of each region (row sums without the diagonal), shape (n,)."""
    M = _square(F)
    return M.sum(axis=1) - np.diag(M)


def in_flows(F: ArrayLike) -> NDArray[np.float64]:
    """In-migration of each region (column sums without the diagonal), shape (n,)."""
    M = _square(F)
    return M.sum(axis=0) - np.diag(M)


def net_migration(F: ArrayLike) -> NDArray[np.float64]:
    """Net migration (in minus out) of each region, shape (n,); sums to zero."""
    return in_flows(F) - out_flows(F)


def aggregate_matrix(
    F: ArrayLike,
    ids: Sequence[str],
    parent: Mapping[str, str],
    new_ids: Sequence[str],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Aggregate a flow matrix to coarser units by summing flows.

    Flows between two units that merge become internal: they move to the diagonal of the
    aggregated matrix and are also returned separately so callers can report them.

    Parameters
    ----------
    F : array_like, shape (n, n)
    ids : sequence of str, length n
    parent : mapping str -> str
        Coarse unit of each fine id (ids absent from the mapping map to themselves).
    new_ids : sequence of str, length k
        Order of the coarse units.

    Returns
    -------
    aggregated : numpy.ndarray, shape (k, k)
        Summed flows; off-diagonal entries are flows between coarse units, the diagonal
        holds the flows that became internal (plus any original diagonal).
    became_internal : numpy.ndarray, shape (k,)
        Off-diagonal fine flows that became internal to each coarse unit.
    """
    M = np.asarray(F, dtype=np.float64)
    position = {r: k for k, r in enumerate(new_ids)}
    try:
        g = np.array([position[parent.get(r, r)] for r in ids])
    except KeyError as exc:
        raise AlignmentError(f"region {exc.args[0]!r} has no unit in new_ids") from None
    k = len(new_ids)
    S = np.zeros((len(ids), k))
    S[np.arange(len(ids)), g] = 1.0
    aggregated = S.T @ M @ S
    off = M - np.diag(np.diag(M))
    became_internal = np.diag(S.T @ off @ S).copy()
    return aggregated, became_internal
