"""From the inputs of a gravity fit to its design.

The checks of a block of origin rows (:func:`_check_block`), then the design
(:func:`_design`): the in-memory :func:`_prepare` runs both on all rows at once;
:mod:`kzspatial.distributed` runs :func:`_check_block` on every block as a task and
shares :func:`_design`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import ValidationError
from kzspatial.core.gravity._checks import (
    _abbreviate,
    _active_zones,
    _BlockChecks,
    _check_absorbed,
    _check_flow_values,
    _check_labels,
    _check_options,
    _cost_regressor,
    _flow_summary,
    _has_effects,
    _Problems,
    _raise_problems,
    _read_flows,
    _read_zone_vars,
    _set_self_pairs,
    _stack_columns,
    _zone_columns,
)
from kzspatial.core.gravity._separation import _check_separation
from kzspatial.core.gravity.blocks import (
    _AUTO_BLOCK_CELLS,
    _LOCAL,
    _block_excluded,
    _Design,
    _LocalRunner,
    _map_blocks,
)


def _check_block(
    y: NDArray[np.float64],
    cost: ArrayLike,
    *,
    first_row: int,
    cost_func: str,
    counts: str,
    exclude_self: bool,
    ids: Sequence,
    years: Sequence | None,
    cost_shapes: list[tuple[int, ...]],
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, _BlockChecks]:
    """Check flows and cost of origin rows ``first_row:`` (all rows, or a block).

    ``y`` (T, r, n): self-pairs that are dropped are zeroed in place in a writable
    block; a read-only ``y`` already has them zeroed (:func:`._checks._read_flows`).
    Returns ``y``, the decay regressor (None after a problem) and the problems with the
    row and column sums of ``y``.
    """
    if exclude_self and y.flags.writeable:
        _set_self_pairs(y, 0.0, first_row)
    problems: _Problems = []
    rows, cols, positive_rows, positive_cols, bad = _flow_summary(y)
    missing, negative, fractional = bad
    if missing or negative or (counts == "integer" and fractional):
        _check_flow_values(y, counts, ids, years, problems, first_row)
    regressor = _cost_regressor(
        cost,
        cost_func,
        y.shape,
        exclude_self,
        ids,
        years,
        problems,
        expected_shapes=cost_shapes,
        first_row=first_row,
    )
    return (
        y,
        regressor,
        _BlockChecks(rows, cols, problems, positive_rows, positive_cols),
    )


def _reject_dask(**arrays: object) -> None:
    """Point Dask collections to the distributed entry point.

    Duck-typed: the core does not import dask.
    """
    lazy = [name for name, value in arrays.items() if hasattr(value, "__dask_graph__")]
    if lazy:
        raise ValidationError(
            f"{' and '.join(lazy)} {'is a' if len(lazy) == 1 else 'are'} Dask "
            "collection(s); kzspatial.fit_gravity works on in-memory arrays. Use "
            "kzspatial.distributed.fit_gravity(flows, cost, client=...) to fit on a Dask "
            "cluster (pip install 'kzspatial[distributed]')"
        )


def _prepare(
    flows: ArrayLike,
    cost: ArrayLike,
    *,
    constraint: str,
    cost_func: str,
    origin_vars: Mapping[str, ArrayLike] | None,
    destination_vars: Mapping[str, ArrayLike] | None,
    ids: Sequence | None,
    years: Sequence | None,
    self_flows: str,
    counts: str,
    empty_zones: str,
    chunk_rows: int | None,
    separation: str = "drop",
) -> tuple[_Design, tuple, tuple | None, tuple[int, ...], dict[str, list[str]]]:
    """Validate every input, reporting all problems at once, and build the design.

    Returns
    -------
    design : _Design
    ids, years : tuple
        Labels (``years`` None for a single matrix).
    cost_shape : tuple of int
        Shape of the given cost, which ``predict`` accepts again.
    dropped : dict of str to list of str
        Labels of the zones dropped under ``empty_zones="drop"``, by side, and under
        ``"separation"`` (only when some were) what separation left out.
    """
    _reject_dask(flows=flows, cost=cost)
    _check_options(
        constraint, cost_func, self_flows, counts, empty_zones, chunk_rows, separation
    )
    y, panel = _read_flows(flows, drop_self=self_flows == "drop")
    ids, years = _check_labels(ids, years, y.shape, panel)
    n_years, n, _ = y.shape
    y, regressor, checks = _check_block(
        y,
        cost,
        first_row=0,
        cost_func=cost_func,
        counts=counts,
        exclude_self=self_flows == "drop",
        ids=ids,
        years=years,
        cost_shapes=[(n, n), (n_years, n, n)] if panel else [(n, n)],
    )
    design, dropped = _design(
        y,
        regressor,
        checks,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
        constraint=constraint,
        self_flows=self_flows,
        empty_zones=empty_zones,
        ids=ids,
        years=years,
        chunk_rows=(
            max(1, _AUTO_BLOCK_CELLS // n) if chunk_rows is None else int(chunk_rows)
        ),
        runner=_LOCAL,
        separation=separation,
    )
    return design, ids, years, np.shape(cost), dropped


def _design(
    y: NDArray[np.float64],
    regressor: NDArray[np.float64] | None,
    checks: _BlockChecks,
    *,
    origin_vars: Mapping[str, ArrayLike] | None,
    destination_vars: Mapping[str, ArrayLike] | None,
    constraint: str,
    self_flows: str,
    empty_zones: str,
    ids: tuple,
    years: tuple | None,
    chunk_rows: int,
    runner: _LocalRunner,
    separation: str | None,
) -> tuple[_Design, dict[str, list[str]]]:
    """Build the design from checked flows: steps 5-8.

    After the checks of the flows (``checks``, combined over blocks): covariates, all
    problems raised, empty zones, separation (``separation=None``: not checked; a pass
    or two over the blocks through ``runner`` otherwise), the design with its regressor
    zeroed outside the model. ``y`` and ``regressor`` are kept where ``runner`` keeps flows.
    """
    problems = list(checks.problems)
    zone_vars = _read_zone_vars(
        origin_vars, destination_vars, y.shape[0], ids, years, problems
    )
    _raise_problems(problems)
    if checks.rows.sum() == 0:
        raise ValidationError("all modelled flows are zero; nothing to fit")
    _check_absorbed(zone_vars, constraint)
    active, dropped = _active_zones(checks, constraint, empty_zones, ids, years)
    no_columns = np.zeros((*y.shape[:2], 0))
    design = _Design(
        y=y,
        pair=(regressor,),
        origin=no_columns,
        destination=no_columns,
        names=("beta",),
        origin_fe=_has_effects(constraint, "origin"),
        destination_fe=_has_effects(constraint, "destination"),
        exclude_self=self_flows == "drop",
        active_origins=active["origin"],
        active_destinations=active["destination"],
        chunk_rows=chunk_rows,
        runner=runner,
    )
    if separation is not None and regressor is not None:
        separated = _check_separation(
            design,
            zone_vars,
            constraint,
            active,
            policy=separation,
            ids=ids,
            years=years,
            positive=(checks.positive_rows, checks.positive_cols),
        )
        if separated:
            warnings.warn(
                f"separation: left out {_abbreviate(separated)} (their flows are "
                "fitted as 0 only at an infinite coefficient); see GravityFit.dropped"
                "['separation'], or pass separation='raise' to stop instead",
                UserWarning,
                stacklevel=4,
            )
            dropped["separation"] = separated
    origin_cols, destination_cols = _zone_columns(zone_vars, constraint, years, y.shape)
    design = dataclasses.replace(
        design,
        origin=_stack_columns(origin_cols, y.shape),
        destination=_stack_columns(destination_cols, y.shape),
        names=("beta", *(name for name, _ in origin_cols + destination_cols)),
        active_origins=active["origin"],
        active_destinations=active["destination"],
    )
    excluded = _map_blocks(design, _block_excluded, regressor)
    return dataclasses.replace(design, pair=(excluded,)), dropped
