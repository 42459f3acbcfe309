"""Row blocks of the flows and the pure per-block passes of a gravity fit.

Every pass over the flows is a map over blocks of ``chunk_rows`` origin rows plus a
reduction (:func:`_map_reduce`). A per-block function sees rows ``r0:r1`` of every
flow-shaped and origin-level array and the destination-level arrays whole, and returns
statistics that are either indexed by its rows (row sums, ``M v``, origin scores:
concatenated) or additive (column sums, Gram entries, ``X'w``, ``M^T u``, totals:
summed). The passes are the weighted moments, the linear predictor with its ``exp``
and row totals, the Furness rescaling (rows scaled while the columns are summed, then
columns scaled while the rows are summed), the products of the conjugate-gradient
solve (``M^T diag(1/R) M v`` is finished inside a block), the score sums of every
sandwich meat (:mod:`.covariance`; pair clusters too: a pair lies in its origin's
block) and the sums behind the likelihood and fit metrics
(:func:`kzspatial.core.metrics.fit_sums`). Only ``n``-vectors per year, ``p x p``
matrices and scalars leave a block: what ``dask.array.map_blocks`` over chunks
``(n_years, rows, n)`` followed by a reduction needs. The block functions (``_block_*``)
depend on their arguments only, so a scheduler can run them as tasks.

``chunk_rows=None`` (the default) takes blocks of about ``2**18`` flows, so up to 512
zones are one block; ``chunk_rows=n`` forces one block for ``n`` zones. The flows, the
decay regressor and the fitted flows ``mu`` are held whole (``mu`` is updated in place,
block by block). The hot passes are compiled sweeps (:mod:`._kernels`, numba, loaded
on the first pass) that write nothing of the flow shape besides ``mu``: three
``float64`` arrays of the flow shape in all, plus, for a panel's pair clusters, two
blocks during the sandwich. The flows are the caller's own array, read-only, when they
are ``float64`` with zero self-pairs (else a copy); the regressor and ``mu`` are new,
from :func:`_flow_workspace`.

Where the passes run is the design's ``runner``: :class:`_LocalRunner` loops over views
of whole arrays in this process; :mod:`kzspatial.distributed` supplies one whose flows,
regressor and ``mu`` are blocks held by Dask workers and whose passes are tasks running
these same block functions, reduced by :func:`_combine` in block order. Block functions
that write their first array are marked with :func:`_writes`, so a runner that may not
write in place (worker data) hands them a copy and keeps the result.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import mmap
import operator
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from kzspatial.core.metrics import FitSums, _count_terms, _tally_terms

# cells per block when chunk_rows is None: a block of each flow-shaped array (2 MiB)
# stays in cache across the fused steps of a pass; at 3,000 zones this was faster and
# smaller than one block (benchmarks/results/gravity_chunks.md)
_AUTO_BLOCK_CELLS = 1 << 18
# what the kernels take for None: a factor not applied, a margin not summed
_NONE = np.empty(0)
# the outputs of the moment sweep that a pass does not ask for
_UNUSED = (_NONE, _NONE, np.empty((0, 0)), np.empty((0, 0)), np.empty((0, 0)))


# numpy advises huge pages for arrays from 4 MiB on (its allocator's threshold)
_HUGE_PAGE_ADVICE_BYTES = 1 << 22
_POPULATE = (
    mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
    if hasattr(mmap, "MAP_ANONYMOUS")
    else None
)


def _flow_workspace(shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Return a new uninitialised ``float64`` array for a flow-shaped result of a fit.

    From 4 MiB on, mapped in ordinary pages and faulted in at once (``MAP_POPULATE``)
    rather than by NumPy's allocator, which advises transparent huge pages there. On
    this project's virtual machines a fresh huge page is often backed by the host only
    when first touched: an 8 MB array then took 15-45 ms instead of 2-3 ms, depending
    on what other processes had freed shortly before, while ordinary pages took a
    steady 3.5-4 ms (benchmarks/results/gravity.md, 2026-12-01). The fit allocates
    two such arrays (the decay regressor and the fitted flows); everywhere else, and
    on platforms without anonymous maps, ``numpy.empty``.
    """
    nbytes = int(np.prod(shape)) * 8
    if nbytes < _HUGE_PAGE_ADVICE_BYTES or _POPULATE is None:
        return np.empty(shape)
    mapped = mmap.mmap(-1, nbytes, flags=_POPULATE)
    return np.frombuffer(mapped, dtype=np.float64).reshape(shape)


def _writes(mode: str) -> Callable[[_F], _F]:
    """Mark a block function that writes its first array argument.

    ``mode`` is ``"update"`` (reads and changes it in place) or ``"overwrite"`` (fills it
    without reading it). In this process the write goes into the caller's array; a
    runner that keeps blocks elsewhere (:mod:`kzspatial.distributed`) hands the function
    a copy (or a new array) and keeps the result as the block's new value.
    """

    def mark(fn: _F) -> _F:
        fn.writes = mode  # type: ignore[attr-defined]
        return fn

    return mark


class _LocalRunner:
    """Runs the block passes in this process, over views of whole arrays.

    The engine reaches flow-shaped arrays only through a runner: :meth:`map_reduce`
    (one pass, statistics reduced), :meth:`map_blocks` (a flow-shaped result),
    :meth:`new_flows` (workspace for ``mu``) and :meth:`output` (the array handed to
    the user). :mod:`kzspatial.distributed` provides the same four on a Dask cluster,
    with blocks held by the workers.
    """

    def map_reduce(
        self,
        d: _Design,
        block_stats: Callable[..., _Stats],
        *by_origin: NDArray[np.float64] | None,
        **shared: object,
    ) -> _Stats:
        return _combine(
            block_stats(
                block,
                *(None if arr is None else arr[:, rows] for arr in by_origin),
                **shared,
            )
            for rows, block in d.blocks
        )

    def map_blocks(
        self,
        d: _Design,
        block_array: Callable[..., NDArray[np.float64]],
        *by_origin: NDArray[np.float64] | None,
        **shared: object,
    ) -> NDArray[np.float64]:
        # elementwise on whole arrays: the blocks would only add copies
        return block_array(d, *by_origin, **shared)

    def new_flows(self, d: _Design) -> NDArray[np.float64]:
        return _flow_workspace(d.y.shape)

    def output(self, flows: NDArray[np.float64]) -> NDArray[np.float64]:
        return flows


_LOCAL = _LocalRunner()


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
    # where the passes run and the flow-shaped arrays live (:class:`_LocalRunner`)
    runner: _LocalRunner = _LOCAL

    @property
    def n_pair(self) -> int:
        return len(self.pair)

    @property
    def n_theta(self) -> int:
        return len(self.names)

    @property
    def diagonal(self) -> int:
        """Column of the first row's self-pair (for the kernels).

        -1 when self-pairs are modelled.
        """
        return self.first_row if self.exclude_self else -1

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
        """Return the origin rows ``rows`` (a slice with a start) as a design (views)."""
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

    def modelled_zones(self) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Origins and destinations with at least one modelled cell, shapes (T, n).

        From the zone masks alone (a whole design: row ``i`` is zone ``i``).
        """
        own = self.exclude_self
        rows = self.active_origins & (
            self.active_destinations.sum(axis=1, keepdims=True)
            - (own & self.active_destinations)
            > 0
        )
        cols = self.active_destinations & (
            self.active_origins.sum(axis=1, keepdims=True) - (own & self.active_origins)
            > 0
        )
        return rows, cols

    def n_modelled(self) -> int:
        """Count the cells in the likelihood without building the mask."""
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
# Field metadata of statistics reduced by their elementwise maximum.
_LARGEST = {"largest": True}


_Stats = TypeVar("_Stats")
_F = TypeVar("_F", bound=Callable[..., object])


def _combine(parts: Iterable[_Stats]) -> _Stats:
    """Reduce the statistics of consecutive row blocks to those of all their rows.

    Parameters
    ----------
    parts : iterable of statistics
        Dataclasses of the same type, one per block in row order, or bare arrays.

    Returns
    -------
    statistics
        Fields marked ``_BY_ORIGIN`` concatenated along axis 1, fields marked
        ``_LARGEST`` reduced by their maximum; other fields and bare arrays (column
        sums, Gram entries, ``M^T u`` products, totals, lists) summed; None fields stay
        None. A single part is returned unchanged.
    """
    blocks = iter(parts)
    first = next(blocks)
    second = next(blocks, None)
    if second is None:
        return first
    blocks = itertools.chain([second], blocks)
    if not dataclasses.is_dataclass(first):
        return sum(blocks, start=first)
    fields = dataclasses.fields(first)
    by_origin = {f.name for f in fields if f.metadata.get("by_origin")}
    largest = {f.name for f in fields if f.metadata.get("largest")}
    stacked = {name: [getattr(first, name)] for name in by_origin}
    summed = {f.name: getattr(first, f.name) for f in fields if f.name not in by_origin}
    for part in blocks:
        for name, pieces in stacked.items():
            pieces.append(getattr(part, name))
        for name, total in summed.items():
            if total is None:
                continue
            add = np.maximum if name in largest else operator.add
            summed[name] = add(total, getattr(part, name))
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
    arrays; None passes through; the first is written if the function is marked with
    :func:`_writes`) and ``shared`` whole (destination-level arrays, parameters). Its
    statistics are reduced by :func:`_combine` in block order, so only n-vectors and
    ``p x p`` matrices outlive a block. ``d.runner`` runs the pass: here, or as tasks
    on a Dask cluster.
    """
    return d.runner.map_reduce(d, block_stats, *by_origin, **shared)


def _map_blocks(
    d: _Design,
    block_array: Callable[..., NDArray[np.float64]],
    *by_origin: NDArray[np.float64] | None,
    **shared: object,
) -> NDArray[np.float64]:
    """Build a flow-shaped array from ``block_array`` on every row block of ``d``.

    Arguments as in :func:`_map_reduce`; ``block_array`` returns the block's rows of the
    result. Kept where ``d.runner`` keeps flows (``d.runner.output`` hands it over).
    """
    return d.runner.map_blocks(d, block_array, *by_origin, **shared)


def _compiled() -> ModuleType:
    """Return the compiled kernels of the passes (:mod:`._kernels`), imported on first use.

    Importing the package leaves numba unloaded (seconds of start-up); it loads when
    a pass first runs, in this process or on a worker.
    """
    from kzspatial.core.gravity import _kernels

    return _kernels


def _year(arrays: tuple[NDArray[np.float64], ...], t: int) -> tuple:
    """Year ``t`` of each flow-shaped array, for the kernels' ``(rows, n)`` arguments."""
    return tuple(arr[t] for arr in arrays)


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
    d: _Design, w: NDArray[np.float64], scratch: NDArray[np.float64] | None = None
) -> _Moments:
    """All first and second weighted moments needed by Newton's method, in p-space.

    ``w`` has the shape of ``d.y``; ``scratch`` as in :func:`_block_moments`.
    """
    return _map_reduce(d, _block_moments, w, scratch=scratch)


def _block_moments(
    d: _Design, w: NDArray[np.float64], *, scratch: NDArray[np.float64] | None = None
) -> _Moments:
    """Compute the moments of one block of origin rows (rows of the block).

    One compiled sweep per year (:func:`._kernels.moments`). ``scratch``, workspace
    of the block's shape, is accepted from callers that hold one and not needed: the
    sweep writes nothing of the flow shape.
    """
    del scratch  # the compiled sweep needs no workspace
    (sums,) = _moment_sums(d, w)
    return _as_moments(sums)


def _block_residual_moments(
    d: _Design, mu: NDArray[np.float64]
) -> tuple[_Moments, _Moments]:
    """Moments of the residuals ``d.y - mu`` and of their squares, in one sweep."""
    first, squares = _moment_sums(d, mu, residuals=True)
    return _as_moments(first), _as_moments(squares)


def _as_moments(sums: tuple[NDArray[np.float64], ...]) -> _Moments:
    """Return the sums of the moment sweep as :class:`_Moments`."""
    row_total, col_total, row, col, gram = sums
    return _Moments(row_total, col_total, row, col, gram, row.sum(axis=(0, 1)))


def _moment_sums(
    d: _Design,
    w: NDArray[np.float64],
    *,
    residuals: bool = False,
    by_year: bool = False,
) -> list[tuple[NDArray[np.float64], ...]]:
    """Run the moment sweep over each year of a block.

    Returns ``[(row_total, col_total, row, col, gram)]`` with the Gram matrix summed
    over the years, or with ``by_year`` one per year ``(T, p, p)``. With
    ``residuals`` the weights are ``d.y - w``, and the sums of their squares follow
    as a second tuple.
    """
    n_years, n_rows, n = w.shape
    p = d.n_theta
    parts = [
        (
            np.empty((n_years, n_rows)),
            np.empty((n_years, n)),
            np.empty((n_years, n_rows, p)),
            np.empty((n_years, n, p)),
            np.zeros((n_years, p, p) if by_year else (p, p)),
        )
        for _ in range(1 + residuals)
    ]
    moments = _compiled().moments
    for t in range(n_years):
        year = [
            (
                part[0][t],
                part[1][t],
                part[2][t],
                part[3][t],
                part[4][t] if by_year else part[4],
            )
            for part in parts
        ]
        moments(
            d.y[t],
            w[t],
            residuals,
            _year(d.pair, t),
            d.origin[t],
            d.destination[t],
            year[0],
            year[1] if residuals else _UNUSED,
        )
    return parts


@dataclasses.dataclass(frozen=True)
class _Predicted:
    """Row totals of freshly predicted flows and, when asked for, their moments.

    ``rows`` (T, n) are the row totals of ``mu``; ``row``, ``col_total``, ``col`` and
    ``gram`` (per year, ``(T, p, p)``) are the moments of :class:`_Moments`, or None.
    """

    rows: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)
    row: NDArray[np.float64] | None = dataclasses.field(metadata=_BY_ORIGIN)
    col_total: NDArray[np.float64] | None
    col: NDArray[np.float64] | None
    gram: NDArray[np.float64] | None

    def moments(self, factor: NDArray[np.float64]) -> _Moments:
        """Return the moments of the flows scaled by ``factor`` (T,), one per year.

        Every moment is linear in the weights, so scaling the flows of a year scales
        its moments: no pass over the flows.
        """
        row = self.row * factor[:, None, None]
        return _Moments(
            self.rows * factor[:, None],
            self.col_total * factor[:, None],
            row,
            self.col * factor[:, None, None],
            np.einsum("t,tkl->kl", factor, self.gram),
            row.sum(axis=(0, 1)),
        )


@dataclasses.dataclass(frozen=True)
class _Margins:
    """Row and column totals of (a block of) fitted flows, None where not asked for."""

    rows: NDArray[np.float64] | None = dataclasses.field(metadata=_BY_ORIGIN)  # (T, r)
    cols: NDArray[np.float64] | None  # (T, n), additive over blocks


@dataclasses.dataclass(frozen=True)
class _ByOrigin:
    """One array indexed by origin rows, e.g. ``M v``."""

    values: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)


def _predict(
    d: _Design,
    theta: NDArray[np.float64],
    alpha: NDArray[np.float64],
    delta: NDArray[np.float64],
    out: NDArray[np.float64],
    *,
    with_moments: bool,
) -> _Predicted:
    """Write ``mu = exp(eta)`` into ``out``; its row totals, and moments if asked."""
    return _map_reduce(
        d,
        _block_predictor,
        out,
        alpha,
        theta=theta,
        delta=delta,
        with_moments=with_moments,
    )


@_writes("overwrite")
def _block_predictor(
    d: _Design,
    out: NDArray[np.float64],
    alpha: NDArray[np.float64],
    *,
    theta: NDArray[np.float64],
    delta: NDArray[np.float64],
    with_moments: bool = False,
) -> _Predicted:
    """Write ``mu = exp(eta)`` of one block into ``out`` and sum its rows.

    The linear predictor is written by a compiled sweep, ``-inf`` outside the model,
    exponentiated in place by NumPy's vectorised ``exp`` (measured faster than any
    ``exp`` compiled here, see :mod:`._kernels`; it makes the excluded cells exactly
    0) while the block is in cache, then the rows are summed in a second compiled
    sweep, which ``with_moments`` replaces by the moment sweep (the block still in
    cache).
    """
    kp, ko = d.n_pair, d.origin.shape[2]
    kernels = _compiled()
    row_offset = alpha + d.origin @ theta[kp : kp + ko]
    col_offset = delta + d.destination @ theta[kp + ko :]
    col_offset[~d.active_destinations] = -np.inf
    for t in range(out.shape[0]):
        kernels.linear_predictor(
            _year(d.pair, t),
            theta[:kp],
            row_offset[t],
            col_offset[t],
            d.active_origins[t],
            d.diagonal,
            out[t],
        )
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    if not with_moments:
        # summed while the block is fresh: the log-likelihood and balancing need them
        rows = np.empty(out.shape[:2])
        for t in range(out.shape[0]):
            kernels.row_sums(out[t], rows[t])
        return _Predicted(rows, None, None, None, None)
    ((rows, col_total, row, col, gram),) = _moment_sums(d, out, by_year=True)
    return _Predicted(rows, row, col_total, col, gram)


def _transposed(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(T, c, m)`` vectors as contiguous ``(T, m, c)``, rows of the kernels' loops."""
    return np.ascontiguousarray(v.transpose(0, 2, 1))


def _block_product(
    _block: _Design, mu: NDArray[np.float64], *, v: NDArray[np.float64]
) -> _ByOrigin:
    """``M v`` on one block's rows."""
    product = _compiled().product
    v_t = _transposed(v)
    out = np.empty((*mu.shape[:2], v.shape[2]))
    for t in range(mu.shape[0]):
        product(mu[t], v_t[t], out[t])
    return _ByOrigin(out)


def _block_transposed_product(
    _block: _Design, mu: NDArray[np.float64], u: NDArray[np.float64]
) -> NDArray[np.float64]:
    """One block's share of ``M^T u``."""
    transposed_product = _compiled().transposed_product
    u = np.ascontiguousarray(u)
    out_t = np.zeros((mu.shape[0], u.shape[2], mu.shape[2]))
    for t in range(mu.shape[0]):
        transposed_product(mu[t], u[t], out_t[t])
    return out_t.transpose(0, 2, 1)


def _block_schur_product(
    _block: _Design,
    mu: NDArray[np.float64],
    inv_r: NDArray[np.float64],
    *,
    v: NDArray[np.float64],
) -> NDArray[np.float64]:
    """One block's share of ``M^T diag(1/R) M v``: ``M v`` never leaves the block.

    ``inv_r`` is ``(T, rows, 1)``, ``1/R`` of the block's rows.
    """
    schur_product = _compiled().schur_product
    v_t = _transposed(v)
    inv_r = np.ascontiguousarray(inv_r[..., 0])
    out_t = np.zeros_like(v_t)
    for t in range(mu.shape[0]):
        schur_product(mu[t], v_t[t], inv_r[t], out_t[t])
    return out_t.transpose(0, 2, 1)


@_writes("update")
def _block_rescale(
    _block: _Design,
    mu: NDArray[np.float64],
    row_factor: NDArray[np.float64] | None,
    *,
    col_factor: NDArray[np.float64] | None,
    sum_rows: bool,
    sum_cols: bool,
) -> _Margins:
    """Scale a block of fitted flows by row and/or column factors, in place.

    The margins asked for are summed while the block is fresh, in the same sweep.
    """
    rescale = _compiled().rescale
    n_years, n_rows, n = mu.shape
    rows = np.empty((n_years, n_rows)) if sum_rows else None
    cols = np.zeros((n_years, n)) if sum_cols else None
    for t in range(n_years):
        rescale(
            mu[t],
            _NONE if row_factor is None else np.ascontiguousarray(row_factor[t]),
            _NONE if col_factor is None else np.ascontiguousarray(col_factor[t]),
            _NONE if rows is None else rows[t],
            _NONE if cols is None else cols[t],
        )
    return _Margins(rows, cols)


def _block_fit_sums(d: _Design, mu: NDArray[np.float64]) -> FitSums:
    """Sum the terms of the likelihood and fit metrics over one block's cells.

    Excluded cells are zero in ``y`` and ``mu`` and add nothing. ``y log mu`` is left
    out: the fit has it from sufficient statistics. One compiled sweep per year
    (:func:`._kernels.fit_sums`) gives what :func:`kzspatial.core.metrics.fit_sums`,
    the tested reference, computes in several; flows that are not integer counts (or
    are too large to tabulate) take that function's ``y``-only terms instead.
    """
    y = d.y
    peak = float(y.max(initial=0.0))
    tally = np.zeros(int(peak) + 1 if peak < 4 * y.size else 0, dtype=np.int64)
    totals = np.zeros(4)  # y, mu, squared residuals, common part
    counted = True
    fit_sums = _compiled().fit_sums
    for t in range(y.shape[0]):
        counted &= fit_sums(y[t], mu[t], totals, tally)
    y_log_y, log_factorials = _tally_terms(tally) if counted else _count_terms(y)
    y_total, mu_total, squared, common = map(float, totals)
    return FitSums(
        y_total, mu_total, y_log_y, None, None, log_factorials, squared, common
    )


@_writes("update")
def _block_excluded(d: _Design, flows: NDArray[np.float64]) -> NDArray[np.float64]:
    """Zero the cells of ``flows`` outside the model, in place."""
    return d.exclude(flows)


@_writes("update")
def _block_fitted(d: _Design, mu: NDArray[np.float64]) -> NDArray[np.float64]:
    """Fitted flows as handed to the user: NaN outside the model."""
    return d.exclude(mu, np.nan)


@dataclasses.dataclass(frozen=True)
class _Peaks:
    """``max |x|`` of every pair regressor, reduced by the maximum over blocks."""

    values: NDArray[np.float64] = dataclasses.field(metadata=_LARGEST)


def _block_peaks(d: _Design) -> _Peaks:
    return _Peaks(np.array([max(x.max(), -x.min()) for x in d.pair]))


@dataclasses.dataclass(frozen=True)
class _Sample:
    """The flows and pair regressors among a subset of zones, rows of the block."""

    y: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)  # (T, r, z)
    pair: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)  # (T, r, z, k)


def _block_sample(d: _Design, *, zones: NDArray[np.intp]) -> _Sample:
    """Cut the cells between ``zones`` (sorted indices) with an origin in the block."""
    first, n_rows = d.first_row, d.y.shape[1]
    rows = zones[(zones >= first) & (zones < first + n_rows)] - first
    grid = np.ix_(np.arange(d.y.shape[0]), rows, zones)
    return _Sample(d.y[grid], np.stack([x[grid] for x in d.pair], axis=3))
