"""The result of a gravity fit, :class:`GravityFit`: estimates, metrics, prediction.

The result is frozen and holds arrays and numbers only. :meth:`GravityFit.summary`
prints a text table in the spirit of ``statsmodels``; :meth:`GravityFit.table` returns
the coefficient table as numpy columns and :meth:`GravityFit.to_frame` as a pandas
DataFrame (converted outside the core, in :mod:`kzspatial._frames`).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from kzspatial import _frames
from kzspatial._errors import ValidationError
from kzspatial.core.gravity._checks import (
    _cost_regressor,
    _prediction_totals,
    _raise_problems,
    _replace_columns,
)
from kzspatial.core.gravity.blocks import (
    _block_fitted,
    _Design,
    _map_blocks,
    _predict,
)
from kzspatial.core.gravity.covariance import _CLUSTER_SCHEMES, _std_errors
from kzspatial.core.gravity.engine import _balance, _Solution
from kzspatial.core.metrics import unit_deviance

__all__ = ["GravityFit"]

_DECAY = {"pow": "power, c^beta", "exp": "exponential, exp(beta c)"}
_COVARIANCE = {  # at most 22 characters: the width of a header value
    "robust": "robust (HC0)",
    "origin": "CRV1 by origin",
    "destination": "CRV1 by destination",
    "two-way": "CRV1 two-way",
}


@dataclasses.dataclass(frozen=True, eq=False, repr=False)  # arrays: compare by identity
class GravityFit:
    """Result of :func:`fit_gravity`.

    Arrays of flows have the layout of the input: ``(n, n)``, or ``(n_years, n, n)`` for
    a stacked panel; cells outside the model (self-pairs with ``self_flows="drop"``,
    dropped zones) are NaN.

    Attributes
    ----------
    params : dict of str to float
        Estimates: ``"beta"`` (decay on ``log(cost)`` for ``"pow"``, on ``cost`` for
        ``"exp"``), ``"intercept"`` and ``"year[<label>]"`` (unconstrained only; year
        effects relative to the first year), ``"origin:<name>"``,
        ``"destination:<name>"``.
    bse_robust : dict of str to float
        Heteroskedasticity-robust (HC0 sandwich, Poisson QMLE) standard errors, no
        small-sample factor.
    bse_cluster : dict of str to dict of str to float
        Cluster-robust (CRV1) standard errors under the schemes ``"origin"`` (clusters =
        origin zones, pooled over years), ``"destination"`` and ``"two-way"``
        (Cameron–Gelbach–Miller: origin + destination - origin×destination pair); each
        component is scaled by ``G / (G - 1)`` with ``G`` its number of clusters, no
        ``(N - 1) / (N - k)`` factor: pyfixest's ``fepois(..., vcov={"CRV1": "o+d"},
        ssc=ssc(k_adj=False, G_df="conventional"))`` gives the same numbers. A two-way
        variance can be negative in small samples; its standard error is NaN then.
    cov_robust : ndarray, shape (p, p)
    cov_cluster : dict of str to ndarray, shape (p, p)
    deviance, null_deviance : float
        Poisson deviance of the model and of the intercept-only model (pooled mean).
    llf : float
        Poisson log-likelihood including ``-log(y!)`` (``gammaln(y + 1)`` for real flows).
    aic : float
        ``-2 llf + 2 k``, ``k`` = identified parameters including fixed effects.
    pseudo_r2 : float
        Deviance-based pseudo-R², ``1 - deviance / null_deviance`` (Cameron and
        Windmeijer's R²_DEV for the Poisson model, not McFadden's).
    srmse, ssi : float
        Standardised RMSE and Sørensen similarity index of ``fitted`` (see
        :mod:`kzspatial.core.metrics`).
    fitted : ndarray, shape of the input flows
        Fitted flows ``mu``.
    origin_effects, destination_effects : ndarray of shape (n,) or (n_years, n), or None
        Log-scale origin and destination fixed effects (``log`` of the Wilson balancing
        factors times the margins) of the constrained models, NaN for dropped zones.
        Doubly constrained: destination effects have mean zero per year.
    n_iter : int
        Newton iterations.
    converged : bool
    constraint, cost_func : str
    ids : tuple
        Zone labels, length ``n``.
    years : tuple or None
        Year labels of a stacked panel.
    n_obs : int
        Modelled origin-destination cells.
    n_params : int
        ``k`` in the AIC.
    dropped : dict of str to list
        Zone labels (``"id"`` or ``"id (year)"``) dropped by ``empty_zones="drop"``, under
        ``"origin"`` and ``"destination"``.
    """

    params: dict[str, float]
    bse_robust: dict[str, float]
    bse_cluster: dict[str, dict[str, float]]
    cov_robust: NDArray[np.float64]
    cov_cluster: dict[str, NDArray[np.float64]]
    deviance: float
    null_deviance: float
    llf: float
    aic: float
    pseudo_r2: float
    srmse: float
    ssi: float
    fitted: NDArray[np.float64]
    origin_effects: NDArray[np.float64] | None
    destination_effects: NDArray[np.float64] | None
    n_iter: int
    converged: bool
    constraint: str
    cost_func: str
    ids: tuple
    years: tuple | None
    n_obs: int
    n_params: int
    dropped: dict[str, list[str]]
    _design: _Design
    _solution: _Solution
    _cost_shape: tuple[int, ...]

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the estimated (non-fixed-effect) parameters, in ``cov_*`` order."""
        return self._design.names

    def __repr__(self) -> str:
        """Summarise the fit in one line: model, size, decay, deviance, convergence."""
        panel = f"n_years={len(self.years)}, " if self.years is not None else ""
        return (
            f"GravityFit(constraint={self.constraint!r}, cost_func={self.cost_func!r}, "
            f"n_zones={len(self.ids)}, {panel}n_flows={self.n_obs}, "
            f"beta={self.params['beta']:.4g}, deviance={self.deviance:.6g}, "
            f"pseudo_r2={self.pseudo_r2:.4f}, converged={self.converged})"
        )

    def _layout(self, stacked: NDArray[np.float64]) -> NDArray[np.float64]:
        return stacked if self.years is not None else stacked[0]

    def _flows(self, block_array: Any) -> NDArray[np.float64]:
        """Compute ``block_array(design, mu)`` over the flows, in the input layout."""
        d = self._design
        return self._layout(
            d.runner.output(_map_blocks(d, block_array, self._solution.mu))
        )

    @functools.cached_property
    def pearson_resid(self) -> NDArray[np.float64]:
        """Pearson residuals ``(y - mu) / sqrt(mu)``, shape of the input flows."""
        return self._flows(_block_pearson_resid)

    @functools.cached_property
    def deviance_resid(self) -> NDArray[np.float64]:
        """Deviance residuals ``sign(y - mu) sqrt(2 (y log(y/mu) - (y - mu)))``."""
        return self._flows(_block_deviance_resid)

    def _cov(self, cov: str) -> NDArray[np.float64]:
        if cov == "robust":
            return self.cov_robust
        if cov in self.cov_cluster:
            return self.cov_cluster[cov]
        raise ValidationError(
            f"unknown cov {cov!r}; valid are ['robust', {', '.join(map(repr, _CLUSTER_SCHEMES))}]"
        )

    def conf_int(
        self, alpha: float = 0.05, *, cov: str = "robust"
    ) -> dict[str, tuple[float, float]]:
        """Wald confidence intervals from the normal distribution.

        Parameters
        ----------
        alpha : float
            1 - coverage.
        cov : {"robust", "origin", "destination", "two-way"}
            Covariance used for the standard errors.

        Returns
        -------
        dict of str to (float, float)
        """
        if not 0 < alpha < 1:
            raise ValidationError(f"alpha must lie in (0, 1); got {alpha}")
        se = _std_errors(self._cov(cov))
        q = special.ndtri(1 - alpha / 2)
        return {
            name: (self.params[name] - q * s, self.params[name] + q * s)
            for name, s in zip(self.param_names, se, strict=True)
        }

    def table(
        self, *, cov: str = "robust", alpha: float = 0.05
    ) -> dict[str, NDArray[Any]]:
        """Return the coefficient table as numpy columns, one row per parameter.

        Parameters
        ----------
        cov : {"robust", "origin", "destination", "two-way"}
            Covariance used for the standard errors.
        alpha : float
            1 - coverage of the confidence interval columns.

        Returns
        -------
        dict of str to ndarray, each shape (p,)
            ``index`` (the parameter names, :attr:`param_names`), then ``coef``,
            ``std_err``, ``z`` (Wald statistic), ``p_value`` (two-sided, normal),
            ``ci_low``, ``ci_high``.
        """
        intervals = self.conf_int(alpha, cov=cov)
        names = self.param_names
        coef = np.array([self.params[name] for name in names])
        se = _std_errors(self._cov(cov))
        z = coef / se
        return {
            "index": np.array(names),
            "coef": coef,
            "std_err": se,
            "z": z,
            "p_value": 2 * special.ndtr(-np.abs(z)),
            "ci_low": np.array([intervals[name][0] for name in names]),
            "ci_high": np.array([intervals[name][1] for name in names]),
        }

    def to_frame(self, *, cov: str = "robust", alpha: float = 0.05) -> Any:
        """Return the coefficient table of :meth:`table` as a pandas DataFrame.

        Parameters
        ----------
        cov, alpha
            As in :meth:`table`.

        Returns
        -------
        pandas.DataFrame
            Indexed by parameter name (index name ``"parameter"``), columns ``coef,
            std_err, z, p_value, ci_low, ci_high``.
        """
        table = self.table(cov=cov, alpha=alpha)
        columns = {"parameter": table.pop("index"), **table}
        return _frames.table_to_frame(columns, index=["parameter"])

    def summary(self, *, cov: str = "robust", alpha: float = 0.05) -> str:
        """Report the fit as text: model, metrics and the coefficient table.

        Parameters
        ----------
        cov, alpha
            As in :meth:`table`.

        Returns
        -------
        str
            Printable; the coefficients, standard errors and interval bounds to five
            significant digits.
        """
        table = self.table(cov=cov, alpha=alpha)
        years = "-"
        if self.years is not None:
            years = f"{len(self.years)} ({self.years[0]}-{self.years[-1]})"
        left = [
            ("Model:", "Poisson PML gravity"),
            ("Constraint:", self.constraint),
            ("Decay:", _DECAY[self.cost_func]),
            ("Covariance:", _COVARIANCE[cov]),
            ("Converged:", f"{'yes' if self.converged else 'NO'} ({self.n_iter} it.)"),
            ("Years:", years),
            ("Zones:", f"{len(self.ids)}"),
            ("Flows (cells):", f"{self.n_obs}"),
        ]
        right = [
            ("Parameters (k):", f"{self.n_params}"),
            ("Log-likelihood:", f"{self.llf:.6g}"),
            ("AIC:", f"{self.aic:.6g}"),
            ("Deviance:", f"{self.deviance:.6g}"),
            ("Null deviance:", f"{self.null_deviance:.6g}"),
            ("Pseudo R2 (dev):", f"{self.pseudo_r2:.4f}"),
            ("SRMSE:", f"{self.srmse:.4f}"),
            ("SSI:", f"{self.ssi:.4f}"),
        ]
        half = 38
        header = [
            f"{a:<16}{b:>{half - 16}}  {c:<16}{d:>{half - 16}}"
            for (a, b), (c, d) in zip(left, right, strict=True)
        ]
        name_width = max(12, *map(len, self.param_names))
        columns = f"{'':<{name_width}}{'coef':>11}{'std err':>11}{'z':>9}{'P>|z|':>8}"
        columns += f"{f'[{alpha / 2:g}':>11}{f'{1 - alpha / 2:g}]':>11}"
        rows = [
            f"{name:<{name_width}}{coef:>#11.5g}{se:>#11.5g}{z:>9.3f}{p:>8.3f}"
            f"{low:>#11.5g}{high:>#11.5g}"
            for name, coef, se, z, p, low, high in zip(*table.values(), strict=True)
        ]
        width = max(len(columns), 2 * half + 2)
        title = "Gravity model results".center(width).rstrip()
        rule, thin = "=" * width, "-" * width
        return "\n".join([title, rule, *header, rule, columns, thin, *rows, rule])

    def predict(
        self,
        cost: ArrayLike | None = None,
        origin_vars: Mapping[str, ArrayLike] | None = None,
        destination_vars: Mapping[str, ArrayLike] | None = None,
        *,
        origin_totals: ArrayLike | None = None,
        destination_totals: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Predict flows for new costs, covariates or margins.

        The estimated ``beta`` and covariate effects are kept; what happens to the
        fixed effects depends on the constraint:

        - ``"unconstrained"``: ``exp(intercept + year + beta g(c) + covariates)``; no
          rebalancing, totals are not accepted.
        - ``"production"``: flows are rescaled so each origin's row sums to its total
          (``origin_totals``, default the observed outflows), i.e.
          ``O_i K_ij / sum_j K_ij``.
        - ``"attraction"``: the same with columns and ``destination_totals``.
        - ``"doubly"``: Furness balancing of ``K`` to both totals (default the observed
          margins; the totals of each year must agree), warm-started from the fitted
          effects.

        With no arguments the fitted flows are reproduced (to rounding).

        Parameters
        ----------
        cost : array_like, shape of the training cost, optional
            New costs; same units and ``cost_func`` as in the fit.
        origin_vars, destination_vars : mapping of str to array_like, optional
            New values, shape ``(n,)`` or ``(n_years, n)``, for some of the covariates
            of the fit (by name); the others keep their training values. Covariates
            absorbed by fixed effects cannot be given.
        origin_totals, destination_totals : array_like, shape (n,) or (n_years, n), optional
            Margins to rebalance to (constrained models only).

        Returns
        -------
        ndarray, shape of the training flows
            NaN on cells outside the model.

        Raises
        ------
        ValidationError, AlignmentError
            Bad shapes or values, unknown covariate names, totals that the model cannot
            honour.
        """
        d, sol = self._design, self._solution
        problems: list[tuple[type[ValidationError], str]] = []
        pair = d.pair if cost is None else self._new_pair(cost, problems)
        origin = _replace_columns(d, "origin", origin_vars, self, problems)
        destination = _replace_columns(
            d, "destination", destination_vars, self, problems
        )
        totals = _prediction_totals(
            d,
            self.constraint,
            {"origin": origin_totals, "destination": destination_totals},
            {"origin": sol.observed.row_total, "destination": sol.observed.col_total},
            self.ids,
            self.years,
            problems,
        )
        _raise_problems(problems)
        if self.constraint == "doubly":
            rows, cols = totals["origin"].sum(axis=1), totals["destination"].sum(axis=1)
            if not np.allclose(rows, cols, rtol=1e-9, atol=0):
                raise ValidationError(
                    f"origin totals sum to {rows.tolist()} and destination totals to "
                    f"{cols.tolist()} per year; a doubly-constrained prediction needs "
                    "equal sums, rescale one of them"
                )
        new = dataclasses.replace(d, pair=pair, origin=origin, destination=destination)
        mu = new.runner.new_flows(new)
        alpha, delta = sol.alpha.copy(), sol.delta.copy()
        fitted_rows = _predict(
            new, sol.theta, alpha, delta, mu, with_moments=False
        ).rows
        modelled_rows, modelled_cols = new.modelled_zones()
        obs_rows = modelled_rows * totals["origin"]
        obs_cols = modelled_cols * totals["destination"]
        scale = max(obs_rows.max(initial=0.0), 1.0)
        for _sweep in range(10_000 if new.origin_fe and new.destination_fe else 1):
            fitted_rows = _balance(
                new, mu, alpha, delta, obs_rows, obs_cols, fitted_rows
            )
            if np.max(np.abs(fitted_rows - obs_rows), initial=0.0) < 1e-13 * scale:
                break
        else:
            if new.origin_fe and new.destination_fe:
                warnings.warn(
                    "Furness balancing did not reach the totals in 10,000 sweeps; "
                    "check that every zone with a positive total has reachable partners",
                    UserWarning,
                    stacklevel=2,
                )
        return self._layout(new.runner.output(_map_blocks(new, _block_fitted, mu)))

    def _new_pair(
        self, cost: ArrayLike, problems: list[tuple[type[ValidationError], str]]
    ) -> tuple[NDArray[np.float64], ...]:
        """Build the pair regressors of ``predict`` for new costs.

        The fit's own after a problem, which is recorded in ``problems``.
        """
        d = self._design
        regressor = _cost_regressor(
            cost,
            self.cost_func,
            d.y.shape,
            d.exclude_self,
            self.ids,
            self.years,
            problems,
            expected_shapes=[self._cost_shape],
        )
        return d.pair if regressor is None else (regressor,)


def _block_pearson_resid(d: _Design, mu: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        resid = (d.y - mu) / np.sqrt(mu)
    return d.exclude(resid, np.nan)


def _block_deviance_resid(d: _Design, mu: NDArray[np.float64]) -> NDArray[np.float64]:
    unit = unit_deviance(d.y, mu)
    return d.exclude(np.sign(d.y - mu) * np.sqrt(np.maximum(unit, 0.0)), np.nan)
