"""Parameter-free and one-parameter baselines for spatial-interaction models.

- :func:`radiation`: the radiation model (Simini et al. 2012), production
  constrained by the observed outflows; normalising each row is exactly the finite-size
  correction of (Masucci et al. 2013).
- :func:`intervening_opportunities`: Stouffer's intervening opportunities in Schneider's
  exponential form (Stouffer 1940; Schneider 1959), with the
  acceptance parameter fitted by Poisson maximum likelihood.
- :func:`compare_models`: scores gravity fits and baselines on the same cells with the
  metrics of :mod:`kzspatial.core.metrics` (deviance, pseudo-R², SRMSE, SSI, AIC).

Both baselines rank destinations by their distance from the origin; zones at exactly the
distance of the destination do not count as intervening.

References
----------
- Simini, F., González, M. C., Maritan, A. and Barabási, A.-L. (2012). A universal model
  for mobility and migration patterns. Nature, 484, 96-100.
- Masucci, A. P., Serras, J., Johansson, A. and Batty, M. (2013). Gravity versus
  radiation models: On the importance of scale and heterogeneity in commuting flows.
  Physical Review E, 88, 022812.
- Stouffer, S. A. (1940). Intervening opportunities: a theory relating mobility and
  distance. American Sociological Review, 5(6), 845-867.
- Schneider, M. (1959). Gravity models and trip distribution theory. Papers of the
  Regional Science Association, 5, 51-56.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.metrics import fit_sums

__all__ = ["BaselineFit", "compare_models", "intervening_opportunities", "radiation"]


@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compare by identity
class BaselineFit:
    """Predicted flows of a baseline model.

    Attributes
    ----------
    model : str
        ``"radiation"`` or ``"intervening_opportunities"``.
    fitted : ndarray, shape (n, n)
        Predicted flows, NaN on the diagonal (self-flows are not modelled).
    params : dict of str to float
        Estimated parameters (``{"L": ...}`` for intervening opportunities, where
        ``L`` is per unit of opportunity); empty for radiation.
    n_params : int
        Parameters used by the prediction, counting the ``n`` outflow totals it
        reproduces, for the AIC of :func:`compare_models`.
    """

    model: str
    fitted: NDArray[np.float64] = dataclasses.field(repr=False)
    params: dict[str, float]
    n_params: int


def _check_inputs(
    outflows: ArrayLike, mass: ArrayLike, cost: ArrayLike, mass_name: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validate one origin total and one mass per zone plus a square cost matrix."""
    out = np.asarray(outflows, dtype=np.float64)
    m = np.asarray(mass, dtype=np.float64)
    d = np.asarray(cost, dtype=np.float64)
    n = out.shape[0] if out.ndim == 1 else -1
    problems = []
    if out.ndim != 1 or m.shape != out.shape or d.shape != (n, n):
        raise AlignmentError(
            f"expected outflows (n,), {mass_name} (n,) and cost (n, n) in the same zone "
            f"order; got {out.shape}, {m.shape} and {d.shape}"
        )
    off = ~np.eye(n, dtype=bool)
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        problems.append("outflows must be finite and >= 0")
    bad_mass = np.flatnonzero(~np.isfinite(m) | (m <= 0))
    if bad_mass.size:
        problems.append(
            f"{mass_name} must be finite and > 0; zones {bad_mass.tolist()[:10]} are not"
        )
    if not np.all(np.isfinite(d[off])) or np.any(d[off] < 0):
        problems.append("cost must be finite and >= 0 off the diagonal")
    if problems:
        raise ValidationError("; ".join(problems))
    return out, m, d


def _intervening(
    mass: NDArray[np.float64], cost: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``s_ij``: total mass of zones ``k != i, j`` strictly closer to ``i`` than ``j`` is.

    Returns
    -------
    ndarray, shape (n, n)
    """
    n = mass.size
    s = np.empty((n, n))
    for i in range(n):
        distance = cost[i].copy()
        distance[i] = -np.inf  # the origin sorts first and carries no mass
        order = np.argsort(distance, kind="stable")
        sorted_distance = distance[order]
        sorted_mass = np.where(order == i, 0.0, mass[order])
        closer = np.concatenate([[0.0], np.cumsum(sorted_mass)])
        s[i] = closer[np.searchsorted(sorted_distance, cost[i], side="left")]
    np.fill_diagonal(s, 0.0)
    return s


def _normalise_rows(
    weights: NDArray[np.float64], outflows: NDArray[np.float64]
) -> NDArray[np.float64]:
    np.fill_diagonal(weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    fitted = outflows[:, None] * np.divide(
        weights, total, out=np.zeros_like(weights), where=total > 0
    )
    np.fill_diagonal(fitted, np.nan)
    return fitted


def radiation(
    outflows: ArrayLike, population: ArrayLike, cost: ArrayLike
) -> BaselineFit:
    r"""Radiation model of Simini et al. (2012), constrained to the outflows.

    Parameters
    ----------
    outflows : array_like, shape (n,)
        Observed total outflow ``O_i`` of each zone (self-flows excluded).
    population : array_like, shape (n,)
        Zone populations ``m_i`` (> 0).
    cost : array_like, shape (n, n)
        Distances used to rank destinations around each origin.

    Returns
    -------
    BaselineFit
        ``fitted[i, j] = O_i p_ij / sum_j p_ij``.

    Notes
    -----
    .. math::

        p_{ij} = \frac{m_i m_j}{(m_i + s_{ij})(m_i + m_j + s_{ij})}

    with :math:`s_{ij}` the population within distance :math:`d_{ij}` of :math:`i`,
    excluding :math:`i` and :math:`j`. Without distance ties :math:`\sum_j p_{ij} =
    1 - m_i / M`, so the row normalisation is Masucci et al.'s finite-size correction.

    Examples
    --------
    Zones on a line at 0, 1 and 3 km with populations 1, 2 and 3:

    >>> fit = radiation([10.0, 0.0, 0.0], [1.0, 2.0, 3.0],
    ...                 [[0, 1, 3], [1, 0, 2], [3, 2, 0]])
    >>> fit.fitted[0, 1:].round(6).tolist()
    [8.0, 2.0]
    """
    out, m, d = _check_inputs(outflows, population, cost, "population")
    s = _intervening(m, d)
    weights = (
        m[:, None] * m[None, :] / ((m[:, None] + s) * (m[:, None] + m[None, :] + s))
    )
    return BaselineFit(
        "radiation", _normalise_rows(weights, out), {}, n_params=out.size
    )


def _opportunity_weights(
    scaled_l: float, before: NDArray[np.float64], opportunities: NDArray[np.float64]
) -> NDArray[np.float64]:
    # exp(-L V_before) - exp(-L (V_before + o_j)) = exp(-L V_before) (1 - exp(-L o_j))
    return np.exp(-scaled_l * before) * -np.expm1(-scaled_l * opportunities[None, :])


def intervening_opportunities(
    flows: ArrayLike,
    opportunities: ArrayLike,
    cost: ArrayLike,
    *,
    L: float | None = None,
) -> BaselineFit:
    """Intervening-opportunities model (Stouffer 1940; Schneider 1959), outflow constrained.

    Parameters
    ----------
    flows : array_like, shape (n, n)
        Observed flows; their off-diagonal row sums are the outflow totals, and ``L`` is
        fitted to them by Poisson maximum likelihood when not given.
    opportunities : array_like, shape (n,)
        Opportunities offered by each destination (e.g. population or inflows; > 0).
    cost : array_like, shape (n, n)
        Distances used to rank destinations around each origin.
    L : float, optional
        Probability per unit of opportunity that a migrant stops; fitted if None.

    Returns
    -------
    BaselineFit
        ``fitted[i, j] = O_i w_ij / sum_j w_ij`` with
        ``w_ij = exp(-L V_ij) - exp(-L (V_ij + o_j))``, ``V_ij`` the opportunities
        strictly closer to ``i`` than ``j``; ``params = {"L": L}``.

    Raises
    ------
    ValidationError
        Bad values, or ``L <= 0``.
    """
    y = np.asarray(flows, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != y.shape[1]:
        raise ValidationError(
            f"flows must be a square (n, n) matrix; got shape {y.shape}"
        )
    y = y.copy()
    np.fill_diagonal(y, 0.0)
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ValidationError("flows must be finite and >= 0 off the diagonal")
    out, o, d = _check_inputs(y.sum(axis=1), opportunities, cost, "opportunities")
    before = _intervening(o, d)
    total = o.sum()
    if L is not None:
        if not L > 0:
            raise ValidationError(f"L must be > 0; got {L}")
        scaled_l = float(L)
    else:
        # Poisson log-likelihood up to constants; search log(L * total) in a wide bracket
        def negative_loglik(log_scaled: float) -> float:
            fitted = _normalise_rows(
                _opportunity_weights(np.exp(log_scaled) / total, before, o), out
            )
            np.fill_diagonal(fitted, 1.0)
            return -float(np.sum(special.xlogy(y, fitted)))

        best = optimize.minimize_scalar(
            negative_loglik,
            bounds=(-12.0, 12.0),
            method="bounded",
            options={"xatol": 1e-10},
        )
        scaled_l = float(np.exp(best.x) / total)
    fitted = _normalise_rows(_opportunity_weights(scaled_l, before, o), out)
    return BaselineFit(
        "intervening_opportunities", fitted, {"L": scaled_l}, n_params=out.size + 1
    )


def compare_models(
    observed: ArrayLike,
    models: Mapping[str, Any],
    *,
    self_flows: str = "drop",
) -> list[dict[str, float | str | None]]:
    """Score fitted flow matrices on the same cells with the same metrics.

    Parameters
    ----------
    observed : array_like, shape (n, n)
        Observed flows.
    models : mapping of str to array_like or fit result
        Each value is an ``(n, n)`` matrix of predicted flows, or an object with a
        ``fitted`` attribute (``GravityFit``, ``BaselineFit``); an ``n_params``
        attribute enables the AIC.
    self_flows : {"drop", "keep"}
        Whether diagonal cells are scored.

    Returns
    -------
    list of dict
        One row per model in input order, keys ``model, deviance, pseudo_r2, srmse,
        ssi, aic, n_cells``. All models are scored on the cells where every model is
        finite; ``pseudo_r2 = 1 - deviance / null_deviance`` with the null model the
        mean flow over those cells; ``aic`` is None without ``n_params``.
    """
    if self_flows not in ("drop", "keep"):
        raise ValidationError(
            f"unknown self_flows {self_flows!r}; valid are ['drop', 'keep']"
        )
    y = np.asarray(observed, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != y.shape[1]:
        raise ValidationError(
            f"observed must be a square (n, n) matrix; got shape {y.shape}"
        )
    if not models:
        raise ValidationError(
            "models is empty; pass a mapping of names to fitted matrices"
        )
    fitted = {}
    for name, model in models.items():
        matrix = np.asarray(getattr(model, "fitted", model), dtype=np.float64)
        if matrix.shape != y.shape:
            raise AlignmentError(
                f"model {name!r} predicts shape {matrix.shape}, observed is {y.shape}"
            )
        fitted[name] = matrix
    common = np.isfinite(y)
    if self_flows == "drop":
        common &= ~np.eye(y.shape[0], dtype=bool)
    for matrix in fitted.values():
        common &= np.isfinite(matrix)
    y_cells = y[common]
    n_cells = int(common.sum())
    rows = []
    for name, matrix in fitted.items():
        sums = fit_sums(y_cells, matrix[common])
        n_params = getattr(models[name], "n_params", None)
        rows.append(
            {
                "model": name,
                "deviance": sums.deviance(),
                "pseudo_r2": sums.pseudo_r2(n_cells),
                "srmse": sums.srmse(n_cells),
                "ssi": sums.ssi(),
                "aic": None if n_params is None else sums.aic(n_params),
                "n_cells": n_cells,
            }
        )
    return rows
