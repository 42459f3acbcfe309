"""Observed catchments: each origin's shares of out-migrants going to each hub.

Membership under a threshold rule in the spirit of the EU-OECD functional-urban-area
commuting rule :cite:`dijkstra2019`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import ValidationError
from kzspatial.core.catchments._checks import (
    _NO_HUB,
    _check_ids,
    _check_threshold,
    _hub_positions,
    _names,
    _readonly,
)

__all__ = [
    "DEFAULT_SHARE_THRESHOLD",
    "FlowCatchments",
    "flow_catchments",
    "flow_shares",
]

DEFAULT_SHARE_THRESHOLD = 0.15
"""EU-OECD-style membership threshold: share of out-migrants going to the hub."""


@dataclass(frozen=True, eq=False)
class FlowCatchments:
    """Observed catchments of hubs from an origin-destination flow matrix.

    Attributes
    ----------
    ids : tuple of str, length n
        Region ids, in matrix order.
    hubs : tuple of str, length h
        Hub region ids, in the order of the hub columns.
    threshold : float
        Membership threshold on the share of out-migrants.
    year : int or None
        Year of the flows, when known.
    out_migrants : numpy.ndarray, shape (n,)
        Moves out of each region: row sum without the diagonal (the denominator of all
        shares).
    shares : numpy.ndarray, shape (n, h)
        Share of each region's out-migrants that moved to each hub. A hub's own
        column is 0 in its own row (staying is not out-migration), so a hub row holds
        its shares to the *other* hubs. NaN where ``out_migrants`` is 0.
    other_share : numpy.ndarray, shape (n,)
        Share of out-migrants going to non-hub regions; ``shares.sum(1) + other_share``
        is 1 for every region with out-migrants.
    dominant_index : numpy.ndarray of intp, shape (n,)
        Column of the hub with the largest share (first hub on ties); -1 when no
        out-migrant went to any hub.
    member : numpy.ndarray of bool, shape (n, h)
        ``shares >= threshold``; a region may be a member of several hubs' catchments.
    catchment_index : numpy.ndarray of intp, shape (n,)
        Exclusive assignment: a hub region belongs to itself (it is the core); any other
        region to its dominant hub when that share reaches ``threshold``; else -1.
    """

    ids: tuple[str, ...]
    hubs: tuple[str, ...]
    threshold: float
    year: int | None
    out_migrants: NDArray[np.float64]
    shares: NDArray[np.float64]
    other_share: NDArray[np.float64]
    dominant_index: NDArray[np.intp]
    member: NDArray[np.bool_]
    catchment_index: NDArray[np.intp]


def flow_shares(
    F: ArrayLike | sp.sparray | sp.spmatrix,
    ids: Sequence[str],
    hubs: Sequence[str],
    *,
    threshold: float = DEFAULT_SHARE_THRESHOLD,
    year: int | None = None,
) -> FlowCatchments:
    r"""Share of each region's out-migrants going to each hub, and the catchments.

    Parameters
    ----------
    F : array_like or scipy sparse array, shape (n, n)
        Migrants from origin (row) to destination (column); non-negative, finite. The
        diagonal (moves within a region) is ignored.
    ids : sequence of str, length n
        Region ids in matrix order.
    hubs : sequence of str, length h
        Ids of the hub regions (e.g. Astana, Almaty, Shymkent).
    threshold : float, keyword-only, default 0.15
        Minimum share for membership (EU-OECD commuting-zone style).
    year : int, optional, keyword-only
        Recorded on the result.

    Returns
    -------
    FlowCatchments

    Raises
    ------
    ValidationError
        Non-square matrix, negative or missing flows (naming the origins), bad
        threshold.
    AlignmentError
        ``ids`` do not match the matrix, or a hub is not a region id.

    Notes
    -----
    With :math:`O_i = \sum_{j \ne i} F_{ij}` the out-migrants of region :math:`i`,

    .. math:: s_{ih} = F_{ih} / O_i \quad (h \ne i), \qquad s_{ii} = 0,

    and :math:`\sum_h s_{ih} + s_{i,\mathrm{other}} = 1`.

    Examples
    --------
    >>> F = [[0, 6, 2, 2], [1, 0, 3, 0], [4, 4, 0, 2], [1, 1, 0, 0]]
    >>> fc = flow_shares(F, ["a", "b", "c", "d"], ["b", "c"])
    >>> fc.shares[0].tolist(), fc.catchment_index.tolist()
    ([0.6, 0.2], [0, 0, 1, 0])
    """
    if sp.issparse(F):
        matrix = sp.csr_array(F, dtype=np.float64)
        shape = matrix.shape
    else:
        matrix = np.asarray(F, dtype=np.float64)
        shape = matrix.shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValidationError(f"flow matrix must be square (n, n), got shape {shape}")
    id_tuple = _check_ids(ids, shape[0])
    hub_pos = _hub_positions(hubs, id_tuple)
    threshold = _check_threshold(threshold)

    values = matrix.data if sp.issparse(matrix) else matrix
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        dense = matrix.toarray() if sp.issparse(matrix) else matrix
        rows = np.flatnonzero((~np.isfinite(dense) | (dense < 0)).any(axis=1))
        raise ValidationError(
            f"flows from origins {_names(id_tuple, rows)} are missing, infinite or "
            "negative; migrant counts must be finite and >= 0 (use 0 for no moves)"
        )

    if sp.issparse(matrix):
        hub_flows = matrix[:, hub_pos].toarray()
        row_total = np.asarray(matrix.sum(axis=1)).ravel()
        staying = matrix.diagonal()
    else:
        hub_flows = matrix[:, hub_pos].copy()
        row_total = matrix.sum(axis=1)
        staying = np.diagonal(matrix)
    hub_flows[hub_pos, np.arange(hub_pos.size)] = 0.0  # a hub's stayers are not movers
    out_migrants = row_total - staying

    has_movers = out_migrants > 0
    shares = np.full(hub_flows.shape, np.nan)
    shares[has_movers] = hub_flows[has_movers] / out_migrants[has_movers, None]
    other_share = np.full(shape[0], np.nan)
    other_share[has_movers] = (
        out_migrants[has_movers] - hub_flows[has_movers].sum(axis=1)
    ) / out_migrants[has_movers]

    best = np.argmax(np.where(has_movers[:, None], shares, -np.inf), axis=1)
    best_share = np.take_along_axis(np.nan_to_num(shares), best[:, None], 1)[:, 0]
    dominant = np.where(best_share > 0, best, _NO_HUB).astype(np.intp)
    member = np.nan_to_num(shares) >= threshold
    catchment = np.where(best_share >= threshold, dominant, _NO_HUB).astype(np.intp)
    catchment[hub_pos] = np.arange(hub_pos.size)

    return FlowCatchments(
        ids=id_tuple,
        hubs=tuple(id_tuple[k] for k in hub_pos),
        threshold=threshold,
        year=year,
        out_migrants=_readonly(out_migrants),
        shares=_readonly(shares),
        other_share=_readonly(other_share),
        dominant_index=_readonly(dominant),
        member=_readonly(member),
        catchment_index=_readonly(catchment),
    )


def flow_catchments(
    F_by_year: Mapping[int, ArrayLike | sp.sparray | sp.spmatrix],
    ids: Sequence[str],
    hubs: Sequence[str],
    *,
    threshold: float = DEFAULT_SHARE_THRESHOLD,
) -> dict[int, FlowCatchments]:
    """Apply :func:`flow_shares` to every year of flows.

    Parameters
    ----------
    F_by_year : mapping of int to array_like, each shape (n, n)
        Flow matrix per year, all over the same ``ids``.
    ids : sequence of str, length n
    hubs : sequence of str, length h
    threshold : float, keyword-only, default 0.15

    Returns
    -------
    dict of int to FlowCatchments
        Ordered by year, each with its ``year`` set.

    Raises
    ------
    ValidationError, AlignmentError
        As :func:`flow_shares`; the message names the year.
    """
    if not F_by_year:
        raise ValidationError("no years of flows given; pass {year: matrix, ...}")
    result = {}
    for year in sorted(F_by_year):
        try:
            result[int(year)] = flow_shares(
                F_by_year[year], ids, hubs, threshold=threshold, year=int(year)
            )
        except ValidationError as err:
            raise type(err)(f"year {year}: {err}") from err
    return result


# --------------------------------------------------------------------------------------
# model-based catchments
