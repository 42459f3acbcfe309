"""Moran's I of origin-destination flows, global and local.

:func:`flow_morans_i` and :func:`local_flow_morans` on an ``(n, n)`` flow or residual
matrix with origin-, destination- or origin-destination-based weights
:cite:`chun2008modeling`, evaluated through matrix products on the ``(n, n)`` zone
weights (:mod:`._flow_system`), never building the ``(n^2, n^2)`` flow weights. The
global permutation null relabels zones (QAP) :cite:`hubert1987assignment` through the
compiled kernel in :mod:`._qap` (numba, imported only when permutations run); the
local null is esda's conditional randomisation over flows.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.moran._conditional import (
    ISLAND,
    cluster_labels,
    conditional_sims,
    draw_neighbour_slots,
    local_p_values,
    quadrants,
    significance,
)
from kzspatial.core.moran._flow_system import (
    FlowSystem,
    QAPEvaluator,
    flow_system,
    sandwich,
)
from kzspatial.core.moran._inference import (
    BATCH_ELEMENTS,
    Alternative,
    analytic_fields,
    check_level,
    check_options,
    freeze,
    make_rng,
    no_sim_fields,
    p_sim_alternative,
    permuted_indices,
    sim_fields,
    sim_moments,
)
from kzspatial.core.moran._results import FlowMoranResult, LocalFlowMoranResult
from kzspatial.core.weights import SpatialWeights, as_spatial_weights

__all__ = ["flow_morans_i", "local_flow_morans"]

_FLOW_KINDS = ("origin", "destination", "od")
_QAP_NULL = (
    "zone-label permutation (QAP): one permutation of zones applied to rows and "
    "columns of F"
)


# ----------------------------------------------------------------------------- inputs
def _check_flow_options(kind: str, diagonal: str, islands: str) -> None:
    problems = []
    if kind not in _FLOW_KINDS:
        problems.append(f"kind must be one of {_FLOW_KINDS}, got {kind!r}")
    if diagonal not in ("exclude", "include"):
        problems.append(f"diagonal must be 'exclude' or 'include', got {diagonal!r}")
    if islands not in ("raise", "keep"):
        problems.append(
            f"islands must be 'raise' or 'keep' for flows, got {islands!r} (dropping "
            "flows would break the zone-permutation null)"
        )
    if problems:
        raise ValidationError("; ".join(problems))


def _flow_matrix(F: ArrayLike, w: SpatialWeights, ids: Any) -> NDArray[np.float64]:
    """``F`` as a dense float64 ``(n, n)`` matrix in ``w.ids`` order."""
    flows = F.toarray() if sparse.issparse(F) else np.asarray(F, dtype=np.float64)
    flows = np.asarray(flows, dtype=np.float64)
    n = w.n
    if flows.ndim != 2 or flows.shape != (n, n):
        raise AlignmentError(
            f"F has shape {flows.shape} but the weights have {n} zones; pass an "
            f"(n, n) matrix with rows = origins and columns = destinations in w.ids "
            "order, or give ids="
        )
    if ids is None:
        return flows
    ids_t = tuple(ids)
    if len(ids_t) != n or set(ids_t) != set(w.ids) or len(set(ids_t)) != n:
        raise AlignmentError(
            f"ids of F do not match the weights ids: missing "
            f"{sorted(set(w.ids) - set(ids_t))[:10]}, not in weights "
            f"{sorted(set(ids_t) - set(w.ids))[:10]}"
        )
    position = {uid: k for k, uid in enumerate(ids_t)}
    order = np.array([position[u] for u in w.ids])
    return flows[np.ix_(order, order)]


def _check_flow_values(values: NDArray[np.float64], n: int) -> None:
    problems = []
    if n < 3:
        problems.append(f"flow Moran's I needs at least 3 zones, got {n}")
    if not np.all(np.isfinite(values)):
        problems.append(
            f"F has {int((~np.isfinite(values)).sum())} NaN/infinite values among the "
            "included flows; impute them or exclude the diagonal"
        )
    elif values.size and np.ptp(values) == 0:
        problems.append("F is constant over the included flows; Moran's I is undefined")
    if problems:
        raise ValidationError("; ".join(problems))


def _flow_inputs(
    F: ArrayLike,
    w: Any,
    ids: Any,
    kind: str,
    diagonal: str,
    transformation: str,
    islands: str,
) -> tuple[SpatialWeights, NDArray[np.float64], NDArray[np.bool_], FlowSystem]:
    """Return validated zone weights, flow matrix, mask of included flows, system."""
    w = as_spatial_weights(w)
    _check_flow_options(kind, diagonal, islands)
    flows = _flow_matrix(F, w, ids)
    n = w.n
    mask = np.ones((n, n), dtype=bool)
    if diagonal == "exclude":
        np.fill_diagonal(mask, False)
    _check_flow_values(flows[mask], n)
    system = flow_system(w, kind, transformation, mask)
    stranded = mask & (system.row_sums == 0)
    if stranded.any() and islands == "raise":
        oi, dj = np.nonzero(stranded)
        examples = [
            f"{w.ids[i]}->{w.ids[j]}" for i, j in zip(oi[:5], dj[:5], strict=True)
        ]
        raise ValidationError(
            f"{int(stranded.sum())} flows have no neighbouring flow under kind="
            f"{kind!r} (e.g. {examples}); zones with a single neighbour, such as "
            "enclaves, cause this when the diagonal is excluded. Use weights without "
            "one-neighbour zones (e.g. k-nearest neighbours with k >= 2), kind='od', "
            "or islands='keep' to keep them with a zero lag."
        )
    return w, flows, mask, system


# ----------------------------------------------------------------------------- global
def _thread_count(n_jobs: int | None, n_zones: int, permutations: int) -> int:
    """Threads for the flow permutations; small problems stay single-threaded."""
    if n_jobs is None:
        n_jobs = (os.cpu_count() or 1) if n_zones >= 100 else 1
    if int(n_jobs) < 1:
        raise ValidationError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    return max(1, min(int(n_jobs), permutations))


def qap_batches(
    generator: np.random.Generator, seed: int | None, n_zones: int, permutations: int
) -> list[tuple[int, np.random.SeedSequence]]:
    """Split the QAP null into batches: ``(count, seed sequence)`` each.

    Batches hold about ``BATCH_ELEMENTS`` permuted indices; batch ``k`` draws its
    permutations from the ``k``-th child of one ``SeedSequence`` (``seed``, or entropy
    drawn from a given ``generator``), so the draws do not depend on where or in which
    order the batches run: threads here, tasks on a cluster
    (:func:`kzspatial.distributed.flow_morans_i`) give the same values.
    """
    batch = max(1, min(permutations, BATCH_ELEMENTS // n_zones))
    counts = [min(batch, permutations - s) for s in range(0, permutations, batch)]
    if seed is None:
        root = np.random.SeedSequence(generator.integers(2**63, size=2).tolist())
    else:
        root = np.random.SeedSequence(seed)
    return list(zip(counts, root.spawn(len(counts)), strict=True))


def qap_batch(
    evaluate: Callable[[NDArray[np.intp]], NDArray[np.float64]],
    seed: np.random.SeedSequence,
    n_zones: int,
    count: int,
) -> NDArray[np.float64]:
    """Numerators ``z' W z`` of one batch of ``count`` zone permutations."""
    return evaluate(permuted_indices(np.random.default_rng(seed), n_zones, count))


def _qap_sims_threads(
    evaluate: QAPEvaluator,
    n_zones: int,
    batches: list[tuple[int, np.random.SeedSequence]],
    *,
    n_jobs: int | None,
) -> NDArray[np.float64]:
    """Numerators under the permutations of ``batches``, in order, in threads."""
    workers = _thread_count(n_jobs, n_zones, sum(count for count, _ in batches))
    with ThreadPoolExecutor(workers) as pool:

        def threaded(perms: NDArray[np.intp]) -> NDArray[np.float64]:
            # a permutation's value is computed alike in any thread, so the split
            # among threads does not change the results
            shares = np.array_split(perms, workers)
            return np.concatenate(list(pool.map(evaluate, shares)))

        return np.concatenate(
            [qap_batch(threaded, seed, n_zones, count) for count, seed in batches]
        )


def flow_morans_i(
    F: ArrayLike,
    w: Any,
    *,
    kind: Literal["origin", "destination", "od"] = "od",
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    diagonal: Literal["exclude", "include"] = "exclude",
    islands: Literal["raise", "keep"] = "raise",
    ids: ArrayLike | None = None,
    n_jobs: int | None = None,
) -> FlowMoranResult:
    r"""Global Moran's I of an origin-destination flow (or residual) matrix.

    Parameters
    ----------
    F : array_like or sparse, shape (n, n)
        Flow or residual matrix, ``F[i, j]`` from origin ``i`` to destination ``j``,
        rows and columns in ``w.ids`` order (or ``ids`` order). For migration use
        residuals of a fitted gravity model: raw flows are dominated by size and
        distance and are "autocorrelated" by construction.
    w : SpatialWeights, libpysal.graph.Graph or libpysal.weights.W
        Zone weights, shape (n, n), used as given (transform them first if wanted).
    kind : {"od", "origin", "destination"}, default "od"
        Flow weights (libpysal ``ODW`` convention, flow index ``i * n + j``):
        ``"origin"`` is ``W ⊗ I`` (flows to the same destination from neighbouring
        origins), ``"destination"`` is ``I ⊗ W`` (flows from the same origin to
        neighbouring destinations), ``"od"`` is ``W ⊗ W`` (origins neighbours and
        destinations neighbours), exactly ``libpysal.weights.ODW(w, w)``.
    permutations : int or None, default 999
        Zone-label permutations for ``p_sim``; None for analytic inference only.
    rng : numpy.random.Generator, int or None
        As in :func:`morans_i`.
    alternative : {"two-sided", "greater", "less", "directed"}, default "two-sided"
        As in :func:`~kzspatial.core.moran.morans_i`: ``p_sim`` is esda's one-sided
        pseudo p-value (in the stated direction for ``"greater"`` / ``"less"``),
        ``p_sim_two_sided`` the two-sided one.
    transformation : {"r", "b", "o"}, default "r"
        Applied to the flow weights after excluded flows are removed (``"r"``
        row-standardises them, as ``ODW`` does).
    diagonal : {"exclude", "include"}, default "exclude"
        Whether intra-zonal flows ``F[i, i]`` take part (excluded values may be NaN).
    islands : {"raise", "keep"}, default "raise"
        Flows without neighbouring flows raise, or are kept with zero lag.
    ids : array_like of str, shape (n,), optional
        Zone ids of ``F``'s rows/columns; ``F`` is aligned to ``w.ids`` by id.
    n_jobs : int, optional
        Threads evaluating permutations (default: every CPU for 100 zones or more, one
        below). The permutations are drawn in batches, each from its own child of one
        ``SeedSequence`` (:func:`qap_batches`), so results do not depend on ``n_jobs``
        and equal those of :func:`kzspatial.distributed.flow_morans_i` with the same
        ``rng``; the compiled kernel releases the GIL.

    Returns
    -------
    FlowMoranResult

    Raises
    ------
    AlignmentError
        ``F`` is not ``(n, n)`` for the ``n`` zones of ``w`` or ids differ.
    ValidationError
        Fewer than 3 zones, NaN or constant flows, flow islands under ``"raise"``,
        non-positive ``permutations``, unknown options.

    Notes
    -----
    The spatial lag of all flows is :math:`G \circ (A Z B^\top)` on the zone
    weights (``Z`` the centred included flows, ``A = W, B = I`` for origin,
    ``A = I, B = W`` for destination, ``A = B = W`` for od, ``G`` the row
    standardisation); ``s0``, ``s1``, ``s2`` follow in closed form, so the analytic
    moments cost O(n^2 k) instead of the O(n^4)-sized flow weights.

    **Inference.** ``p_norm`` / ``p_rand`` are the usual analytic normality and
    randomisation p-values over the ``N`` flows (identical to ``esda.Moran`` on
    ``ODW``); they treat flows as exchangeable, which raw flows are not. ``p_sim``
    uses a **zone-label permutation (QAP) null**: the same random permutation of
    zones is applied to the rows and columns of ``F``, so each zone keeps its whole
    row and column of flows (origin and destination effects, the diagonal and the
    OD structure survive) and only the geography of the zones is randomised
    :cite:`hubert1987assignment`. On gravity residuals this null is calibrated; on raw
    flows it rejects because geography drives flow size. The default alternative is
    two-sided (``p_sim_two_sided``); use ``"greater"`` for the one-sided test of
    positive autocorrelation (then ``p_sim``).
    """
    return flow_moran_result(
        F,
        w,
        kind=kind,
        permutations=permutations,
        rng=rng,
        alternative=alternative,
        transformation=transformation,
        diagonal=diagonal,
        islands=islands,
        ids=ids,
        simulate=functools.partial(_qap_sims_threads, n_jobs=n_jobs),
    )


def flow_moran_result(
    F: ArrayLike,
    w: Any,
    *,
    kind: str,
    permutations: int | None,
    rng: np.random.Generator | int | None,
    alternative: Alternative,
    transformation: str,
    diagonal: str,
    islands: str,
    ids: ArrayLike | None,
    simulate: Callable[..., NDArray[np.float64]],
) -> FlowMoranResult:
    """Compute :func:`flow_morans_i` with the permutations run by ``simulate``.

    ``simulate(evaluate, n_zones, batches)`` returns the numerators of the batches of
    :func:`qap_batches`, in order (in threads here, as Dask tasks in
    :mod:`kzspatial.distributed`).
    """
    check_options(permutations, alternative, transformation)
    w, flows, mask, system = _flow_inputs(
        F, w, ids, kind, diagonal, transformation, islands
    )
    n_zones = w.n
    values = flows[mask]
    N = int(values.size)
    Z = np.where(mask, flows - values.mean(), 0.0)
    z = Z[mask]
    s0, s1, s2 = system.moments()
    evaluate = QAPEvaluator(system, Z)
    scale = N / s0 / float(z @ z)
    # the identity permutation gives the observed numerator z' W z
    value = scale * float(evaluate(np.arange(n_zones)[None, :])[0])
    fields, seed = no_sim_fields(), None
    if permutations is not None:
        generator, seed = make_rng(rng)
        batches = qap_batches(generator, seed, n_zones, permutations)
        sim = scale * simulate(evaluate, n_zones, batches)
        fields = sim_fields(value, sim, alternative)
    return FlowMoranResult(
        I=float(value),
        **analytic_fields(value, N, (s0, s1, s2), z, alternative),
        n=N,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=(),
        null=_QAP_NULL,
        kind=kind,
        diagonal=diagonal,
        n_zones=n_zones,
        island_flows=int((mask & (system.row_sums == 0)).sum()),
        s0=s0,
        s1=s1,
        s2=s2,
        **fields,
    )


# ----------------------------------------------------------------------------- local
def _flow_weight_rows(
    system: FlowSystem, origins: NDArray[np.int64], compact: NDArray[np.int64]
) -> tuple[sparse.csr_array, NDArray[np.int64]]:
    """Explicit flow-weight rows for the included flows leaving ``origins``.

    Returns the rows (columns indexed by compact flow number) and the compact
    numbers of the focal flows. Only ``len(origins) * n`` rows exist at a time.
    """
    n = system.G.shape[0]
    block = sparse.kron(system.A[origins], system.B, format="csr")
    focal_full = (origins[:, None] * n + np.arange(n)).ravel()
    keep_rows = compact[focal_full] >= 0
    block = block[np.flatnonzero(keep_rows)].tocoo()
    col = compact[block.col]
    ok = col >= 0
    focal = compact[focal_full[keep_rows]]
    scale = system.G.ravel()[focal_full[keep_rows]]
    rows = sparse.csr_array(
        (block.data[ok] * scale[block.row[ok]], (block.row[ok], col[ok])),
        shape=(focal.size, int(compact.max()) + 1),
    )
    return rows, focal


def _local_flow_sims(
    system: FlowSystem,
    mask: NDArray[np.bool_],
    z: NDArray[np.float64],
    local_i: NDArray[np.float64],
    scale: float,
    generator: np.random.Generator,
    permutations: int,
    alternative: str,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pseudo p-values and simulation moments of every included flow.

    Returns ``p`` of shape (2, N) (``p_sim``, ``p_sim_two_sided``) and the five
    :func:`sim_moments` of shape (5, N), in the order of the included flows.
    """
    n = mask.shape[0]
    N = z.size
    compact = np.full(n * n, -1, dtype=np.int64)
    compact[np.flatnonzero(mask.ravel())] = np.arange(N)
    cardinality = np.where(
        mask,
        sandwich(
            (system.A != 0).astype(np.float64).tocsr(),
            mask.astype(np.float64),
            (system.B != 0).astype(np.float64).tocsr(),
        ),
        0,
    )
    max_card = max(1, round(cardinality.max()))
    slots = draw_neighbour_slots(generator, N, min(max_card, N - 1), permutations)
    observed = local_i.ravel()[np.flatnonzero(mask.ravel())]
    p = np.full((2, N), np.nan)
    moments = np.full((5, N), np.nan)
    # bound the (flows in block, permutations) simulation array
    step = max(1, BATCH_ELEMENTS // (n * permutations))
    for lo in range(0, n, step):
        origins = np.arange(lo, min(lo + step, n))
        rows, focal = _flow_weight_rows(system, origins, compact)
        sims = conditional_sims(rows, focal, z, z, slots, scale)
        obs = observed[focal]
        p[:, focal] = local_p_values(obs, sims.T, p_sim_alternative(alternative))
        moments[:, focal] = np.vstack(sim_moments(obs, sims.T, alternative))
    return p, moments


def local_flow_morans(
    F: ArrayLike,
    w: Any,
    *,
    kind: Literal["origin", "destination", "od"] = "od",
    permutations: int = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    diagonal: Literal["exclude", "include"] = "exclude",
    islands: Literal["raise", "keep"] = "raise",
    ids: ArrayLike | None = None,
    alpha: float = 0.05,
    fdr: float | None = None,
) -> LocalFlowMoranResult:
    """Local Moran's I of every flow, with conditional-permutation pseudo p-values.

    Parameters
    ----------
    F, w, kind, transformation, diagonal, islands, ids
        As in :func:`flow_morans_i`.
    permutations : int, default 999
        Conditional permutations per flow (positive).
    rng, alternative, alpha, fdr
        As in :func:`local_morans`.

    Returns
    -------
    LocalFlowMoranResult
        ``(n, n)`` matrices; ``Is`` equals ``esda.Moran_Local`` on ``ODW``.

    Raises
    ------
    AlignmentError, ValidationError
        As in :func:`flow_morans_i`.

    Notes
    -----
    The local statistics come from one implicit lag (matrix products). The null is
    esda's conditional randomisation over flows: the focal flow is fixed and its
    neighbours' values are drawn from the other included flows. Flow-weight rows
    are formed one block of origins at a time, never as a whole; the cost is
    O(N * permutations * cardinality): well under a second for the 380 regional
    flows, and growing linearly with the number of flows beyond that.
    """
    check_options(permutations, alternative, transformation, allow_none=False)
    check_level(alpha, "alpha")
    check_level(fdr, "fdr")
    w, flows, mask, system = _flow_inputs(
        F, w, ids, kind, diagonal, transformation, islands
    )
    n = w.n
    values = flows[mask]
    N = values.size
    z = (values - values.mean()) / values.std()
    Z = np.zeros((n, n))
    Z[mask] = z
    lag = system.lag(Z)
    scale = (N - 1) / float(z @ z)
    local_i = scale * Z * lag
    generator, seed = make_rng(rng)
    p_flat, moments = _local_flow_sims(
        system, mask, z, local_i, scale, generator, permutations, alternative
    )
    island = mask & (system.row_sums == 0)

    def as_matrix(flat: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.full((n, n), np.nan)
        out[mask] = flat
        return out

    p_sim, p_two = as_matrix(p_flat[0]), as_matrix(p_flat[1])
    p_sim[island] = np.nan
    p_two[island] = np.nan
    q = np.where(mask, quadrants(Z, lag), 0)
    q[island] = 0
    significant = np.zeros((n, n), dtype=bool)
    significant[mask] = significance(p_sim[mask], p_two[mask], alternative, alpha, fdr)
    labels = np.where(mask, cluster_labels(q, significant), "")
    labels[island] = ISLAND
    local_i = np.where(mask, local_i, np.nan)
    ei_s, vi_s, se_s, z_s, pz_s = (as_matrix(m) for m in moments)
    freeze(local_i, q, p_sim, p_two, significant, labels, ei_s, vi_s, se_s, z_s, pz_s)
    return LocalFlowMoranResult(
        ids=w.ids,
        kind=kind,
        diagonal=diagonal,
        Is=local_i,
        q=q.astype(np.int64),
        p_sim=p_sim,
        p_sim_two_sided=p_two,
        EI_sim=ei_s,
        VI_sim=vi_s,
        seI_sim=se_s,
        z_sim=z_s,
        p_z_sim=pz_s,
        significant=significant,
        labels=labels,
        alpha=alpha,
        fdr=fdr,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        null="conditional randomisation over the included flows",
    )
