r"""Catchments of migration hubs: observed flow shares, Huff probabilities, potential.

Pure numpy/scipy core. Two ways of asking "which hub does a place belong to":

- **Flow-based** (observed): :func:`flow_shares` takes an origin-destination matrix of
  migrants and gives every origin's share of its out-migrants that went to each hub,
  the dominant hub and membership under a threshold rule in the spirit of the EU-OECD
  functional-urban-area commuting rule (a place belongs to a core when at least 15 % of
  its out-movers go there) :cite:`dijkstra2019`.
- **Model-based** (predicted): :func:`huff_probabilities` evaluates the Huff model
  :cite:`huff1963` with attractiveness and distance decay taken from a fitted gravity
  model, for any set of locations (regions, districts, grid cells), and
  :func:`gravity_potential` evaluates the Stewart/Hansen potential
  :math:`\sum_j M_j f(d_{ij})`. Both are predictions, not observations.

:func:`catchment_population` sums populations per hub and reports the unassigned rest,
so totals reconcile with the inputs.

The Huff kernel works in the log domain and in chunks of cells: utilities
:math:`u_{ih} = \alpha \log A_h + \beta\, g(d_{ih})` (``g = log`` for ``"pow"``,
identity for ``"exp"``) are shifted by their per-cell maximum before ``exp``, so float32
is safe (no overflow, relative error about 1e-6) and the argmax (dominant hub) and its
probability come for free. Memory is bounded by the outputs plus one chunk of work.
"""

# long: ~820 lines, just over 800: the observed (flow shares) and modelled (Huff,
# potential) catchments share the id, hub, cost and memory checks defined here.

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, DTypeLike, NDArray

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.decay import decay_regressor

__all__ = [
    "DEFAULT_MAX_MEMORY_BYTES",
    "DEFAULT_SHARE_THRESHOLD",
    "CatchmentPopulation",
    "FlowCatchments",
    "HuffResult",
    "catchment_population",
    "check_memory",
    "flow_catchments",
    "flow_shares",
    "gravity_potential",
    "huff_probabilities",
    "threshold_zones",
]

DEFAULT_SHARE_THRESHOLD = 0.15
"""EU-OECD-style membership threshold: share of out-migrants going to the hub."""

DEFAULT_MAX_MEMORY_BYTES = 4 * 2**30
"""Largest output (bytes) a catchment computation may allocate unless told otherwise."""

# Cells per chunk: a (n_hubs, chunk) float32 work block stays in L2 cache for few hubs.
_CHUNK_ELEMENTS = 2**17
_NO_HUB = -1


def _readonly(a: NDArray) -> NDArray:
    a.flags.writeable = False
    return a


def _format_bytes(n_bytes: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} B"


def _names(labels: Sequence[str], positions: NDArray[np.intp], limit: int = 10) -> str:
    shown = [labels[i] for i in positions[:limit]]
    more = f" and {positions.size - limit} more" if positions.size > limit else ""
    return f"{shown}{more}"


def check_memory(
    n_bytes: int, what: str, *, max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
) -> None:
    """Refuse a computation whose outputs would exceed a memory budget.

    Parameters
    ----------
    n_bytes : int
        Bytes the outputs would need.
    what : str
        Human description of the outputs, e.g. ``"2,700,000 cells x 20 hubs"``.
    max_memory_bytes : int, keyword-only
        Budget in bytes.

    Raises
    ------
    ValidationError
        ``n_bytes > max_memory_bytes``; the message states the size needed and the fix.
    """
    if n_bytes > max_memory_bytes:
        raise ValidationError(
            f"{what} would need {_format_bytes(n_bytes)} of memory, more than the "
            f"budget of {_format_bytes(max_memory_bytes)}; use a coarser grid, fewer "
            "hubs, or raise max_memory_bytes if the machine has the memory"
        )


# --------------------------------------------------------------------------------------
# flow-based catchments


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


def _check_ids(ids: Sequence[str], n: int) -> tuple[str, ...]:
    id_tuple = tuple(str(i) for i in ids)
    if len(id_tuple) != n:
        raise AlignmentError(
            f"flow matrix has {n} rows but {len(id_tuple)} ids were given; pass one id "
            "per row, in matrix order"
        )
    if len(set(id_tuple)) != n:
        dup = sorted({i for i in id_tuple if id_tuple.count(i) > 1})
        raise AlignmentError(f"ids are not unique: {dup}; give each region one id")
    return id_tuple


def _hub_positions(hubs: Sequence[str], ids: tuple[str, ...]) -> NDArray[np.intp]:
    hub_tuple = tuple(str(h) for h in hubs)
    if not hub_tuple:
        raise ValidationError("no hubs given; pass at least one hub region id")
    if len(set(hub_tuple)) != len(hub_tuple):
        raise ValidationError(f"hubs are not unique: {list(hub_tuple)}")
    position = {rid: k for k, rid in enumerate(ids)}
    missing = [h for h in hub_tuple if h not in position]
    if missing:
        raise AlignmentError(
            f"hubs {missing} are not among the {len(ids)} region ids of the study "
            "area; use region ids (not names) that index the flow matrix"
        )
    return np.array([position[h] for h in hub_tuple], dtype=np.intp)


def _check_threshold(threshold: float, name: str = "threshold") -> float:
    value = float(threshold)
    if not 0.0 < value <= 1.0:
        raise ValidationError(f"{name} must be in (0, 1], got {threshold!r}")
    return value


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


@dataclass(frozen=True, eq=False)
class HuffResult:
    """Huff probabilities of choosing each hub, with the dominant hub per location.

    Attributes
    ----------
    hubs : tuple of str, length h
    probabilities : numpy.ndarray, shape (m, h)
        :math:`P_{ih}`; rows sum to 1. Probabilities are among the hubs only (there
        is no "other destinations" alternative). Column-major (Fortran order), so each
        hub's column is contiguous, e.g. for writing one raster per hub.
    dominant_index : numpy.ndarray of intp, shape (m,)
        Column of the most probable hub (first hub on ties).
    dominant_probability : numpy.ndarray, shape (m,)
        Probability of the dominant hub.
    beta, alpha, min_cost : float
        Decay parameter, attractiveness exponent and cost floor used.
    cost_func : str
        ``"pow"`` or ``"exp"``.
    """

    hubs: tuple[str, ...]
    probabilities: NDArray[np.floating]
    dominant_index: NDArray[np.intp]
    dominant_probability: NDArray[np.floating]
    beta: float
    alpha: float
    cost_func: str
    min_cost: float


def _hub_labels(hubs: Sequence[str] | None, n_hubs: int) -> tuple[str, ...]:
    if hubs is None:
        return tuple(f"hub {k}" for k in range(n_hubs))
    labels = tuple(str(h) for h in hubs)
    if len(labels) != n_hubs:
        raise AlignmentError(
            f"{len(labels)} hub names for {n_hubs} hub columns; give one name per "
            "column"
        )
    return labels


def _check_masses(
    values: ArrayLike, labels: tuple[str, ...], what: str, fix: str
) -> NDArray[np.float64]:
    masses = np.asarray(values, dtype=np.float64)
    if masses.shape != (len(labels),):
        raise AlignmentError(
            f"{what} has shape {masses.shape}, expected ({len(labels)},): one value "
            "per hub column of the cost matrix"
        )
    bad = np.flatnonzero(~(np.isfinite(masses) & (masses > 0)))
    if bad.size:
        detail = ", ".join(f"{labels[k]!r}={float(masses[k])!r}" for k in bad[:10])
        raise ValidationError(
            f"{what} must be positive and finite; got {detail}; {fix}"
        )
    return masses


def _check_cost(
    cost: NDArray, labels: tuple[str, ...], cost_func: str, min_cost: float
) -> None:
    decay_regressor(cost_func)  # unknown names raise, listing the registered ones
    if not (np.isfinite(min_cost) and min_cost >= 0):
        raise ValidationError(f"min_cost must be finite and >= 0, got {min_cost!r}")
    if cost.size == 0:
        return
    lowest, highest = float(np.min(cost)), float(np.max(cost))
    floor_ok = lowest > 0 or min_cost > 0 or cost_func == "exp"
    if np.isfinite(lowest) and np.isfinite(highest) and lowest >= 0 and floor_ok:
        return
    # slow path, only on error: say which hub columns are at fault
    col_min = np.min(cost, axis=0)
    col_max = np.max(cost, axis=0)
    finite = np.isfinite(col_min) & np.isfinite(col_max)
    problems = [
        f"{labels[k]!r} has missing or infinite costs" for k in np.flatnonzero(~finite)
    ]
    problems += [
        f"{labels[k]!r} has negative costs"
        for k in np.flatnonzero(finite & (col_min < 0))
    ]
    if not problems:
        zero = np.flatnonzero(col_min == 0)
        problems = [f"{labels[k]!r} has zero costs" for k in zero]
        problems.append(
            "power decay needs log(cost): pass min_cost (e.g. half a cell size, or the "
            "hub's urban radius) or use cost_func='exp'"
        )
    raise ValidationError("invalid cost matrix: " + "; ".join(problems))


def _chunk_rows(n_cols: int) -> int:
    return max(1024, _CHUNK_ELEMENTS // max(n_cols, 1))


def _log_cost_term(
    cost_block: NDArray, out: NDArray, beta: float, cost_func: str, min_cost: float
) -> None:
    """Write ``beta * g(max(cost, min_cost))`` into ``out`` (shape (h, c)), in place.

    ``g`` is the registered decay transform of :mod:`kzspatial.core.decay`.
    """
    np.maximum(cost_block, min_cost, out=out)
    out[...] = decay_regressor(cost_func)(out)
    out *= beta


def huff_probabilities(
    cost_to_hubs: ArrayLike,
    attractiveness: ArrayLike,
    beta: float,
    cost_func: str = "pow",
    *,
    alpha: float = 1.0,
    hubs: Sequence[str] | None = None,
    min_cost: float = 0.0,
    dtype: DTypeLike = np.float32,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
) -> HuffResult:
    r"""Huff probabilities of choosing each hub from each location.

    Parameters
    ----------
    cost_to_hubs : array_like, shape (m, h)
        Cost (e.g. great-circle km) from each location to each hub; finite, >= 0.
        Column-major input (``(h, m)`` array transposed) is read fastest.
    attractiveness : array_like, shape (h,)
        Hub attractiveness :math:`A_h` (e.g. population, or the exponentiated
        destination effect of the fitted gravity model); positive.
    beta : float
        Distance-decay parameter as estimated by the gravity model (negative = decay),
        see :func:`kzspatial.core.decay.decay`.
    cost_func : {"pow", "exp"}
        ``f(d) = d**beta`` or ``exp(beta * d)``.
    alpha : float, keyword-only, default 1.0
        Exponent on attractiveness.
    hubs : sequence of str, length h, optional, keyword-only
        Hub names, used on the result and in error messages.
    min_cost : float, keyword-only, default 0.0
        Costs below this are raised to it. Power decay is infinite at zero cost, so a
        location at a hub needs a floor (its intra-zonal distance).
    dtype : numpy dtype, keyword-only, default float32
        Working and output precision. float32 is safe: utilities are shifted by their
        per-location maximum before ``exp``.
    max_memory_bytes : int, keyword-only
        Refuse when the outputs would exceed this many bytes.

    Returns
    -------
    HuffResult

    Raises
    ------
    ValidationError
        Non-positive or missing attractiveness (naming the hub), missing/negative costs,
        zero costs with ``"pow"`` and no ``min_cost``, unknown ``cost_func``, outputs
        beyond ``max_memory_bytes`` (stating the size needed).
    AlignmentError
        ``attractiveness`` or ``hubs`` do not match the cost columns.

    Notes
    -----
    .. math:: P_{ih} = \frac{A_h^{\alpha} f(d_{ih})}{\sum_k A_k^{\alpha} f(d_{ik})}

    computed as a softmax of :math:`u_{ih} = \alpha \log A_h + \beta g(d_{ih})`.
    Chunks of locations are processed in a loop; the work per chunk is vectorised over
    locations and hubs.

    Examples
    --------
    >>> r = huff_probabilities([[1.0, 2.0]], [1.0, 2.0], -2.0, "pow")
    >>> r.probabilities.astype(float).round(6).tolist()  # 1*1**-2 vs 2*2**-2
    [[0.666667, 0.333333]]
    """
    cost = np.asarray(cost_to_hubs)
    if cost.ndim != 2:
        raise ValidationError(
            f"cost_to_hubs must be 2-D (locations, hubs), got shape {cost.shape}"
        )
    n_loc, n_hubs = cost.shape
    labels = _hub_labels(hubs, n_hubs)
    masses = _check_masses(
        attractiveness,
        labels,
        "attractiveness",
        "every hub needs A > 0 because log(A) enters the utility; drop the hub or give "
        "it a positive attractiveness",
    )
    for name, value in (("beta", beta), ("alpha", alpha)):
        if not np.isfinite(value):
            raise ValidationError(f"{name} must be finite, got {value!r}")
    _check_cost(cost, labels, cost_func, min_cost)
    work_dtype = np.dtype(dtype)
    check_memory(
        n_loc * (n_hubs + 1) * work_dtype.itemsize + n_loc * np.dtype(np.intp).itemsize,
        f"Huff probabilities for {n_loc:,} locations x {n_hubs} hubs",
        max_memory_bytes=max_memory_bytes,
    )

    log_attraction = (alpha * np.log(masses)).astype(work_dtype)[:, None]
    probabilities_t = np.empty((n_hubs, n_loc), dtype=work_dtype)  # hub-major
    dominant = np.zeros(n_loc, dtype=np.intp)
    dominant_probability = np.empty(n_loc, dtype=work_dtype)
    step = _chunk_rows(n_hubs)
    best = np.empty(step, dtype=work_dtype)
    is_better = np.empty(step, dtype=bool)
    for start in range(0, n_loc, step):
        stop = min(start + step, n_loc)
        width = stop - start
        util = probabilities_t[:, start:stop]
        top, better, dom = best[:width], is_better[:width], dominant[start:stop]
        _log_cost_term(cost[start:stop].T, util, beta, cost_func, min_cost)
        util += log_attraction
        # running max over hubs gives the dominant hub and the softmax shift at once
        top[:] = util[0]
        for k in range(1, n_hubs):
            np.greater(util[k], top, out=better)
            np.copyto(dom, k, where=better)
            np.maximum(top, util[k], out=top)
        util -= top
        np.exp(util, out=util)
        total = dominant_probability[start:stop]
        np.sum(util, axis=0, out=total)
        np.reciprocal(total, out=total)  # the dominant term is exp(0) = 1
        util *= total

    return HuffResult(
        hubs=labels,
        probabilities=_readonly(probabilities_t.T),
        dominant_index=_readonly(dominant),
        dominant_probability=_readonly(dominant_probability),
        beta=float(beta),
        alpha=float(alpha),
        cost_func=cost_func,
        min_cost=float(min_cost),
    )


def threshold_zones(
    probabilities: ArrayLike, thresholds: Sequence[float] = (0.25, 0.5, 0.75)
) -> NDArray[np.uint8]:
    r"""Probability-threshold zone level of each location for each hub.

    Parameters
    ----------
    probabilities : array_like, shape (m, h)
        Huff probabilities, e.g. :attr:`HuffResult.probabilities`.
    thresholds : sequence of float, increasing, each in (0, 1]
        Zone ``k`` (1-based) of hub ``h`` is where
        :math:`P_{ih} \ge` ``thresholds[k-1]``.

    Returns
    -------
    numpy.ndarray of uint8, shape (m, h)
        Number of thresholds reached (0 = below the first). Zones are nested: level 2
        lies inside level 1.

    Raises
    ------
    ValidationError
        Thresholds outside (0, 1] or not strictly increasing.
    """
    levels = np.asarray([_check_threshold(t, "thresholds") for t in thresholds])
    if levels.size == 0 or np.any(np.diff(levels) <= 0) or levels.size > 255:
        raise ValidationError(
            "thresholds must be 1..255 strictly increasing values, got "
            f"{list(thresholds)}"
        )
    prob = np.asarray(probabilities)
    zone = np.zeros_like(prob, dtype=np.uint8)  # keeps column-major layout
    for level in levels:
        zone += prob >= level
    return zone


def gravity_potential(
    cost_to_masses: ArrayLike,
    masses: ArrayLike,
    beta: float,
    cost_func: str = "pow",
    *,
    labels: Sequence[str] | None = None,
    min_cost: float = 0.0,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
) -> NDArray[np.floating]:
    r"""Gravity (Stewart/Hansen) potential :math:`\sum_j M_j f(d_{ij})` per location.

    Parameters
    ----------
    cost_to_masses : array_like, shape (m, k)
        Cost from each location to each mass point (centre).
    masses : array_like, shape (k,)
        Positive masses (populations) :math:`M_j`.
    beta : float
        Decay parameter (negative = decay).
    cost_func : {"pow", "exp"}
    labels : sequence of str, length k, optional, keyword-only
        Names of the mass points, for error messages.
    min_cost : float, keyword-only, default 0.0
        Cost floor, as in :func:`huff_probabilities`.
    max_memory_bytes : int, keyword-only

    Returns
    -------
    numpy.ndarray, shape (m,)
        float32 when the largest possible sum fits comfortably, else float64.

    Raises
    ------
    ValidationError, AlignmentError
        As :func:`huff_probabilities`.
    """
    cost = np.asarray(cost_to_masses)
    if cost.ndim != 2:
        raise ValidationError(
            f"cost_to_masses must be 2-D (locations, centres), got shape {cost.shape}"
        )
    n_loc, n_centres = cost.shape
    names = _hub_labels(labels, n_centres)
    mass = _check_masses(
        masses, names, "masses", "give every centre a positive mass or drop it"
    )
    if not np.isfinite(beta):
        raise ValidationError(f"beta must be finite, got {beta!r}")
    _check_cost(cost, names, cost_func, min_cost)
    # Bound the largest term to pick the narrowest dtype that cannot overflow.
    g = decay_regressor(cost_func)
    extreme_cost = np.array(
        [max(float(np.min(cost)), min_cost), max(float(np.max(cost)), min_cost)]
    )
    max_term = np.log(mass).max() + max(beta * g(extreme_cost))
    safe32 = max_term + np.log(n_centres) < np.log(np.finfo(np.float32).max) - 10
    work_dtype = np.dtype(np.float32 if safe32 else np.float64)
    check_memory(
        n_loc * work_dtype.itemsize,
        f"gravity potential for {n_loc:,} locations",
        max_memory_bytes=max_memory_bytes,
    )

    log_mass = np.log(mass).astype(work_dtype)[:, None]
    potential = np.empty(n_loc, dtype=work_dtype)
    step = _chunk_rows(n_centres)
    work = np.empty((n_centres, step), dtype=work_dtype)
    for start in range(0, n_loc, step):
        stop = min(start + step, n_loc)
        term = work[:, : stop - start]
        _log_cost_term(cost[start:stop].T, term, beta, cost_func, min_cost)
        term += log_mass
        np.exp(term, out=term)
        np.sum(term, axis=0, out=potential[start:stop])
    return potential


# --------------------------------------------------------------------------------------
# population


@dataclass(frozen=True, eq=False)
class CatchmentPopulation:
    """Population living in each hub's catchment.

    Attributes
    ----------
    hubs : tuple of str, length h
    population : numpy.ndarray, shape (h,)
        Population assigned to each hub.
    unassigned : float
        Population of units in no catchment (below threshold, outside the grid, ...).
    total : float
        Sum of the input populations; equals ``population.sum() + unassigned`` up to
        floating-point rounding.
    n_units : numpy.ndarray of intp, shape (h,)
        Number of units (regions, points, cells) assigned to each hub.
    n_unassigned : int
    """

    hubs: tuple[str, ...]
    population: NDArray[np.float64]
    unassigned: float
    total: float
    n_units: NDArray[np.intp]
    n_unassigned: int


def catchment_population(
    assignment_index: ArrayLike,
    population: ArrayLike,
    hubs: Sequence[str],
    *,
    unit_ids: Sequence[str] | None = None,
) -> CatchmentPopulation:
    """Sum populations per catchment, reporting the unassigned rest.

    Parameters
    ----------
    assignment_index : array_like of int, shape (n,)
        Hub column each unit belongs to, -1 for none (e.g.
        :attr:`FlowCatchments.catchment_index`, :attr:`HuffResult.dominant_index`, or
        a cell's dominant hub looked up for each settlement point).
    population : array_like, shape (n,)
        Population of each unit; finite and >= 0.
    hubs : sequence of str, length h
    unit_ids : sequence of str, length n, optional, keyword-only
        Unit names for error messages (e.g. region ids).

    Returns
    -------
    CatchmentPopulation

    Raises
    ------
    ValidationError
        Missing (NaN) or negative populations, naming the units; assignment outside
        ``-1 .. h-1``.
    AlignmentError
        ``population``, ``assignment_index`` and ``unit_ids`` differ in length.
    """
    hub_tuple = tuple(str(h) for h in hubs)
    assigned = np.asarray(assignment_index)
    pop = np.asarray(population, dtype=np.float64)
    if assigned.ndim != 1 or pop.shape != assigned.shape:
        raise AlignmentError(
            f"assignment_index has shape {assigned.shape} and population {pop.shape}; "
            "give one population per assigned unit"
        )
    if unit_ids is not None and len(unit_ids) != pop.size:
        raise AlignmentError(f"{len(unit_ids)} unit_ids for {pop.size} units")
    names = (
        tuple(str(u) for u in unit_ids)
        if unit_ids is not None
        else tuple(f"unit {k}" for k in range(pop.size))
    )
    missing = np.flatnonzero(~np.isfinite(pop))
    if missing.size:
        raise ValidationError(
            f"population is missing for {missing.size} units: "
            f"{_names(names, missing)}; supply a population for every unit (0 if "
            "uninhabited) or drop the units before assigning"
        )
    negative = np.flatnonzero(pop < 0)
    if negative.size:
        raise ValidationError(
            f"population is negative for {_names(names, negative)}; populations must "
            "be >= 0"
        )
    if not np.issubdtype(assigned.dtype, np.integer) or (
        assigned.size and (assigned.min() < _NO_HUB or assigned.max() >= len(hub_tuple))
    ):
        raise ValidationError(
            f"assignment_index must hold integers in -1..{len(hub_tuple) - 1} "
            "(hub column, or -1 for none)"
        )

    in_hub = assigned >= 0
    by_hub = np.bincount(
        assigned[in_hub], weights=pop[in_hub], minlength=len(hub_tuple)
    )
    count = np.bincount(assigned[in_hub], minlength=len(hub_tuple)).astype(np.intp)
    return CatchmentPopulation(
        hubs=hub_tuple,
        population=_readonly(by_hub),
        unassigned=float(pop[~in_hub].sum()),
        total=float(pop.sum()),
        n_units=_readonly(count),
        n_unassigned=int((~in_hub).sum()),
    )
