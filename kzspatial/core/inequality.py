"""Inequality of a quantity across units: max/min ratio, Gini and Theil indices.

Pure numpy. Each index takes values ``x`` (one per unit, e.g. GRP per capita of each
region) and optional non-negative ``weights`` (e.g. population). With integer weights the
weighted index equals the unweighted index of the values repeated ``weights`` times, which
is what "population-weighted" means: inequality between persons who are each assigned the
value of their region (between-region inequality only).

References
----------
Cowell, F. A. (2011). *Measuring Inequality*, 3rd ed. Oxford University Press (ch. 3, the
Gini coefficient and the Theil index, with weighted forms).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import ValidationError

__all__ = ["gini", "max_min_ratio", "theil"]


def _prepare(
    x: ArrayLike, weights: ArrayLike | None, *, positive: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate ``(x, w)`` as float arrays; ``w`` of ones when no weights are given."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValidationError(
            f"values must be a non-empty 1-d array, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValidationError("values contain NaN or infinity; drop those units first")
    if positive and np.any(x <= 0):
        raise ValidationError("values must be > 0 (the index takes logarithms)")
    if not positive and np.any(x < 0):
        raise ValidationError("values must be >= 0")
    if weights is None:
        return x, np.ones_like(x)
    w = np.asarray(weights, dtype=float)
    if w.shape != x.shape:
        raise ValidationError(
            f"weights have shape {w.shape}, values {x.shape}; give one weight per value"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValidationError("weights must be finite, >= 0 and not all zero")
    return x, w


def max_min_ratio(x: ArrayLike) -> float:
    """Ratio of the largest to the smallest value.

    Parameters
    ----------
    x : array_like, shape (n,)
        Positive values.

    Returns
    -------
    float
        ``max(x) / min(x)``; 1 when all values are equal.
    """
    x, _ = _prepare(x, None, positive=True)
    return float(x.max() / x.min())


def gini(x: ArrayLike, weights: ArrayLike | None = None) -> float:
    r"""Gini coefficient, optionally weighted.

    Parameters
    ----------
    x : array_like, shape (n,)
        Non-negative values, not all zero.
    weights : array_like, shape (n,), optional
        Non-negative weights (e.g. population); default equal weights.

    Returns
    -------
    float
        0 for equal values; ``(n - 1) / n`` unweighted when one unit holds everything.

    Notes
    -----
    .. math::

        G = \frac{\sum_i \sum_j w_i w_j |x_i - x_j|}{2 W^2 \mu},
        \quad W = \sum_i w_i, \quad \mu = \frac{\sum_i w_i x_i}{W}
    """
    x, w = _prepare(x, weights, positive=False)
    total = w.sum()
    mean = float(w @ x) / total
    if mean == 0:
        raise ValidationError("all values are zero; the Gini coefficient is undefined")
    diff = np.abs(x[:, None] - x[None, :])
    return float(w @ diff @ w / (2.0 * total**2 * mean))


def theil(x: ArrayLike, weights: ArrayLike | None = None) -> float:
    r"""Theil T index (generalised entropy with alpha = 1), optionally weighted.

    Parameters
    ----------
    x : array_like, shape (n,)
        Positive values.
    weights : array_like, shape (n,), optional
        Non-negative weights (e.g. population); default equal weights.

    Returns
    -------
    float
        0 for equal values; unweighted at most ``log(n)`` (one unit holds everything).

    Notes
    -----
    .. math::

        T = \sum_i \frac{w_i}{W} \frac{x_i}{\mu} \ln \frac{x_i}{\mu}
    """
    x, w = _prepare(x, weights, positive=True)
    share = w / w.sum()
    ratio = x / float(share @ x)
    return float(share @ (ratio * np.log(ratio)))
