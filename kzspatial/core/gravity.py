"""Spatial-interaction (gravity) models of the Wilson family, fitted by PPML.

One entry point, :func:`fit_gravity`, fits the unconstrained, production-constrained,
attraction-constrained and doubly-constrained models (Wilson 1971) by Poisson
pseudo-maximum likelihood with a log link (Santos Silva and Tenreyro 2006):

.. math::

    \\log \\mu_{tij} = \\alpha_{ti} + \\delta_{tj} + \\beta\\, g(c_{tij})
        + x_{ti}^\\top \\gamma_o + z_{tj}^\\top \\gamma_d

where ``g`` is the decay regressor of :mod:`kzspatial.core.decay` (``log c`` for power decay,
``c`` for exponential decay), ``t`` indexes years of a panel, ``alpha`` are origin(-year)
fixed effects (production and doubly constrained; an intercept and year effects in the
unconstrained model), ``delta`` destination(-year) fixed effects (attraction and doubly
constrained). Metric names follow ``spint`` (Oshan 2016).

Algorithm
---------
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
and a handful of other passes over the ``n^2`` flows plus, for the doubly-constrained
model, two matrix-vector products per conjugate-gradient iteration (warm-started from the
previous iterate). Convergence is quadratic; on more than 400 zones the iteration starts
from the estimate on 200 evenly spaced zones (same model, cheap), which leaves about
three full-data iterations. Iteration stops when the proposed Newton step is below
``tol``, so the final moments, reused for the standard errors, belong to the optimum.

Chunking and Dask
-----------------
Every pass over the flows is a map over blocks of ``chunk_rows`` origin rows plus a
reduction (``_map_reduce``). A per-block function sees rows ``r0:r1`` of every
flow-shaped and origin-level array and the destination-level arrays whole, and returns
statistics that are either indexed by its rows (row sums, ``M v``, origin scores:
concatenated) or additive (column sums, Gram entries, ``X'w``, ``M^T u``, totals:
summed). The passes are the weighted moments, the linear predictor with its ``exp``
and row totals, the Furness rescaling (rows scaled while the columns are summed, then
columns scaled while the rows are summed), the products of the conjugate-gradient
solve (``M^T diag(1/R) M v`` is finished inside a block), the score sums of every
sandwich meat (pair clusters too: a pair lies in its origin's block) and the sums
behind the likelihood and fit metrics. Only ``n``-vectors per year, ``p x p`` matrices
and scalars leave a block: what ``dask.array.map_blocks`` over chunks
``(n_years, rows, n)`` followed by a reduction needs.

``chunk_rows=None`` (the default) takes blocks of about ``2**18`` flows, so up to 512
zones are one block; ``chunk_rows=n`` forces one block for ``n`` zones. The flows, the
decay regressor and the fitted flows ``mu`` are held whole (``mu`` is updated in place,
block by block); the workspace is one block, two during the sandwich (plus ``p``
pair-score columns per block for a panel), so one block costs four ``float64`` arrays
of the flow shape and briefly two more, and many blocks about three. Blocks that stay
in cache also made the fit faster (``benchmarks/results/gravity_chunks.md``). A Dask
version would keep ``mu`` as a persisted chunked array updated by each pass (or
recompute it per block from ``theta, alpha, delta`` at one more ``exp`` per pass) and
hand the loop over blocks to the scheduler; input validation, which builds the flows
and the regressor, still works on whole arrays.

References
----------
- Wilson, A. G. (1971). A family of spatial interaction models, and associated
  developments. Environment and Planning A, 3(1), 1-32.
- Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. Review of
  Economics and Statistics, 88(4), 641-658.
- Oshan, T. M. (2016). A primer for working with the Spatial Interaction modeling
  (SpInt) module in the python spatial analysis library (PySAL). Region, 3(2), R11-R23.
- Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with
  multiway clustering. Journal of Business & Economic Statistics, 29(2), 238-249.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from kzspatial._errors import AlignmentError, IdentificationError, ValidationError
from kzspatial.core.decay import cost_regressor

__all__ = [
    "CONSTRAINTS",
    "GravityFit",
    "fit_gravity",
    "poisson_deviance",
    "srmse",
    "ssi",
]

Constraint = Literal["unconstrained", "production", "attraction", "doubly"]
CONSTRAINTS: tuple[str, ...] = ("unconstrained", "production", "attraction", "doubly")
_CLUSTER_SCHEMES = ("origin", "destination", "two-way")
_MAX_LISTED = 10  # ids listed in an error message before "..."
_WARM_START_ZONES = 200  # zones of the subset fit that provides starting values
_SE_RTOL = 1e-10  # two-way projection behind the standard errors: ample for 1e-8 SEs
# cells per block when chunk_rows is None: a block of each flow-shaped array (2 MiB)
# stays in cache across the fused steps of a pass; at 3,000 zones this was faster and
# smaller than one block (benchmarks/results/gravity_chunks.md)
_AUTO_BLOCK_CELLS = 1 << 18


# --------------------------------------------------------------------------- metrics
def _finite_pairs(
    observed: ArrayLike, fitted: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    y = np.asarray(observed, dtype=np.float64)
    mu = np.asarray(fitted, dtype=np.float64)
    if y.shape != mu.shape:
        raise AlignmentError(
            f"observed and fitted differ in shape: {y.shape} vs {mu.shape}"
        )
    modelled = np.isfinite(mu) & np.isfinite(y)
    return y[modelled], mu[modelled]


def poisson_deviance(observed: ArrayLike, fitted: ArrayLike) -> float:
    """Poisson deviance ``2 sum(y log(y/mu) - (y - mu))`` over cells with finite ``fitted``.

    Parameters
    ----------
    observed, fitted : array_like, same shape
        Observed and predicted flows; cells where either is NaN (e.g. excluded
        intra-zonal flows) are ignored.

    Returns
    -------
    float
    """
    y, mu = _finite_pairs(observed, fitted)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(
            2.0 * (np.sum(special.xlogy(y, y) - special.xlogy(y, mu)) - np.sum(y - mu))
        )


def srmse(observed: ArrayLike, fitted: ArrayLike) -> float:
    """Standardised root mean square error, RMSE divided by the mean observed flow.

    Parameters
    ----------
    observed, fitted : array_like, same shape
        Cells where either is NaN are ignored.

    Returns
    -------
    float
        ``sqrt(mean((y - mu)^2)) / mean(y)``; 0 is a perfect fit.
    """
    y, mu = _finite_pairs(observed, fitted)
    return float(np.sqrt(np.mean((y - mu) ** 2)) / np.mean(y))


def ssi(observed: ArrayLike, fitted: ArrayLike) -> float:
    """Sørensen similarity index (common part of commuters, CPC).

    Parameters
    ----------
    observed, fitted : array_like, same shape
        Cells where either is NaN are ignored.

    Returns
    -------
    float
        ``2 sum(min(y, mu)) / (sum(y) + sum(mu))``, in [0, 1]; 1 is a perfect fit.
    """
    y, mu = _finite_pairs(observed, fitted)
    return float(2.0 * np.minimum(y, mu).sum() / (y.sum() + mu.sum()))


# ------------------------------------------------------------------- model internals
@dataclasses.dataclass(frozen=True)
class _Design:
    """Validated model arrays in the stacked layout ``(n_years, n_zones, n_zones)``.

    ``y`` and every pair regressor are zero on excluded cells; ``origin`` and
    ``destination`` hold zone-level regressors broadcast over partners, shapes
    ``(n_years, n_zones, k)``. Passes over the flows visit :attr:`blocks` of
    ``chunk_rows`` origin rows (all rows when None). A block is a design of its own
    whose origin-indexed arrays hold rows ``first_row:first_row + rows`` and whose
    destination-level arrays are whole.
    """

    y: NDArray[np.float64]
    pair: tuple[NDArray[np.float64], ...]
    origin: NDArray[np.float64]
    destination: NDArray[np.float64]
    names: tuple[str, ...]
    origin_fe: bool
    destination_fe: bool
    exclude_self: bool
    active_origins: NDArray[np.bool_]  # (n_years, n_zones), False = dropped group
    active_destinations: NDArray[np.bool_]
    chunk_rows: int | None = None  # origin rows per block of a pass; None = one block
    # zone index of this design's first origin row (a block's offset)
    first_row: int = 0

    @property
    def n_pair(self) -> int:
        return len(self.pair)

    @property
    def n_theta(self) -> int:
        return len(self.names)

    @property
    def block_shape(self) -> tuple[int, int, int]:
        """Shape of the largest block of a flow-shaped array, for workspace."""
        n_years, n_rows, n = self.y.shape
        return n_years, min(n_rows, self.chunk_rows or n_rows), n

    @functools.cached_property
    def blocks(self) -> tuple[tuple[slice, _Design], ...]:
        """The blocks of origin rows every pass visits, with their designs, in order."""
        n_rows = self.y.shape[1]
        step = self.chunk_rows or n_rows
        spans = (slice(r, min(r + step, n_rows)) for r in range(0, n_rows, step))
        return tuple((rows, self.block(rows)) for rows in spans)

    def block(self, rows: slice) -> _Design:
        """The origin rows ``rows`` (a slice with a start) as a design; views, no copies."""
        return dataclasses.replace(
            self,
            y=self.y[:, rows],
            pair=tuple(x[:, rows] for x in self.pair),
            origin=self.origin[:, rows],
            active_origins=self.active_origins[:, rows],
            chunk_rows=None,
            first_row=self.first_row + rows.start,
        )

    def exclude(
        self, arr: NDArray[np.float64], fill: float = 0.0
    ) -> NDArray[np.float64]:
        """Set the cells outside the model (self-pairs, dropped zones) to ``fill``, in place.

        ``arr`` has the shape of ``y`` (of this block).
        """
        if self.exclude_self:
            rows = np.arange(arr.shape[1])
            arr[:, rows, rows + self.first_row] = fill
        if not self.active_origins.all():
            arr[~self.active_origins] = fill
        if not self.active_destinations.all():
            arr.transpose(0, 2, 1)[~self.active_destinations] = fill
        return arr

    def modelled(self) -> NDArray[np.bool_]:
        """Boolean mask of the cells in the likelihood, shape of ``y``."""
        return self.exclude(np.ones(self.y.shape)).astype(bool)

    def n_modelled(self) -> int:
        """Number of cells in the likelihood, counted without building the mask."""
        own_columns = slice(self.first_row, self.first_row + self.y.shape[1])
        both = self.active_origins & self.active_destinations[:, own_columns]
        return int(
            (
                self.active_origins.sum(axis=1) * self.active_destinations.sum(axis=1)
            ).sum()
            - (both.sum() if self.exclude_self else 0)
        )


# Field metadata of statistics indexed by origin rows (axis 1): concatenated over
# blocks. Every other field of a block's statistics is additive and summed.
_BY_ORIGIN = {"by_origin": True}
_Stats = TypeVar("_Stats")


def _combine(parts: Iterable[_Stats]) -> _Stats:
    """Reduce the statistics of consecutive row blocks to those of all their rows.

    Parameters
    ----------
    parts : iterable of statistics
        Dataclasses of the same type, one per block in row order, or bare arrays.

    Returns
    -------
    statistics
        Fields marked ``_BY_ORIGIN`` concatenated along axis 1; other fields and bare
        arrays (column sums, Gram entries, ``M^T u`` products, totals) summed; None
        fields stay None. A single part is returned unchanged.
    """
    blocks = iter(parts)
    first = next(blocks)
    if not dataclasses.is_dataclass(first):
        return sum(blocks, start=first)
    fields = dataclasses.fields(first)
    by_origin = {f.name for f in fields if f.metadata.get("by_origin")}
    stacked = {name: [getattr(first, name)] for name in by_origin}
    summed = {f.name: getattr(first, f.name) for f in fields if f.name not in by_origin}
    for part in blocks:
        for name, pieces in stacked.items():
            pieces.append(getattr(part, name))
        for name, total in summed.items():
            if total is not None:
                summed[name] = total + getattr(part, name)
    for name, pieces in stacked.items():
        unsplit = len(pieces) == 1 or pieces[0] is None
        summed[name] = pieces[0] if unsplit else np.concatenate(pieces, axis=1)
    return type(first)(**summed)


def _map_reduce(
    d: _Design,
    block_stats: Callable[..., _Stats],
    *by_origin: NDArray[np.float64] | None,
    **shared: object,
) -> _Stats:
    """One pass over the flows: ``block_stats`` on every row block of ``d``, combined.

    ``block_stats(block, *arrays, **shared)`` receives the block's design, the arrays
    of ``by_origin`` cut to the block's rows on axis 1 (flow-shaped and origin-level
    arrays, as views it may write into; None passes through) and ``shared`` whole
    (destination-level arrays, parameters). Its statistics are reduced by
    :func:`_combine` as the blocks come, so only n-vectors and ``p x p`` matrices
    outlive a block: the shape of ``dask.array.map_blocks`` over row chunks followed
    by a reduction.
    """
    return _combine(
        block_stats(
            block,
            *(None if arr is None else arr[:, rows] for arr in by_origin),
            **shared,
        )
        for rows, block in d.blocks
    )


@dataclasses.dataclass(frozen=True)
class _Moments:
    """Weighted sums of the regressors for a weight array ``w`` over pairs.

    ``row_total`` (T, n) ``sum_j w`` and ``row`` (T, n, p) ``sum_j w x`` are indexed by
    origin; ``col_total`` (T, n) ``sum_i w``, ``col`` (T, n, p) ``sum_i w x``, ``gram``
    (p, p) ``sum w x x'`` and ``total`` (p,) ``sum w x`` are additive over blocks.
    """

    row_total: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)
    col_total: NDArray[np.float64]
    row: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)
    col: NDArray[np.float64]
    gram: NDArray[np.float64]
    total: NDArray[np.float64]


def _moments(
    d: _Design, w: NDArray[np.float64], scratch: NDArray[np.float64]
) -> _Moments:
    """All first and second weighted moments needed by Newton's method, in p-space.

    ``w`` has the shape of ``d.y``; ``scratch`` is workspace of ``d.block_shape``.
    """
    return _map_reduce(d, _block_moments, w, scratch=scratch)


def _block_moments(
    d: _Design, w: NDArray[np.float64], *, scratch: NDArray[np.float64]
) -> _Moments:
    """The moments of one block of origin rows (``_Moments`` with rows of the block)."""
    n_years, n_rows, n = w.shape
    scratch = scratch[:, :n_rows]
    kp, ko = d.n_pair, d.origin.shape[2]
    p = d.n_theta
    o_sl, d_sl = slice(kp, kp + ko), slice(kp + ko, p)
    row_total = w.sum(axis=2)
    col_total = w.sum(axis=1)
    row = np.empty((n_years, n_rows, p))
    col = np.empty((n_years, n, p))
    gram = np.empty((p, p))
    w_dest = _matvecs(w, d.destination)  # sum_j w_ij z_j
    w_orig = _matvecs(w, d.origin, transpose=True)  # sum_i w_ij x_i
    for k, regressor in enumerate(d.pair):
        np.multiply(w, regressor, out=scratch)
        row[..., k] = scratch.sum(axis=2)
        col[..., k] = scratch.sum(axis=1)
        for m in range(k, kp):
            gram[k, m] = np.vdot(scratch, d.pair[m])
        gram[k, o_sl] = np.einsum("ti,tik->k", row[..., k], d.origin)
        gram[k, d_sl] = np.einsum("tj,tjk->k", col[..., k], d.destination)
    row[..., o_sl] = row_total[..., None] * d.origin
    col[..., o_sl] = w_orig
    row[..., d_sl] = w_dest
    col[..., d_sl] = col_total[..., None] * d.destination
    gram[o_sl, o_sl] = np.einsum("ti,tik,til->kl", row_total, d.origin, d.origin)
    gram[o_sl, d_sl] = np.einsum("tik,til->kl", d.origin, w_dest)
    gram[d_sl, d_sl] = np.einsum(
        "tj,tjk,tjl->kl", col_total, d.destination, d.destination
    )
    gram = np.triu(gram) + np.triu(gram, 1).T
    return _Moments(row_total, col_total, row, col, gram, row.sum(axis=(0, 1)))


@dataclasses.dataclass(frozen=True)
class _Margins:
    """Row and column totals of (a block of) fitted flows, None where not asked for."""

    rows: NDArray[np.float64] | None = dataclasses.field(metadata=_BY_ORIGIN)  # (T, r)
    cols: NDArray[np.float64] | None  # (T, n), additive over blocks


@dataclasses.dataclass(frozen=True)
class _ByOrigin:
    """One array indexed by origin rows, e.g. ``M v``."""

    values: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)


def _linear_predictor(
    d: _Design,
    theta: NDArray[np.float64],
    alpha: NDArray[np.float64],
    delta: NDArray[np.float64],
    out: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Write ``mu = exp(eta)`` into ``out``, zero the excluded cells, return its row totals."""
    return _map_reduce(d, _block_predictor, out, alpha, theta=theta, delta=delta).rows


def _block_predictor(
    d: _Design,
    out: NDArray[np.float64],
    alpha: NDArray[np.float64],
    *,
    theta: NDArray[np.float64],
    delta: NDArray[np.float64],
) -> _Margins:
    kp, ko = d.n_pair, d.origin.shape[2]
    np.multiply(d.pair[0], theta[0], out=out)
    for k in range(1, kp):
        out += theta[k] * d.pair[k]
    out += (alpha + d.origin @ theta[kp : kp + ko])[..., None]
    out += (delta + d.destination @ theta[kp + ko :])[:, None, :]
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    d.exclude(out)
    # summed while the block is fresh: the log-likelihood and balancing need them
    return _Margins(rows=out.sum(axis=2), cols=None)


def _matvecs(
    mat: NDArray[np.float64], vecs: NDArray[np.float64], *, transpose: bool = False
) -> NDArray[np.float64]:
    """``mat[t] @ vecs[t]`` (or ``mat[t].T @ vecs[t]``) for stacked matrices.

    Parameters
    ----------
    mat : ndarray, shape (T, r, c)
        E.g. a block of ``r`` origin rows of the fitted flows.
    vecs : ndarray, shape (T, c, k), or (T, r, k) with ``transpose``

    Returns
    -------
    ndarray, shape (T, r, k), or (T, c, k) with ``transpose``

    Notes
    -----
    One BLAS matrix-vector product per year and column: for a handful of columns this
    is several times faster than a batched ``matmul``, whose thin-matrix kernels do
    not stream the ``n x n`` matrix at memory bandwidth.
    """
    out = np.empty((mat.shape[0], mat.shape[2 if transpose else 1], vecs.shape[2]))
    for t in range(mat.shape[0]):
        matrix = mat[t].T if transpose else mat[t]
        for k in range(vecs.shape[2]):
            out[t, :, k] = matrix @ np.ascontiguousarray(vecs[t, :, k])
    return out


def _block_product(
    _block: _Design, mu: NDArray[np.float64], *, v: NDArray[np.float64]
) -> _ByOrigin:
    """``M v`` on one block's rows."""
    return _ByOrigin(_matvecs(mu, v))


def _block_transposed_product(
    _block: _Design, mu: NDArray[np.float64], u: NDArray[np.float64]
) -> NDArray[np.float64]:
    """One block's share of ``M^T u``."""
    return _matvecs(mu, u, transpose=True)


def _block_schur_product(
    _block: _Design,
    mu: NDArray[np.float64],
    inv_r: NDArray[np.float64],
    *,
    v: NDArray[np.float64],
) -> NDArray[np.float64]:
    """One block's share of ``M^T diag(1/R) M v``: ``M v`` never leaves the block."""
    return _matvecs(mu, _matvecs(mu, v) * inv_r, transpose=True)


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
    x_scale: NDArray[np.float64],
    rtol: float,
    max_iter: int,
    guess: _Partial | None = None,
) -> tuple[_Partial, NDArray[np.float64] | None, NDArray[np.float64] | None]:
    """Project the regressors (and optionally one extra right-hand side, the margin
    residuals) on the fixed effects; ``guess`` starts the two-way solver."""
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


def _block_rescale(
    _block: _Design,
    mu: NDArray[np.float64],
    row_factor: NDArray[np.float64] | None,
    *,
    col_factor: NDArray[np.float64] | None,
    sum_rows: bool,
    sum_cols: bool,
) -> _Margins:
    """Scale a block of fitted flows by row and/or column factors, in place, and sum
    the margins asked for while the block is fresh."""
    if row_factor is not None:
        mu *= row_factor[..., None]
    if col_factor is not None:
        mu *= col_factor[:, None, :]
    return _Margins(
        mu.sum(axis=2) if sum_rows else None, mu.sum(axis=1) if sum_cols else None
    )


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


def _concentrate_intercept(
    d: _Design,
    mu: NDArray[np.float64],
    theta: NDArray[np.float64],
    obs_totals: NDArray[np.float64],
    fitted_rows: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Unconstrained model: rescale so each year's fitted total equals the observed one.

    This maximises the likelihood over the intercept and year effects exactly (their
    score is ``sum(y) - sum(mu)`` per year), the analogue of :func:`_balance`, which
    takes and returns the row totals of ``mu`` the same way.
    """
    log_factor = np.log(obs_totals / fitted_rows.sum(axis=1))
    factor = np.broadcast_to(np.exp(log_factor)[:, None], fitted_rows.shape)
    theta[d.n_pair] += log_factor[0]  # intercept
    theta[d.n_pair + 1 : d.n_pair + d.y.shape[0]] += log_factor[1:] - log_factor[0]
    return _map_reduce(
        d, _block_rescale, mu, factor, col_factor=None, sum_rows=True, sum_cols=False
    ).rows


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


@dataclasses.dataclass(frozen=True)
class _Solution:
    theta: NDArray[np.float64]
    alpha: NDArray[np.float64]
    delta: NDArray[np.float64]
    mu: NDArray[np.float64]
    partial: _Partial
    xty: NDArray[np.float64]  # X'y, the sufficient statistics of theta
    obs_rows: NDArray[np.float64]  # (T, n) observed outflows, sufficient for alpha
    obs_cols: NDArray[np.float64]  # (T, n) observed inflows, sufficient for delta
    n_iter: int
    converged: bool


def _subsample(d: _Design, n_zones: int) -> _Design:
    """The same model restricted to ``n_zones`` evenly spaced zones (as origins and
    destinations), with zones that have no flows left inside it switched off."""
    zones = np.unique(np.linspace(0, d.y.shape[1] - 1, n_zones).round().astype(np.intp))
    grid = np.ix_(np.arange(d.y.shape[0]), zones, zones)
    y = d.y[grid]
    return dataclasses.replace(
        d,
        y=y,
        pair=tuple(x[grid] for x in d.pair),
        origin=d.origin[:, zones],
        destination=d.destination[:, zones],
        active_origins=d.active_origins[:, zones]
        & (y.sum(axis=2) > 0 if d.origin_fe else True),
        active_destinations=(
            d.active_destinations[:, zones]
            & (y.sum(axis=1) > 0 if d.destination_fe else True)
        ),
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
            sub, tol=1e-6, max_iter=30, cg_max_iter=cg_max_iter, theta_start=None
        )
    except (
        IdentificationError,
        np.linalg.LinAlgError,
    ):  # e.g. a covariate constant there
        return None
    return start.theta if start.converged else None


def _fit(
    d: _Design,
    *,
    tol: float,
    max_iter: int,
    cg_max_iter: int,
    theta_start: NDArray[np.float64] | None,
) -> _Solution:
    """Newton's method on (theta, alpha, delta) with Schur-reduced steps."""
    n_years, n, _ = d.y.shape
    scratch = np.empty(d.block_shape)
    mu = np.empty_like(d.y)
    observed = _moments(d, d.y, scratch)
    obs_rows, obs_cols, xty = observed.row_total, observed.col_total, observed.total
    x_scale = np.array(
        [
            # max |x| of each pair regressor, a max-reduction over the row blocks
            *(
                max(max(b.pair[k].max(), -b.pair[k].min()) for _, b in d.blocks)
                for k in range(d.n_pair)
            ),
            *np.abs(d.origin).max(axis=(0, 1), initial=0.0),
            *np.abs(d.destination).max(axis=(0, 1), initial=0.0),
        ]
    )
    fe_name = " and ".join(
        name
        for name, on in (("origin", d.origin_fe), ("destination", d.destination_fe))
        if on
    )

    theta = np.zeros(d.n_theta) if theta_start is None else theta_start.copy()
    alpha = np.zeros((n_years, n))
    delta = np.zeros((n_years, n))
    fitted_rows = _linear_predictor(d, theta, alpha, delta, mu)
    if d.origin_fe or d.destination_fe:
        # Furness sweeps for a rough start; the joint Newton steps do the rest
        for _ in range(1 if d.origin_fe != d.destination_fe else 3):
            fitted_rows = _balance(d, mu, alpha, delta, obs_rows, obs_cols, fitted_rows)
    else:
        fitted_rows = _concentrate_intercept(
            d, mu, theta, obs_rows.sum(axis=1), fitted_rows
        )

    def loglik_kernel(total_mu: float, th, al, de) -> float:
        # sum(y * eta) - sum(mu) from sufficient statistics
        return float(
            th @ xty + np.sum(obs_rows * al) + np.sum(obs_cols * de) - total_mu
        )

    loglik = loglik_kernel(fitted_rows.sum(), theta, alpha, delta)
    converged = False
    n_iter = 0
    cg_rtol = 1e-6
    partial = None
    while n_iter < max_iter:
        n_iter += 1
        m = _moments(d, mu, scratch)
        partial, step_a, step_b = _partial_out(
            d,
            mu,
            m,
            obs_rows - m.row_total,
            obs_cols - m.col_total,
            x_scale=x_scale,
            rtol=cg_rtol,
            max_iter=cg_max_iter,
            guess=partial,
        )
        if n_iter == 1:
            _check_identified(m.gram, partial.hessian, d.names, fe_name)
        grad = xty - m.total
        if step_a is not None:
            grad -= np.einsum("tik,ti->k", m.row, step_a)
        if step_b is not None:
            grad -= np.einsum("tjk,tj->k", m.col, step_b)
        step = np.linalg.solve(partial.hessian, grad)
        step_alpha = (
            np.zeros_like(alpha) if step_a is None else step_a - partial.za @ step
        )
        step_beta = (
            np.zeros_like(delta) if step_b is None else step_b - partial.zb @ step
        )
        if d.origin_fe and d.destination_fe:
            # move the free constant (alpha + c, delta - c) out of the step: mu is
            # unchanged, and the step's size then measures the change of the fit
            shift = np.mean(
                step_beta, axis=1, where=d.active_destinations, keepdims=True
            )
            step_alpha += shift
            step_beta -= shift
        change = np.max(np.abs(step) / np.maximum(np.abs(theta), 1.0), initial=0.0)
        if max(change, np.abs(step_alpha).max(), np.abs(step_beta).max()) < tol:
            # the remaining step is negligible: mu, m and partial belong to the optimum
            converged = True
            break
        # damped Newton: halve until the (concave) log-likelihood does not decrease
        shrink = 1.0
        for _halving in range(40):
            new = (
                theta + shrink * step,
                alpha + shrink * step_alpha,
                delta + shrink * step_beta,
            )
            fitted_rows = _linear_predictor(d, *new, mu)
            new_loglik = loglik_kernel(fitted_rows.sum(), *new)
            if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12 * abs(loglik):
                break
            shrink /= 2
        theta, alpha, delta = new
        if d.origin_fe or d.destination_fe:
            fitted_rows = _balance(d, mu, alpha, delta, obs_rows, obs_cols, fitted_rows)
        else:
            fitted_rows = _concentrate_intercept(
                d, mu, theta, obs_rows.sum(axis=1), fitted_rows
            )
        loglik = loglik_kernel(fitted_rows.sum(), theta, alpha, delta)
        # tighten the inner solve as Newton closes in: keeps convergence quadratic
        cg_rtol = float(np.clip(shrink * change * 1e-2, 1e-13, 1e-6))

    two_way = d.origin_fe and d.destination_fe
    if two_way:
        # Furness sweeps until both margins match the observed ones to rounding
        for _sweep in range(1000):
            fitted_rows = _balance(d, mu, alpha, delta, obs_rows, obs_cols, fitted_rows)
            gap = np.max(np.abs(fitted_rows - obs_rows)) / max(obs_rows.max(), 1.0)
            if gap < 1e-14:
                break
    if two_way or not converged:
        # moments at the final point, and the two-way projection solved tightly for SEs
        m = _moments(d, mu, scratch)
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
    return _Solution(
        theta, alpha, delta, mu, partial, xty, obs_rows, obs_cols, n_iter, converged
    )


def _count_terms(y: NDArray[np.float64]) -> tuple[float, float]:
    """``sum(y log y)`` and ``sum(log y!)`` (``gammaln(y + 1)``) of the flows.

    Integer flows are tabulated first, so the special functions run once per distinct
    value rather than once per cell.
    """
    peak = float(y.max())
    if peak < 4 * y.size and np.all(y == np.floor(y)):
        tally = np.bincount(y.astype(np.int64).ravel())
        values = np.arange(tally.size, dtype=np.float64)
        return (
            float(tally @ special.xlogy(values, values)),
            float(tally @ special.gammaln(values + 1.0)),
        )
    return float(special.xlogy(y, y).sum()), float(special.gammaln(y + 1.0).sum())


@dataclasses.dataclass(frozen=True)
class _FitSums:
    """Sums over the flows behind the likelihood and the fit metrics, all additive."""

    y_log_y: float
    log_factorials: float  # sum log y!
    mu_total: float
    squared_residuals: float  # sum (y - mu)^2
    common: float  # sum min(y, mu), the numerator of the SSI


def _block_fit_sums(d: _Design, mu: NDArray[np.float64]) -> _FitSums:
    y_log_y, log_factorials = _count_terms(d.y)
    resid = np.subtract(d.y, mu)
    squared_residuals = float(np.vdot(resid, resid))
    common = float(np.minimum(d.y, mu, out=resid).sum())
    return _FitSums(y_log_y, log_factorials, float(mu.sum()), squared_residuals, common)


# ------------------------------------------------------------------------- results
def _std_errors(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    """Square roots of the variances; NaN where a (two-way) variance is negative."""
    variances = np.diag(cov)
    return np.sqrt(variances, out=np.full_like(variances, np.nan), where=variances >= 0)


@dataclasses.dataclass(frozen=True, eq=False)  # arrays: compare by identity
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
        Standardised RMSE and Sørensen similarity index of ``fitted`` (see :func:`srmse`,
        :func:`ssi`).
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
    cov_robust: NDArray[np.float64] = dataclasses.field(repr=False)
    cov_cluster: dict[str, NDArray[np.float64]] = dataclasses.field(repr=False)
    deviance: float
    null_deviance: float
    llf: float
    aic: float
    pseudo_r2: float
    srmse: float
    ssi: float
    fitted: NDArray[np.float64] = dataclasses.field(repr=False)
    origin_effects: NDArray[np.float64] | None = dataclasses.field(repr=False)
    destination_effects: NDArray[np.float64] | None = dataclasses.field(repr=False)
    n_iter: int
    converged: bool
    constraint: str
    cost_func: str
    ids: tuple = dataclasses.field(repr=False)
    years: tuple | None
    n_obs: int
    n_params: int
    dropped: dict[str, list[str]]
    _design: _Design = dataclasses.field(repr=False)
    _solution: _Solution = dataclasses.field(repr=False)
    _cost_shape: tuple[int, ...] = dataclasses.field(repr=False)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the estimated (non-fixed-effect) parameters, in ``cov_*`` order."""
        return self._design.names

    def _layout(self, stacked: NDArray[np.float64]) -> NDArray[np.float64]:
        return stacked if self.years is not None else stacked[0]

    @functools.cached_property
    def pearson_resid(self) -> NDArray[np.float64]:
        """Pearson residuals ``(y - mu) / sqrt(mu)``, shape of the input flows."""
        mu = self._solution.mu
        with np.errstate(invalid="ignore", divide="ignore"):
            resid = (self._design.y - mu) / np.sqrt(mu)
        return self._layout(self._design.exclude(resid, np.nan))

    @functools.cached_property
    def deviance_resid(self) -> NDArray[np.float64]:
        """Deviance residuals ``sign(y - mu) sqrt(2 (y log(y/mu) - (y - mu)))``."""
        y, mu = self._design.y, self._solution.mu
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))
        resid = np.sign(y - mu) * np.sqrt(np.maximum(unit, 0.0))
        return self._layout(self._design.exclude(resid, np.nan))

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

    def summary(
        self, *, cov: str = "robust", alpha: float = 0.05
    ) -> list[dict[str, float | str]]:
        """Coefficient table, one dict per parameter.

        Parameters
        ----------
        cov : {"robust", "origin", "destination", "two-way"}
        alpha : float
            For the confidence interval columns.

        Returns
        -------
        list of dict
            Keys ``name, coef, std_err, z, p_value, ci_low, ci_high``.
        """
        intervals = self.conf_int(alpha, cov=cov)
        rows = []
        for name, se in zip(self.param_names, _std_errors(self._cov(cov)), strict=True):
            z = self.params[name] / se
            rows.append(
                {
                    "name": name,
                    "coef": self.params[name],
                    "std_err": float(se),
                    "z": float(z),
                    "p_value": float(2 * special.ndtr(-abs(z))),
                    "ci_low": intervals[name][0],
                    "ci_high": intervals[name][1],
                }
            )
        return rows

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
        n_years, n, _ = d.y.shape
        problems: list[tuple[type[ValidationError], str]] = []
        pair = d.pair
        if cost is not None:
            regressor = _cost_regressor(
                cost,
                self.cost_func,
                n_years,
                n,
                d.exclude_self,
                self.ids,
                self.years,
                problems,
                expected_shapes=[self._cost_shape],
            )
            pair = (regressor,) if regressor is not None else pair
        origin = _replace_columns(d, "origin", origin_vars, self, problems)
        destination = _replace_columns(
            d, "destination", destination_vars, self, problems
        )
        totals = {}
        for side, values, default, has_fe in (
            ("origin", origin_totals, d.y.sum(axis=2), d.origin_fe),
            ("destination", destination_totals, d.y.sum(axis=1), d.destination_fe),
        ):
            if values is None:
                totals[side] = default
            elif not has_fe:
                problems.append(
                    (
                        ValidationError,
                        (
                            f"{side}_totals given, but a {self.constraint} model has no {side} "
                            "constraint to rebalance to"
                        ),
                    )
                )
            else:
                arr = _zone_values(
                    f"{side}_totals", values, n_years, self.ids, self.years, problems
                )
                if arr is not None and np.any(arr < 0):
                    problems.append((ValidationError, f"{side}_totals must be >= 0"))
                totals[side] = arr
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
        mu = np.empty(d.y.shape)
        alpha, delta = sol.alpha.copy(), sol.delta.copy()
        fitted_rows = _linear_predictor(new, sol.theta, alpha, delta, mu)
        obs_rows = new.exclude(np.ones(d.y.shape)).any(axis=2) * totals["origin"]
        obs_cols = new.exclude(np.ones(d.y.shape)).any(axis=1) * totals["destination"]
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
        return self._layout(new.exclude(mu, np.nan))


# ---------------------------------------------------------------------- validation
def _raise_problems(problems: list[tuple[type[ValidationError], str]]) -> None:
    """Raise all accumulated input problems at once, as the most specific class."""
    if not problems:
        return
    classes = {cls for cls, _ in problems}
    cls = AlignmentError if classes == {AlignmentError} else ValidationError
    if len(problems) == 1:
        raise problems[0][0](problems[0][1])
    raise cls("invalid input:\n- " + "\n- ".join(msg for _, msg in problems))


def _zone_label(ids: Sequence, years: Sequence | None, t: int, i: int) -> str:
    return f"{ids[i]!s}" + (f" ({years[t]})" if years is not None else "")


def _pair_labels(mask: NDArray[np.bool_], ids: Sequence, years: Sequence | None) -> str:
    found = np.argwhere(mask)
    listed = [
        f"{_zone_label(ids, years, t, i)} -> {ids[j]!s}"
        for t, i, j in found[:_MAX_LISTED]
    ]
    more = f" and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
    return ", ".join(listed) + more


def _zone_list(
    mask: NDArray[np.bool_], ids: Sequence, years: Sequence | None
) -> list[str]:
    return [_zone_label(ids, years, t, i) for t, i in np.argwhere(mask)]


def _abbreviate(labels: list[str]) -> str:
    more = f" and {len(labels) - _MAX_LISTED} more" if len(labels) > _MAX_LISTED else ""
    return ", ".join(labels[:_MAX_LISTED]) + more


def _zone_values(
    name: str,
    values: ArrayLike,
    n_years: int,
    ids: Sequence,
    years: Sequence | None,
    problems: list[tuple[type[ValidationError], str]],
) -> NDArray[np.float64] | None:
    """Zone-level values as shape ``(n_years, n)``, or None after recording a problem."""
    n = len(ids)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append((ValidationError, f"{name} is not numeric"))
        return None
    if arr.shape == (n,):
        arr = np.tile(arr, (n_years, 1))
    elif years is None or arr.shape != (n_years, n):
        expected = f"({n},)" + (f" or ({n_years}, {n})" if years is not None else "")
        problems.append(
            (
                AlignmentError,
                (
                    f"{name} has shape {arr.shape}; expected {expected}, one value per zone in "
                    "the order of the flow matrix"
                ),
            )
        )
        return None
    missing = ~np.isfinite(arr)
    if missing.any():
        problems.append(
            (
                ValidationError,
                (
                    f"{name} is missing (NaN or infinite) for zones "
                    f"{_abbreviate(_zone_list(missing, ids, years))}; fill the values or drop "
                    "those zones from flows and cost"
                ),
            )
        )
        return None
    return arr


def _cost_regressor(
    cost: ArrayLike,
    cost_func: str,
    n_years: int,
    n: int,
    exclude_self: bool,
    ids: Sequence,
    years: Sequence | None,
    problems: list[tuple[type[ValidationError], str]],
    *,
    expected_shapes: list[tuple[int, ...]],
) -> NDArray[np.float64] | None:
    """Decay regressor in the stacked layout, zero on self-pairs when they are dropped."""
    raw = np.asarray(
        cost.toarray() if hasattr(cost, "toarray") else cost, dtype=np.float64
    )
    if raw.shape not in expected_shapes:
        problems.append(
            (
                AlignmentError,
                (
                    f"cost has shape {raw.shape}, expected {' or '.join(map(str, expected_shapes))} "
                    "to match the flows; order its rows and columns like the flow matrix"
                ),
            )
        )
        return None
    stacked = np.array(np.broadcast_to(raw, (n_years, n, n)))
    if exclude_self:
        stacked.reshape(n_years, n * n)[:, :: n + 1] = (
            1.0  # placeholder, excluded below
        )
    try:
        regressor = cost_regressor(stacked, cost_func)
    except ValidationError:
        # find the offending pairs only once we know there are some
        bad = (
            ~np.isfinite(stacked)
            | (stacked < 0)
            | ((stacked == 0) & (cost_func == "pow"))
        )
        remedy = (
            "; power decay needs positive costs: give intra-zonal pairs a positive cost, "
            "keep self_flows='drop', or use cost_func='exp'"
            if cost_func == "pow"
            else ""
        )
        problems.append(
            (
                ValidationError,
                (
                    f"cost is missing, negative{' or zero' if cost_func == 'pow' else ''} for "
                    f"{int(bad.sum())} modelled pairs: {_pair_labels(bad, ids, years)}{remedy}"
                ),
            )
        )
        return None
    if exclude_self:
        regressor.reshape(n_years, n * n)[:, :: n + 1] = 0.0
    return regressor


def _replace_columns(
    d: _Design,
    side: str,
    new_vars: Mapping[str, ArrayLike] | None,
    fit: GravityFit,
    problems: list[tuple[type[ValidationError], str]],
) -> NDArray[np.float64]:
    """Zone-level design of ``side`` with some covariates replaced for prediction."""
    current = getattr(d, side)
    if not new_vars:
        return current
    n_years = d.y.shape[0]
    first = d.n_pair if side == "origin" else d.n_pair + d.origin.shape[2]
    columns = {
        name: first + k
        for k, name in enumerate(d.names[first : first + current.shape[2]])
    }
    replaced = current.copy()
    for name, values in new_vars.items():
        key = f"{side}:{name}"
        if key not in columns:
            known = [c.split(":", 1)[1] for c in columns if c.startswith(f"{side}:")]
            problems.append(
                (
                    ValidationError,
                    (
                        f"{side} covariate {name!r} is not in the {fit.constraint} model; "
                        f"its {side} covariates are {known}"
                    ),
                )
            )
            continue
        arr = _zone_values(
            f"{side}_vars[{name!r}]", values, n_years, fit.ids, fit.years, problems
        )
        if arr is not None:
            replaced[..., columns[key] - first] = arr
    return replaced


def _check_choice(name: str, value: str, valid: Sequence[str], problems: list) -> None:
    if value not in valid:
        problems.append(
            (ValidationError, f"unknown {name} {value!r}; valid are {list(valid)}")
        )


def _prepare(
    flows: ArrayLike,
    cost: ArrayLike,
    *,
    constraint: str,
    cost_func: str,
    origin_vars: Mapping[str, ArrayLike] | None,
    destination_vars: Mapping[str, ArrayLike] | None,
    ids: Sequence | None,
    years: Sequence | None,
    self_flows: str,
    counts: str,
    empty_zones: str,
    chunk_rows: int | None,
) -> tuple[_Design, tuple, tuple | None, tuple[int, ...], dict[str, list[str]]]:
    """Validate every input, reporting all problems at once, and build the design."""
    problems: list[tuple[type[ValidationError], str]] = []
    _check_choice("constraint", constraint, CONSTRAINTS, problems)
    _check_choice("cost_func", cost_func, ("pow", "exp"), problems)
    _check_choice("self_flows", self_flows, ("drop", "keep"), problems)
    _check_choice("counts", counts, ("integer", "real"), problems)
    _check_choice("empty_zones", empty_zones, ("raise", "drop"), problems)
    if chunk_rows is not None and (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, int | np.integer)
        or chunk_rows < 1
    ):
        problems.append(
            (
                ValidationError,
                f"chunk_rows must be a positive integer (origin rows per block) or "
                f"None for blocks of about {_AUTO_BLOCK_CELLS:,} flows; got "
                f"{chunk_rows!r}",
            )
        )
    _raise_problems(problems)

    y = np.array(
        flows.toarray() if hasattr(flows, "toarray") else flows, dtype=np.float64
    )
    if y.ndim not in (2, 3) or y.shape[-1] != y.shape[-2]:
        raise ValidationError(
            f"flows must be a square (n, n) matrix or a stacked (n_years, n, n) panel; "
            f"got shape {y.shape}"
        )
    panel = y.ndim == 3
    y = y if panel else y[None]
    n_years, n, _ = y.shape
    if years is not None and not panel:
        raise ValidationError(
            "years labels the first axis of a stacked (n_years, n, n) flows array; "
            "stack the yearly matrices with numpy.stack"
        )
    ids = tuple(range(n)) if ids is None else tuple(ids)
    years = (
        (tuple(range(n_years)) if years is None else tuple(years)) if panel else None
    )
    if len(ids) != n:
        problems.append(
            (AlignmentError, f"ids has {len(ids)} labels for {n} zones in flows")
        )
    elif len(set(ids)) != n:
        problems.append((ValidationError, "ids contains duplicates"))
    if years is not None and (len(years) != n_years or len(set(years)) != n_years):
        problems.append(
            (
                AlignmentError,
                (
                    f"years must be {n_years} distinct labels, one per matrix of flows; "
                    f"got {len(years)} ({len(set(years))} distinct)"
                ),
            )
        )
    _raise_problems(problems)

    exclude_self = self_flows == "drop"
    if exclude_self:
        y.reshape(n_years, n * n)[:, :: n + 1] = 0.0
    for what, bad, remedy in (
        ("missing (NaN or infinite)", ~np.isfinite(y), "fill them (0 for no flow)"),
        ("negative", y < 0, "flows are counts of migrants and must be >= 0"),
    ):
        if bad.any():
            problems.append(
                (
                    ValidationError,
                    (
                        f"flows are {what} for {int(bad.sum())} pairs: "
                        f"{_pair_labels(bad, ids, years)}; {remedy}"
                    ),
                )
            )
    if counts == "integer" and np.all(np.isfinite(y)):
        fractional = y != np.round(y)
        if fractional.any():
            problems.append(
                (
                    ValidationError,
                    (
                        f"flows are not integer counts for {int(fractional.sum())} pairs: "
                        f"{_pair_labels(fractional, ids, years)}; pass counts='real' to fit "
                        "non-integer flows (e.g. estimates or rates) by pseudo-likelihood"
                    ),
                )
            )
    shapes = [(n, n), (n_years, n, n)] if panel else [(n, n)]
    regressor = _cost_regressor(
        cost,
        cost_func,
        n_years,
        n,
        exclude_self,
        ids,
        years,
        problems,
        expected_shapes=shapes,
    )
    zone_vars: dict[str, list[tuple[str, NDArray[np.float64]]]] = {}
    for side, given in (("origin", origin_vars), ("destination", destination_vars)):
        zone_vars[side] = []
        if given is None:
            continue
        if not isinstance(given, Mapping):
            problems.append(
                (
                    ValidationError,
                    (
                        f"{side}_vars must map covariate names to arrays, e.g. "
                        f"{{'log_pop': values}}; got {type(given).__name__}"
                    ),
                )
            )
            continue
        for name, values in given.items():
            arr = _zone_values(
                f"{side}_vars[{name!r}]", values, n_years, ids, years, problems
            )
            if arr is not None:
                zone_vars[side].append((str(name), arr))
    _raise_problems(problems)
    if y.sum() == 0:
        raise ValidationError("all modelled flows are zero; nothing to fit")

    origin_fe = constraint in ("production", "doubly")
    destination_fe = constraint in ("attraction", "doubly")
    for side, absorbed in (("origin", origin_fe), ("destination", destination_fe)):
        if absorbed and zone_vars[side]:
            alternatives = {
                "origin": "'attraction' or 'unconstrained'",
                "destination": "'production' or 'unconstrained'",
            }[side]
            raise IdentificationError(
                f"{side} covariates {[name for name, _ in zone_vars[side]]} are absorbed "
                f"by the {side} fixed effects of a {constraint}-constrained model, so "
                f"their effects are not identified; drop them, or use constraint="
                f"{alternatives} to estimate them"
            )

    active = {}
    dropped: dict[str, list[str]] = {"origin": [], "destination": []}
    for side, has_fe, axis in (
        ("origin", origin_fe, 2),
        ("destination", destination_fe, 1),
    ):
        empty = (
            (y.sum(axis=axis) == 0) if has_fe else np.zeros((n_years, n), dtype=bool)
        )
        if empty.any() and empty_zones == "raise":
            raise IdentificationError(
                f"{side} zones {_abbreviate(_zone_list(empty, ids, years))} have no "
                f"modelled flows, so their {side} fixed effects diverge to -inf (the "
                f"{constraint}-constrained model is not identified); pass "
                "empty_zones='drop' to leave them out, or remove them from the data"
            )
        active[side] = ~empty
        dropped[side] = _zone_list(empty, ids, years)

    origin_cols: list[tuple[str, NDArray[np.float64]]] = []
    if not (origin_fe or destination_fe):
        origin_cols.append(("intercept", np.ones((n_years, n))))
    if not origin_fe and not destination_fe and years is not None:
        for t in range(1, n_years):
            indicator = np.zeros((n_years, n))
            indicator[t] = 1.0
            origin_cols.append((f"year[{years[t]}]", indicator))
    origin_cols += [(f"origin:{name}", arr) for name, arr in zone_vars["origin"]]
    destination_cols = [
        (f"destination:{name}", arr) for name, arr in zone_vars["destination"]
    ]

    def stack(cols: list[tuple[str, NDArray[np.float64]]]) -> NDArray[np.float64]:
        return (
            np.stack([arr for _, arr in cols], axis=2)
            if cols
            else np.zeros((n_years, n, 0))
        )

    design = _Design(
        y=y,
        pair=(regressor,),
        origin=stack(origin_cols),
        destination=stack(destination_cols),
        names=(
            "beta",
            *(name for name, _ in origin_cols),
            *(name for name, _ in destination_cols),
        ),
        origin_fe=origin_fe,
        destination_fe=destination_fe,
        exclude_self=exclude_self,
        active_origins=active["origin"],
        active_destinations=active["destination"],
        chunk_rows=(
            max(1, _AUTO_BLOCK_CELLS // n) if chunk_rows is None else int(chunk_rows)
        ),
    )
    design.exclude(regressor)
    return design, ids, years, np.shape(cost), dropped


@dataclasses.dataclass(frozen=True)
class _ScoreSums:
    """Sums of the scores ``r x`` (``r = y - mu``) behind the sandwich meats.

    ``x`` are the columns of the augmented design of :func:`_covariances` (``q`` of
    them), except in ``by_pair``, which is already in theta's coordinates.
    """

    by_origin: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)
    by_destination: NDArray[np.float64]  # (T, n, q) sum_i r x; by_origin sum_j r x
    squares: NDArray[np.float64]  # (q, q) sum r^2 x x'
    by_pair: NDArray[np.float64]  # (p, p) sum over pairs of s s', s = sum_t r x_tilde
    n_pairs: int  # pairs modelled in some year (panels; 0 for one year)


def _block_scores(
    d: _Design, mu: NDArray[np.float64], *, to_theta: NDArray[np.float64]
) -> _ScoreSums:
    """The score sums of one block of origin rows; a pair lies in its origin's block."""
    resid = np.subtract(d.y, mu)
    scratch = np.empty_like(resid)
    first = _block_moments(d, resid, scratch=scratch)
    p = to_theta.shape[0]
    meat_pair, n_pairs = np.zeros((p, p)), 0
    if d.y.shape[0] > 1:
        kp, ko = d.n_pair, d.origin.shape[2]
        by_pair = np.empty((d.y.shape[1] * d.y.shape[2], p))
        for k in range(p):
            x = scratch  # column k of x_tilde, built in the workspace
            x.fill(0.0)
            for term, weight in enumerate(to_theta[k]):
                if weight == 0:
                    continue
                if term < kp:
                    x += d.pair[term]
                elif term < kp + ko:
                    x += d.origin[..., term - kp, None]
                else:
                    x += d.destination[:, None, :, term - kp - ko]
            by_pair[:, k] = np.multiply(x, resid, out=x).sum(axis=0).ravel()
        meat_pair = by_pair.T @ by_pair
        n_pairs = int(d.modelled().any(axis=0).sum())
    np.multiply(resid, resid, out=resid)
    squares = _block_moments(d, resid, scratch=scratch).gram
    return _ScoreSums(first.row, first.col, squares, meat_pair, n_pairs)


def _covariances(
    d: _Design, sol: _Solution
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """HC0 and cluster-robust sandwich covariances of theta with the effects profiled out.

    By the partitioned inverse, the theta block of the full sandwich is
    ``H^-1 (sum s s') H^-1`` with scores ``s = (y - mu) x_tilde``, ``x_tilde = x - za_i
    - zb_j`` the regressors minus their projection on the fixed effects. ``x_tilde`` is
    a linear map ``L`` of an augmented design whose zone-level columns include ``-za``
    and ``-zb``, so every meat is ``L (weighted moments) L'`` without forming the
    ``p`` score arrays; only the pair clusters of a panel need them.
    """
    p, kp = d.n_theta, d.n_pair
    ko, kd = d.origin.shape[2], d.destination.shape[2]
    za = sol.partial.za if d.origin_fe else np.zeros((*sol.partial.za.shape[:2], 0))
    zb = (
        sol.partial.zb if d.destination_fe else np.zeros((*sol.partial.zb.shape[:2], 0))
    )
    augmented = dataclasses.replace(
        d,
        origin=np.concatenate([d.origin, -za], axis=2),
        destination=np.concatenate([d.destination, -zb], axis=2),
        names=tuple(f"x{k}" for k in range(p + za.shape[2] + zb.shape[2])),
    )
    ko_aug = ko + za.shape[2]
    to_theta = np.zeros((p, len(augmented.names)))
    to_theta[np.arange(kp + ko), np.arange(kp + ko)] = 1.0
    to_theta[kp + ko + np.arange(kd), kp + ko_aug + np.arange(kd)] = 1.0
    if za.shape[2]:
        to_theta[np.arange(p), kp + ko + np.arange(p)] = 1.0
    if zb.shape[2]:
        to_theta[np.arange(p), kp + ko_aug + kd + np.arange(p)] = 1.0

    bread = np.linalg.inv(sol.partial.hessian)
    sums = _map_reduce(augmented, _block_scores, sol.mu, to_theta=to_theta)
    by_origin = sums.by_origin.sum(axis=0) @ to_theta.T
    by_destination = sums.by_destination.sum(axis=0) @ to_theta.T
    meat_hc0 = to_theta @ sums.squares @ to_theta.T
    if d.y.shape[0] > 1:
        meat_pair, n_pairs = sums.by_pair, sums.n_pairs
    else:
        meat_pair, n_pairs = meat_hc0, d.n_modelled()

    def sandwich(meat: NDArray[np.float64], n_clusters: int) -> NDArray[np.float64]:
        return n_clusters / (n_clusters - 1) * bread @ meat @ bread

    cov_origin = sandwich(
        by_origin.T @ by_origin, int(d.active_origins.any(axis=0).sum())
    )
    cov_destination = sandwich(
        by_destination.T @ by_destination, int(d.active_destinations.any(axis=0).sum())
    )
    clustered = {
        "origin": cov_origin,
        "destination": cov_destination,
        "two-way": cov_origin + cov_destination - sandwich(meat_pair, n_pairs),
    }
    return bread @ meat_hc0 @ bread, clustered


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
    tol : float
        Convergence: largest Newton step relative to ``max(|theta|, 1)``.
    max_iter : int
        Maximum Newton iterations.
    chunk_rows : int, optional
        Origin rows per block: every pass over the flows runs block by block and
        combines per-block statistics (see the module docstring). The default takes
        blocks of about 2**18 flows (one block up to 512 zones); the estimates do not
        depend on the block size beyond rounding.

    Returns
    -------
    GravityFit

    Raises
    ------
    ValidationError
        Unknown options or a ``chunk_rows`` that is not a positive integer; NaN,
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
    The fixed effects are profiled out of a damped Newton iteration (see the module
    docstring); the estimates are the Poisson maximum-likelihood estimates and agree
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
    )
    n_years, n, _ = design.y.shape
    cg_max_iter = max(200, 2 * n)
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
            stacklevel=2,
        )
    cov_robust, cov_cluster = _covariances(design, sol)
    names = design.names
    n_obs = design.n_modelled()
    # likelihood terms from sufficient statistics: sum(y log mu) = sum(y * eta)
    y_log_mu = float(
        sol.theta @ sol.xty
        + np.sum(sol.obs_rows * sol.alpha)
        + np.sum(sol.obs_cols * sol.delta)
    )
    sums = _map_reduce(design, _block_fit_sums, sol.mu)
    y_total, mu_total = float(sol.obs_rows.sum()), sums.mu_total
    dev = 2.0 * (sums.y_log_y - y_log_mu - y_total + mu_total)
    null_dev = 2.0 * (sums.y_log_y - y_total * np.log(y_total / n_obs))
    llf = y_log_mu - mu_total - sums.log_factorials
    fit_srmse = float(np.sqrt(sums.squared_residuals / n_obs) / (y_total / n_obs))
    fit_ssi = float(2.0 * sums.common / (y_total + mu_total))
    n_params = (
        len(names)
        + (int(design.active_origins.sum()) if design.origin_fe else 0)
        + (int(design.active_destinations.sum()) if design.destination_fe else 0)
        - (n_years if design.origin_fe and design.destination_fe else 0)
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
    # the fitted flows are the solution's array, NaN outside the model from here on
    fitted = design.exclude(sol.mu, np.nan)
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
        deviance=float(dev),
        null_deviance=float(null_dev),
        llf=float(llf),
        aic=float(-2.0 * llf + 2.0 * n_params),
        pseudo_r2=float(1.0 - dev / null_dev),
        srmse=fit_srmse,
        ssi=fit_ssi,
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
