"""Implicit origin-destination flow weights and the zone-permutation (QAP) evaluator.

Flow weights ``w[(i,j),(k,l)] = G_ij A_ik B_jl`` (libpysal ``ODW`` convention
:cite:`chun2008modeling`) are never built as an ``(n^2, n^2)`` matrix: lags and the
weight sums ``s0``, ``s1``, ``s2`` are matrix products on the ``(n, n)`` zone weights.
:class:`QAPEvaluator` prepares what the compiled kernel in :mod:`._qap` needs to
evaluate zone relabellings of a flow field; numba is imported only when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from kzspatial.core.weights import SpatialWeights

__all__ = ["FlowSystem", "QAPEvaluator", "flow_system", "sandwich"]


@dataclass(frozen=True, eq=False)
class FlowSystem:
    """Implicit flow weights ``w[(i,j),(k,l)] = G_ij A_ik B_jl`` on included flows.

    ``A`` and ``B`` are the origin- and destination-side zone matrices (identity for
    destination- and origin-based weights); ``G`` holds the per-flow row scaling
    (0 for excluded flows and islands); ``mask`` marks included flows.
    """

    A: sparse.csr_array
    B: sparse.csr_array
    G: NDArray[np.float64]
    mask: NDArray[np.bool_]
    row_sums: NDArray[np.float64]  # raw (untransformed) flow-weight row sums

    def lag(self, Z: NDArray[np.float64]) -> NDArray[np.float64]:
        """Spatial lag of an ``(n, n)`` field that is zero on excluded flows."""
        return self.G * sandwich(self.A, Z, self.B)

    def moments(self) -> tuple[float, float, float]:
        """s0, s1, s2 of the implicit flow weights in closed form."""
        A, B, G, M = self.A, self.B, self.G, self.mask.astype(np.float64)
        s0 = float(np.sum(G * self.row_sums))
        squares = float(
            np.sum(G * G * sandwich(A.multiply(A).tocsr(), M, B.multiply(B).tocsr()))
        )
        sym_a = A.multiply(A.T).tocsr()
        sym_b = B.multiply(B.T).tocsr()
        cross = float(np.sum(G * sandwich(sym_a, G, sym_b)))
        row = G * self.row_sums
        col = M * sandwich(A.T.tocsr(), G, B.T.tocsr())
        s2 = float(np.sum((row + col) ** 2))
        return s0, squares + cross, s2


def sandwich(
    A: sparse.csr_array, X: NDArray[np.float64], B: sparse.csr_array
) -> NDArray[np.float64]:
    """Compute ``A @ X @ B.T`` for sparse ``A``, ``B`` and dense ``X`` (all (n, n))."""
    left = A @ X
    return np.ascontiguousarray((B @ left.T).T)


def flow_system(
    w: SpatialWeights, kind: str, transformation: str, mask: NDArray[np.bool_]
) -> FlowSystem:
    """Implicit flow weights of ``kind`` on the flows in ``mask``."""
    zone = w.sparse if transformation != "b" else w.transform("b").sparse
    eye = sparse.identity(w.n, format="csr", dtype=np.float64)
    A = sparse.csr_array(zone if kind in ("origin", "od") else eye)
    B = sparse.csr_array(zone if kind in ("destination", "od") else eye)
    M = mask.astype(np.float64)
    row_sums = M * sandwich(A, M, B)
    if transformation == "r":
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.where(row_sums > 0, M / row_sums, 0.0)
    else:
        G = M
    return FlowSystem(A, B, G, mask, row_sums)


class QAPEvaluator:
    r"""Fast ``sum(G * Zp * (A Zp B'))`` for zone-relabelled fields ``Zp = Z[p][:, p]``.

    Relabelling the zones of the field is the same as relabelling the zone matrices,
    so the dense field is never permuted: with ``G = g h' + E``,

    .. math::

        \sum G \circ Z_p \circ (A Z_p B^\top)
        = \operatorname{tr}(Z^\top \tilde A_p Z \tilde B_p^\top)
          + \sum_{(a,b) \in E_p} E_{p,ab} Z_{ab} (A_p Z B_p^\top)_{ab},

    where ``~A = diag(g) A``, ``~B = diag(h) B`` and ``X_p`` moves entry ``(i, k)``
    of ``X`` to ``(p[i], p[k])``. The rank-one part ``g h'`` is exact when all flows
    are included; ``E`` corrects the pairs whose row sums lose a neighbour to the
    excluded diagonal and is sparse (it lives on the support of ``A B'``).

    Cost per permutation: O(n^2 k) flops in the compiled kernel
    :func:`kzspatial.core.moran._qap.qap_numerators`, which fuses the two sparse-times-dense
    products and writes nothing of size ``n x n``.
    """

    def __init__(self, system: FlowSystem, Z: NDArray[np.float64]) -> None:
        A, B, G = system.A, system.B, system.G
        n = G.shape[0]
        self.Z = np.ascontiguousarray(Z)
        self.Zt = np.ascontiguousarray(Z.T)
        a = np.asarray(A.sum(axis=1)).ravel()
        b = np.asarray(B.sum(axis=1)).ravel()
        if np.array_equal(G, system.mask.astype(np.float64)):  # "o"/"b"
            g, h = np.ones(n), np.ones(n)
        else:  # "r": row sums are a_i b_j except where the diagonal was excluded
            with np.errstate(divide="ignore"):
                g = np.where(a > 0, 1.0 / a, 0.0)
                h = np.where(b > 0, 1.0 / b, 0.0)
        self.a_scaled = _csr_parts(sparse.diags_array(g) @ A)
        self.b_scaled = _csr_parts(sparse.diags_array(h) @ B)
        # correction E = G - g h' off the diagonal (Z is zero on the diagonal when it
        # is excluded, so diagonal entries never contribute), grouped by origin zone
        support = sparse.csr_array(A @ B.T)
        support.sort_indices()
        support = support.tocoo()
        off = support.row != support.col
        ei, ej = support.row[off], support.col[off]
        evals = G[ei, ej] - g[ei] * h[ej]
        keep = np.abs(evals) > 0
        ei, ej, evals = ei[keep], ej[keep], evals[keep]
        # expand each entry over the nonzeros of B's row j:
        # (A Zp B')_ij = sum_m B_jm (A Zp)_im, and (A Zp)_i. = X_i. / g_i
        B_csr = sparse.csr_array(B)
        counts = np.diff(B_csr.indptr)[ej]
        rep = np.repeat(np.arange(ei.size), counts)
        offsets = np.arange(rep.size) - np.repeat(np.cumsum(counts) - counts, counts)
        pos = B_csr.indptr[ej][rep] + offsets
        self.correction = (
            np.concatenate(([0], np.cumsum(np.bincount(ei, minlength=n)))),
            ej.astype(np.int64),
            np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
            B_csr.indices[pos].astype(np.int64),
            evals[rep] * B_csr.data[pos] / g[ei][rep],
        )

    def __call__(self, perms: NDArray[np.intp]) -> NDArray[np.float64]:
        """Numerators ``z' W z`` for the fields ``Z[p][:, p]``, one per row ``p``."""
        # numba is imported only here, when a permutation actually runs
        from kzspatial.core.moran._qap import qap_numerators

        return qap_numerators(
            self.Z,
            self.Zt,
            self.a_scaled,
            self.b_scaled,
            self.correction,
            np.ascontiguousarray(perms, dtype=np.int64),
        )


def _csr_parts(
    mat: Any,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """``(indptr, indices, data)`` of ``mat`` in CSR with int64 indices."""
    csr = sparse.csr_array(mat)
    return (
        csr.indptr.astype(np.int64),
        csr.indices.astype(np.int64),
        np.ascontiguousarray(csr.data, dtype=np.float64),
    )
