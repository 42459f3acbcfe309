"""Population per catchment, with the unassigned rest, so totals reconcile."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.catchments._checks import (
    _NO_HUB,
    _names,
    _readonly,
)

__all__ = ["CatchmentPopulation", "catchment_population"]


@dataclass(frozen=True, eq=False)
class CatchmentPopulation:
    """Population living in each hub's catchment.

    Attributes
    ----------
    hubs : tuple of str, length h
    population : numpy.ndarray, shape (h,)
        Population assigned to each hub.
    unassigned : float
        Population of units in no catchment (below threshold, outside the grid, ...).
    total : float
        Sum of the input populations; equals ``population.sum() + unassigned`` up to
        floating-point rounding.
    n_units : numpy.ndarray of intp, shape (h,)
        Number of units (regions, points, cells) assigned to each hub.
    n_unassigned : int
    """

    hubs: tuple[str, ...]
    population: NDArray[np.float64]
    unassigned: float
    total: float
    n_units: NDArray[np.intp]
    n_unassigned: int


def catchment_population(
    assignment_index: ArrayLike,
    population: ArrayLike,
    hubs: Sequence[str],
    *,
    unit_ids: Sequence[str] | None = None,
) -> CatchmentPopulation:
    """Sum populations per catchment, reporting the unassigned rest.

    Parameters
    ----------
    assignment_index : array_like of int, shape (n,)
        Hub column each unit belongs to, -1 for none (e.g.
        :attr:`FlowCatchments.catchment_index`, :attr:`HuffResult.dominant_index`, or
        a cell's dominant hub looked up for each settlement point).
    population : array_like, shape (n,)
        Population of each unit; finite and >= 0.
    hubs : sequence of str, length h
    unit_ids : sequence of str, length n, optional, keyword-only
        Unit names for error messages (e.g. region ids).

    Returns
    -------
    CatchmentPopulation

    Raises
    ------
    ValidationError
        Missing (NaN) or negative populations, naming the units; assignment outside
        ``-1 .. h-1``.
    AlignmentError
        ``population``, ``assignment_index`` and ``unit_ids`` differ in length.
    """
    hub_tuple = tuple(str(h) for h in hubs)
    assigned = np.asarray(assignment_index)
    pop = np.asarray(population, dtype=np.float64)
    if assigned.ndim != 1 or pop.shape != assigned.shape:
        raise AlignmentError(
            f"assignment_index has shape {assigned.shape} and population {pop.shape}; "
            "give one population per assigned unit"
        )
    if unit_ids is not None and len(unit_ids) != pop.size:
        raise AlignmentError(f"{len(unit_ids)} unit_ids for {pop.size} units")

    def names(positions) -> str:  # only the units a message shows are named
        first = positions[:10]
        labels = {
            k: str(unit_ids[k]) if unit_ids is not None else f"unit {k}" for k in first
        }
        return _names(labels, positions)

    missing = np.flatnonzero(~np.isfinite(pop))
    if missing.size:
        raise ValidationError(
            f"population is missing for {missing.size} units: "
            f"{names(missing)}; supply a population for every unit (0 if "
            "uninhabited) or drop the units before assigning"
        )
    negative = np.flatnonzero(pop < 0)
    if negative.size:
        raise ValidationError(
            f"population is negative for {names(negative)}; populations must be >= 0"
        )
    if not np.issubdtype(assigned.dtype, np.integer) or (
        assigned.size and (assigned.min() < _NO_HUB or assigned.max() >= len(hub_tuple))
    ):
        raise ValidationError(
            f"assignment_index must hold integers in -1..{len(hub_tuple) - 1} "
            "(hub column, or -1 for none)"
        )

    in_hub = assigned >= 0
    by_hub = np.bincount(
        assigned[in_hub], weights=pop[in_hub], minlength=len(hub_tuple)
    )
    count = np.bincount(assigned[in_hub], minlength=len(hub_tuple)).astype(np.intp)
    return CatchmentPopulation(
        hubs=hub_tuple,
        population=_readonly(by_hub),
        unassigned=float(pop[~in_hub].sum()),
        total=float(pop.sum()),
        n_units=_readonly(count),
        n_unassigned=int((~in_hub).sum()),
    )
