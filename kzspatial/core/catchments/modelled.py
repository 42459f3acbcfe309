r"""Modelled catchments: Huff probabilities, threshold zones and gravity potential.

The Huff kernel works in the log domain and in chunks of cells: utilities
:math:`u_{ih} = \alpha \log A_h + \beta\, g(d_{ih})` (``g = log`` for ``"pow"``,
identity for ``"exp"``) are shifted by their per-cell maximum before ``exp``, so float32
is safe (no overflow, relative error about 1e-6) and the argmax (dominant hub) and its
probability come for free. Memory is bounded by the outputs plus one chunk of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from kzspatial._errors import ValidationError
from kzspatial.core.catchments._checks import (
    DEFAULT_MAX_MEMORY_BYTES,
    _check_cost,
    _check_masses,
    _check_threshold,
    _hub_labels,
    _readonly,
    check_memory,
)
from kzspatial.core.decay import decay_regressor

__all__ = ["HuffResult", "gravity_potential", "huff_probabilities", "threshold_zones"]

# Cells per chunk: a (n_hubs, chunk) float32 work block stays in L2 cache for few hubs.
_CHUNK_ELEMENTS = 2**17


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
