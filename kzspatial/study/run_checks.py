"""Checks of the run options before any work is done.

:class:`kzspatial.study.pipeline.RunOptions` calls :func:`check_run_options` when it is
created, so the API and every CLI command refuse the same bad values with the same
messages, in milliseconds and before any data are loaded. Each message names the option
(the keyword and the CLI flag), the value and the fix; all problems are listed at once.
Then the cost of the permutation and grid steps is estimated
(:mod:`kzspatial.study.budget`) and refused above the limit unless ``allow_large``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kzspatial._errors import ValidationError
from kzspatial.study.budget import (
    check_cost,
    estimate_cost,
    permutations_within_limit,
    smallest_cell_km,
)

__all__ = [
    "MAP_MODES",
    "SETTLEMENTS",
    "check_run_options",
    "check_tiles",
    "option_error",
]

MAP_MODES = ("top", "threshold", "net", "residual")
SETTLEMENTS = ("geonames", "osm")
#: Coarser grids leave fewer than about 120 cells over Kazakhstan.
MAX_CELL_KM = 150.0
_ZONE_KEYS = ("2024", "2018", "2010")

#: CLI flag of each option, for messages that API and CLI users both read.
_FLAGS = {
    "out_dir": "--out",
    "maps_dir": "--maps",
    "years": "--year",
    "focus_year": "--focus-year",
    "borders": "--borders",
    "permutations": "--permutations",
    "seed": "--seed",
    "tiles": "--tiles",
    "attribution": "--attribution",
    "cell_km": "--cell-km",
    "map_mode": "--mode",
    "top_n": "--top-n",
    "threshold": "--threshold",
    "settlements": "--settlements",
    "include_2022": "--include-2022",
    "tolerance": "--tolerance",
    "scenario_file": "--scenario",
}


def option_error(name: str, value: Any, problem: str) -> str:
    """One problem: ``name=value (CLI --flag): problem``."""
    flag = _FLAGS.get(name)
    where = f" ({flag})" if flag else ""
    return f"{name}={value!r}{where}: {problem}"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _whole(name: str, value: Any, low: int, fix: str) -> list[str]:
    if not _is_int(value):
        return [option_error(name, value, f"must be a whole number; {fix}")]
    if value < low:
        return [option_error(name, value, f"must be at least {low}; {fix}")]
    return []


def _counts(o: Any) -> list[str]:
    within = permutations_within_limit(o.borders if o.borders in _ZONE_KEYS else "2024")
    return [
        *_whole(
            "permutations",
            o.permutations,
            1,
            f"use e.g. 999 (up to about {within:,} without --allow-large)",
        ),
        *_whole("seed", o.seed, 0, "use any whole number from 0, e.g. 12345"),
        *_whole("top_n", o.top_n, 1, "the number of flows to draw, e.g. 60"),
    ]


def _choices(o: Any) -> list[str]:
    out = []
    for name, allowed in (
        ("borders", _ZONE_KEYS),
        ("map_mode", MAP_MODES),
        ("settlements", SETTLEMENTS),
    ):
        value = getattr(o, name)
        if value not in allowed:
            out.append(option_error(name, value, f"choose one of {', '.join(allowed)}"))
    if o.map_mode == "threshold" and o.threshold is None:
        out.append(
            option_error(
                "threshold",
                None,
                "--mode threshold draws the flows of at least --threshold persons; "
                "give it, e.g. --threshold 1000",
            )
        )
    if o.threshold is not None and not (
        isinstance(o.threshold, numbers.Real)
        and math.isfinite(o.threshold)
        and o.threshold >= 0
    ):
        out.append(
            option_error(
                "threshold", o.threshold, "must be a number of persons >= 0, e.g. 1000"
            )
        )
    return out


def _cell(o: Any) -> list[str]:
    value = o.cell_km
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return [option_error("cell_km", value, "must be a number of km, e.g. 5")]
    if not (math.isfinite(value) and 0 < value <= MAX_CELL_KM):
        return [
            option_error(
                "cell_km",
                value,
                f"the grid cell side must be more than 0 km and at most "
                f"{MAX_CELL_KM:g} km; use e.g. 5 (or 1 for a fine grid; below about "
                f"{smallest_cell_km():g} km needs --allow-large)",
            )
        ]
    return []


def _years(o: Any) -> list[str]:
    from kzspatial.datasets.migration import DEFAULT_OD_YEARS, OD_YEAR_STATUS

    available = sorted(OD_YEAR_STATUS)
    years = DEFAULT_OD_YEARS if o.years is None else tuple(o.years)
    out = []
    for y in years:
        if not _is_int(y):
            out.append(
                option_error("years", y, "years are whole numbers, e.g. --year 2024")
            )
        elif y not in OD_YEAR_STATUS:
            out.append(
                option_error("years", y, f"not in the OD file; available: {available}")
            )
    if 2022 in years and not o.include_2022:
        out.append(
            option_error(
                "years",
                2022,
                "2022 is excluded by default: its regional nets contradict the "
                "official BNS nets. Pass --include-2022 (include_2022=True) to load "
                "it anyway",
            )
        )
    if not _is_int(o.focus_year):
        out.append(option_error("focus_year", o.focus_year, "must be a whole year"))
    elif o.focus_year not in OD_YEAR_STATUS:
        out.append(
            option_error(
                "focus_year",
                o.focus_year,
                f"not in the OD file; available: {available}",
            )
        )
    elif not out and o.focus_year not in years:
        out.append(
            option_error(
                "focus_year",
                o.focus_year,
                f"not among the loaded years {sorted(years)}; add it with --year "
                f"{o.focus_year}",
            )
        )
    return out


def _folder(name: str, value: Any) -> list[str]:
    """Refuse a folder that is a file or lies under one."""
    if value is None:
        return []
    path = Path(value)
    if path.exists() and not path.is_dir():
        return [
            option_error(
                name,
                str(value),
                "names an existing file, not a folder; give a folder path",
            )
        ]
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                return [
                    option_error(
                        name,
                        str(value),
                        f"{parent} is a file, so no folder can be made under it",
                    )
                ]
            break
    return []


def _paths(o: Any) -> list[str]:
    return [*_folder("out_dir", o.out_dir), *_folder("maps_dir", o.maps_dir)]


def check_tiles(tiles: str | None, attribution: str | None) -> list[str]:
    """List the problems of a basemap choice (empty when fine).

    Accepted: None, a provider name folium knows (xyzservices, no API key), or an
    http(s) URL template with ``{z}``, ``{x}``, ``{y}`` and an attribution.
    """
    if tiles is None:
        return []
    if not isinstance(tiles, str) or not tiles.strip():
        return [option_error("tiles", tiles, "give a provider name or a URL template")]
    if "{" in tiles or "://" in tiles:
        out = []
        if not tiles.startswith(("https://", "http://")):
            out.append(option_error("tiles", tiles, "a URL template needs https://"))
        missing = [k for k in ("{z}", "{x}", "{y}") if k not in tiles]
        if missing:
            out.append(
                option_error(
                    "tiles",
                    tiles,
                    f"the URL template lacks {', '.join(missing)}, e.g. "
                    "https://tile.example.org/{z}/{x}/{y}.png",
                )
            )
        if not attribution or not str(attribution).strip():
            out.append(
                option_error(
                    "attribution",
                    attribution,
                    "tiles from a URL need the provider's attribution, e.g. "
                    "--attribution '© OpenStreetMap contributors'",
                )
            )
        return out
    import xyzservices

    if tiles.lower() == "openstreetmap":
        return []
    try:
        provider = xyzservices.providers.query_name(tiles)
    except ValueError:
        import difflib

        names = list(xyzservices.providers.flatten())
        close = difflib.get_close_matches(tiles, names, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        return [
            option_error(
                "tiles",
                tiles,
                "unknown tile provider. Use OpenStreetMap, another name from "
                "xyzservices.providers that needs no API key, or a URL template with "
                f"--attribution.{hint}",
            )
        ]
    if provider.requires_token():
        return [
            option_error(
                "tiles",
                tiles,
                "this provider needs an API key; give its URL template with your key "
                "and --attribution instead",
            )
        ]
    return []


_CHECKS: tuple[Callable[[Any], list[str]], ...] = (
    _counts,
    _choices,
    _cell,
    _years,
    _paths,
    lambda o: check_tiles(o.tiles, o.attribution),
    lambda o: _scenario_checks(o),
)


def _scenario_checks(o: Any) -> list[str]:
    from kzspatial.study.scenario_products import check_scenario_options

    return check_scenario_options(o)


def check_run_options(options: Any, *, analyses: frozenset[str]) -> None:
    """Refuse bad run options, then runs estimated above the cost limit.

    Parameters
    ----------
    options : RunOptions
    analyses : frozenset of str
        The analyses the run computes (the cost of those that do not run is not
        counted).

    Raises
    ------
    ValidationError
        Every bad option at once, each with its CLI flag, value and fix; or the cost
        estimate of a step above the limit (see :func:`kzspatial.study.budget.check_cost`).
    """
    problems = [p for check in _CHECKS for p in check(options)]
    if problems:
        head = "invalid option" if len(problems) == 1 else "invalid options"
        raise ValidationError(f"{head}: " + "\n  ".join(problems))
    from kzspatial.datasets.migration import DEFAULT_OD_YEARS

    years = len(options.years or DEFAULT_OD_YEARS)
    costs = estimate_cost(
        permutations=options.permutations if "moran" in analyses else None,
        zones=options.borders,
        years=years,
        cell_km=options.cell_km if "catchments" in analyses else None,
    )
    default = estimate_cost(
        permutations=999, zones=options.borders, years=years, cell_km=None
    )[0]
    check_cost(
        costs,
        allow_large=bool(options.allow_large),
        fixes={
            "Moran": f"lower --permutations (999 take about {default.seconds:.0f} s)",
            "catchment": "use a coarser --cell-km (e.g. 5; at least "
            f"{smallest_cell_km():g} km without --allow-large)",
        },
    )
