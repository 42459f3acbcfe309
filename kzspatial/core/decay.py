r"""Distance-decay functions shared by gravity models and catchments.

Each decay maps a cost array ``d`` and one parameter ``beta`` to a deterministic weight
``f(d)``; gravity models estimate ``beta`` on the log-link scale, catchments reuse it.

- ``"pow"``: :math:`f(d) = d^{\beta}` (``beta`` < 0 for decay); needs ``d > 0``.
- ``"exp"``: :math:`f(d) = \exp(\beta d)`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import ValidationError

__all__ = ["DECAY_FUNCTIONS", "cost_regressor", "decay", "decay_regressor"]


def _pow_regressor(
    d: NDArray[np.float64], out: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    return np.log(d, out=out)


def _exp_regressor(
    d: NDArray[np.float64], out: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    if out is None:
        return d
    np.copyto(out, d)
    return out


# name -> transform of cost entering the log-linear predictor with coefficient beta;
# each takes the costs and optionally ``out``, an array to write the regressor into
DECAY_FUNCTIONS: dict[str, Callable[..., NDArray[np.float64]]] = {
    "pow": _pow_regressor,
    "exp": _exp_regressor,
}


def decay_regressor(
    cost_func: str,
) -> Callable[..., NDArray[np.float64]]:
    """Return the registered cost transform of ``cost_func``, without checking costs.

    For callers that validate costs themselves (e.g. catchments, which floor them at
    ``min_cost`` block by block); :func:`cost_regressor` checks and transforms at once.

    Parameters
    ----------
    cost_func : str
        A name in :data:`DECAY_FUNCTIONS`.

    Returns
    -------
    callable
        Maps costs to the regressor whose coefficient is the decay parameter; with
        ``out=`` (an array of the costs' shape) writes it there, e.g. into workspace
        the caller chose, instead of a new array (``"exp"`` without ``out`` returns
        the costs themselves).

    Raises
    ------
    ValidationError
        Unknown ``cost_func``; the message lists the valid names.
    """
    if cost_func not in DECAY_FUNCTIONS:
        raise ValidationError(
            f"unknown cost_func {cost_func!r}; valid names are "
            f"{sorted(DECAY_FUNCTIONS)}"
        )
    return DECAY_FUNCTIONS[cost_func]


def cost_regressor(cost: ArrayLike, cost_func: str = "pow") -> NDArray[np.float64]:
    """Transform costs into the regressor whose coefficient is the decay parameter.

    Parameters
    ----------
    cost : array_like, any shape
        Non-negative travel costs (distances in km, times, ...).
    cost_func : {"pow", "exp"}
        ``"pow"`` returns ``log(cost)``, ``"exp"`` returns ``cost``.

    Returns
    -------
    numpy.ndarray, same shape as ``cost``

    Raises
    ------
    ValidationError
        Unknown ``cost_func``; missing or negative costs; zero costs with ``"pow"``.
    """
    regressor = decay_regressor(cost_func)
    d = np.asarray(cost, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise ValidationError(
            f"cost contains {int((~np.isfinite(d)).sum())} missing or infinite values; "
            "supply a complete cost matrix"
        )
    if np.any(d < 0):
        raise ValidationError("cost contains negative values; costs must be >= 0")
    if cost_func == "pow" and np.any(d == 0):
        raise ValidationError(
            f"cost contains {int((d == 0).sum())} zero values, and power decay needs "
            "log(cost); drop self-flows, give a positive minimum cost, or use "
            "cost_func='exp'"
        )
    return regressor(d)


def decay(cost: ArrayLike, beta: float, cost_func: str = "pow") -> NDArray[np.float64]:
    """Evaluate the decay ``f(cost) = exp(beta * cost_regressor(cost))``.

    Parameters
    ----------
    cost : array_like, any shape
        Travel costs.
    beta : float
        Decay parameter as estimated by :func:`kzspatial.fit_gravity` (negative for decay).
    cost_func : {"pow", "exp"}

    Returns
    -------
    numpy.ndarray, same shape as ``cost``

    Examples
    --------
    >>> decay([1.0, 10.0], -2.0, "pow")
    array([1.  , 0.01])
    """
    return np.exp(beta * cost_regressor(cost, cost_func))
