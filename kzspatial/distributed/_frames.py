"""A Dask DataFrame of origin-destination pairs as flow and cost arrays in row blocks.

A long table (one row per pair: origin, destination, flow, cost, optionally year), e.g.
read lazily with ``dd.read_parquet``, becomes two Dask arrays chunked by blocks of
origin rows, without collecting the table. One pass over the label columns finds the
zone (and year) labels and which partitions hold which origins; each block is then
built on a worker from the partitions that hold its origins. A table whose partitions
hold consecutive origins (as written by origin-row blocks) is read once; partitions
mixing all origins are read by every block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
from distributed import Client

from kzspatial._errors import AlignmentError, ValidationError

_KEYS = ("origin", "destination", "flow", "year")


def _labels(part: pd.DataFrame, names: dict[str, str | None]) -> tuple:
    """Distinct origins, destinations and years (None) of one partition."""
    year = names["year"]
    return (
        pd.unique(part[names["origin"]]),
        pd.unique(part[names["destination"]]),
        None if year is None else pd.unique(part[year]),
    )


def _dense_block(
    rows: slice,
    zones: pd.Index,
    year_index: pd.Index | None,
    names: dict[str, str | None],
    cost_col: str,
    *parts: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray]:
    """Flows (0 where absent) and costs (NaN where absent) of origins ``rows``.

    Shapes ``(r, n)``, or ``(n_years, r, n)`` with a year column.
    """
    n_rows, n = rows.stop - rows.start, len(zones)
    n_years = 1 if year_index is None else len(year_index)
    flows = np.zeros(n_years * n_rows * n)
    cost = np.full(n_years * n_rows * n, np.nan)
    cells = []
    for part in parts:
        i = _positions(zones, part[names["origin"]].to_numpy()) - rows.start
        keep = (i >= 0) & (i < n_rows)
        only_this_block = keep.all()  # every row of the partition: no copies
        part = part if only_this_block else part[keep]
        i = i if only_this_block else i[keep]
        j = _positions(zones, part[names["destination"]].to_numpy())
        if year_index is not None:
            i += _positions(year_index, part[names["year"]].to_numpy()) * n_rows
        cell = i * n + j
        cells.append(cell)
        flows[cell] = part[names["flow"]].to_numpy(dtype=np.float64)
        cost[cell] = part[cost_col].to_numpy(dtype=np.float64)
    every_cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
    # counted, not np.unique: numpy 2.4's hash-based unique took ~1 us per pair here
    if every_cell.size and np.bincount(every_cell, minlength=flows.size).max() > 1:
        raise ValidationError(
            f"the table lists some origin-destination pairs more than once (origins "
            f"{zones[rows.start]!s} to {zones[rows.stop - 1]!s}); aggregate the flows "
            "per pair (and year) first"
        )
    shape = (n_rows, n) if year_index is None else (n_years, n_rows, n)
    return flows.reshape(shape), cost.reshape(shape)


def _positions(index: pd.Index, labels: np.ndarray) -> np.ndarray:
    """Positions of ``labels`` in ``index`` (all present), as int64."""
    if isinstance(index, pd.RangeIndex) and labels.dtype.kind in "iu":
        # zones numbered 0..n-1 (the usual integer ids): arithmetic, no hashing
        return labels.astype(np.int64) - index.start
    return index.get_indexer(labels).astype(np.int64)


def _order(found: np.ndarray, given: Sequence | None, what: str) -> pd.Index:
    """Order the labels as given (all found ones must be among them) or sorted."""
    index = pd.Index(np.sort(found) if given is None else list(given))
    unknown = found[index.get_indexer(found) < 0]
    if unknown.size:
        listed = ", ".join(map(str, unknown[:10]))
        raise AlignmentError(
            f"the table has {what} labels not among the given {what}s: {listed}"
            + (f" and {unknown.size - 10} more" if unknown.size > 10 else "")
        )
    if index.dtype.kind in "iu" and index.equals(pd.RangeIndex(len(index))):
        return pd.RangeIndex(len(index))  # labels 0..n-1: positions by arithmetic
    return index


def frame_to_arrays(
    frame: dd.DataFrame,
    cost: Any,
    client: Client,
    *,
    columns: Mapping[str, str] | None,
    ids: Sequence | None,
    years: Sequence | None,
    chunk_rows: int | None,
    block_cells: int,
) -> tuple[da.Array, da.Array, tuple, tuple | None]:
    """Flows and costs of a long table as Dask arrays chunked by origin rows.

    Returns the flows and costs (shape ``(n, n)``, or ``(n_years, n, n)`` with a year
    column), the zone labels and the year labels (None without a year column).
    """
    names: dict[str, str | None] = {key: key for key in _KEYS[:3]} | {"year": None}
    names |= dict(columns or {})
    unknown_keys = set(names) - set(_KEYS)
    if unknown_keys:
        raise ValidationError(
            f"columns has unknown keys {sorted(unknown_keys)}; valid are {list(_KEYS)}"
        )
    if not isinstance(cost, str):
        raise ValidationError(
            "with a DataFrame of pairs, cost is the name of its cost column; got "
            f"{type(cost).__name__}"
        )
    needed = [c for c in (*names.values(), cost) if c is not None]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"the table has no columns {missing}; it has {list(frame.columns)} (name "
            "them with columns={'origin': ..., 'destination': ..., 'flow': ...})"
        )
    frame = frame[needed]
    label_cols = [
        c for c in (names["origin"], names["destination"], names["year"]) if c
    ]
    found = client.gather(
        client.compute(
            [
                dask.delayed(_labels)(part, names)
                for part in frame[label_cols].to_delayed()
            ]
        )
    )
    zones = _order(
        pd.unique(np.concatenate([x for f in found for x in f[:2]])), ids, "zone"
    )
    year_index = None
    if names["year"] is not None:
        year_index = _order(
            pd.unique(np.concatenate([f[2] for f in found])), years, "year"
        )
    n = len(zones)
    rows = chunk_rows or max(1, block_cells // n)
    spans = [slice(r, min(r + rows, n)) for r in range(0, n, rows)]
    # which partitions hold origins of which block
    held = [np.unique(zones.get_indexer(f[0]) // rows) for f in found]
    parts = frame.to_delayed()
    blocks = [
        dask.delayed(_dense_block, nout=2)(
            span,
            zones,
            year_index,
            names,
            cost,
            *(part for part, b in zip(parts, held, strict=True) if k in b),
        )
        for k, span in enumerate(spans)
    ]
    lead = () if year_index is None else (len(year_index),)

    def assemble(which: int) -> da.Array:
        return da.concatenate(
            [
                da.from_delayed(
                    block[which], shape=(*lead, s.stop - s.start, n), dtype=np.float64
                )
                for block, s in zip(blocks, spans, strict=True)
            ],
            axis=len(lead),
        )

    year_labels = None if year_index is None else tuple(year_index)
    return assemble(0), assemble(1), tuple(zones), year_labels
