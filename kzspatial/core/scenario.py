r"""What-if predictions of a fitted gravity model, with parametric uncertainty.

A scenario changes what enters the log-linear predictor of a Wilson-family model
(see :mod:`kzspatial.core.gravity`),

.. math::

    K_{ij} = m_j \exp\big(\beta\, g(c_{ij}) + x_i^\top \gamma_o + z_j^\top \gamma_d\big),

through the costs ``c``, the zone covariates ``x`` and ``z``, or a destination mass
multiplier ``m`` (a change of a destination's attractiveness, i.e. a shift of its
destination effect by ``log m``), and then applies the model's constraints:

- ``"unconstrained"``: :math:`T_{ij} = \exp(\text{intercept} + \text{year}) K_{ij}`; every
  flow moves, national totals included;
- ``"production"``: :math:`T_{ij} = O_i K_{ij} / \sum_k K_{ik}`; each origin keeps its
  out-flow ``O_i``, a change only redistributes it among destinations;
- ``"attraction"``: :math:`T_{ij} = D_j K_{ij} / \sum_k K_{kj}`; each destination keeps
  its in-flow ``D_j``;
- ``"doubly"``: ``K`` Furness-balanced to both margins; only costs can act, and they
  redistribute flows with every zone's in- and out-flow fixed.

:func:`simulate_scenario` evaluates the baseline and the scenario at the estimates and
at ``draws`` parameter vectors drawn from :math:`N(\hat\theta, \hat V)` (parametric
simulation, King, Tomz and Wittenberg 2000), and returns point predictions with
percentile intervals of the scenario flows, of their change and of the regional nets.
The fixed effects of the constrained models are not drawn: they are solved again from
the margins for every draw, which is what the constraint means.

A cluster-robust two-way covariance need not be positive semi-definite; its negative
eigenvalues are set to zero before drawing (Cameron, Gelbach and Miller 2011, sec. 2.3),
and the result says so (:attr:`ScenarioForecast.covariance_clipped`).

References
----------
- King, G., Tomz, M. and Wittenberg, J. (2000). Making the most of statistical analyses:
  improving interpretation and presentation. American Journal of Political Science,
  44(2), 347-361.
- Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with
  multiway clustering. Journal of Business & Economic Statistics, 29(2), 238-249.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.decay import cost_regressor
from kzspatial.core.gravity import CONSTRAINTS, GravityFit
from kzspatial.core.moran._inference import make_rng

__all__ = [
    "HELD_FIXED",
    "ScenarioForecast",
    "ZoneState",
    "predict_flows",
    "simulate_scenario",
    "simulate_scenario_from_fit",
]

HELD_FIXED: dict[str, str] = {
    "unconstrained": (
        "Nothing is held fixed: out-flows, in-flows and the national total all respond "
        "to the changes through the fitted elasticities."
    ),
    "production": (
        "Each origin's total out-flow (its out-migrants) is held at the baseline; a "
        "change only redistributes those migrants among destinations. Origin-side "
        "(push) effects are absorbed by the origin constraint and do not act."
    ),
    "attraction": (
        "Each destination's total in-flow (its in-migrants) is held at the baseline; a "
        "change only redistributes them among origins. Destination-side (pull) effects "
        "and changes of a destination's attractiveness are absorbed by the destination "
        "constraint and do not act."
    ),
    "doubly": (
        "Every region's total out-flow and in-flow, and hence every net, is held at the "
        "baseline; only cost (distance) changes act, and they redistribute flows among "
        "pairs. Zone covariates and attractiveness are absorbed by the constraints."
    ),
}

_FURNESS_SWEEPS = 10_000


@dataclasses.dataclass(frozen=True)
class ZoneState:
    """Costs and zone attributes that enter the predictor, baseline or scenario.

    Attributes
    ----------
    cost : ndarray, shape (n, n)
        Travel costs in the units of the fit (the diagonal is ignored when self-flows are
        excluded).
    origin_vars, destination_vars : mapping of str to ndarray, shape (n,)
        Covariate values by name without the ``origin:`` / ``destination:`` prefix
        (e.g. ``"log_grp_per_capita"``); names the model did not estimate are ignored.
    destination_mass : ndarray, shape (n,), optional
        Multiplier of each destination's attractiveness (1 = unchanged).
    """

    cost: NDArray[np.float64]
    origin_vars: Mapping[str, NDArray[np.float64]] = dataclasses.field(
        default_factory=dict
    )
    destination_vars: Mapping[str, NDArray[np.float64]] = dataclasses.field(
        default_factory=dict
    )
    destination_mass: NDArray[np.float64] | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class ScenarioForecast:
    """Result of :func:`simulate_scenario`; flows ``(n, n)`` with NaN off the model.

    Attributes
    ----------
    baseline, scenario : ndarray, shape (n, n)
        Flows predicted at the estimates for the baseline and the scenario.
    scenario_low, scenario_high : ndarray, shape (n, n)
        Percentile interval of the scenario flows over the parameter draws.
    change_low, change_high : ndarray, shape (n, n)
        Percentile interval of ``scenario - baseline``, both evaluated at each draw.
    net_baseline, net_scenario : ndarray, shape (n,)
        In-flow minus out-flow of every zone.
    net_change_low, net_change_high : ndarray, shape (n,)
        Percentile interval of the change of each net.
    total_change_low, total_change_high : float
        Percentile interval of the change of the total flow (zero in the constrained
        models).
    constraint : str
    held_fixed : str
        What the model keeps fixed, in words (:data:`HELD_FIXED`).
    draws : int
    level : float
        Coverage of the intervals (e.g. 0.95).
    seed : int or None
        Seed that reproduces the draws (None when a Generator was passed).
    covariance_clipped : bool
        The covariance had negative eigenvalues, set to zero before drawing.
    """

    baseline: NDArray[np.float64]
    scenario: NDArray[np.float64]
    scenario_low: NDArray[np.float64]
    scenario_high: NDArray[np.float64]
    change_low: NDArray[np.float64]
    change_high: NDArray[np.float64]
    net_baseline: NDArray[np.float64]
    net_scenario: NDArray[np.float64]
    net_change_low: NDArray[np.float64]
    net_change_high: NDArray[np.float64]
    total_change_low: float
    total_change_high: float
    constraint: str
    held_fixed: str
    draws: int
    level: float
    seed: int | None
    covariance_clipped: bool

    @property
    def change(self) -> NDArray[np.float64]:
        """``scenario - baseline`` at the estimates, shape (n, n)."""
        return self.scenario - self.baseline

    @property
    def net_change(self) -> NDArray[np.float64]:
        """Change of every zone's net at the estimates, shape (n,)."""
        return self.net_scenario - self.net_baseline


def _nets(flows: NDArray[np.float64]) -> NDArray[np.float64]:
    """In-flow minus out-flow over the last two axes (zone axis last)."""
    return np.nansum(flows, axis=-2) - np.nansum(flows, axis=-1)


def _log_kernel(
    theta: NDArray[np.float64],
    names: Sequence[str],
    state: ZoneState,
    cost_func: str,
    mask: NDArray[np.bool_],
    year_label: object,
) -> NDArray[np.float64]:
    """Linear predictor for a batch of parameter vectors ``theta`` (s, p): (s, n, n).

    The intercept and year effect are included only when estimated (unconstrained).
    """
    n = mask.shape[0]
    g = cost_regressor(np.where(mask, state.cost, 1.0), cost_func)
    eta = np.zeros((theta.shape[0], n, n))
    for k, name in enumerate(names):
        coef = theta[:, k, None, None]
        side, _, var = name.partition(":")
        if name == "beta":
            eta += coef * g
        elif name == "intercept" or name == f"year[{year_label}]":
            eta += coef
        elif name.startswith("year["):
            continue  # another year's effect
        elif side == "origin":
            eta += coef * _zone_vector(state.origin_vars, var, "origin", n)[:, None]
        elif side == "destination":
            eta += coef * _zone_vector(state.destination_vars, var, "destination", n)
        else:
            raise ValidationError(f"unknown parameter name {name!r}")
    if state.destination_mass is not None:
        eta += np.log(np.asarray(state.destination_mass, dtype=np.float64))
    return np.where(mask, eta, -np.inf)


def _zone_vector(
    values: Mapping[str, ArrayLike], name: str, side: str, n: int
) -> NDArray[np.float64]:
    if name not in values:
        raise ValidationError(
            f"the model has {side}:{name} but the zone state has no {side} variable "
            f"{name!r}; give it in {side}_vars"
        )
    v = np.asarray(values[name], dtype=np.float64)
    if v.shape != (n,):
        raise AlignmentError(
            f"{side} variable {name!r} has shape {v.shape}, expected ({n},)"
        )
    return v


def _constrain(
    eta: NDArray[np.float64],
    constraint: str,
    origin_totals: NDArray[np.float64] | None,
    destination_totals: NDArray[np.float64] | None,
) -> NDArray[np.float64]:
    """Flows (s, n, n) from log kernels under the constraint's margins."""
    if constraint == "unconstrained":
        return np.exp(eta)
    if constraint == "production":
        # shift by the row maximum: shares are invariant, exp cannot overflow
        k = np.exp(eta - eta.max(axis=2, keepdims=True))
        return origin_totals[:, None] * k / k.sum(axis=2, keepdims=True)
    if constraint == "attraction":
        k = np.exp(eta - eta.max(axis=1, keepdims=True))
        return destination_totals[None, :] * k / k.sum(axis=1, keepdims=True)
    k = np.exp(eta - eta.max(axis=(1, 2), keepdims=True))
    return _furness(k, origin_totals, destination_totals)


def _furness(
    k: NDArray[np.float64], rows: NDArray[np.float64], cols: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Biproportional (Furness) scaling of each (n, n) kernel to the row/column totals."""
    t = k.copy()
    scale = max(float(rows.max(initial=0.0)), 1.0)
    for _sweep in range(_FURNESS_SWEEPS):
        with np.errstate(invalid="ignore", divide="ignore"):
            t *= np.nan_to_num(rows / t.sum(axis=2))[:, :, None]
            t *= np.nan_to_num(cols / t.sum(axis=1))[:, None, :]
        if np.max(np.abs(t.sum(axis=2) - rows), initial=0.0) < 1e-12 * scale:
            return t
    raise ValidationError(
        "Furness balancing did not reach the margins in "
        f"{_FURNESS_SWEEPS} sweeps; check that every zone with a positive total has "
        "reachable partners"
    )


def _check_inputs(
    constraint: str,
    names: Sequence[str],
    cov: NDArray[np.float64] | None,
    origin_totals: ArrayLike | None,
    destination_totals: ArrayLike | None,
    n: int,
) -> tuple[NDArray[np.float64] | None, NDArray[np.float64] | None]:
    if constraint not in CONSTRAINTS:
        raise ValidationError(
            f"unknown constraint {constraint!r}; valid are {list(CONSTRAINTS)}"
        )
    if "beta" not in names:
        raise ValidationError("params must contain the decay parameter 'beta'")
    if cov is not None and cov.shape != (len(names), len(names)):
        raise AlignmentError(
            f"cov has shape {cov.shape}, expected {(len(names), len(names))} to match "
            "the params (in the same order)"
        )
    need = {
        "production": ("origin",),
        "attraction": ("destination",),
        "doubly": ("origin", "destination"),
        "unconstrained": (),
    }[constraint]
    out = []
    for side, totals in (
        ("origin", origin_totals),
        ("destination", destination_totals),
    ):
        if side not in need:
            out.append(None)
            continue
        if totals is None:
            raise ValidationError(
                f"a {constraint}-constrained prediction needs {side}_totals"
            )
        v = np.asarray(totals, dtype=np.float64)
        if v.shape != (n,) or not np.all(np.isfinite(v)) or np.any(v < 0):
            raise ValidationError(
                f"{side}_totals must be {n} finite non-negative values, got shape {v.shape}"
            )
        out.append(v)
    if constraint == "doubly" and not np.isclose(out[0].sum(), out[1].sum(), rtol=1e-9):
        raise ValidationError(
            f"origin totals sum to {out[0].sum():g} and destination totals to "
            f"{out[1].sum():g}; a doubly-constrained prediction needs equal sums"
        )
    return out[0], out[1]


def _mask(n: int, exclude_self: bool) -> NDArray[np.bool_]:
    return ~np.eye(n, dtype=bool) if exclude_self else np.ones((n, n), dtype=bool)


def predict_flows(
    params: Mapping[str, float],
    state: ZoneState,
    *,
    constraint: str,
    cost_func: str = "pow",
    origin_totals: ArrayLike | None = None,
    destination_totals: ArrayLike | None = None,
    year_label: object = None,
    exclude_self: bool = True,
) -> NDArray[np.float64]:
    """Flows of a gravity model for one zone state, at given parameters.

    Parameters
    ----------
    params : mapping of str to float
        Estimates named as in :attr:`GravityFit.params` (``"beta"``, ``"intercept"``,
        ``"year[<label>]"``, ``"origin:<name>"``, ``"destination:<name>"``).
    state : ZoneState
        Costs, covariates and destination mass multipliers.
    constraint : {"unconstrained", "production", "attraction", "doubly"}
    cost_func : {"pow", "exp"}
    origin_totals, destination_totals : array_like, shape (n,), optional
        The margins the constraint keeps (out-flows, in-flows).
    year_label : optional
        Year of a panel fit whose ``year[<label>]`` effect applies (unconstrained); the
        first year of a panel has none.
    exclude_self : bool
        Leave the diagonal out (``self_flows="drop"`` in the fit).

    Returns
    -------
    ndarray, shape (n, n)
        NaN on excluded cells.
    """
    names = list(params)
    n = np.asarray(state.cost).shape[0]
    o, d = _check_inputs(constraint, names, None, origin_totals, destination_totals, n)
    mask = _mask(n, exclude_self)
    theta = np.array([[params[k] for k in names]], dtype=np.float64)
    eta = _log_kernel(theta, names, state, cost_func, mask, year_label)
    return np.where(mask, _constrain(eta, constraint, o, d)[0], np.nan)


def _draw_parameters(
    theta: NDArray[np.float64],
    cov: NDArray[np.float64],
    draws: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], bool]:
    """``draws`` vectors from N(theta, cov), negative eigenvalues of cov set to zero."""
    sym = (cov + cov.T) / 2
    values, vectors = np.linalg.eigh(sym)
    tol = 1e-12 * max(float(np.abs(values).max(initial=0.0)), 1e-300)
    clipped = bool(np.any(values < -tol))
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    z = rng.standard_normal((draws, theta.size))
    return theta + z @ root.T, clipped


def simulate_scenario(
    params: Mapping[str, float],
    cov: ArrayLike,
    baseline: ZoneState,
    scenario: ZoneState,
    *,
    constraint: str,
    cost_func: str = "pow",
    origin_totals: ArrayLike | None = None,
    destination_totals: ArrayLike | None = None,
    year_label: object = None,
    exclude_self: bool = True,
    draws: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> ScenarioForecast:
    """Predict baseline and scenario flows with intervals by parametric simulation.

    Parameters
    ----------
    params : mapping of str to float
        Estimates, in the order of the rows of ``cov`` (as :attr:`GravityFit.params`).
    cov : array_like, shape (p, p)
        Covariance of the estimates (e.g. ``GravityFit.cov_cluster["two-way"]``).
    baseline, scenario : ZoneState
        The two states to compare.
    constraint, cost_func, origin_totals, destination_totals, year_label, exclude_self
        As in :func:`predict_flows`; the same margins hold for baseline and scenario.
    draws : int
        Parameter vectors drawn; 1,000 give percentiles to about one per cent.
    level : float
        Coverage of the percentile intervals.
    rng : numpy.random.Generator, int or None
        Source or seed of the draws (a fresh seed is recorded when None).

    Returns
    -------
    ScenarioForecast

    Raises
    ------
    ValidationError
        Unknown constraint, missing totals or covariates, bad ``draws`` or ``level``.
    AlignmentError
        Shapes of ``cov``, covariates or totals that do not match.
    """
    names = list(params)
    cov = np.asarray(cov, dtype=np.float64)
    n = np.asarray(baseline.cost).shape[0]
    if np.asarray(scenario.cost).shape != (n, n):
        raise AlignmentError(
            f"scenario cost has shape {np.asarray(scenario.cost).shape}, expected {(n, n)}"
        )
    o, d = _check_inputs(constraint, names, cov, origin_totals, destination_totals, n)
    if not isinstance(draws, (int, np.integer)) or isinstance(draws, bool) or draws < 2:
        raise ValidationError(f"draws must be an integer >= 2, got {draws!r}")
    if not 0 < level < 1:
        raise ValidationError(f"level must lie in (0, 1), got {level!r}")
    generator, seed = make_rng(rng)
    theta_hat = np.array([params[k] for k in names], dtype=np.float64)
    theta, clipped = _draw_parameters(theta_hat, cov, int(draws), generator)
    theta = np.vstack([theta_hat, theta])  # row 0: the point estimate
    mask = _mask(n, exclude_self)

    def flows(state: ZoneState) -> NDArray[np.float64]:
        eta = _log_kernel(theta, names, state, cost_func, mask, year_label)
        return np.where(mask, _constrain(eta, constraint, o, d), np.nan)

    base, new = flows(baseline), flows(scenario)
    change = new - base
    net_change = _nets(new) - _nets(base)
    total_change = np.nansum(change, axis=(1, 2))
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])

    def interval(values: NDArray[np.float64]):
        return np.percentile(values[1:], q, axis=0)

    s_low, s_high = interval(new)
    c_low, c_high = interval(change)
    n_low, n_high = interval(net_change)
    t_low, t_high = interval(total_change)
    return ScenarioForecast(
        baseline=base[0],
        scenario=new[0],
        scenario_low=s_low,
        scenario_high=s_high,
        change_low=c_low,
        change_high=c_high,
        net_baseline=_nets(base[0]),
        net_scenario=_nets(new[0]),
        net_change_low=n_low,
        net_change_high=n_high,
        total_change_low=float(t_low),
        total_change_high=float(t_high),
        constraint=constraint,
        held_fixed=HELD_FIXED[constraint],
        draws=int(draws),
        level=float(level),
        seed=seed,
        covariance_clipped=clipped,
    )


def simulate_scenario_from_fit(
    fit: GravityFit,
    baseline: ZoneState,
    scenario: ZoneState,
    *,
    year: object = None,
    cov: str = "two-way",
    draws: int = 1000,
    level: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> ScenarioForecast:
    """:func:`simulate_scenario` with the estimates, covariance and margins of a fit.

    Parameters
    ----------
    fit : GravityFit
        A fit without dropped zones; the margins the constraint keeps are the fitted
        ones of ``year`` (equal to the observed margins).
    baseline, scenario : ZoneState
    year : optional
        Year label of a panel fit (required for a panel).
    cov : {"two-way", "origin", "destination", "robust"}
        Covariance of the draws; two-way clustering by origin and destination is the
        honest choice when covariates vary only across zones.
    draws, level, rng
        As in :func:`simulate_scenario`.

    Returns
    -------
    ScenarioForecast
    """
    if any(fit.dropped.values()):
        raise ValidationError(
            f"the fit dropped zones {fit.dropped}; scenarios need every zone modelled"
        )
    fitted = fit.fitted
    if fit.years is not None:
        if year not in fit.years:
            raise ValidationError(
                f"year {year!r} is not a year of the fit; choose one of {list(fit.years)}"
            )
        fitted = fitted[list(fit.years).index(year)]
    covariance = fit.cov_robust if cov == "robust" else fit.cov_cluster.get(cov)
    if covariance is None:
        raise ValidationError(
            f"unknown cov {cov!r}; valid are ['robust', {', '.join(map(repr, fit.cov_cluster))}]"
        )
    return simulate_scenario(
        {k: fit.params[k] for k in fit.param_names},
        covariance,
        baseline,
        scenario,
        constraint=fit.constraint,
        cost_func=fit.cost_func,
        origin_totals=np.nansum(fitted, axis=1),
        destination_totals=np.nansum(fitted, axis=0),
        year_label=year,
        exclude_self=bool(np.all(np.isnan(np.diagonal(fitted)))),
        draws=draws,
        level=level,
        rng=rng,
    )
