"""Checks shared by the observed and modelled catchments: ids, hubs, memory."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.decay import decay_regressor

DEFAULT_MAX_MEMORY_BYTES = 4 * 2**30
"""Largest output (bytes) a catchment computation may allocate unless told otherwise."""

_NO_HUB = -1


def _readonly(a: NDArray) -> NDArray:
    a.flags.writeable = False
    return a


def _format_bytes(n_bytes: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} B"


def _names(labels: Sequence[str], positions: NDArray[np.intp], limit: int = 10) -> str:
    shown = [labels[i] for i in positions[:limit]]
    more = f" and {positions.size - limit} more" if positions.size > limit else ""
    return f"{shown}{more}"


def check_memory(
    n_bytes: int, what: str, *, max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
) -> None:
    """Refuse a computation whose outputs would exceed a memory budget.

    Parameters
    ----------
    n_bytes : int
        Bytes the outputs would need.
    what : str
        Human description of the outputs, e.g. ``"2,700,000 cells x 20 hubs"``.
    max_memory_bytes : int, keyword-only
        Budget in bytes.

    Raises
    ------
    ValidationError
        ``n_bytes > max_memory_bytes``; the message states the size needed and the fix.
    """
    if n_bytes > max_memory_bytes:
        raise ValidationError(
            f"{what} would need {_format_bytes(n_bytes)} of memory, more than the "
            f"budget of {_format_bytes(max_memory_bytes)}; use a coarser grid, fewer "
            "hubs, or raise max_memory_bytes if the machine has the memory"
        )


# --------------------------------------------------------------------------------------
# flow-based catchments


def _check_ids(ids: Sequence[str], n: int) -> tuple[str, ...]:
    id_tuple = tuple(str(i) for i in ids)
    if len(id_tuple) != n:
        raise AlignmentError(
            f"flow matrix has {n} rows but {len(id_tuple)} ids were given; pass one id "
            "per row, in matrix order"
        )
    if len(set(id_tuple)) != n:
        dup = sorted({i for i in id_tuple if id_tuple.count(i) > 1})
        raise AlignmentError(f"ids are not unique: {dup}; give each region one id")
    return id_tuple


def _hub_positions(hubs: Sequence[str], ids: tuple[str, ...]) -> NDArray[np.intp]:
    hub_tuple = tuple(str(h) for h in hubs)
    if not hub_tuple:
        raise ValidationError("no hubs given; pass at least one hub region id")
    if len(set(hub_tuple)) != len(hub_tuple):
        raise ValidationError(f"hubs are not unique: {list(hub_tuple)}")
    position = {rid: k for k, rid in enumerate(ids)}
    missing = [h for h in hub_tuple if h not in position]
    if missing:
        raise AlignmentError(
            f"hubs {missing} are not among the {len(ids)} region ids of the study "
            "area; use region ids (not names) that index the flow matrix"
        )
    return np.array([position[h] for h in hub_tuple], dtype=np.intp)


def _check_threshold(threshold: float, name: str = "threshold") -> float:
    value = float(threshold)
    if not 0.0 < value <= 1.0:
        raise ValidationError(f"{name} must be in (0, 1], got {threshold!r}")
    return value


def _hub_labels(hubs: Sequence[str] | None, n_hubs: int) -> tuple[str, ...]:
    if hubs is None:
        return tuple(f"hub {k}" for k in range(n_hubs))
    labels = tuple(str(h) for h in hubs)
    if len(labels) != n_hubs:
        raise AlignmentError(
            f"{len(labels)} hub names for {n_hubs} hub columns; give one name per "
            "column"
        )
    return labels


def _check_masses(
    values: ArrayLike, labels: tuple[str, ...], what: str, fix: str
) -> NDArray[np.float64]:
    masses = np.asarray(values, dtype=np.float64)
    if masses.shape != (len(labels),):
        raise AlignmentError(
            f"{what} has shape {masses.shape}, expected ({len(labels)},): one value "
            "per hub column of the cost matrix"
        )
    bad = np.flatnonzero(~(np.isfinite(masses) & (masses > 0)))
    if bad.size:
        detail = ", ".join(f"{labels[k]!r}={float(masses[k])!r}" for k in bad[:10])
        raise ValidationError(
            f"{what} must be positive and finite; got {detail}; {fix}"
        )
    return masses


def _check_cost(
    cost: NDArray, labels: tuple[str, ...], cost_func: str, min_cost: float
) -> None:
    decay_regressor(cost_func)  # unknown names raise, listing the registered ones
    if not (np.isfinite(min_cost) and min_cost >= 0):
        raise ValidationError(f"min_cost must be finite and >= 0, got {min_cost!r}")
    if cost.size == 0:
        return
    lowest, highest = float(np.min(cost)), float(np.max(cost))
    floor_ok = lowest > 0 or min_cost > 0 or cost_func == "exp"
    if np.isfinite(lowest) and np.isfinite(highest) and lowest >= 0 and floor_ok:
        return
    # slow path, only on error: say which hub columns are at fault
    col_min = np.min(cost, axis=0)
    col_max = np.max(cost, axis=0)
    finite = np.isfinite(col_min) & np.isfinite(col_max)
    problems = [
        f"{labels[k]!r} has missing or infinite costs" for k in np.flatnonzero(~finite)
    ]
    problems += [
        f"{labels[k]!r} has negative costs"
        for k in np.flatnonzero(finite & (col_min < 0))
    ]
    if not problems:
        zero = np.flatnonzero(col_min == 0)
        problems = [f"{labels[k]!r} has zero costs" for k in zero]
        problems.append(
            "power decay needs log(cost): pass min_cost (e.g. half a cell size, or the "
            "hub's urban radius) or use cost_func='exp'"
        )
    raise ValidationError("invalid cost matrix: " + "; ".join(problems))
