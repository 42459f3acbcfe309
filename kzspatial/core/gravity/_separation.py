"""Separation, ppmlhdfe's pre-check, as passes over the row blocks of the flows.

Zero flows are separated when a regressor can send their fitted values to 0 by an
infinite coefficient without changing any positive flow's fit: a covariate zero on
every modelled positive flow and of one sign on the zero ones, or a fixed effect of a
zone whose modelled flows are all zero. The model is then not identified; whole zones
can be left out (``separation="drop"``), single pairs cannot.

Every look at the flows is a pass over the design's row blocks through its runner
(:func:`.blocks._map_reduce`): the same code checks flows held in this process and
flows held by Dask workers, and only zone-level flags, counts and the first few
separated pairs leave a block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from kzspatial._errors import IdentificationError
from kzspatial.core.gravity._checks import (
    _MAX_LISTED,
    _has_effects,
    _listed_pairs,
    _zone_columns,
    _zone_list,
    _ZoneVars,
)
from kzspatial.core.gravity.blocks import _BY_ORIGIN, _compiled, _Design, _map_reduce

_SIDES = ("origin", "destination")


@dataclasses.dataclass(frozen=True)
class _FlowSigns:
    """Zones with a modelled positive flow and with a modelled zero flow, by side.

    Each array has shape ``(n_years, n)``; origins are the rows of the flows,
    destinations the columns.
    """

    positive: dict[str, NDArray[np.bool_]]
    zero: dict[str, NDArray[np.bool_]]


@dataclasses.dataclass(frozen=True)
class _BlockSigns:
    """A block's signs: flags of its origins, counts of blocks flagging a destination."""

    positive_rows: NDArray[np.bool_] = dataclasses.field(metadata=_BY_ORIGIN)
    zero_rows: NDArray[np.bool_] = dataclasses.field(metadata=_BY_ORIGIN)
    positive_cols: NDArray[np.int64]
    zero_cols: NDArray[np.int64]


@dataclasses.dataclass(frozen=True)
class _BlockCells:
    """A block's separated cells: their number, the rows and columns they lie in.

    ``rows_kept`` / ``cols_kept`` flag rows (columns) with a modelled cell that is not
    separated; ``first`` holds the first separated cells ``(t, i, j)`` of each year.
    """

    count: int
    rows: NDArray[np.bool_] = dataclasses.field(metadata=_BY_ORIGIN)
    rows_kept: NDArray[np.bool_] = dataclasses.field(metadata=_BY_ORIGIN)
    cols: NDArray[np.int64]
    cols_kept: NDArray[np.int64]
    first: list[tuple[int, int, int]]


def _with_active(d: _Design, active: dict[str, NDArray[np.bool_]]) -> _Design:
    return dataclasses.replace(
        d, active_origins=active["origin"], active_destinations=active["destination"]
    )


def _block_flow_signs(d: _Design) -> _BlockSigns:
    """Flag the zones with a modelled positive and a modelled zero flow in one block."""
    flow_signs = _compiled().flow_signs
    rows = [np.zeros(d.active_origins.shape, dtype=bool) for _ in range(2)]
    cols = [np.zeros(d.active_destinations.shape, dtype=bool) for _ in range(2)]
    for t in range(d.y.shape[0]):
        flow_signs(
            d.y[t],
            d.active_origins[t],
            d.active_destinations[t],
            d.diagonal,
            rows[0][t],
            rows[1][t],
            cols[0][t],
            cols[1][t],
        )
    return _BlockSigns(rows[0], rows[1], *(c.astype(np.int64) for c in cols))


def _flow_signs(
    d: _Design, positive: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None
) -> _FlowSigns:
    """Find which zones have modelled positive and modelled zero flows.

    With every zone active they follow from ``positive``, the numbers of positive
    flows by origin and by destination (the checks counted them; self-pairs are zero
    when they are dropped); otherwise one pass over the flows finds them.
    """
    if positive is not None and d.active_origins.all() and d.active_destinations.all():
        partners = d.y.shape[1] - d.exclude_self  # modelled cells of a row and column
        rows, cols = positive
        return _FlowSigns(
            {"origin": rows > 0, "destination": cols > 0},
            {"origin": rows < partners, "destination": cols < partners},
        )
    signs = _map_reduce(d, _block_flow_signs)
    return _FlowSigns(
        {"origin": signs.positive_rows, "destination": signs.positive_cols > 0},
        {"origin": signs.zero_rows, "destination": signs.zero_cols > 0},
    )


def _block_pair_codes(d: _Design) -> NDArray[np.int64]:
    """Count the years of one block whose decay regressor gives code 1, has 2, has 4.

    Codes as :func:`._kernels.pair_signs`: 1 when the regressor is nonzero on a
    modelled positive flow, else 2 (positive) and 4 (negative) on modelled zero flows.
    """
    pair_signs = _compiled().pair_signs
    found = np.zeros(3, dtype=np.int64)
    for t in range(d.y.shape[0]):
        code = pair_signs(
            d.y[t],
            d.pair[0][t],
            d.active_origins[t],
            d.active_destinations[t],
            d.diagonal,
        )
        if code == 1:
            found[0] += 1
        else:
            found[1:] += (bool(code & 2), bool(code & 4))
    return found


def _separates(
    d: _Design, values: NDArray[np.float64] | None, side: str | None, signs: _FlowSigns
) -> bool:
    """Whether a regressor separates some flows, by the simple check of ppmlhdfe.

    A regressor separates when it is zero on every modelled positive flow, and of one
    sign and not all zero on the modelled zero flows: the likelihood then rises
    without bound as its coefficient goes to -inf (or +inf), fitting the cells where
    it is nonzero as 0. ``side=None`` checks the design's decay regressor (one pass
    over the flows); otherwise ``values`` are a zone covariate of ``side``, shape
    ``(n_years, n)``, checked from ``signs``.
    """
    if side is None:
        ones, positive, negative = _map_reduce(d, _block_pair_codes)
        return ones == 0 and (positive > 0) != (negative > 0)
    if np.any((values != 0) & signs.positive[side]):
        return False
    on_zero = signs.zero[side]
    return bool(np.any((values > 0) & on_zero) != np.any((values < 0) & on_zero))


def _block_cells(
    d: _Design, side: str | None, values: NDArray | None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Return a block's separated cells, and its modelled cells.

    Separated cells are modelled zero flows where the regressor is nonzero:
    ``side=None`` the decay regressor, else ``values`` (n_years, n), whole, of ``side``.
    """
    n_rows = d.y.shape[1]
    if side is None:
        where = d.pair[0] != 0
    elif side == "origin":
        where = (values[:, d.first_row : d.first_row + n_rows] != 0)[:, :, None]
    else:
        where = (values != 0)[:, None, :]
    modelled = d.active_origins[:, :, None] & d.active_destinations[:, None, :]
    if d.exclude_self:
        rows = np.arange(n_rows)
        modelled[:, rows, rows + d.first_row] = False
    return modelled & (d.y == 0) & where, modelled


def _block_separated(
    d: _Design, *, side: str | None, values: NDArray | None
) -> _BlockCells:
    cells, modelled = _block_cells(d, side, values)
    kept = modelled & ~cells
    first = [
        (t, int(i) + d.first_row, int(j))
        for t in range(cells.shape[0])
        for i, j in np.argwhere(cells[t])[:_MAX_LISTED]
    ]
    return _BlockCells(
        int(cells.sum()),
        cells.any(axis=2),
        kept.any(axis=2),
        cells.any(axis=1).astype(np.int64),
        kept.any(axis=1).astype(np.int64),
        first,
    )


def _block_uncovered(
    d: _Design,
    rows: NDArray[np.bool_],
    *,
    side: str | None,
    values: NDArray | None,
    columns: NDArray[np.bool_],
) -> int:
    """Separated cells of a block in neither a wholly separated row nor column."""
    cells, _ = _block_cells(d, side, values)
    return int(np.sum(cells & ~(rows[:, :, None] | columns[:, None, :])))


def _separated_cells(
    d: _Design,
    side: str | None,
    values: NDArray | None,
    ids: Sequence,
    years: Sequence | None,
) -> tuple[int, dict[str, NDArray[np.bool_]] | None, str]:
    """Find the separated cells: their number, whole zones, the first ones listed.

    The zones are None when some separated cell lies in neither a wholly separated
    row nor column: the design can leave out zones, not single pairs.
    """
    cells = _map_reduce(d, _block_separated, side=side, values=values)
    rows = cells.rows & ~cells.rows_kept
    columns = (cells.cols > 0) & ~(cells.cols_kept > 0)
    uncovered = _map_reduce(
        d, _block_uncovered, rows, side=side, values=values, columns=columns
    )
    zones = None if uncovered else {"origin": rows, "destination": columns}
    return (
        cells.count,
        zones,
        _listed_pairs(sorted(cells.first), cells.count, ids, years),
    )


def _with_modelled_cells(d: _Design) -> dict[str, NDArray[np.bool_]]:
    """Zones with a modelled cell in their row (origins) or column (destinations)."""
    on = {"origin": d.active_origins, "destination": d.active_destinations}
    partners = {}
    for side, other in (("origin", "destination"), ("destination", "origin")):
        count = on[other].sum(axis=1, keepdims=True)
        if d.exclude_self:
            count = count - on[other]  # a zone is not its own partner
        partners[side] = on[side] & (count > 0)
    return partners


def _check_separation(
    d: _Design,
    zone_vars: _ZoneVars,
    constraint: str,
    active: dict[str, NDArray[np.bool_]],
    *,
    policy: str,
    ids: Sequence,
    years: Sequence | None,
    positive: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
) -> list[str]:
    """Step 7b: observations separated by a covariate, before fitting (as ppmlhdfe).

    ``d`` supplies the flows, the decay regressor (``d.pair[0]``), the row blocks and
    the runner. Each regressor (the decay regressor, the intercept and year effects of
    the unconstrained model, the zone covariates) is checked with :func:`_separates`,
    and zones whose remaining modelled flows are all zero under their fixed effects
    (separated by the fixed effects) are found again after every drop, until nothing
    changes. Under ``policy="drop"`` the separated zones are switched off in ``active``
    and the covariates left all zero on the modelled cells are removed from
    ``zone_vars`` (both in place); ``"raise"`` reports them. Returns the labels of what
    was dropped, e.g. ``"destination Z3"`` and ``"covariate destination:d"``.
    ``positive`` are the numbers of positive flows by origin and by destination.
    """
    dropped: list[str] = []
    while True:
        d = _with_active(d, active)
        signs = _flow_signs(d, positive)
        origin_cols, destination_cols = _zone_columns(
            zone_vars, constraint, years, d.y.shape
        )
        candidates: list[tuple[str, NDArray | None, str | None]] = [
            ("beta (decay)", None, None)
        ]
        candidates += [(name, arr, "origin") for name, arr in origin_cols]
        candidates += [(name, arr, "destination") for name, arr in destination_cols]
        found = next((c for c in candidates if _separates(d, c[1], c[2], signs)), None)
        if found is None:
            for side in _SIDES:
                fe_empty = active[side] & ~signs.positive[side]
                if _has_effects(constraint, side) and fe_empty.any():
                    found = (f"the {side} fixed effects", fe_empty, side)
                    break
        if found is None:
            return dropped
        # the separated cells: modelled zero flows where the regressor is nonzero, or
        # (all zero) in the zones without a positive flow
        name, values, side = found
        count, zones, listed = _separated_cells(d, side, values, ids, years)
        if policy == "raise" or zones is None or name == "beta (decay)":
            how = (
                "pass separation='drop' to leave them out"
                if zones is not None and name != "beta (decay)"
                else "they are not whole zones, so they cannot be left out; remove "
                "them from the data or change the regressor"
            )
            raise IdentificationError(
                f"{count} zero flows are separated by {name}: {listed}; "
                f"their fitted values are 0 only at an infinite coefficient, so the "
                f"model is not identified (separation); {how}"
            )
        for side in _SIDES:
            labels = _zone_list(zones[side], ids, years)
            dropped += [f"{side} {label}" for label in labels]
            active[side] &= ~zones[side]
        partners = _with_modelled_cells(_with_active(d, active))
        for side in _SIDES:
            keep = []
            for var, arr in zone_vars[side]:
                if np.any((arr != 0) & partners[side]):
                    keep.append((var, arr))
                else:
                    dropped.append(f"covariate {side}:{var}")
            zone_vars[side][:] = keep
