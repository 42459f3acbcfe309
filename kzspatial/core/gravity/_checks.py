"""Input validation of :func:`~kzspatial.core.gravity.fit_gravity` and ``predict``.

Inputs are checked once, at the public boundary, and every problem found is reported
at once (:func:`_raise_problems`): what was expected, what arrived and how to fix it.
:func:`_prepare` runs the named steps in order and builds the :class:`.blocks._Design`
the engine then trusts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, IdentificationError, ValidationError
from kzspatial.core.decay import cost_regressor, decay_regressor
from kzspatial.core.gravity.blocks import (
    _AUTO_BLOCK_CELLS,
    _BY_ORIGIN,
    _compiled,
    _Design,
    _flow_workspace,
)

if TYPE_CHECKING:
    from kzspatial.core.gravity.result import GravityFit

Constraint = Literal["unconstrained", "production", "attraction", "doubly"]


CONSTRAINTS: tuple[str, ...] = ("unconstrained", "production", "attraction", "doubly")


_MAX_LISTED = 10  # ids listed in an error message before "..."

_Problems = list[tuple[type[ValidationError], str]]  # (error class, message)


def _raise_problems(problems: _Problems) -> None:
    """Raise all accumulated input problems at once, as the most specific class."""
    if not problems:
        return
    classes = {cls for cls, _ in problems}
    cls = AlignmentError if classes == {AlignmentError} else ValidationError
    if len(problems) == 1:
        raise problems[0][0](problems[0][1])
    raise cls("invalid input:\n- " + "\n- ".join(msg for _, msg in problems))


def _zone_label(ids: Sequence, years: Sequence | None, t: int, i: int) -> str:
    return f"{ids[i]!s}" + (f" ({years[t]})" if years is not None else "")


def _listed_pairs(
    pairs: Sequence[tuple[int, int, int]],
    total: int,
    ids: Sequence,
    years: Sequence | None,
) -> str:
    """Label the first pairs ``(t, i, j)`` of ``total`` flagged ones, and count the rest."""
    listed = [
        f"{_zone_label(ids, years, t, i)} -> {ids[j]!s}"
        for t, i, j in pairs[:_MAX_LISTED]
    ]
    more = f" and {total - _MAX_LISTED} more" if total > _MAX_LISTED else ""
    return ", ".join(listed) + more


def _pair_labels(
    mask: NDArray[np.bool_], ids: Sequence, years: Sequence | None, first_row: int = 0
) -> str:
    """Label the first pairs flagged in ``mask`` (rows from zone ``first_row`` on)."""
    found = np.argwhere(mask)
    first = [(t, i + first_row, j) for t, i, j in found[:_MAX_LISTED]]
    return _listed_pairs(first, len(found), ids, years)


def _zone_list(
    mask: NDArray[np.bool_], ids: Sequence, years: Sequence | None
) -> list[str]:
    return [_zone_label(ids, years, t, i) for t, i in np.argwhere(mask)]


def _abbreviate(labels: list[str]) -> str:
    more = f" and {len(labels) - _MAX_LISTED} more" if len(labels) > _MAX_LISTED else ""
    return ", ".join(labels[:_MAX_LISTED]) + more


def _zone_values(
    name: str,
    values: ArrayLike,
    n_years: int,
    ids: Sequence,
    years: Sequence | None,
    problems: _Problems,
) -> NDArray[np.float64] | None:
    """Zone-level values as shape ``(n_years, n)``, or None after recording a problem."""
    n = len(ids)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append((ValidationError, f"{name} is not numeric"))
        return None
    if arr.shape == (n,):
        arr = np.tile(arr, (n_years, 1))
    elif years is None or arr.shape != (n_years, n):
        expected = f"({n},)" + (f" or ({n_years}, {n})" if years is not None else "")
        problems.append(
            (
                AlignmentError,
                (
                    f"{name} has shape {arr.shape}; expected {expected}, one value per zone in "
                    "the order of the flow matrix"
                ),
            )
        )
        return None
    missing = ~np.isfinite(arr)
    if missing.any():
        problems.append(
            (
                ValidationError,
                (
                    f"{name} is missing (NaN or infinite) for zones "
                    f"{_abbreviate(_zone_list(missing, ids, years))}; fill the values or drop "
                    "those zones from flows and cost"
                ),
            )
        )
        return None
    return arr


def _set_self_pairs(arr: NDArray[np.float64], value: float, first_row: int = 0) -> None:
    """Set the self-pairs ``(i, i)`` of rows ``first_row:`` of ``arr`` (T, r, n) in place."""
    rows = np.arange(min(arr.shape[1], arr.shape[2] - first_row))
    arr[:, rows, rows + first_row] = value


def _check_cost_shape(
    shape: tuple[int, ...], expected_shapes: list[tuple[int, ...]], problems: _Problems
) -> bool:
    """Record a problem unless ``shape`` is one of ``expected_shapes``."""
    if tuple(shape) in expected_shapes:
        return True
    problems.append(
        (
            AlignmentError,
            (
                f"cost has shape {tuple(shape)}, expected "
                f"{' or '.join(map(str, expected_shapes))} to match the flows; order its "
                "rows and columns like the flow matrix"
            ),
        )
    )
    return False


def _cost_regressor(
    cost: ArrayLike,
    cost_func: str,
    shape: tuple[int, int, int],
    exclude_self: bool,
    ids: Sequence,
    years: Sequence | None,
    problems: _Problems,
    *,
    expected_shapes: list[tuple[int, ...]],
    first_row: int = 0,
) -> NDArray[np.float64] | None:
    """Decay regressor of rows ``first_row:first_row + r`` of the flows.

    In the stacked layout ``shape = (n_years, r, n)``, zero on self-pairs when they
    are dropped.
    """
    raw = np.asarray(
        cost.toarray() if hasattr(cost, "toarray") else cost, dtype=np.float64
    )
    if not _check_cost_shape(raw.shape, expected_shapes, problems):
        return None
    view = np.broadcast_to(raw, shape)
    diagonal = first_row if exclude_self else -1
    cost_checks = _compiled().cost_checks
    if not any(cost_checks(c, diagonal, cost_func == "pow") for c in view):
        # every modelled cost is valid: transform them at once (self-pairs may be 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            regressor = decay_regressor(cost_func)(view, out=_flow_workspace(shape))
        if exclude_self:
            _set_self_pairs(regressor, 0.0, first_row)
        return regressor
    stacked = np.array(view)
    if exclude_self:
        _set_self_pairs(stacked, 1.0, first_row)  # placeholder, excluded below
    try:
        regressor = cost_regressor(stacked, cost_func)
    except ValidationError:
        # find the offending pairs only once we know there are some
        bad = (
            ~np.isfinite(stacked)
            | (stacked < 0)
            | ((stacked == 0) & (cost_func == "pow"))
        )
        remedy = (
            "; power decay needs positive costs: give intra-zonal pairs a positive cost, "
            "keep self_flows='drop', or use cost_func='exp'"
            if cost_func == "pow"
            else ""
        )
        problems.append(
            (
                ValidationError,
                (
                    f"cost is missing, negative{' or zero' if cost_func == 'pow' else ''} for "
                    f"{int(bad.sum())} modelled pairs: "
                    f"{_pair_labels(bad, ids, years, first_row)}{remedy}"
                ),
            )
        )
        return None
    if exclude_self:
        _set_self_pairs(regressor, 0.0, first_row)
    return regressor


def _replace_columns(
    d: _Design,
    side: str,
    new_vars: Mapping[str, ArrayLike] | None,
    fit: GravityFit,
    problems: _Problems,
) -> NDArray[np.float64]:
    """Zone-level design of ``side`` with some covariates replaced for prediction."""
    current = getattr(d, side)
    if not new_vars:
        return current
    n_years = d.y.shape[0]
    first = d.n_pair if side == "origin" else d.n_pair + d.origin.shape[2]
    columns = {
        name: first + k
        for k, name in enumerate(d.names[first : first + current.shape[2]])
    }
    replaced = current.copy()
    for name, values in new_vars.items():
        key = f"{side}:{name}"
        if key not in columns:
            known = [c.split(":", 1)[1] for c in columns if c.startswith(f"{side}:")]
            problems.append(
                (
                    ValidationError,
                    (
                        f"{side} covariate {name!r} is not in the {fit.constraint} model; "
                        f"its {side} covariates are {known}"
                    ),
                )
            )
            continue
        arr = _zone_values(
            f"{side}_vars[{name!r}]", values, n_years, fit.ids, fit.years, problems
        )
        if arr is not None:
            replaced[..., columns[key] - first] = arr
    return replaced


def _check_choice(
    name: str, value: str, valid: Sequence[str], problems: _Problems
) -> None:
    if value not in valid:
        problems.append(
            (ValidationError, f"unknown {name} {value!r}; valid are {list(valid)}")
        )


def _check_options(
    constraint: str,
    cost_func: str,
    self_flows: str,
    counts: str,
    empty_zones: str,
    chunk_rows: int | None,
    separation: str = "drop",
) -> None:
    """Step 1: the string policies and ``chunk_rows``."""
    problems: _Problems = []
    _check_choice("constraint", constraint, CONSTRAINTS, problems)
    _check_choice("cost_func", cost_func, ("pow", "exp"), problems)
    _check_choice("self_flows", self_flows, ("drop", "keep"), problems)
    _check_choice("counts", counts, ("integer", "real"), problems)
    _check_choice("empty_zones", empty_zones, ("raise", "drop"), problems)
    _check_choice("separation", separation, ("drop", "raise"), problems)
    if chunk_rows is not None and (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, int | np.integer)
        or chunk_rows < 1
    ):
        problems.append(
            (
                ValidationError,
                f"chunk_rows must be a positive integer (origin rows per block) or "
                f"None for blocks of about {_AUTO_BLOCK_CELLS:,} flows; got "
                f"{chunk_rows!r}",
            )
        )
    _raise_problems(problems)


def _read_flows(flows: ArrayLike, drop_self: bool) -> tuple[NDArray[np.float64], bool]:
    """Step 2: read the flows as a read-only stacked ``(n_years, n, n)`` array.

    Also return whether they were a panel. A C-ordered ``float64`` array is not copied:
    the fit keeps a read-only view of it (a fresh copy costs more than a pass over the
    flows, page faults included). It is copied only when ``drop_self`` has self-pairs
    to zero. Read-only always, so the compiled passes see one array type.
    """
    raw = flows.toarray() if hasattr(flows, "toarray") else flows
    y = np.asarray(raw, dtype=np.float64, order="C")
    if y.ndim not in (2, 3) or y.shape[-1] != y.shape[-2]:
        raise ValidationError(
            f"flows must be a square (n, n) matrix or a stacked (n_years, n, n) panel; "
            f"got shape {y.shape}"
        )
    panel = y.ndim == 3
    y = y if panel else y[None]
    if drop_self and np.any(np.diagonal(y, axis1=1, axis2=2) != 0):
        # the caller's array is never written
        y = y.copy() if np.may_share_memory(y, raw) else y
        _set_self_pairs(y, 0.0)
    y = y.view()
    y.flags.writeable = False
    return y, panel


def _check_labels(
    ids: Sequence | None, years: Sequence | None, shape: tuple[int, ...], panel: bool
) -> tuple[tuple, tuple | None]:
    """Step 3: zone and year labels, defaulting to positions."""
    n_years, n, _ = shape
    if years is not None and not panel:
        raise ValidationError(
            "years labels the first axis of a stacked (n_years, n, n) flows array; "
            "stack the yearly matrices with numpy.stack"
        )
    ids = tuple(range(n)) if ids is None else tuple(ids)
    years = (
        (tuple(range(n_years)) if years is None else tuple(years)) if panel else None
    )
    problems: _Problems = []
    if len(ids) != n:
        problems.append(
            (AlignmentError, f"ids has {len(ids)} labels for {n} zones in flows")
        )
    elif len(set(ids)) != n:
        problems.append((ValidationError, "ids contains duplicates"))
    if years is not None and (len(years) != n_years or len(set(years)) != n_years):
        problems.append(
            (
                AlignmentError,
                (
                    f"years must be {n_years} distinct labels, one per matrix of flows; "
                    f"got {len(years)} ({len(set(years))} distinct)"
                ),
            )
        )
    _raise_problems(problems)
    return ids, years


def _flow_summary(y: NDArray[np.float64]) -> tuple[NDArray, ...]:
    """Sum and count the flows ``y`` (T, r, n) of a block, in one sweep.

    Returns the row and column sums, the numbers of positive flows by row and by
    column, and the counts of problem flows (missing, negative, fractional), which
    only tell whether :func:`_check_flow_values` must look for the pairs to report.
    """
    n_years, n_rows, n = y.shape
    rows, cols = np.empty((n_years, n_rows)), np.zeros((n_years, n))
    positive_rows = np.empty((n_years, n_rows), dtype=np.int64)
    positive_cols = np.zeros((n_years, n), dtype=np.int64)
    bad = np.zeros(3, dtype=np.int64)
    flow_checks = _compiled().flow_checks
    for t in range(n_years):
        flow_checks(y[t], bad, rows[t], cols[t], positive_rows[t], positive_cols[t])
    return rows, cols, positive_rows, positive_cols, bad


def _check_flow_values(
    y: NDArray[np.float64],
    counts: str,
    ids: Sequence,
    years: Sequence | None,
    problems: _Problems,
    first_row: int = 0,
) -> None:
    """Step 4: missing, negative and (for integer counts) fractional flows.

    ``y`` holds the rows from zone ``first_row`` on.
    """
    for what, bad, remedy in (
        ("missing (NaN or infinite)", ~np.isfinite(y), "fill them (0 for no flow)"),
        ("negative", y < 0, "flows are counts of migrants and must be >= 0"),
    ):
        if bad.any():
            problems.append(
                (
                    ValidationError,
                    (
                        f"flows are {what} for {int(bad.sum())} pairs: "
                        f"{_pair_labels(bad, ids, years, first_row)}; {remedy}"
                    ),
                )
            )
    if counts == "integer" and np.all(np.isfinite(y)):
        fractional = y != np.round(y)
        if fractional.any():
            problems.append(
                (
                    ValidationError,
                    (
                        f"flows are not integer counts for {int(fractional.sum())} pairs: "
                        f"{_pair_labels(fractional, ids, years, first_row)}; pass "
                        "counts='real' to fit "
                        "non-integer flows (e.g. estimates or rates) by pseudo-likelihood"
                    ),
                )
            )


_ZoneVars = dict[str, list[tuple[str, NDArray[np.float64]]]]  # side -> (name, values)


def _read_zone_vars(
    origin_vars: Mapping[str, ArrayLike] | None,
    destination_vars: Mapping[str, ArrayLike] | None,
    n_years: int,
    ids: Sequence,
    years: Sequence | None,
    problems: _Problems,
) -> _ZoneVars:
    """Step 5: zone covariates as ``(n_years, n)`` arrays, by side."""
    zone_vars: _ZoneVars = {}
    for side, given in (("origin", origin_vars), ("destination", destination_vars)):
        zone_vars[side] = []
        if given is None:
            continue
        if not isinstance(given, Mapping):
            problems.append(
                (
                    ValidationError,
                    (
                        f"{side}_vars must map covariate names to arrays, e.g. "
                        f"{{'log_pop': values}}; got {type(given).__name__}"
                    ),
                )
            )
            continue
        for name, values in given.items():
            arr = _zone_values(
                f"{side}_vars[{name!r}]", values, n_years, ids, years, problems
            )
            if arr is not None:
                zone_vars[side].append((str(name), arr))
    return zone_vars


def _check_absorbed(zone_vars: _ZoneVars, constraint: str) -> None:
    """Step 6: no covariates on a side that has fixed effects."""
    for side in ("origin", "destination"):
        if _has_effects(constraint, side) and zone_vars[side]:
            alternatives = {
                "origin": "'attraction' or 'unconstrained'",
                "destination": "'production' or 'unconstrained'",
            }[side]
            raise IdentificationError(
                f"{side} covariates {[name for name, _ in zone_vars[side]]} are absorbed "
                f"by the {side} fixed effects of a {constraint}-constrained model, so "
                f"their effects are not identified; drop them, or use constraint="
                f"{alternatives} to estimate them"
            )


def _has_effects(constraint: str, side: str) -> bool:
    """Whether a ``constraint`` model has fixed effects on ``side``."""
    return constraint in (
        ("production", "doubly") if side == "origin" else ("attraction", "doubly")
    )


def _active_zones(
    margins: _BlockChecks,
    constraint: str,
    empty_zones: str,
    ids: Sequence,
    years: Sequence | None,
) -> tuple[dict[str, NDArray[np.bool_]], dict[str, list[str]]]:
    """Step 7: zones whose constrained margin is zero, raised or switched off.

    Returns the active zones by side, shape ``(n_years, n)``, and the labels of the
    dropped ones.
    """
    active = {}
    dropped: dict[str, list[str]] = {}
    for side, margin in (("origin", margins.rows), ("destination", margins.cols)):
        if _has_effects(constraint, side):
            empty = margin == 0
        else:
            empty = np.zeros(margin.shape, dtype=bool)
        if empty.any() and empty_zones == "raise":
            raise IdentificationError(
                f"{side} zones {_abbreviate(_zone_list(empty, ids, years))} have no "
                f"modelled flows, so their {side} fixed effects diverge to -inf (the "
                f"{constraint}-constrained model is not identified); pass "
                "empty_zones='drop' to leave them out, or remove them from the data"
            )
        active[side] = ~empty
        dropped[side] = _zone_list(empty, ids, years)
    return active, dropped


def _zone_columns(
    zone_vars: _ZoneVars, constraint: str, years: Sequence | None, shape: tuple
) -> tuple[list[tuple[str, NDArray[np.float64]]], ...]:
    """Step 8: build the named zone-level columns by side.

    The intercept and year effects of the unconstrained model, then the covariates.
    """
    n_years, n, _ = shape
    origin_cols: list[tuple[str, NDArray[np.float64]]] = []
    if constraint == "unconstrained":
        origin_cols.append(("intercept", np.ones((n_years, n))))
        for t in range(1, n_years):  # a panel: years are labelled
            indicator = np.zeros((n_years, n))
            indicator[t] = 1.0
            origin_cols.append((f"year[{years[t]}]", indicator))
    origin_cols += [(f"origin:{name}", arr) for name, arr in zone_vars["origin"]]
    destination_cols = [
        (f"destination:{name}", arr) for name, arr in zone_vars["destination"]
    ]
    return origin_cols, destination_cols


def _stack_columns(
    cols: list[tuple[str, NDArray[np.float64]]], shape: tuple
) -> NDArray[np.float64]:
    """Named ``(n_years, n)`` columns as one ``(n_years, n, k)`` array."""
    if not cols:
        return np.zeros((*shape[:2], 0))
    return np.stack([arr for _, arr in cols], axis=2)


@dataclasses.dataclass(frozen=True)
class _BlockChecks:
    """What the checks of a block of origin rows report: its problems and margins.

    Combined over blocks like the statistics of :mod:`.blocks` (``rows`` concatenated,
    ``cols`` and ``problems`` added).
    """

    rows: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)  # (T, r)
    cols: NDArray[np.float64]  # (T, n) column sums of the block
    problems: _Problems
    # numbers of positive flows by origin (T, r) and by destination (T, n)
    positive_rows: NDArray[np.int64] = dataclasses.field(metadata=_BY_ORIGIN)
    positive_cols: NDArray[np.int64]


def _prediction_totals(
    d: _Design,
    constraint: str,
    given: Mapping[str, ArrayLike | None],
    observed: Mapping[str, NDArray[np.float64]],
    ids: Sequence,
    years: Sequence | None,
    problems: _Problems,
) -> dict[str, NDArray[np.float64] | None]:
    """Margins a prediction is balanced to, by side.

    The ``given`` ones (checked), else the ``observed`` ones.
    """
    totals = {}
    for side, has_fe in (("origin", d.origin_fe), ("destination", d.destination_fe)):
        default = observed[side]
        values = given[side]
        if values is None:
            totals[side] = default
        elif not has_fe:
            problems.append(
                (
                    ValidationError,
                    (
                        f"{side}_totals given, but a {constraint} model has no {side} "
                        "constraint to rebalance to"
                    ),
                )
            )
        else:
            arr = _zone_values(
                f"{side}_totals", values, d.y.shape[0], ids, years, problems
            )
            if arr is not None and np.any(arr < 0):
                problems.append((ValidationError, f"{side}_totals must be >= 0"))
            totals[side] = arr
    return totals
