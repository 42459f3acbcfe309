"""Compiled kernels behind the block passes of the PPML gravity fit (:mod:`.blocks`).

Each kernel is one sweep over one year of a block of origin rows, ``(rows, n)``
arrays: it reads every flow-shaped array once, row by row, and does all the work of
its pass while the row is in the first-level cache, where the NumPy passes they
replaced swept the block several times and wrote temporaries of its shape (the
moments pass made about eight sweeps). Only ``n``-vectors and ``p x p`` matrices are
written besides the flows themselves.

Results are deterministic: ``fastmath`` is off, so every sum is added in the order
written here, in every run and on every worker. Sums along a row run in eight
interleaved lanes (:func:`_sum`, :func:`_dot`, :func:`_dot3`), combined in a fixed
order at the end of the row: independent lanes let the compiler use SIMD and hide
the latency of the additions without reordering any of them. They round differently
from NumPy's pairwise sums, by a few units in the last place.

The kernels are compiled on first use and cached on disk (``cache=True``); numba is
imported only when a pass runs (:func:`kzspatial.core.gravity.blocks._compiled`).
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}  # fastmath off: IEEE semantics, fixed order


@numba.njit(inline="always")
def _sum(a, n):
    """``sum(a[:n])`` in eight lanes, combined pairwise."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 += a[j]
        s1 += a[j + 1]
        s2 += a[j + 2]
        s3 += a[j + 3]
        s4 += a[j + 4]
        s5 += a[j + 5]
        s6 += a[j + 6]
        s7 += a[j + 7]
    for j in range(m, n):
        s0 += a[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit(inline="always")
def _dot(a, b, n):
    """``sum(a[:n] * b[:n])`` in eight lanes, combined pairwise."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 += a[j] * b[j]
        s1 += a[j + 1] * b[j + 1]
        s2 += a[j + 2] * b[j + 2]
        s3 += a[j + 3] * b[j + 3]
        s4 += a[j + 4] * b[j + 4]
        s5 += a[j + 5] * b[j + 5]
        s6 += a[j + 6] * b[j + 6]
        s7 += a[j + 7] * b[j + 7]
    for j in range(m, n):
        s0 += a[j] * b[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit(inline="always")
def _dot3(a, b, c, n):
    """``sum(a[:n] * b[:n] * c[:n])`` in eight lanes, combined pairwise."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = n - n % 8
    for j in range(0, m, 8):
        s0 += a[j] * b[j] * c[j]
        s1 += a[j + 1] * b[j + 1] * c[j + 1]
        s2 += a[j + 2] * b[j + 2] * c[j + 2]
        s3 += a[j + 3] * b[j + 3] * c[j + 3]
        s4 += a[j + 4] * b[j + 4] * c[j + 4]
        s5 += a[j + 5] * b[j + 5] * c[j + 5]
        s6 += a[j + 6] * b[j + 6] * c[j + 6]
        s7 += a[j + 7] * b[j + 7] * c[j + 7]
    for j in range(m, n):
        s0 += a[j] * b[j] * c[j]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@numba.njit(**_JIT)
def linear_predictor(pair, theta, row_offset, col_offset, out):
    """Write ``eta = sum_k theta_k x_k + a_i + b_j`` into ``out``.

    Parameters
    ----------
    pair : tuple of ndarray, shape (r, n)
        The pair regressors of one year of the block.
    theta : ndarray, shape (len(pair),)
        Their coefficients.
    row_offset, col_offset : ndarray, shapes (r,) and (n,)
        ``alpha`` plus the origin covariates' term, ``delta`` plus the destination
        covariates' term.
    out : ndarray, shape (r, n)
    """
    rows, n = out.shape
    for i in range(rows):
        o = out[i]
        x = pair[0][i]
        t = theta[0]
        for j in range(n):
            o[j] = t * x[j]
        for k in range(1, len(pair)):
            x = pair[k][i]
            t = theta[k]
            for j in range(n):
                o[j] += t * x[j]
        a = row_offset[i]
        for j in range(n):
            o[j] = (o[j] + a) + col_offset[j]


@numba.njit(**_JIT)
def exclude_and_sum(row_on, col_on, diagonal, out, rows, cols):
    """Zero the cells of ``out`` outside the model, then sum its rows and columns.

    Parameters
    ----------
    row_on, col_on : ndarray of bool, shapes (r,) and (n,)
        Active origins of the block and active destinations.
    diagonal : int
        Column of the block's first self-pair (its first row's zone), or -1 when
        self-pairs are modelled.
    out : ndarray, shape (r, n)
        Fitted flows, changed in place.
    rows : ndarray, shape (r,)
        Receives the row sums.
    cols : ndarray, shape (n,)
        The column sums are added to it.
    """
    r, n = out.shape
    for i in range(r):
        o = out[i]
        if not row_on[i]:
            o[:] = 0.0
            rows[i] = 0.0
            continue
        for j in range(n):
            o[j] = o[j] if col_on[j] else 0.0
        if diagonal >= 0:
            o[diagonal + i] = 0.0
        rows[i] = _sum(o, n)
        for j in range(n):
            cols[j] += o[j]


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


@numba.njit(**_JIT)
def moments(w, pair, origin, destination, row_total, col_total, row, col, gram):
    """Weighted first and second moments of the regressors, one sweep over ``w``.

    The regressors are ``p = kp + ko + kd`` columns: the pair regressors, the origin
    covariates (constant along a row) and the destination covariates (constant down
    a column). Everything flow-shaped is read once; the zone covariates' parts of the
    Gram matrix follow from the margins afterwards.

    Parameters
    ----------
    w : ndarray, shape (r, n)
        Weights of one year of the block (fitted flows, residuals, ...).
    pair : tuple of kp ndarray, shape (r, n)
    origin : ndarray, shape (r, ko)
    destination : ndarray, shape (n, kd)
    row_total : ndarray, shape (r,)
        Receives ``sum_j w``.
    col_total : ndarray, shape (n,)
        Receives ``sum_i w`` over the block's rows.
    row : ndarray, shape (r, p)
        Receives ``sum_j w x``.
    col : ndarray, shape (n, p)
        Receives ``sum_i w x`` over the block's rows.
    gram : ndarray, shape (p, p)
        ``sum w x x'`` is added to its upper triangle.
    """
    r, n = w.shape
    kp, ko, kd = len(pair), origin.shape[1], destination.shape[1]
    zo, zd = kp, kp + ko  # first column of the origin / destination covariates
    dest_t = np.ascontiguousarray(destination.T)
    sums = np.zeros((kp + ko + 1, n))  # column sums: pair, origin covariates, w
    for i in range(r):
        o = w[i]
        total = _sum(o, n)
        row_total[i] = total
        c = sums[kp + ko]
        for j in range(n):
            c[j] += o[j]
        for q in range(ko):
            xq = origin[i, q]
            c = sums[kp + q]
            for j in range(n):
                c[j] += o[j] * xq
            row[i, zo + q] = total * xq
        for q in range(kd):
            row[i, zd + q] = _dot(o, dest_t[q], n)
        for k in range(kp):
            x = pair[k][i]
            c = sums[k]
            for j in range(n):
                c[j] += o[j] * x[j]
            row[i, k] = _dot(o, x, n)
            for m in range(k, kp):
                gram[k, m] += _dot3(o, x, pair[m][i], n)
    for j in range(n):
        col_total[j] = sums[kp + ko, j]
        for k in range(kp + ko):
            col[j, k] = sums[k, j]
        for q in range(kd):
            col[j, zd + q] = col_total[j] * destination[j, q]
    # the Gram entries of the zone covariates, from the margins
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
