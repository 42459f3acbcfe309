"""The Dask runner of the gravity engine: the block passes as tasks on a cluster.

The core engine (:mod:`kzspatial.core.gravity`) reaches every flow-shaped array through
its design's runner. :class:`DaskRunner` is that runner on a ``dask.distributed``
client: the flows, the decay regressor and the fitted flows ``mu`` are
:class:`BlockedFlows`, one future per block of origin rows held by the workers; a pass
submits the core's pure block function once per block and reduces the statistics with
the core's ``_combine`` in a task, in block order, so that only the reduced n-vectors
and ``p x p`` matrices reach the client. The numbers are those of the in-process
engine with the same ``chunk_rows``: same functions, same blocks, same order of the
reduction.

A block function marked as writing its first argument (``_writes``) gets a copy (or a
new array) on the worker and the new block replaces the old future: worker data is
never changed in place, so spilling, retries and replicas stay correct.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numpy as np
from distributed import Client, Future

from kzspatial.core.gravity.blocks import _LOCAL, _combine, _Design, _LocalRunner

# shared arguments larger than this are scattered once per pass instead of being
# embedded in every task
_SCATTER_BYTES = 1 << 20


class BlockedFlows:
    """A flow-shaped ``(n_years, n, n)`` array held by the workers as row blocks.

    Parameters
    ----------
    blocks : list of distributed.Future or None
        One future per block of origin rows, in order; None for not yet written.
    spans : tuple of slice
        The origin rows of each block.
    shape : tuple of int
    """

    ndim = 3
    dtype = np.dtype(np.float64)

    def __init__(
        self,
        blocks: list[Future | None],
        spans: tuple[slice, ...],
        shape: tuple[int, int, int],
    ) -> None:
        self.blocks = blocks
        self.spans = spans
        self.shape = shape

    def __getitem__(self, key: tuple[slice, slice]) -> Future | None:
        """Return the future of the block whose rows are ``key[1]`` (a design's cut)."""
        return self.blocks[self.spans.index(key[1])]

    def to_dask(self) -> da.Array:
        """Return the flows as a Dask array chunked by the blocks, computing nothing."""
        return da.concatenate(
            [
                da.from_delayed(
                    # the future as an argument of a task: the array's graph holds it,
                    # so the block lives as long as the array
                    dask.delayed(_held, pure=False)(block),
                    shape=(self.shape[0], rows.stop - rows.start, self.shape[2]),
                    dtype=np.float64,
                )
                for block, rows in zip(self.blocks, self.spans, strict=True)
            ],
            axis=1,
        )


def _held(block: np.ndarray) -> np.ndarray:
    return block


def _run_block(
    block_fn: Callable[..., Any],
    template: _Design,
    y: np.ndarray,
    pair: list[np.ndarray],
    args: list[Any],
    shared: dict[str, Any],
) -> Any:
    """Run a core block function on a worker, on the block's design rebuilt there."""
    block = dataclasses.replace(template, y=y, pair=tuple(pair))
    mode = getattr(block_fn, "writes", None)
    if mode == "overwrite":
        args[0] = np.empty(y.shape)
    elif mode == "update":
        args[0] = args[0].copy()  # worker data is never written in place
    result = block_fn(block, *args, **shared)
    return result if mode is None else (args[0], result)


class DaskRunner(_LocalRunner):
    """The runner of a design whose flows live on a ``dask.distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._passes = 0

    def _submit(
        self,
        d: _Design,
        block_fn: Callable[..., Any],
        by_origin: tuple,
        shared: dict,
        *,
        replace: bool = False,
    ) -> list[Future]:
        """Submit ``block_fn`` once per block; return the futures in block order.

        With ``replace`` (a pass that rewrites its first array), each block of that
        array is replaced by the new one as soon as its task is submitted: the old
        block is then freed when the task has run, not at the end of the pass, so a
        worker never holds two versions of the whole array.
        """
        shared = {
            key: (
                self.client.scatter(value, hash=False)
                if isinstance(value, np.ndarray) and value.nbytes > _SCATTER_BYTES
                else value
            )
            for key, value in shared.items()
        }
        # every other pass visits the blocks last to first: workers that spill keep
        # the blocks they used last (LRU), which a pass in the same order would need
        # last, so a forward scan larger than memory would miss on every block
        order = list(enumerate(d.blocks))
        self._passes += 1
        if self._passes % 2 == 0:
            order.reverse()
        futures: list[Future] = [None] * len(order)  # type: ignore[list-item]
        for index, (rows, block) in order:
            args = [
                arr.blocks[index]
                if isinstance(arr, BlockedFlows)
                else (None if arr is None else arr[:, rows])
                for arr in by_origin
            ]
            # the flow blocks travel as futures beside the design, which the workers
            # rebuild; the runner itself stays here
            template = dataclasses.replace(block, y=None, pair=(), runner=_LOCAL)
            futures[index] = self.client.submit(
                _run_block,
                block_fn,
                template,
                block.y,
                list(block.pair),
                args,
                shared,
                pure=False,
            )
            if replace:
                written = futures[index]
                by_origin[0].blocks[index] = self._item(written, 0)
                futures[index] = self._item(written, 1)
        return futures

    def _item(self, future: Future, index: int) -> Future:
        return self.client.submit(operator.getitem, future, index, pure=False)

    def map_reduce(
        self,
        d: _Design,
        block_stats: Callable[..., Any],
        *by_origin: Any,
        **shared: Any,
    ) -> Any:
        writes = bool(getattr(block_stats, "writes", None))
        futures = self._submit(d, block_stats, by_origin, shared, replace=writes)
        # the reduction runs on a worker, in block order; only its result comes here
        return self.client.submit(_combine, futures, pure=False).result()

    def map_blocks(
        self,
        d: _Design,
        block_array: Callable[..., Any],
        *by_origin: Any,
        **shared: Any,
    ) -> BlockedFlows:
        futures = self._submit(d, block_array, by_origin, shared)
        if getattr(block_array, "writes", None):
            futures = [self._item(f, 0) for f in futures]
        return BlockedFlows(futures, _spans(d), d.y.shape)

    def new_flows(self, d: _Design) -> BlockedFlows:
        spans = _spans(d)
        return BlockedFlows([None] * len(spans), spans, d.y.shape)

    def output(self, flows: BlockedFlows) -> da.Array:
        return flows.to_dask()


def _spans(d: _Design) -> tuple[slice, ...]:
    return tuple(rows for rows, _ in d.blocks)
