"""The entry point :func:`fit_gravity`: validate, fit, score, return a :class:`GravityFit`."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial.core.gravity._build import _prepare
from kzspatial.core.gravity._checks import Constraint
from kzspatial.core.gravity.blocks import (
    _block_fit_sums,
    _block_fitted,
    _Design,
    _map_blocks,
    _map_reduce,
)
from kzspatial.core.gravity.covariance import _covariances, _std_errors
from kzspatial.core.gravity.engine import _fit, _Solution, _starting_theta
from kzspatial.core.gravity.result import GravityFit

__all__ = ["fit_gravity"]


def fit_gravity(
    flows: ArrayLike,
    cost: ArrayLike,
    *,
    constraint: Constraint = "doubly",
    cost_func: Literal["pow", "exp"] = "pow",
    origin_vars: Mapping[str, ArrayLike] | None = None,
    destination_vars: Mapping[str, ArrayLike] | None = None,
    ids: Sequence | None = None,
    years: Sequence | None = None,
    self_flows: Literal["drop", "keep"] = "drop",
    counts: Literal["integer", "real"] = "integer",
    empty_zones: Literal["raise", "drop"] = "raise",
    separation: Literal["drop", "raise"] = "drop",
    tol: float = 1e-10,
    max_iter: int = 100,
    chunk_rows: int | None = None,
) -> GravityFit:
    """Fit a spatial-interaction model of the Wilson family by Poisson PML.

    Parameters
    ----------
    flows : array_like or scipy sparse array, shape (n, n) or (n_years, n, n)
        Flows from origin (row) to destination (column) between the same ``n`` zones;
        a 3-D array stacks the years of a panel. Zeros are data (PPML uses them).
        Never written. A C-ordered ``float64`` array with zero self-pairs (or
        ``self_flows="keep"``) is not copied: the fit keeps a read-only view, so
        changing it afterwards changes the residuals the fit reports later.
    cost : array_like, shape (n, n), or (n_years, n, n) for a panel
        Travel costs (e.g. km) in the same zone order; a 2-D cost is shared by all
        years.
    constraint : {"doubly", "production", "attraction", "unconstrained"}
        Which margins are reproduced: both (origin and destination fixed effects),
        outflows (origin effects), inflows (destination effects) or none (intercept).
        In a panel the effects are year-specific; the unconstrained model gets year
        effects.
    cost_func : {"pow", "exp"}
        Power decay ``c^beta`` (regressor ``log c``) or exponential ``exp(beta c)``.
    origin_vars, destination_vars : mapping of str to array_like, optional
        Zone covariates (e.g. ``{"log_pop": ...}``), each shape ``(n,)`` or
        ``(n_years, n)``; estimated as ``"origin:<name>"`` / ``"destination:<name>"``.
        Origin covariates need a model without origin effects (attraction or
        unconstrained), destination covariates one without destination effects.
    ids : sequence, length n, optional
        Zone labels used in results and messages (default ``0..n-1``).
    years : sequence, length n_years, optional
        Year labels of a stacked panel (default ``0..n_years-1``).
    self_flows : {"drop", "keep"}
        ``"drop"`` leaves the diagonal (intra-zonal flows) out of the model.
    counts : {"integer", "real"}
        ``"integer"`` rejects non-integer flows; ``"real"`` accepts any non-negative
        values (Poisson pseudo-likelihood).
    empty_zones : {"raise", "drop"}
        Zones whose constrained margin is zero (no out- resp. inflows in a year) make
        their fixed effect diverge; ``"raise"`` reports them, ``"drop"`` leaves them
        out (listed in ``GravityFit.dropped``), as ``pyfixest`` does.
    separation : {"drop", "raise"}
        Zero flows separated by a regressor (e.g. a destination dummy that is 1 only for
        a zone without inflows) or, once those are out, by the fixed effects, are found
        before fitting (the simple check of ppmlhdfe, Correia, Guimarães and Zylkin
        2019). ``"drop"`` leaves their zones out, and covariates that are then all zero,
        with a warning naming them (``GravityFit.dropped["separation"]``), as ppmlhdfe
        does; ``"raise"`` reports them. Separated pairs that are not whole zones raise
        either way.
    tol : float
        Convergence: largest Newton step relative to ``max(|theta|, 1)``.
    max_iter : int
        Maximum Newton iterations.
    chunk_rows : int, optional
        Origin rows per block: every pass over the flows runs block by block and
        combines per-block statistics (see :mod:`kzspatial.core.gravity.blocks`). The default takes
        blocks of about 2**18 flows (one block up to 512 zones); the estimates do not
        depend on the block size beyond rounding.

    Returns
    -------
    GravityFit

    Raises
    ------
    ValidationError
        Unknown options or a ``chunk_rows`` that is not a positive integer; Dask
        collections (use :func:`kzspatial.distributed.fit_gravity`); NaN,
        negative or (with ``counts="integer"``) fractional flows;
        missing, negative, or, with power decay, zero costs on modelled pairs; missing
        covariate values. All problems are reported together.
    AlignmentError
        Shapes of cost, covariates, ids or years do not match the flows.
    IdentificationError
        Covariates absorbed by fixed effects or collinear; zones with zero margins
        under a constraint and ``empty_zones="raise"``.

    Notes
    -----
    The fixed effects are profiled out of a damped Newton iteration (see
    :mod:`kzspatial.core.gravity.engine`); the estimates are the Poisson maximum-likelihood estimates and agree
    with a dummy-variable GLM to rounding. Convergence also requires the fitted margins
    of the constrained models to equal the observed ones to rounding.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 100, size=(15, 2))
    >>> km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 1
    >>> flows = rng.poisson(5e4 * km**-1.5)
    >>> fit = fit_gravity(flows, km, constraint="doubly")
    >>> round(fit.params["beta"], 1)
    -1.5
    >>> bool(np.allclose(np.nansum(fit.fitted, axis=1), flows.sum(axis=1) - flows.diagonal()))
    True
    """
    design, ids, years, cost_shape, dropped = _prepare(
        flows,
        cost,
        constraint=constraint,
        cost_func=cost_func,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
        ids=ids,
        years=years,
        self_flows=self_flows,
        counts=counts,
        empty_zones=empty_zones,
        chunk_rows=chunk_rows,
        separation=separation,
    )
    return _estimate(
        design,
        constraint=constraint,
        cost_func=cost_func,
        ids=ids,
        years=years,
        cost_shape=cost_shape,
        dropped=dropped,
        tol=tol,
        max_iter=max_iter,
    )


def _estimate(
    design: _Design,
    *,
    constraint: str,
    cost_func: str,
    ids: tuple,
    years: tuple | None,
    cost_shape: tuple[int, ...],
    dropped: dict[str, list[str]],
    tol: float,
    max_iter: int,
) -> GravityFit:
    """Fit a validated design and assemble the result.

    The part of :func:`fit_gravity` shared with :mod:`kzspatial.distributed`: the
    design's runner decides where the flows live.
    """
    cg_max_iter = max(200, 2 * design.y.shape[1])
    sol = _fit(
        design,
        tol=tol,
        max_iter=max_iter,
        cg_max_iter=cg_max_iter,
        theta_start=_starting_theta(design, cg_max_iter=cg_max_iter),
    )
    if not sol.converged:
        warnings.warn(
            f"Newton iterations did not converge in {max_iter} steps; raise max_iter "
            "or check the data for separation (flows that are zero for whole groups)",
            UserWarning,
            stacklevel=3,
        )
    return _result(
        design,
        sol,
        constraint=constraint,
        cost_func=cost_func,
        ids=ids,
        years=years,
        cost_shape=cost_shape,
        dropped=dropped,
    )


def _n_params(d: _Design) -> int:
    """``k`` of the AIC: the coefficients plus the identified fixed effects."""
    return (
        d.n_theta
        + (int(d.active_origins.sum()) if d.origin_fe else 0)
        + (int(d.active_destinations.sum()) if d.destination_fe else 0)
        - (d.y.shape[0] if d.origin_fe and d.destination_fe else 0)
    )


def _result(
    design: _Design,
    sol: _Solution,
    *,
    constraint: str,
    cost_func: str,
    ids: tuple,
    years: tuple | None,
    cost_shape: tuple[int, ...],
    dropped: dict[str, list[str]],
) -> GravityFit:
    """Covariances, metrics and effects of a solution, as a :class:`GravityFit`."""
    cov_robust, cov_cluster = _covariances(design, sol)
    names = design.names
    n_obs = design.n_modelled()
    n_params = _n_params(design)
    # sum(y) and sum(y log mu) = sum(y * eta) from sufficient statistics
    sums = _map_reduce(design, _block_fit_sums, sol.mu)
    y_log_mu = sol.y_log_mu()
    sums = dataclasses.replace(
        sums,
        y_total=float(sol.observed.row_total.sum()),
        y_log_mu=y_log_mu,
        y_log_ratio=sums.y_log_y - y_log_mu,
    )

    def effects(log_effects: NDArray[np.float64], active: NDArray[np.bool_], on: bool):
        if not on:
            return None
        out = np.where(active, log_effects, np.nan)
        return out if years is not None else out[0]

    alpha, delta = sol.alpha, sol.delta
    if design.origin_fe and design.destination_fe:
        # identification: destination effects of each year have mean zero
        shift = np.nanmean(np.where(design.active_destinations, delta, np.nan), axis=1)
        alpha, delta = alpha + shift[:, None], delta - shift[:, None]
    # in this process the fitted flows are the solution's array, NaN outside the model
    # from here on
    fitted = design.runner.output(_map_blocks(design, _block_fitted, sol.mu))
    fitted = fitted if years is not None else fitted[0]
    return GravityFit(
        params=dict(zip(names, map(float, sol.theta), strict=True)),
        bse_robust=dict(zip(names, map(float, _std_errors(cov_robust)), strict=True)),
        bse_cluster={
            scheme: dict(zip(names, map(float, _std_errors(cov)), strict=True))
            for scheme, cov in cov_cluster.items()
        },
        cov_robust=cov_robust,
        cov_cluster=cov_cluster,
        deviance=sums.deviance(),
        null_deviance=sums.null_deviance(n_obs),
        llf=sums.llf(),
        aic=sums.aic(n_params),
        pseudo_r2=sums.pseudo_r2(n_obs),
        srmse=sums.srmse(n_obs),
        ssi=sums.ssi(),
        fitted=fitted,
        origin_effects=effects(alpha, design.active_origins, design.origin_fe),
        destination_effects=effects(
            delta, design.active_destinations, design.destination_fe
        ),
        n_iter=sol.n_iter,
        converged=sol.converged,
        constraint=constraint,
        cost_func=cost_func,
        ids=ids,
        years=years,
        n_obs=n_obs,
        n_params=n_params,
        dropped=dropped,
        _design=design,
        _solution=sol,
        _cost_shape=cost_shape,
    )
