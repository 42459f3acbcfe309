"""Cost of a run estimated from its sizes before it starts, and its limit.

Two steps grow without bound with the options: the permutations of the Moran suite
(``--permutations``) and the national grid of the catchments (``--cell-km``). Their
time and memory are estimated from the number of work units and per-unit costs
measured on the study's sizes (below), so that ``--permutations 10000000`` is refused
in milliseconds with the hours and gigabytes it would take, instead of running for
hours. ``allow_large=True`` (``--allow-large``) lifts the limit.

Per-unit costs were measured with ``time.perf_counter`` and ``tracemalloc`` (peak) on
the 2-core development machine, numpy 2, at 5,000 and 50,000 permutations of 20
regions and at 50, 20, 10, 7 and 5 km grids over the real outline; they are upper
values of those runs, rounded. Estimates are meant to tell an hour from a minute,
not to the second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kzspatial._errors import ValidationError

__all__ = [
    "KZ_AREA_KM2",
    "MAX_BYTES",
    "MAX_SECONDS",
    "StepCost",
    "check_cost",
    "estimate_cost",
    "permutations_within_limit",
    "smallest_cell_km",
]

#: Area of Kazakhstan's outline (km², in the equal-area grid CRS ``KZ_AEA``); the grid's
#: inside cells are this over the cell area (checked against the outline in the tests).
KZ_AREA_KM2 = 2_728_000.0
#: Longest and largest run accepted without ``allow_large``.
MAX_SECONDS = 3600.0
MAX_BYTES = 4 * 2**30

# (seconds, bytes) per unit. Local Moran: per permutation x region (esda-style
# conditional draws, ~140 us per permutation at 20 regions, simulations kept: 8 B plus a
# transient 82 B). Global and bivariate Moran: per permutation x region. Flow Moran: per
# permutation x zone² (numba kernel, ~14 us per permutation at 20 zones). Grid: per
# inside cell x hub (the whole catchment grid step: distances, Huff, potential,
# polygons; 43 us and 210 B per cell with 3 hubs).
_LOCAL = (7.5e-6, 90.0)
_GLOBAL = (0.2e-6, 25.0)
_FLOW = (0.05e-6, 1.0)
_GRID = (15e-6, 70.0)

# Calls per run of the Moran suite (kzspatial.study.moran_suite): every indicator under
# every weights in the focus year (global + local), every indicator and year (global),
# two bivariate pairs per year, and 2 targets x 3 flow weights.
_INDICATORS = 6
_WEIGHTS = 3
_FLOW_CALLS = 6
_BIVARIATE_PER_YEAR = 2
_HUBS = 3
_ZONES = {"2024": 20, "2018": 17, "2010": 16}


@dataclass(frozen=True)
class StepCost:
    """Estimated cost of one step of a run.

    Attributes
    ----------
    step : str
        What is estimated, with its size.
    seconds : float
    bytes : float
        Peak memory of the step.
    """

    step: str
    seconds: float
    bytes: float


def _moran_cost(permutations: int, zones: int, years: int) -> StepCost:
    local_calls = _INDICATORS * _WEIGHTS
    global_calls = local_calls + years * (_INDICATORS + _BIVARIATE_PER_YEAR)
    p = float(permutations)
    seconds = p * (
        local_calls * zones * _LOCAL[0]
        + global_calls * zones * _GLOBAL[0]
        + _FLOW_CALLS * zones**2 * _FLOW[0]
    )
    kept = p * 8.0 * (local_calls * zones + global_calls + _FLOW_CALLS)
    transient = p * zones * max(_LOCAL[1], _GLOBAL[1])
    return StepCost(
        f"Moran permutations ({permutations:,} x {local_calls} local, "
        f"{global_calls} global and {_FLOW_CALLS} flow statistics of {zones} regions)",
        seconds,
        kept + transient,
    )


def _grid_cost(cell_km: float) -> StepCost:
    cells = KZ_AREA_KM2 / (cell_km * cell_km)
    units = cells * _HUBS
    return StepCost(
        f"catchment grid ({cells:,.0f} cells of {cell_km:g} km x {_HUBS} hubs)",
        units * _GRID[0],
        units * _GRID[1],
    )


def estimate_cost(
    *,
    permutations: int | None,
    zones: int | str,
    years: int,
    cell_km: float | None,
) -> list[StepCost]:
    """Estimated time and memory of the steps whose size the options set.

    Parameters
    ----------
    permutations : int or None
        Permutations of the Moran suite; None when it does not run.
    zones : int or {"2024", "2018", "2010"}
        Regions (or the border configuration).
    years : int
        OD years loaded.
    cell_km : float or None
        Grid cell size (km); None when the catchments do not run.

    Returns
    -------
    list of StepCost
    """
    n = _ZONES[zones] if isinstance(zones, str) else int(zones)
    out = []
    if permutations is not None:
        out.append(_moran_cost(permutations, n, years))
    if cell_km is not None:
        out.append(_grid_cost(cell_km))
    return out


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def check_cost(
    costs: list[StepCost],
    *,
    allow_large: bool = False,
    fixes: dict[str, str] | None = None,
) -> None:
    """Refuse steps estimated above :data:`MAX_SECONDS` or :data:`MAX_BYTES`.

    Parameters
    ----------
    costs : list of StepCost
        From :func:`estimate_cost`.
    allow_large : bool
        Accept any cost.
    fixes : dict of str to str, optional
        Advice per step (keyed by the start of :attr:`StepCost.step`), e.g. lower
        ``--permutations``.

    Raises
    ------
    ValidationError
        With each step's estimate in seconds/hours and GB, and the override.
    """
    if allow_large:
        return
    over = [c for c in costs if c.seconds > MAX_SECONDS or c.bytes > MAX_BYTES]
    if not over:
        return
    lines = []
    for c in over:
        fix = next((f for k, f in (fixes or {}).items() if c.step.startswith(k)), "")
        lines.append(
            f"{c.step} would take about {_duration(c.seconds)} and "
            f"{c.bytes / 1e9:,.1f} GB{'; ' + fix if fix else ''}"
        )
    raise ValidationError(
        "refused before starting: "
        + "; ".join(lines)
        + f". The limit is {_duration(MAX_SECONDS)} and {MAX_BYTES / 1e9:.1f} GB per "
        "step; pass --allow-large (allow_large=True) to run it anyway"
    )


def permutations_within_limit(zones: int | str = "2024", years: int = 6) -> int:
    """Largest ``permutations`` accepted without ``allow_large`` (for messages)."""
    one = _moran_cost(1, _ZONES[zones] if isinstance(zones, str) else zones, years)
    return int(min(MAX_SECONDS / one.seconds, MAX_BYTES / one.bytes))


def smallest_cell_km() -> float:
    """Smallest ``cell_km`` accepted without ``allow_large`` (for messages)."""
    per_km2 = _HUBS * KZ_AREA_KM2
    need = max(per_km2 * _GRID[0] / MAX_SECONDS, per_km2 * _GRID[1] / MAX_BYTES)
    return math.ceil(math.sqrt(need) * 100) / 100
