"""Compiled kernel behind the zone-relabelling (QAP) null of flow Moran's I.

Each permutation needs ``sum_ij Z_ij (A_p Z B_p^T)_ij`` for sparse zone matrices
``A``, ``B`` relabelled by the permutation, plus a sparse correction. With scipy this
is two sparse-times-dense products that write and re-read two dense ``n x n``
arrays; here the products are fused row block by row block so that nothing of size
``n x n`` is written, the second product runs over the block's rows in contiguous
SIMD lanes, and one call evaluates a whole batch of permutations (no per-permutation
Python overhead, which dominates at 20 zones). Measured in
``benchmarks/results/flow_moran.md``.

The functions are compiled on first use and cached on disk (``cache=True``), so the
compilation (a few seconds) happens once per installation, not once per run. They
release the GIL, so threads evaluate disjoint batches in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

# origin rows per block: the block's rows of A_p Z, transposed, are the SIMD lanes of
# the second product; 32 rows of 1,000 zones (256 kB) still sit in L2
_BLOCK_ROWS = 32
# reassociation lets the reductions vectorise; no assumptions about NaN or infinity
_FASTMATH = {"reassoc", "contract"}


@numba.njit(cache=True, nogil=True)
def _relabel(ptr, idx, val, perm, inverse, out_ptr, out_idx, out_val):
    """CSR of the matrix with entry ``(i, k)`` moved to ``(perm[i], perm[k])``."""
    out_ptr[0] = 0
    pos = 0
    for row in range(ptr.size - 1):
        source = inverse[row]
        for e in range(ptr[source], ptr[source + 1]):
            out_idx[pos] = perm[idx[e]]
            out_val[pos] = val[e]
            pos += 1
        out_ptr[row + 1] = pos


@numba.njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _numerator(
    Z, Zt, perm, inverse, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, corr, xr, xb, acc
):
    """``sum_ij Z_ij (A_p Z B_p^T)_ij`` plus the correction, for one permutation."""
    c_ptr, c_col, c_term_ptr, c_zone, c_coef = corr
    n = Z.shape[0]
    block = xr.shape[0]
    total = 0.0
    for r0 in range(0, n, block):
        rows = min(block, n - r0)
        for t in range(rows):
            r = r0 + t
            x = xr[t]  # row r of X = A_p Z
            x[:] = 0.0
            for e in range(a_ptr[r], a_ptr[r + 1]):
                z_row = Z[a_idx[e]]
                weight = a_val[e]
                for m in range(n):
                    x[m] += weight * z_row[m]
            # correction entries of the zone that now carries label r
            a = inverse[r]
            for e in range(c_ptr[a], c_ptr[a + 1]):
                s = 0.0
                for f in range(c_term_ptr[e], c_term_ptr[e + 1]):
                    s += c_coef[f] * x[perm[c_zone[f]]]
                total += Z[r, perm[c_col[e]]] * s
        for m in range(n):
            for t in range(rows):
                xb[m, t] = xr[t, m]
        for j in range(n):
            acc[:] = 0.0
            for f in range(b_ptr[j], b_ptr[j + 1]):
                weight = b_val[f]
                lanes = xb[b_idx[f]]
                for t in range(block):
                    acc[t] += weight * lanes[t]
            z_col = Zt[j]
            for t in range(rows):
                total += z_col[r0 + t] * acc[t]
    return total


@numba.njit(cache=True, nogil=True)
def qap_numerators(Z, Zt, a, b, corr, perms):
    """Numerators ``z_p' W z_p`` of flow Moran's I for each row of ``perms``.

    Parameters
    ----------
    Z, Zt : ndarray, shape (n, n)
        Centred flow field (zero on excluded flows) and its C-contiguous transpose.
    a, b : tuple of (indptr, indices, data)
        CSR of ``diag(g) A`` and ``diag(h) B``, int64 indices.
    corr : tuple of five arrays
        Correction ``E = G - g h'`` grouped by origin zone ``a``: ``ptr`` (n + 1),
        ``col`` (destination ``b`` per entry), ``term_ptr`` (entries + 1), ``zone``
        and ``coef`` (the ``m`` and ``E_ab B_bm / g_a`` of each term).
    perms : ndarray of int64, shape (count, n)

    Returns
    -------
    ndarray, shape (count,)
    """
    n = Z.shape[0]
    a_ptr, a_idx, a_val = a
    b_ptr, b_idx, b_val = b
    ap, ai, av = np.empty_like(a_ptr), np.empty_like(a_idx), np.empty_like(a_val)
    bp, bi, bv = np.empty_like(b_ptr), np.empty_like(b_idx), np.empty_like(b_val)
    block = min(_BLOCK_ROWS, n)
    xr = np.empty((block, n))
    xb = np.zeros((n, block))  # a short last block leaves lanes unused, never NaN
    acc = np.empty(block)
    inverse = np.empty(n, np.int64)
    out = np.empty(perms.shape[0])
    for s in range(perms.shape[0]):
        perm = perms[s]
        for i in range(n):
            inverse[perm[i]] = i
        _relabel(a_ptr, a_idx, a_val, perm, inverse, ap, ai, av)
        _relabel(b_ptr, b_idx, b_val, perm, inverse, bp, bi, bv)
        out[s] = _numerator(
            Z, Zt, perm, inverse, ap, ai, av, bp, bi, bv, corr, xr, xb, acc
        )
    return out
