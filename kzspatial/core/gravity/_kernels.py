"""Compiled kernels behind the block passes of the PPML gravity fit (:mod:`.blocks`).

Each kernel is one sweep over one year of a block of origin rows, ``(rows, n)``
arrays: it reads every flow-shaped array once, row by row, and does all the work of
its pass while the row is in the first-level cache, where the NumPy passes they
replaced swept the block several times and wrote temporaries of its shape (the
moments pass made about eight sweeps). Only ``n``-vectors and ``p x p`` matrices are
written besides the flows themselves.

Results are deterministic: ``fastmath`` is off, so no addition is reordered and
every run, on every worker, adds in the same order. Elementwise loops vectorise by
themselves; sums along a row would not (vectorising a sum reorders it), so
:func:`_sum`, :func:`_dot` and :func:`_dot3` are written with explicit SIMD: sixteen
partial sums in four vectors of four lanes (element ``j`` goes to lane ``j % 16``),
combined in a fixed order, the tail added last. They round differently from NumPy's
pairwise sums, by a few units in the last place, and equally on every CPU.

The kernels are compiled on first use and cached on disk (``cache=True``); numba is
imported only when a pass runs (:func:`kzspatial.core.gravity.blocks._compiled`).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_JIT = {"cache": True, "nogil": True}  # fastmath off: IEEE semantics, fixed order
# columns per tile of a row in the moment sweep: the tile of the weights, of each
# regressor and of each column sum (4 kB each) stay in the L1 cache together
_TILE = 512
_LANES, _VECTORS = 4, 4  # SIMD partial sums: vectors of 4 doubles, 4 of them


def _product_sum(context, builder, signature, args):
    """Emit ``sum_j prod_k a_k[j]`` for ``j < n`` over 1-d float64 arrays ``a_k``.

    Contiguous arrays: four independent ``<4 x double>`` accumulators over the first
    ``n - n % 16`` elements, added pairwise, their lanes pairwise, then the tail in
    order. Any other layout: one running sum in order. Plain ``fmul``/``fadd``
    without fast-math flags, so LLVM may neither reorder nor fuse them.
    """
    *arrays, n = args
    array_types = signature.args[:-1]
    views = [
        context.make_array(ty)(context, builder, value)
        for ty, value in zip(array_types, arrays, strict=True)
    ]
    intp = n.type
    zero, one = ir.Constant(intp, 0), ir.Constant(intp, 1)

    def element(i):
        values = [
            builder.load(cgutils.get_item_pointer(context, builder, ty, view, [i]))
            for ty, view in zip(array_types, views, strict=True)
        ]
        term = values[0]
        for value in values[1:]:
            term = builder.fmul(term, value)
        return term

    total = cgutils.alloca_once_value(builder, ir.Constant(ir.DoubleType(), 0.0))
    start = zero
    if all(ty.layout == "C" for ty in array_types):
        vector = ir.VectorType(ir.DoubleType(), _LANES)
        step = _LANES * _VECTORS
        partial = [
            cgutils.alloca_once_value(builder, ir.Constant(vector, [0.0] * _LANES))
            for _ in range(_VECTORS)
        ]
        start = builder.mul(
            builder.udiv(n, ir.Constant(intp, step)), ir.Constant(intp, step)
        )
        with cgutils.for_range_slice(
            builder, zero, start, ir.Constant(intp, step), intp
        ) as (i, _):
            for k, acc in enumerate(partial):
                offset = builder.add(i, ir.Constant(intp, k * _LANES))
                loads = [
                    builder.load(
                        builder.bitcast(
                            builder.gep(view.data, [offset]), vector.as_pointer()
                        ),
                        align=8,
                    )
                    for view in views
                ]
                term = loads[0]
                for value in loads[1:]:
                    term = builder.fmul(term, value)
                builder.store(builder.fadd(builder.load(acc), term), acc)
        sums = [builder.load(acc) for acc in partial]
        while len(sums) > 1:
            sums = [builder.fadd(sums[k], sums[k + 1]) for k in range(0, len(sums), 2)]
        lanes = [
            builder.extract_element(sums[0], ir.Constant(ir.IntType(32), lane))
            for lane in range(_LANES)
        ]
        while len(lanes) > 1:
            lanes = [
                builder.fadd(lanes[k], lanes[k + 1]) for k in range(0, len(lanes), 2)
            ]
        builder.store(lanes[0], total)
    with cgutils.for_range_slice(builder, start, n, one, intp) as (i, _):
        builder.store(builder.fadd(builder.load(total), element(i)), total)
    return builder.load(total)


def _signature(*arrays):
    """Typing of the summing intrinsics: 1-d float64 arrays, then an integer."""
    *arrays, n = arrays
    if not isinstance(n, types.Integer) or not all(
        isinstance(a, types.Array) and a.ndim == 1 and a.dtype == types.float64
        for a in arrays
    ):
        return None
    return types.float64(*arrays, n)


@intrinsic
def _sum(typingctx, a, n):  # noqa: ARG001 (numba passes the typing context)
    """``sum(a[:n])`` (explicit SIMD, fixed order: see the module docstring)."""
    return _signature(a, n), _product_sum


@intrinsic
def _dot(typingctx, a, b, n):  # noqa: ARG001
    """``sum(a[:n] * b[:n])`` (explicit SIMD, fixed order)."""
    return _signature(a, b, n), _product_sum


@intrinsic
def _dot3(typingctx, a, b, c, n):  # noqa: ARG001
    """``sum(a[:n] * b[:n] * c[:n])`` (explicit SIMD, fixed order)."""
    return _signature(a, b, c, n), _product_sum


@numba.njit(**_JIT)
def linear_predictor(pair, theta, row_offset, col_offset, row_on, diagonal, out):
    """Write ``eta = sum_k theta_k x_k + a_i + b_j`` into ``out``, -inf outside the model.

    The cells outside the model get ``-inf``, so that ``exp`` makes them exactly 0
    without another sweep.

    Parameters
    ----------
    pair : tuple of ndarray, shape (r, n)
        The pair regressors of one year of the block.
    theta : ndarray, shape (len(pair),)
        Their coefficients.
    row_offset, col_offset : ndarray, shapes (r,) and (n,)
        ``alpha`` plus the origin covariates' term, ``delta`` plus the destination
        covariates' term; ``col_offset`` is -inf at inactive destinations.
    row_on : ndarray of bool, shape (r,)
        Active origins of the block.
    diagonal : int
        Column of the block's first self-pair (its first row's zone), or -1 when
        self-pairs are modelled.
    out : ndarray, shape (r, n)
    """
    rows, n = out.shape
    for i in range(rows):
        o = out[i]
        if not row_on[i]:
            o[:] = -np.inf
            continue
        x = pair[0][i]
        t = theta[0]
        a = row_offset[i]
        if len(pair) == 1:
            for j in range(n):
                o[j] = (t * x[j] + a) + col_offset[j]
        else:
            for j in range(n):
                o[j] = t * x[j]
            for k in range(1, len(pair)):
                x = pair[k][i]
                t = theta[k]
                for j in range(n):
                    o[j] += t * x[j]
            for j in range(n):
                o[j] = (o[j] + a) + col_offset[j]
        if diagonal >= 0:
            o[diagonal + i] = -np.inf


@numba.njit(**_JIT)
def row_sums(out, rows):
    """Sum the rows of ``out`` (``(r, n)``) into ``rows`` (``(r,)``)."""
    r, n = out.shape
    for i in range(r):
        rows[i] = _sum(out[i], n)


@numba.njit(**_JIT)
def rescale(mu, row_factor, col_factor, rows, cols):
    """Scale ``mu`` by row and column factors in place and sum what is asked for.

    Each cell becomes ``(mu * row_factor_i) * col_factor_j``, the order of the two
    NumPy passes this replaces; a factor array of length 0 is not applied, and a
    result of length 0 is not summed.

    Parameters
    ----------
    mu : ndarray, shape (r, n)
    row_factor, col_factor : ndarray, shapes (r,) and (n,), or (0,)
    rows : ndarray, shape (r,) or (0,)
        Receives the row sums after scaling.
    cols : ndarray, shape (n,) or (0,)
        The column sums after scaling are added to it.
    """
    r, n = mu.shape
    by_row, by_col = row_factor.size > 0, col_factor.size > 0
    for i in range(r):
        o = mu[i]
        if by_row:
            f = row_factor[i]
            if by_col:
                for j in range(n):
                    o[j] = (o[j] * f) * col_factor[j]
            else:
                for j in range(n):
                    o[j] *= f
        elif by_col:
            for j in range(n):
                o[j] *= col_factor[j]
        if rows.size > 0:
            rows[i] = _sum(o, n)
        if cols.size > 0:
            for j in range(n):
                cols[j] += o[j]


@numba.njit(inline="always")
def _tile_moments(o, m, i, j0, pair, origin, unit, dest_t, sums, row, gram):
    """Add columns ``j0:j0 + m`` of row ``i`` of the weights (``o``) to the sums.

    Column sums go to ``sums`` (pair regressors, origin covariates, weights; not the
    origin covariates that are 1 on every row of the block, ``unit``: theirs are the
    weights'), row sums to ``row``, pair products to ``gram``; returns the tile's
    total weight.
    """
    kp, ko, kd = len(pair), origin.shape[1], dest_t.shape[0]
    c = sums[kp + ko, j0 : j0 + m]
    for j in range(m):
        c[j] += o[j]
    for q in range(ko):
        if unit[q]:
            continue
        xq = origin[i, q]
        c = sums[kp + q, j0 : j0 + m]
        for j in range(m):
            c[j] += o[j] * xq
    for q in range(kd):
        row[i, kp + ko + q] += _dot(o, dest_t[q, j0 : j0 + m], m)
    for k in range(kp):
        x = pair[k][i, j0 : j0 + m]
        c = sums[k, j0 : j0 + m]
        for j in range(m):
            c[j] += o[j] * x[j]
        row[i, k] += _dot(o, x, m)
        for k2 in range(k, kp):
            gram[k, k2] += _dot3(o, x, pair[k2][i, j0 : j0 + m], m)
    return _sum(o, m)


@numba.njit(inline="always")
def _finish_moments(origin, unit, destination, sums, out):
    """Unpack the column sums and add the Gram entries of the zone covariates.

    ``unit`` and ``sums`` as in :func:`_tile_moments`, ``out`` as in :func:`moments`.
    Those entries follow from the margins: origin covariates are constant along a
    row, destination covariates down a column.
    """
    row_total, col_total, row, col, gram = out
    r, n = row.shape[0], col.shape[0]
    ko, kd = origin.shape[1], destination.shape[1]
    kp = row.shape[1] - ko - kd
    zo, zd = kp, kp + ko  # first column of the origin / destination covariates
    for j in range(n):
        col_total[j] = sums[kp + ko, j]
        for k in range(kp):
            col[j, k] = sums[k, j]
        for q in range(ko):
            col[j, zo + q] = col_total[j] if unit[q] else sums[zo + q, j]
        for q in range(kd):
            col[j, zd + q] = col_total[j] * destination[j, q]
    for i in range(r):
        for q in range(ko):
            for k in range(kp):
                gram[k, zo + q] += row[i, k] * origin[i, q]
            for q2 in range(q, ko):
                gram[zo + q, zo + q2] += row_total[i] * origin[i, q] * origin[i, q2]
            for q2 in range(kd):
                gram[zo + q, zd + q2] += origin[i, q] * row[i, zd + q2]
    for j in range(n):
        for q in range(kd):
            for k in range(kp):
                gram[k, zd + q] += col[j, k] * destination[j, q]
            for q2 in range(q, kd):
                gram[zd + q, zd + q2] += (
                    col_total[j] * destination[j, q] * destination[j, q2]
                )
    for k in range(gram.shape[0]):  # the lower triangle mirrors the sums above
        for k2 in range(k):
            gram[k, k2] = gram[k2, k]


@numba.njit(**_JIT)
def moments(y, mu, residuals, pair, origin, destination, out, squares):
    """Weighted first and second moments of the regressors, one sweep over the flows.

    The weights are ``mu``, or with ``residuals`` the residuals ``y - mu``, formed a
    tile of a row at a time, and then the moments of the squared residuals go to
    ``squares`` as well. The regressors are ``p = kp + ko + kd`` columns: the pair
    regressors, the origin covariates (constant along a row) and the destination
    covariates (constant down a column). Everything flow-shaped is read once.

    Parameters
    ----------
    y, mu : ndarray, shape (r, n)
        One year of the block: flows (read only for ``residuals``) and fitted flows,
        or any weights as ``mu``.
    residuals : bool
    pair : tuple of kp ndarray, shape (r, n)
    origin : ndarray, shape (r, ko)
    destination : ndarray, shape (n, kd)
    out, squares : tuple of ndarray
        ``(row_total, col_total, row, col, gram)`` of shapes ``(r,)``, ``(n,)``,
        ``(r, p)``, ``(n, p)``, ``(p, p)``: they receive ``sum_j w``, ``sum_i w`` over
        the block's rows, ``sum_j w x`` and ``sum_i w x``; ``sum w x x'`` is added to
        the upper triangle of ``gram``, which is then mirrored into the lower one.
        ``squares`` is not touched without ``residuals``.
    """
    r, n = mu.shape
    kp, ko = len(pair), origin.shape[1]
    dest_t = np.ascontiguousarray(destination.T)
    # origin covariates equal to 1 (the intercept): their column sums are the weights'
    unit = np.array([np.all(origin[:, q] == 1.0) for q in range(ko)], dtype=np.bool_)
    # column sums (pair regressors, origin covariates, weights), for each output
    sums = np.zeros((2 if residuals else 1, kp + ko + 1, n))
    resid = np.empty(_TILE)
    squared = np.empty(_TILE)
    outputs = (out, squares)
    for i in range(r):
        totals = [0.0, 0.0]
        for s in range(2 if residuals else 1):
            outputs[s][2][i, :] = 0.0  # the row sums accumulate over the tiles
        # tiles of the row: what the loops touch stays in the L1 cache
        for j0 in range(0, n, _TILE):
            m = min(_TILE, n - j0)
            if not residuals:
                totals[0] += _tile_moments(
                    mu[i, j0 : j0 + m],
                    m,
                    i,
                    j0,
                    pair,
                    origin,
                    unit,
                    dest_t,
                    sums[0],
                    out[2],
                    out[4],
                )
                continue
            a, b = y[i, j0 : j0 + m], mu[i, j0 : j0 + m]
            for j in range(m):
                resid[j] = a[j] - b[j]
                squared[j] = resid[j] * resid[j]
            totals[0] += _tile_moments(
                resid[:m], m, i, j0, pair, origin, unit, dest_t, sums[0], out[2], out[4]
            )
            totals[1] += _tile_moments(
                squared[:m],
                m,
                i,
                j0,
                pair,
                origin,
                unit,
                dest_t,
                sums[1],
                squares[2],
                squares[4],
            )
        for s in range(2 if residuals else 1):
            row_total, row = outputs[s][0], outputs[s][2]
            row_total[i] = totals[s]
            for q in range(ko):
                row[i, kp + q] = totals[s] * origin[i, q]
    _finish_moments(origin, unit, destination, sums[0], out)
    if residuals:
        _finish_moments(origin, unit, destination, sums[1], squares)


@numba.njit(**_JIT)
def product(mu, v_t, out):
    """``M v`` on the block's rows: ``out[i, k] = sum_j mu[i, j] v_t[k, j]``.

    ``v_t`` is ``(m, n)``, ``out`` ``(r, m)``.
    """
    r, n = mu.shape
    for i in range(r):
        for k in range(v_t.shape[0]):
            out[i, k] = _dot(mu[i], v_t[k], n)


@numba.njit(**_JIT)
def transposed_product(mu, u, out_t):
    """Add the block's share of ``M^T u``: ``out_t[k, j] += sum_i mu[i, j] u[i, k]``.

    ``u`` is ``(r, m)``, ``out_t`` ``(m, n)``.
    """
    r, n = mu.shape
    for i in range(r):
        o = mu[i]
        for k in range(u.shape[1]):
            c = out_t[k]
            uk = u[i, k]
            for j in range(n):
                c[j] += o[j] * uk


@numba.njit(**_JIT)
def schur_product(mu, v_t, inv_r, out_t):
    """Add the block's share of ``M^T diag(inv_r) M v``, reading each row once.

    ``(M v)_i`` is formed and scaled while row ``i`` is in cache, then the row is
    added into ``out_t`` (``(m, n)``).
    """
    r, n = mu.shape
    for i in range(r):
        o = mu[i]
        for k in range(v_t.shape[0]):
            u = _dot(o, v_t[k], n) * inv_r[i]
            c = out_t[k]
            for j in range(n):
                c[j] += o[j] * u


@numba.njit(**_JIT)
def fit_sums(y, mu, totals, tally):
    """Sum the terms of the likelihood and fit metrics over one year of a block.

    Adds ``sum y``, ``sum mu``, ``sum (y - mu)^2`` and ``sum min(y, mu)`` to
    ``totals`` and counts the flows by value into ``tally`` (``tally[v]`` flows equal
    to ``v``, for integers ``0 <= v < tally.size``), from which ``sum y log y`` and
    ``sum log y!`` follow (:func:`kzspatial.core.metrics._tally_terms`). The bins of
    a row are found in a vectorised loop, then counted in a second one.

    Returns
    -------
    bool
        Whether every flow was counted; if not, the tally is incomplete and the
        caller computes those two sums from the flows themselves.
    """
    r, n = y.shape
    top = float(tally.size)
    uncounted = 0
    resid, common = np.empty(n), np.empty(n)
    bins = np.empty(n, np.intp)
    for i in range(r):
        a, b = y[i], mu[i]
        for j in range(n):
            v = a[j]
            resid[j] = v - b[j]
            common[j] = v if v < b[j] else b[j]
            # a count in range goes to its bin; anything else (NaN too) to none (-1)
            inside = (v >= 0.0) & (v < top)
            w = v if inside else 0.5
            k = int(w)
            whole = k == w
            uncounted += not whole
            bins[j] = k if whole else -1
        for j in range(n):
            k = bins[j]
            if k >= 0:
                tally[k] += 1
        totals[0] += _sum(a, n)
        totals[1] += _sum(b, n)
        totals[2] += _dot(resid, resid, n)
        totals[3] += _sum(common, n)
    return uncounted == 0


# ---------------------------------------------------------------- input checks
@numba.njit(**_JIT)
def flow_checks(y, bad, rows, cols, positive_rows, positive_cols):
    """Count problem flows and sum the margins of one year of a block, in one sweep.

    Adds to ``bad`` the numbers of missing (NaN or infinite), negative and
    fractional flows (triggers: the NumPy checks then locate and report them), writes
    the row sums into ``rows`` and the numbers of positive flows of each row into
    ``positive_rows``, and adds the column sums and counts to ``cols`` and
    ``positive_cols``.
    """
    r, n = y.shape
    for i in range(r):
        a = y[i]
        missing = negative = fractional = positive = 0
        for j in range(n):
            v = a[j]
            missing += v - v != 0.0  # NaN or infinite
            negative += v < 0.0
            fractional += v != np.floor(v)
            positive += v > 0.0
        bad[0] += missing
        bad[1] += negative
        bad[2] += fractional
        positive_rows[i] = positive
        rows[i] = _sum(a, n)
        for j in range(n):
            cols[j] += a[j]
            positive_cols[j] += a[j] > 0.0


@numba.njit(inline="always")
def _bad_cost(v, positive):
    """Whether a cost is missing (``v - v`` is NaN), negative or, if ``positive``, 0."""
    return (v - v != 0.0) | (v < 0.0) | (positive & (v == 0.0))


@numba.njit(**_JIT)
def cost_checks(cost, diagonal, positive):
    """Count the costs that are missing, negative or (``positive``) zero.

    Self-pairs are skipped from column ``diagonal`` of the first row on (-1: none).
    """
    r, n = cost.shape
    count = 0
    for i in range(r):
        c = cost[i]
        for j in range(n):
            count += _bad_cost(c[j], positive)
        if diagonal >= 0:
            count -= _bad_cost(c[diagonal + i], positive)
    return count


@numba.njit(**_JIT)
def flow_signs(
    y, row_on, col_on, diagonal, row_positive, row_zero, col_positive, col_zero
):
    """Mark the zones with a modelled positive flow and those with a modelled zero flow.

    Flows are non-negative (checked). A cell is modelled when its origin (``row_on``)
    and destination (``col_on``) are active and it is not a self-pair (``diagonal``
    as in :func:`cost_checks`). The flags are set, never cleared.
    """
    r, n = y.shape
    for i in range(r):
        if not row_on[i]:
            continue
        a = y[i]
        own = diagonal + i if diagonal >= 0 else -1
        for j in range(n):
            if col_on[j] and j != own:
                if a[j] > 0.0:
                    row_positive[i] = True
                    col_positive[j] = True
                else:
                    row_zero[i] = True
                    col_zero[j] = True


@numba.njit(**_JIT)
def pair_signs(y, x, row_on, col_on, diagonal):
    """Signs of a pair regressor ``x`` on the modelled flows, for the separation check.

    Returns 1 as soon as ``x`` is nonzero on a modelled positive flow (then it does
    not separate), else the sum of 2 (``x > 0`` on some modelled zero flow) and 4
    (``x < 0`` on some). Cells as in :func:`flow_signs`.
    """
    r, n = y.shape
    signs = 0
    for i in range(r):
        if not row_on[i]:
            continue
        a, b = y[i], x[i]
        own = diagonal + i if diagonal >= 0 else -1
        for j in range(n):
            if not col_on[j] or j == own:
                continue
            if a[j] > 0.0:
                if b[j] != 0.0:
                    return 1
            elif b[j] > 0.0:
                signs |= 2
            elif b[j] < 0.0:
                signs |= 4
    return signs
