"""PPML gravity models on a Dask cluster: :func:`fit_gravity` and its result.

The same estimator as :func:`kzspatial.core.gravity.fit_gravity`, with the flows held
by the workers as blocks of origin rows. The inputs are Dask arrays (or a Dask
DataFrame of pairs, :mod:`._frames`); each block is validated on its worker by the
core's own checks, and every pass of the fit runs through :class:`._runner.DaskRunner`.
Only zone-level arrays (n-vectors), ``p x p`` matrices and the few hundred zones of the
starting-value fit reach the client. Fitted values, residuals and predictions stay on
the cluster as Dask arrays; :func:`to_parquet` writes them as a long table.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client, Future, get_client

from kzspatial._errors import ValidationError
from kzspatial.core.gravity._build import _check_block, _design
from kzspatial.core.gravity._checks import (
    Constraint,
    _check_cost_shape,
    _check_labels,
    _check_options,
    _raise_problems,
)
from kzspatial.core.gravity.blocks import _combine
from kzspatial.core.gravity.model import _estimate
from kzspatial.core.gravity.result import GravityFit
from kzspatial.distributed._frames import frame_to_arrays
from kzspatial.distributed._runner import BlockedFlows, DaskRunner

__all__ = ["DistributedGravityFit", "fit_gravity", "to_parquet"]

# flows per block when chunk_rows is None and the flows are not a Dask array: 2**23
# float64 cells (64 MiB) per flow-shaped array, large enough that a pass is not
# dominated by the scheduler's per-task cost (about 1 ms)
_AUTO_DASK_BLOCK_CELLS = 1 << 23


class DistributedGravityFit(GravityFit):
    """A :class:`~kzspatial.core.gravity.GravityFit` whose flows live on a cluster.

    Estimates, standard errors and metrics are numbers as in the core result;
    ``fitted``, ``pearson_resid``, ``deviance_resid`` and :meth:`predict` are Dask
    arrays (``.compute()`` brings them here; :func:`to_parquet` writes them without
    collecting). ``predict(cost=...)`` takes a Dask array of new costs.
    """

    def _new_pair(self, cost: Any, problems: list) -> tuple[Any, ...]:
        d = self._design
        expected = [self._cost_shape]
        if not _check_cost_shape(np.shape(cost), expected, problems):
            return d.pair
        checked = _checked_blocks(
            da.zeros(d.y.shape, chunks=(-1, d.chunk_rows, -1)),
            _as_dask(cost, d.chunk_rows),
            _runner(d).client,
            cost_func=self.cost_func,
            counts="real",
            exclude_self=d.exclude_self,
            ids=self.ids,
            years=self.years,
        )
        _raise_problems(checked.problems)
        return (checked.regressor,)

    def to_parquet(self, path: str, **kwargs: Any) -> None:
        """Write the fitted flows and both residuals as Parquet (see :func:`to_parquet`)."""
        to_parquet(
            {
                "fitted": self.fitted,
                "pearson_resid": self.pearson_resid,
                "deviance_resid": self.deviance_resid,
            },
            path,
            ids=self.ids,
            years=self.years,
            **kwargs,
        )


def _runner(d: Any) -> DaskRunner:
    return d.runner


def fit_gravity(
    flows: Any,
    cost: Any,
    *,
    client: Client | None = None,
    constraint: Constraint = "doubly",
    cost_func: Literal["pow", "exp"] = "pow",
    origin_vars: Mapping[str, Any] | None = None,
    destination_vars: Mapping[str, Any] | None = None,
    ids: Sequence | None = None,
    years: Sequence | None = None,
    self_flows: Literal["drop", "keep"] = "drop",
    counts: Literal["integer", "real"] = "integer",
    empty_zones: Literal["raise", "drop"] = "raise",
    separation: Literal["drop", "raise"] = "drop",
    tol: float = 1e-10,
    max_iter: int = 100,
    chunk_rows: int | None = None,
    columns: Mapping[str, str] | None = None,
) -> DistributedGravityFit:
    """Fit a gravity model by PPML with every pass over the flows on a Dask cluster.

    Parameters
    ----------
    flows : dask.array.Array or dask.dataframe.DataFrame
        A Dask array of shape ``(n, n)`` or ``(n_years, n, n)`` (any chunks; rechunked
        to blocks of ``chunk_rows`` origin rows), or a Dask DataFrame with one row per
        pair: origin, destination, flow and cost columns (and a year column for a
        panel), e.g. ``dd.read_parquet(...)``. A table must list every modelled pair,
        zero flows included (their cost is needed); it is read fastest when its
        partitions hold consecutive origins.
    cost : dask.array.Array, array_like or str
        Costs in the layout of a flow array (a NumPy array is cut into blocks), or,
        with a DataFrame, the name of its cost column.
    client : distributed.Client, optional
        The cluster to run on; default the current client (``distributed.get_client``).
    constraint, cost_func, origin_vars, destination_vars, ids, years, self_flows, counts, empty_zones, separation, tol, max_iter
        As in :func:`kzspatial.core.gravity.fit_gravity`. Zone covariates are
        in-memory arrays of shape ``(n,)`` or ``(n_years, n)``. With a DataFrame,
        ``ids`` (and ``years``) fix the zone (year) order; by default the sorted
        labels found in the table. The separation pre-check runs as passes over the
        blocks on the cluster, with the in-memory fit's results and messages.
    chunk_rows : int, optional
        Origin rows per block (per task). Default: the row chunks of a Dask array
        (the largest), else blocks of about 2**23 flows. The estimates equal those of
        the in-memory fit with the same ``chunk_rows`` to rounding.
    columns : mapping of str to str, optional
        Column names of a DataFrame for the keys ``"origin"``, ``"destination"``,
        ``"flow"`` and ``"year"`` (default: the keys themselves; no year column means
        one year).

    Returns
    -------
    DistributedGravityFit

    Raises
    ------
    ValidationError, AlignmentError, IdentificationError
        As the in-memory fit, with the problems of all blocks reported together.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> flows = da.from_array(matrix, chunks=(500, -1))  # doctest: +SKIP
    >>> fit = fit_gravity(flows, km, client=client)  # doctest: +SKIP
    >>> fit.fitted.to_zarr("fitted.zarr")  # doctest: +SKIP
    """
    client = get_client() if client is None else client
    _check_options(
        constraint, cost_func, self_flows, counts, empty_zones, chunk_rows, separation
    )
    if isinstance(flows, dd.DataFrame):
        flows, cost, ids, years = frame_to_arrays(
            flows,
            cost,
            client,
            columns=columns,
            ids=ids,
            years=years,
            chunk_rows=chunk_rows,
            block_cells=_AUTO_DASK_BLOCK_CELLS,
        )
    elif not isinstance(flows, da.Array):
        raise ValidationError(
            f"flows must be a Dask array or a Dask DataFrame; got {type(flows).__name__}"
            " (use kzspatial.fit_gravity for in-memory arrays)"
        )
    if flows.ndim not in (2, 3) or flows.shape[-1] != flows.shape[-2]:
        raise ValidationError(
            f"flows must be a square (n, n) matrix or a stacked (n_years, n, n) panel; "
            f"got shape {flows.shape}"
        )
    panel = flows.ndim == 3
    stacked = flows if panel else flows[None]
    ids, years = _check_labels(ids, years, stacked.shape, panel)
    n_years, n, _ = stacked.shape
    rows = chunk_rows or int(max(flows.chunks[-2]))
    problems: list = []
    expected = [(n, n), (n_years, n, n)] if panel else [(n, n)]
    _check_cost_shape(np.shape(cost), expected, problems)
    _raise_problems(problems)
    checked = _checked_blocks(
        stacked.astype(np.float64).rechunk((-1, rows, -1)),
        _as_dask(cost, rows),
        client,
        cost_func=cost_func,
        counts=counts,
        exclude_self=self_flows == "drop",
        ids=ids,
        years=years,
    )
    design, dropped = _design(
        checked.y,
        checked.regressor,
        checked,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
        constraint=constraint,
        self_flows=self_flows,
        empty_zones=empty_zones,
        ids=ids,
        years=years,
        chunk_rows=rows,
        runner=DaskRunner(client),
        separation=separation,
    )
    # the design holds the regressor with its excluded cells zeroed (a copy on the
    # workers): the checked one goes, or it would stay in the workers' memory
    del checked
    fit = _estimate(
        design,
        constraint=constraint,
        cost_func=cost_func,
        ids=ids,
        years=years,
        cost_shape=tuple(np.shape(cost)),
        dropped=dropped,
        tol=tol,
        max_iter=max_iter,
    )
    return DistributedGravityFit(
        **{f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)}
    )


def _as_dask(cost: Any, rows: int) -> da.Array:
    """Cost as a Dask array cut into blocks of ``rows`` origin rows."""
    if not isinstance(cost, da.Array):
        cost = np.asarray(
            cost.toarray() if hasattr(cost, "toarray") else cost, dtype=np.float64
        )
        cost = da.from_array(cost, chunks=-1)
    chunks = (rows, -1) if cost.ndim == 2 else (-1, rows, -1)
    return cost.astype(np.float64).rechunk(chunks)


@dataclasses.dataclass(frozen=True)
class _Checked:
    """The checked flows and regressor on the cluster, and the combined checks."""

    y: BlockedFlows
    regressor: BlockedFlows
    rows: np.ndarray
    cols: np.ndarray
    problems: list
    positive_rows: np.ndarray
    positive_cols: np.ndarray


def _check_task(y: np.ndarray, cost: np.ndarray, **options: Any) -> tuple:
    # a writable float64 copy of the block (the checks zero its self-pairs)
    return _check_block(np.array(y, dtype=np.float64), cost, **options)


def _checked_blocks(
    stacked: da.Array, cost: da.Array, client: Client, **options: Any
) -> _Checked:
    """Run the core checks on every block of origin rows, as tasks.

    ``stacked`` (n_years, n, n) and ``cost`` are chunked by the same origin rows. The
    checked flows and regressors stay on the workers; the problems and margins are
    combined on a worker and come here.
    """
    starts = np.cumsum((0, *stacked.chunks[1]))
    spans = tuple(slice(int(a), int(b)) for a, b in itertools.pairwise(starts))
    y_parts = stacked.to_delayed(optimize_graph=False).ravel()
    c_parts = cost.to_delayed(optimize_graph=False).ravel()
    # unique keys: a second fit of the same arrays must not share futures with the
    # first, which may be released meanwhile
    tasks = [
        dask.delayed(_check_task, pure=False)(
            y_part,
            c_part,
            first_row=rows.start,
            cost_shapes=[_block_shape(cost.shape, rows)],
            **options,
        )
        for y_part, c_part, rows in zip(y_parts, c_parts, spans, strict=True)
    ]
    # one graph: blocks read from a table once for both flows and cost
    futures: list[Future] = client.compute(tasks)
    part = [
        [client.submit(operator.getitem, f, k, pure=False) for f in futures]
        for k in range(3)
    ]
    checks = client.submit(_combine, part[2], pure=False).result()
    shape = stacked.shape
    return _Checked(
        BlockedFlows(part[0], spans, shape),
        BlockedFlows(part[1], spans, shape),
        checks.rows,
        checks.cols,
        checks.problems,
        checks.positive_rows,
        checks.positive_cols,
    )


def _block_shape(shape: tuple[int, ...], rows: slice) -> tuple[int, ...]:
    """Shape of the block of origin rows ``rows`` of an array of ``shape``."""
    return (*shape[:-2], rows.stop - rows.start, shape[-1])


def to_parquet(
    arrays: Mapping[str, da.Array],
    path: str,
    *,
    ids: Sequence,
    years: Sequence | None = None,
    **kwargs: Any,
) -> None:
    """Write flow-shaped Dask arrays as one long Parquet table, block by block.

    Parameters
    ----------
    arrays : mapping of str to dask.array.Array
        Columns to write, each of shape ``(n, n)`` or ``(n_years, n, n)`` with the same
        chunks (e.g. ``fit.fitted`` and ``fit.pearson_resid``).
    path : str
        Output folder (one file per block of origin rows).
    ids : sequence, length n
        Zone labels, written as the ``origin`` and ``destination`` columns.
    years : sequence, optional
        Year labels of a panel (a ``year`` column).
    **kwargs
        Passed to :meth:`dask.dataframe.DataFrame.to_parquet`.

    Notes
    -----
    Cells outside the model are NaN and are written as such. Nothing is collected on
    the client: each block becomes a pandas DataFrame on its worker.
    """
    names = list(arrays)
    first = arrays[names[0]]
    panel = first.ndim == 3
    stacked = [a if panel else a[None] for a in arrays.values()]
    stacked = [a.rechunk((-1, first.chunks[-2], -1)) for a in stacked]
    starts = np.cumsum((0, *stacked[0].chunks[1]))
    ids_arr = np.asarray(ids)
    year_arr = None if not panel else np.asarray(years)
    parts = [
        dask.delayed(_long_block)(
            names,
            [a.blocks[:, b] for a in stacked],
            ids_arr[int(starts[b]) : int(starts[b + 1])],
            ids_arr,
            year_arr,
        )
        for b in range(len(starts) - 1)
    ]
    meta = _long_block(
        names,
        [np.zeros((1 if year_arr is None else len(year_arr), 0, len(ids_arr)))]
        * len(names),
        ids_arr[:0],
        ids_arr,
        year_arr,
    )
    dd.from_delayed(parts, meta=meta).to_parquet(path, **kwargs)


def _long_block(
    names: list[str],
    blocks: list[np.ndarray],
    origins: np.ndarray,
    destinations: np.ndarray,
    years: np.ndarray | None,
) -> pd.DataFrame:
    """One block of origin rows of flow-shaped arrays as a long table."""
    n_years, n_rows, n = blocks[0].shape
    columns: dict[str, Any] = {}
    if years is not None:
        columns["year"] = np.repeat(years, n_rows * n)
    columns["origin"] = np.tile(np.repeat(origins, n), n_years)
    columns["destination"] = np.tile(destinations, n_years * n_rows)
    for name, block in zip(names, blocks, strict=True):
        columns[name] = np.asarray(block).ravel()
    return pd.DataFrame(columns)
