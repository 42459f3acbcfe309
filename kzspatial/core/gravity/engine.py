"""The PPML engine: Newton's method with the fixed effects profiled out.

The fixed effects are never dummy columns. Newton's method runs on the full parameter
vector ``(theta, alpha, delta)``; its linear system is reduced to the few ``theta`` by the
Schur complement (Frisch-Waugh-Lovell for the Poisson information matrix):

- one set of fixed effects: the information block of the effects is diagonal, so the
  Schur complement is a weighted within-group demeaning done exactly in one pass, and the
  effects are re-concentrated in closed form after every step
  (``alpha_i = log O_i - log sum_j exp(rest)``), which makes the fitted row (column) sums
  equal the observed ones to rounding;
- two sets (doubly constrained): the block is ``[[diag(R), M], [M^T, diag(C)]]`` with ``M``
  the ``n x n`` matrix of current fitted flows. It is solved by preconditioned conjugate
  gradients on the destination-side Schur complement ``diag(C) - M^T diag(1/R) M``, which
  needs only products of ``M`` with a few ``n``-vectors. After every Newton step one
  Furness (iterative proportional fitting) sweep rescales rows and columns exactly, and
  a final series of sweeps makes both margins equal the observed margins to rounding.

The log-likelihood never needs a pass over the data: ``sum y*eta = theta.X'y +
alpha.O + delta.D``, all sufficient statistics. Each Newton iteration costs one ``exp``
and two or three other passes over the ``n^2`` flows (compiled sweeps, :mod:`._kernels`)
plus, for the doubly-constrained model, one sweep per conjugate-gradient iteration
(warm-started from the previous iterate). Without fixed effects the concentration only
scales each year's flows by one factor, so the moments of the next iterate come with the
predictor's own pass and are scaled (:class:`_Fitted`): one pass per iteration. Convergence is quadratic; on more than 400 zones the iteration starts
from the estimate on 200 evenly spaced zones (same model, cheap), which leaves about
three full-data iterations. Iteration stops when the proposed Newton step is below
``tol``, so the final moments, reused for the standard errors, belong to the optimum.

Every pass over the flows runs block by block through :mod:`.blocks`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kzspatial._errors import IdentificationError
from kzspatial.core.gravity.blocks import (
    _LOCAL,
    _block_peaks,
    _block_product,
    _block_rescale,
    _block_sample,
    _block_schur_product,
    _block_transposed_product,
    _Design,
    _map_reduce,
    _Moments,
    _moments,
    _predict,
    _Predicted,
)

_WARM_START_ZONES = 200  # zones of the subset fit that provides starting values


_SE_RTOL = 1e-10  # two-way projection behind the standard errors: ample for 1e-8 SEs


def _safe_reciprocal(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.zeros_like(x)
    np.divide(1.0, x, out=out, where=x > 0)
    return out


def _solve_two_way(
    d: _Design,
    mu: NDArray[np.float64],
    row_total: NDArray[np.float64],
    col_total: NDArray[np.float64],
    rhs_rows: NDArray[np.float64],
    rhs_cols: NDArray[np.float64],
    *,
    scale: NDArray[np.float64],
    rtol: float,
    max_iter: int,
    start: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Solve the information system of two-way fixed effects for several right-hand sides.

    Solves ``[[diag(R), M], [M^T, diag(C)]] [za; zb] = [ra; rb]`` per year by conjugate
    gradients on ``S = diag(C) - M^T diag(1/R) M`` with Jacobi preconditioning. ``S`` is
    singular along the constant vector (``alpha + c, delta - c``); consistent right-hand
    sides keep the iterates in its range, so the returned solution is one of the
    equivalent ones. Products with ``M`` run over the row blocks of ``d``.

    Parameters
    ----------
    d : _Design
        Supplies the row blocks.
    mu : ndarray, shape (T, n, n)
    row_total, col_total : ndarray, shape (T, n)
    rhs_rows, rhs_cols : ndarray, shape (T, n, m)
    scale : ndarray, shape (m,)
        Magnitude of each solution column (1 for log-scale effects, ``max |x|`` for a
        regressor), the floor of the stopping rule.
    rtol : float
        Stop when, for every year and column, ``max |r_j| / C_j`` (the residual in
        solution units) falls below ``rtol`` times the larger of its initial value and
        ``scale``: the floor keeps nearly-zero right-hand sides from chasing rounding.
    max_iter : int
    start : ndarray, shape (T, n, m), optional
        Initial ``zb``, e.g. the solution at the previous Newton iterate.

    Returns
    -------
    za, zb : ndarray, shape (T, n, m)
    """
    inv_r = _safe_reciprocal(row_total)[..., None]
    inv_c = _safe_reciprocal(col_total)[..., None]
    col_total = col_total[..., None]

    def schur(v: NDArray[np.float64]) -> NDArray[np.float64]:
        return col_total * v - _map_reduce(d, _block_schur_product, mu, inv_r, v=v)

    rhs = rhs_cols - _map_reduce(d, _block_transposed_product, mu, rhs_rows * inv_r)
    stop = rtol * np.maximum(np.abs(inv_c * rhs).max(axis=1, keepdims=True), scale)
    if start is None:
        zb = np.zeros_like(rhs)
        resid = rhs.copy()
    else:
        zb = start.copy()
        resid = rhs - schur(zb)
    precond = inv_c * resid
    rz = np.sum(resid * precond, axis=1, keepdims=True)
    direction = precond
    n_iter = 0
    while n_iter < max_iter and np.any(
        np.abs(precond).max(axis=1, keepdims=True) > stop
    ):
        s_dir = schur(direction)
        curvature = np.sum(direction * s_dir, axis=1, keepdims=True)
        step = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
        zb += step * direction
        resid -= step * s_dir
        precond = inv_c * resid
        rz_new = np.sum(resid * precond, axis=1, keepdims=True)
        ratio = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        direction = precond + ratio * direction
        rz = rz_new
        n_iter += 1
    za = (rhs_rows - _map_reduce(d, _block_product, mu, v=zb).values) * inv_r
    return za, zb


@dataclasses.dataclass(frozen=True)
class _Partial:
    """Fixed-effect partialling of the regressors at given weights.

    ``za``/``zb`` (shape ``(T, n, p)``) are the coefficients of the projection of each
    regressor on the fixed effects, so ``x_tilde = x - za_i - zb_j``; ``hessian`` is
    ``x_tilde' W x_tilde`` (the information of theta with the effects profiled out).
    """

    za: NDArray[np.float64]
    zb: NDArray[np.float64]
    hessian: NDArray[np.float64]


def _partial_out(
    d: _Design,
    mu: NDArray[np.float64],
    m: _Moments,
    extra_rows: NDArray[np.float64] | None,
    extra_cols: NDArray[np.float64] | None,
    *,
    x_scale: NDArray[np.float64] | None,
    rtol: float,
    max_iter: int,
    guess: _Partial | None = None,
) -> tuple[_Partial, NDArray[np.float64] | None, NDArray[np.float64] | None]:
    """Project the regressors on the fixed effects.

    Optionally one extra right-hand side too (the margin residuals); ``guess`` starts
    the two-way solver, ``x_scale`` (:func:`_x_scale`) is the floor of its stopping
    rule (None without two-way effects).
    """
    shape = m.row.shape
    za = np.zeros(shape)
    zb = np.zeros(shape)
    extra_a = extra_b = None
    if d.origin_fe and d.destination_fe:
        with_extra = extra_rows is not None
        rows, cols, scale, start = m.row, m.col, x_scale, None
        if guess is not None:
            start = guess.zb
        if with_extra:
            rows = np.concatenate([extra_rows[..., None], rows], axis=2)
            cols = np.concatenate([extra_cols[..., None], cols], axis=2)
            scale = np.concatenate([[1.0], scale])
            if start is not None:
                start = np.concatenate([np.zeros((*shape[:2], 1)), start], axis=2)
        sol_a, sol_b = _solve_two_way(
            d,
            mu,
            m.row_total,
            m.col_total,
            rows,
            cols,
            scale=scale,
            rtol=rtol,
            max_iter=max_iter,
            start=start,
        )
        if with_extra:
            extra_a, extra_b = sol_a[..., 0], sol_b[..., 0]
            sol_a, sol_b = sol_a[..., 1:], sol_b[..., 1:]
        za, zb = sol_a, sol_b
    elif d.origin_fe:
        inv_r = _safe_reciprocal(m.row_total)
        za = m.row * inv_r[..., None]
        extra_a = None if extra_rows is None else extra_rows * inv_r
    elif d.destination_fe:
        inv_c = _safe_reciprocal(m.col_total)
        zb = m.col * inv_c[..., None]
        extra_b = None if extra_cols is None else extra_cols * inv_c
    hessian = (
        m.gram
        - np.einsum("tik,til->kl", m.row, za)
        - np.einsum("tjk,tjl->kl", m.col, zb)
    )
    return _Partial(za, zb, (hessian + hessian.T) / 2), extra_a, extra_b


def _log_factor(factor: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.log(factor, out=np.zeros_like(factor), where=factor > 0)


def _balance(
    d: _Design,
    mu: NDArray[np.float64],
    alpha: NDArray[np.float64],
    delta: NDArray[np.float64],
    obs_rows: NDArray[np.float64],
    obs_cols: NDArray[np.float64],
    fitted_rows: NDArray[np.float64],
) -> NDArray[np.float64]:
    """One exact re-concentration of the fixed effects (a Furness sweep), in place.

    ``fitted_rows`` are the row totals of ``mu`` on entry; returns those on exit. Two
    passes at most: rows scaled while the column totals are summed, then columns
    scaled while the row totals are summed.
    """
    row_factor = None
    if d.origin_fe:
        row_factor = obs_rows * _safe_reciprocal(fitted_rows)
        alpha += _log_factor(row_factor)
    if not d.destination_fe:
        if row_factor is None:
            return fitted_rows
        return _map_reduce(
            d,
            _block_rescale,
            mu,
            row_factor,
            col_factor=None,
            sum_rows=True,
            sum_cols=False,
        ).rows
    fitted_cols = _map_reduce(
        d,
        _block_rescale,
        mu,
        row_factor,
        col_factor=None,
        sum_rows=False,
        sum_cols=True,
    ).cols
    col_factor = obs_cols * _safe_reciprocal(fitted_cols)
    delta += _log_factor(col_factor)
    return _map_reduce(
        d,
        _block_rescale,
        mu,
        None,
        col_factor=col_factor,
        sum_rows=True,
        sum_cols=False,
    ).rows


def _intercept_factor(
    d: _Design,
    theta: NDArray[np.float64],
    obs_totals: NDArray[np.float64],
    fitted_rows: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Unconstrained model: the factor per year that makes the fitted totals observed.

    Scaling each year's fitted flows so that its total equals the observed one
    maximises the likelihood over the intercept and year effects exactly (their score
    is ``sum(y) - sum(mu)`` per year), the analogue of :func:`_balance`. The
    coefficients are updated in place; the flows are left to the caller.
    """
    log_factor = np.log(obs_totals / fitted_rows.sum(axis=1))
    theta[d.n_pair] += log_factor[0]  # intercept
    theta[d.n_pair + 1 : d.n_pair + d.y.shape[0]] += log_factor[1:] - log_factor[0]
    return np.exp(log_factor)


@dataclasses.dataclass(frozen=True)
class _Fitted:
    """The fitted flows ``mu`` as the last passes left them.

    ``rows`` (T, n) are the row totals of the fitted flows. Without fixed effects the
    concentration only scales each year's flows by one factor; the array ``mu`` then
    keeps the flows as predicted, ``predicted`` their moments and ``factor`` (T,)
    the scale not yet applied (:func:`_settle` applies it), so that the moments of
    every iterate come with the predictor's own pass.
    """

    rows: NDArray[np.float64]
    predicted: _Predicted | None = None
    factor: NDArray[np.float64] | None = None

    def moments(self) -> _Moments:
        """Return the moments of the fitted flows (needs ``predicted``)."""
        return self.predicted.moments(self.factor)


def _settle(d: _Design, mu: NDArray[np.float64], fitted: _Fitted) -> _Fitted:
    """Apply a pending scale to the array ``mu`` (one pass), in place."""
    if fitted.factor is None:
        return fitted
    factor = np.broadcast_to(fitted.factor[:, None], fitted.rows.shape)
    _map_reduce(
        d, _block_rescale, mu, factor, col_factor=None, sum_rows=False, sum_cols=False
    )
    return _Fitted(fitted.rows)


def _check_identified(
    gram: NDArray[np.float64],
    hessian: NDArray[np.float64],
    names: Sequence[str],
    fe: str,
) -> None:
    """Raise if a regressor is absorbed by the fixed effects or collinear with others."""
    scale = np.sqrt(np.diag(gram))
    absorbed = [
        name
        for name, own, reduced in zip(
            names, np.diag(gram), np.diag(hessian), strict=True
        )
        if own <= 0 or reduced <= 1e-10 * own
    ]
    if absorbed:
        where = f" after absorbing the {fe} fixed effects" if fe else ""
        raise IdentificationError(
            f"regressors {absorbed} do not vary{where}, so their coefficients are "
            "not identified; drop them or choose a constraint without those effects"
        )
    corr = hessian / np.outer(scale, scale)
    eigval, eigvec = np.linalg.eigh(corr)
    if eigval[0] <= 1e-11 * max(eigval[-1], 1.0):
        involved = [names[k] for k in np.flatnonzero(np.abs(eigvec[:, 0]) > 1e-3)]
        raise IdentificationError(
            f"regressors {involved} are collinear"
            + (f" after absorbing the {fe} fixed effects" if fe else "")
            + "; drop one of them"
        )


def _y_eta(
    observed: _Moments,
    theta: NDArray[np.float64],
    alpha: NDArray[np.float64],
    delta: NDArray[np.float64],
) -> float:
    """``sum(y * eta)`` from sufficient statistics: ``theta.X'y + alpha.O + delta.D``.

    ``observed`` are the moments of the flows ``y`` (:func:`.blocks._moments`).
    """
    return float(
        theta @ observed.total
        + np.sum(observed.row_total * alpha)
        + np.sum(observed.col_total * delta)
    )


@dataclasses.dataclass(frozen=True)
class _Solution:
    theta: NDArray[np.float64]
    alpha: NDArray[np.float64]
    delta: NDArray[np.float64]
    mu: NDArray[np.float64]
    partial: _Partial
    # moments of y: X'y (total), observed outflows (row_total) and inflows
    # (col_total), the sufficient statistics of theta, alpha and delta
    observed: _Moments
    n_iter: int
    converged: bool

    def y_log_mu(self) -> float:
        """``sum(y log mu)`` at the solution, from sufficient statistics."""
        return _y_eta(self.observed, self.theta, self.alpha, self.delta)


def _subsample(d: _Design, n_zones: int) -> _Design:
    """Restrict the model to ``n_zones`` evenly spaced zones.

    The zones are origins and destinations; zones with no flows left inside the
    subset are switched off. Gathered block by block; the subset is small and is
    fitted in this process.
    """
    zones = np.unique(np.linspace(0, d.y.shape[1] - 1, n_zones).round().astype(np.intp))
    sample = _map_reduce(d, _block_sample, zones=zones)
    y = sample.y
    y.flags.writeable = False  # as the full design's: the same compiled passes
    return dataclasses.replace(
        d,
        y=y,
        pair=tuple(np.ascontiguousarray(sample.pair[..., k]) for k in range(d.n_pair)),
        origin=d.origin[:, zones],
        destination=d.destination[:, zones],
        active_origins=d.active_origins[:, zones]
        & (y.sum(axis=2) > 0 if d.origin_fe else True),
        active_destinations=(
            d.active_destinations[:, zones]
            & (y.sum(axis=1) > 0 if d.destination_fe else True)
        ),
        runner=_LOCAL,
    )


def _starting_theta(d: _Design, *, cg_max_iter: int) -> NDArray[np.float64] | None:
    """Coefficients fitted on a few hundred zones, to start the full fit near the optimum.

    The estimate from a subset of zones is consistent for the same theta, so Newton on
    the full data then needs about three iterations instead of five to seven; each
    of those costs passes over all ``n^2`` pairs, the subset fit almost nothing.
    """
    if d.y.shape[1] <= 2 * _WARM_START_ZONES:
        return None
    sub = _subsample(d, _WARM_START_ZONES)
    try:
        start = _fit(
            sub,
            tol=1e-6,
            max_iter=30,
            cg_max_iter=cg_max_iter,
            theta_start=None,
            polish=False,
        )
    except (
        IdentificationError,
        np.linalg.LinAlgError,
    ):  # e.g. a covariate constant there
        return None
    return start.theta if start.converged else None


def _x_scale(d: _Design) -> NDArray[np.float64]:
    """``max |x|`` of every regressor, the floor of the two-way solver's stopping rule."""
    return np.array(
        [
            # max |x| of each pair regressor, a max-reduction over the row blocks
            *_map_reduce(d, _block_peaks).values,
            *np.abs(d.origin).max(axis=(0, 1), initial=0.0),
            *np.abs(d.destination).max(axis=(0, 1), initial=0.0),
        ]
    )


def _fe_name(d: _Design) -> str:
    """Name the fixed effects of the model in words, for messages ("" if none)."""
    return " and ".join(
        name
        for name, on in (("origin", d.origin_fe), ("destination", d.destination_fe))
        if on
    )


def _concentrate(
    d: _Design,
    mu: NDArray[np.float64],
    theta: NDArray[np.float64],
    alpha: NDArray[np.float64],
    delta: NDArray[np.float64],
    observed: _Moments,
    fitted: _Fitted,
) -> _Fitted:
    """Maximise exactly over the fixed effects (a Furness sweep), in place.

    Without fixed effects, over the intercept and year effects, by a pending scale
    (see :class:`_Fitted`).
    """
    if d.origin_fe or d.destination_fe:
        return _Fitted(
            _balance(
                d, mu, alpha, delta, observed.row_total, observed.col_total, fitted.rows
            )
        )
    factor = _intercept_factor(d, theta, observed.row_total.sum(axis=1), fitted.rows)
    pending = factor if fitted.factor is None else fitted.factor * factor
    return _Fitted(fitted.rows * factor[:, None], fitted.predicted, pending)


def _newton_step(
    d: _Design,
    m: _Moments,
    partial: _Partial,
    step_a: NDArray[np.float64] | None,
    step_b: NDArray[np.float64] | None,
    observed: _Moments,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Compute the Newton step on ``(theta, alpha, delta)`` (Schur-reduced system).

    ``m`` are the moments at the current ``mu``; ``step_a``, ``step_b`` the margin
    residuals projected on the fixed effects (None for absent effects).
    """
    grad = observed.total - m.total
    if step_a is not None:
        grad -= np.einsum("tik,ti->k", m.row, step_a)
    if step_b is not None:
        grad -= np.einsum("tjk,tj->k", m.col, step_b)
    step = np.linalg.solve(partial.hessian, grad)
    no_step = np.zeros_like(m.row_total)
    step_alpha = no_step if step_a is None else step_a - partial.za @ step
    step_delta = (
        np.zeros_like(no_step) if step_b is None else step_b - partial.zb @ step
    )
    if d.origin_fe and d.destination_fe:
        # move the free constant (alpha + c, delta - c) out of the step: mu is
        # unchanged, and the step's size then measures the change of the fit
        shift = np.mean(step_delta, axis=1, where=d.active_destinations, keepdims=True)
        step_alpha += shift
        step_delta -= shift
    return step, step_alpha, step_delta


def _fitted_at(
    d: _Design, point: tuple[NDArray[np.float64], ...], mu: NDArray[np.float64]
) -> _Fitted:
    """Predict the flows at ``point = (theta, alpha, delta)`` into ``mu`` (one pass).

    Without fixed effects the pass also sums their moments (see :class:`_Fitted`).
    """
    with_moments = not (d.origin_fe or d.destination_fe)
    predicted = _predict(d, *point, mu, with_moments=with_moments)
    return _Fitted(predicted.rows, predicted if with_moments else None)


def _line_search(
    d: _Design,
    mu: NDArray[np.float64],
    observed: _Moments,
    loglik: float,
    point: tuple[NDArray[np.float64], ...],
    step: tuple[NDArray[np.float64], ...],
) -> tuple[tuple[NDArray[np.float64], ...], _Fitted, float]:
    """Damped Newton: halve ``step`` until the (concave) log-likelihood does not decrease.

    Returns the new ``(theta, alpha, delta)``, the fitted flows there (written into
    ``mu``) and the factor the step was shrunk by.
    """
    shrink = 1.0
    for _halving in range(40):
        new = tuple(x + shrink * dx for x, dx in zip(point, step, strict=True))
        fitted = _fitted_at(d, new, mu)
        new_loglik = float(_y_eta(observed, *new) - fitted.rows.sum())
        if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12 * abs(loglik):
            break
        shrink /= 2
    return new, fitted, shrink


def _fit(
    d: _Design,
    *,
    tol: float,
    max_iter: int,
    cg_max_iter: int,
    theta_start: NDArray[np.float64] | None,
    polish: bool = True,
) -> _Solution:
    """Newton's method on (theta, alpha, delta) with Schur-reduced steps.

    ``polish`` finishes with the margins balanced to rounding and the projection
    behind the standard errors; without it (the warm start, which needs theta only)
    the solution stops at the last Newton step.
    """
    n_years, n, _ = d.y.shape
    mu = d.runner.new_flows(d)
    observed = _moments(d, d.y)
    two_way = d.origin_fe and d.destination_fe
    # the floor of the two-way solver's stopping rule: no other model needs the pass
    x_scale = _x_scale(d) if two_way else None

    theta = np.zeros(d.n_theta) if theta_start is None else theta_start.copy()
    alpha = np.zeros((n_years, n))
    delta = np.zeros((n_years, n))
    fitted = _fitted_at(d, (theta, alpha, delta), mu)
    # a rough start (Furness sweeps); the joint Newton steps do the rest
    for _ in range(3 if d.origin_fe and d.destination_fe else 1):
        fitted = _concentrate(d, mu, theta, alpha, delta, observed, fitted)
    loglik = float(_y_eta(observed, theta, alpha, delta) - fitted.rows.sum())
    converged = False
    n_iter = 0
    cg_rtol = 1e-6
    partial = None
    while n_iter < max_iter:
        n_iter += 1
        m = _moments(d, mu) if fitted.predicted is None else fitted.moments()
        partial, step_a, step_b = _partial_out(
            d,
            mu,
            m,
            observed.row_total - m.row_total,
            observed.col_total - m.col_total,
            x_scale=x_scale,
            rtol=cg_rtol,
            max_iter=cg_max_iter,
            guess=partial,
        )
        if n_iter == 1:
            _check_identified(m.gram, partial.hessian, d.names, _fe_name(d))
        step = _newton_step(d, m, partial, step_a, step_b, observed)
        change = np.max(np.abs(step[0]) / np.maximum(np.abs(theta), 1.0), initial=0.0)
        if max(change, np.abs(step[1]).max(), np.abs(step[2]).max()) < tol:
            # the remaining step is negligible: mu, m and partial belong to the optimum
            converged = True
            break
        (theta, alpha, delta), fitted, shrink = _line_search(
            d, mu, observed, loglik, (theta, alpha, delta), step
        )
        fitted = _concentrate(d, mu, theta, alpha, delta, observed, fitted)
        loglik = float(_y_eta(observed, theta, alpha, delta) - fitted.rows.sum())
        # tighten the inner solve as Newton closes in: keeps convergence quadratic
        cg_rtol = float(np.clip(shrink * change * 1e-2, 1e-13, 1e-6))

    if not polish:
        return _Solution(theta, alpha, delta, mu, partial, observed, n_iter, converged)
    _settle(d, mu, fitted)
    if two_way:
        # Furness sweeps until both margins match the observed ones to rounding
        obs_rows = observed.row_total
        for _sweep in range(1000):
            fitted = _concentrate(d, mu, theta, alpha, delta, observed, fitted)
            gap = np.max(np.abs(fitted.rows - obs_rows)) / max(obs_rows.max(), 1.0)
            if gap < 1e-14:
                break
    if two_way or not converged:
        # moments at the final point, and the two-way projection solved tightly for SEs
        m = _moments(d, mu)
        partial = _partial_out(
            d,
            mu,
            m,
            None,
            None,
            x_scale=x_scale,
            rtol=_SE_RTOL,
            max_iter=cg_max_iter,
            guess=partial,
        )[0]
    return _Solution(theta, alpha, delta, mu, partial, observed, n_iter, converged)
