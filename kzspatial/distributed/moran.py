"""Flow Moran's I with the permutation batches as tasks on a Dask cluster.

:func:`flow_morans_i` is :func:`kzspatial.core.moran.flow_morans_i` with its
zone-label permutations (QAP) run as one task per batch. The batches and their seeds
are those of the in-process path (:func:`kzspatial.core.moran.flow.qap_batches`: one
``SeedSequence`` spawned per batch), so the result is identical for any number of
workers and equal to the in-process result with the same ``rng``. The permutation
evaluator (the centred flows and the sparse zone weights) is sent to every worker
once; each task returns one batch's numerators.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from distributed import Client, get_client
from numpy.typing import ArrayLike, NDArray

from kzspatial.core.moran._flow_system import QAPEvaluator
from kzspatial.core.moran._inference import Alternative
from kzspatial.core.moran._results import FlowMoranResult
from kzspatial.core.moran.flow import flow_moran_result, qap_batch

__all__ = ["flow_morans_i"]


def flow_morans_i(
    F: ArrayLike,
    w: Any,
    *,
    client: Client | None = None,
    kind: Literal["origin", "destination", "od"] = "od",
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    diagonal: Literal["exclude", "include"] = "exclude",
    islands: Literal["raise", "keep"] = "raise",
    ids: ArrayLike | None = None,
) -> FlowMoranResult:
    """Global Moran's I of a flow matrix, permutation batches on a Dask cluster.

    Parameters
    ----------
    F : array_like, sparse or dask.array.Array, shape (n, n)
        Flow or residual matrix (a Dask array, e.g. ``fit.pearson_resid`` of
        :func:`kzspatial.distributed.fit_gravity`, is computed here: the statistic
        needs the ``n x n`` matrix in one place).
    w, kind, permutations, rng, alternative, transformation, diagonal, islands, ids
        As in :func:`kzspatial.core.moran.flow_morans_i`.
    client : distributed.Client, optional
        Default: the current client.

    Returns
    -------
    FlowMoranResult
        Identical to ``kzspatial.flow_morans_i`` with the same arguments and ``rng``.
    """
    client = get_client() if client is None else client
    if hasattr(F, "__dask_graph__"):
        F = F.compute()

    def simulate(
        evaluate: QAPEvaluator,
        n_zones: int,
        batches: list[tuple[int, np.random.SeedSequence]],
    ) -> NDArray[np.float64]:
        shared = client.scatter(evaluate, broadcast=True, hash=False)
        futures = [
            client.submit(qap_batch, shared, seed, n_zones, count, pure=False)
            for count, seed in batches
        ]
        return np.concatenate(client.gather(futures))

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
        simulate=simulate,
    )
