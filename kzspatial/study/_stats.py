"""Pearson, Spearman and least-squares trend tests without importing scipy.stats.

Importing :mod:`scipy.stats` costs about 0.6 s of CPU per process, and the study needs
three of its two-sided tests on a few dozen numbers. These functions repeat scipy's
computations (``pearsonr``, ``spearmanr`` and ``linregress`` of scipy 1.17) step by step
with numpy and :mod:`scipy.special`, so the results are scipy's to the last bit (the
tests compare them with scipy.stats on the study's data and on random data).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

__all__ = ["pearson", "spearman", "trend"]

#: What scipy's ``linregress`` adds to ``1 - r`` and ``1 + r`` in its t statistic.
_TINY = 1.0e-20


def _pair(
    x: ArrayLike, y: ArrayLike, *, constant_y: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """``x`` and ``y`` as float arrays; None when a test is not defined.

    That is fewer than three values or a constant input (scipy returns NaN then); a
    constant ``y`` is allowed with ``constant_y``.
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"x and y must be 1-d of one length, got {a.shape}, {b.shape}")
    constant = (a == a[0]).all() or (not constant_y and (b == b[0]).all())
    if a.size < 3 or constant:
        return None
    return a, b


def pearson(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Pearson's r and its two-sided p-value, as ``scipy.stats.pearsonr``.

    Parameters
    ----------
    x, y : array_like, 1-d, one length

    Returns
    -------
    (float, float)
        r and p; NaN for fewer than three values or a constant input.
    """
    pair = _pair(x, y)
    if pair is None:
        return float("nan"), float("nan")
    a, b = (v[np.newaxis, :] for v in pair)
    n = float(a.shape[-1])
    am = a - np.mean(a, axis=-1, keepdims=True)
    bm = b - np.mean(b, axis=-1, keepdims=True)
    amax = np.max(np.abs(am), axis=-1, keepdims=True)
    bmax = np.max(np.abs(bm), axis=-1, keepdims=True)
    norm_a = amax * np.linalg.norm(am / amax, ord=2, axis=-1, keepdims=True)
    norm_b = bmax * np.linalg.norm(bm / bmax, ord=2, axis=-1, keepdims=True)
    r = np.clip(np.vecdot(am / norm_a, bm / norm_b, axis=-1), -1.0, 1.0)
    ab = n / 2 - 1
    p = 2 * special.betaincc(ab, ab, (np.abs(r) - -1) / 2)
    return float(r[0]), float(p[0])


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank (``scipy.stats.rankdata``)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    average = 0.5 * (starts[:-1] + 1 + starts[1:])
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(average, np.diff(starts))
    return ranks


def spearman(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Spearman's rho and its two-sided p-value, as ``scipy.stats.spearmanr``.

    Parameters
    ----------
    x, y : array_like, 1-d, one length, without NaN

    Returns
    -------
    (float, float)
        rho and p (t approximation); NaN for fewer than three values or a constant
        input.
    """
    pair = _pair(x, y)
    if pair is None:
        return float("nan"), float("nan")
    ranked = np.column_stack([_average_ranks(v) for v in pair])
    rs = np.corrcoef(ranked, rowvar=False)
    dof = ranked.shape[0] - 2
    with np.errstate(divide="ignore"):
        t = rs * np.sqrt((dof / ((rs + 1.0) * (1.0 - rs))).clip(0))
    p = 2 * special.stdtr(dof, -np.abs(t))
    return float(rs[1, 0]), float(p[1, 0])


def trend(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and its two-sided p-value (``linregress``).

    Parameters
    ----------
    x, y : array_like, 1-d, one length

    Returns
    -------
    (float, float)
        Slope and p for a zero slope; NaN for fewer than three values or a constant
        ``x``; slope 0 and p NaN for a constant ``y``.
    """
    pair = _pair(x, y, constant_y=True)
    if pair is None:
        return float("nan"), float("nan")
    a, b = pair
    ssxm, ssxym, _, ssym = np.cov(a, b, bias=1).flat
    if ssym == 0.0:
        r = np.nan if ssxym == 0 else 0.0
    else:
        r = min(max(ssxym / np.sqrt(ssxm * ssym), -1.0), 1.0)
    df = a.size - 2
    t = r * np.sqrt(df / ((1.0 - r + _TINY) * (1.0 + r + _TINY)))
    p = 2 * special.stdtr(df, -np.abs(t))
    return float(ssxym / ssxm), float(p)
