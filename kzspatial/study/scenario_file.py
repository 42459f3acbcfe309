"""The TOML scenario format: what-if changes for the gravity model of the study.

A scenario file has one ``[scenario]`` table and any number of ``[[shock]]``,
``[[hub]]`` and ``[[link]]`` entries (at least one change in all)::

    [scenario]
    name = "GRP per capita +20 % in the north"
    model = "production"     # "production" | "attraction" | "doubly" | "unconstrained"
    year = 2024              # baseline year of the 2023-2024 panel (default 2024)
    draws = 1000             # parameter draws for the intervals (default 1000)
    seed = 20240101          # seed of the draws (default 0)
    level = 0.95             # coverage of the intervals (default 0.95)
    covariance = "two-way"   # "two-way" | "origin" | "destination" | "robust"

    [[shock]]                # a change of a zone covariate in named regions
    variable = "grp_per_capita"      # "grp_per_capita" | "unemployment" | "population"
    regions = ["North Kazakhstan", "Kostanay", "Pavlodar", "Akmola"]
    change = "+20%"                  # relative change, or
    # add = -2.0                     # absolute change (points for unemployment)
    side = "both"                    # "both" (default) | "origin" (push) | "destination" (pull)

    [[hub]]                  # a destination's attractiveness (its mass / fixed effect)
    region = "Astana"
    attractiveness = "+10%"

    [[link]]                 # a cost change between two regions, both directions
    between = ["Pavlodar", "Astana"]
    distance = "-30%"                # relative change of the modelled distance, or
    # cost_km = 400                  # the new distance in km

Regions are any spelling the resolver knows (:func:`kzspatial.datasets.regions.resolve`),
in the 2024 borders. The cost of the model is the great-circle distance between
population-weighted region centres, so ``distance = "-30%"`` means "the pair behaves as
if 30 % closer" (e.g. a faster rail link).

Validation reports every problem at once, each naming the file, the entry and the fix:
unknown keys, regions, variables or models; out-of-range values (a change at or below
-100 %, a non-positive distance); changes the chosen model cannot respond to (a
production-constrained model absorbs origin-side effects in its origin constraint, an
attraction-constrained one destination-side effects and hub changes, a doubly-constrained
one every zone change). Range checks that need the data (unemployment within [0, 100]
after the shock) run in :func:`kzspatial.study.scenarios.run_scenario`.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.core.gravity import CONSTRAINTS
from kzspatial.datasets.regions import resolve

__all__ = [
    "COVARIANCES",
    "IDENTIFIED_SIDES",
    "MODELS",
    "SCENARIO_YEARS",
    "VARIABLES",
    "HubChange",
    "LinkChange",
    "Scenario",
    "Shock",
    "load_scenario",
    "scenario_from_dict",
]

MODELS: tuple[str, ...] = tuple(CONSTRAINTS)
# the years of the study's push-pull panel (kzspatial.study.gravity_suite._inequality_model)
SCENARIO_YEARS: tuple[int, ...] = (2023, 2024)
COVARIANCES: tuple[str, ...] = ("two-way", "origin", "destination", "robust")


@dataclasses.dataclass(frozen=True)
class Variable:
    """A shockable covariate: its model column, scale and admissible range."""

    column: str  # name of the covariate in the fit (push_pull_covariates)
    log: bool  # the model uses log(value)
    unit: str
    low: float  # admissible range of the shocked value
    high: float
    low_open: bool  # the lower bound itself is excluded


VARIABLES: dict[str, Variable] = {
    "grp_per_capita": Variable(
        "log_grp_per_capita", True, "thousand KZT per person", 0.0, float("inf"), True
    ),
    "unemployment": Variable("unemployment", False, "%", 0.0, 100.0, False),
    "population": Variable("log_population", True, "persons", 0.0, float("inf"), True),
}
# zone sides whose covariates each model estimates (the others are absorbed)
IDENTIFIED_SIDES: dict[str, frozenset[str]] = {
    "unconstrained": frozenset({"origin", "destination"}),
    "production": frozenset({"destination"}),
    "attraction": frozenset({"origin"}),
    "doubly": frozenset(),
}
_SIDES = {
    "both": ("origin", "destination"),
    "origin": ("origin",),
    "destination": ("destination",),
}
_KEYS = {
    "scenario": {
        "name",
        "model",
        "year",
        "draws",
        "seed",
        "level",
        "covariance",
        "description",
    },
    "shock": {"variable", "regions", "change", "add", "side"},
    "hub": {"region", "attractiveness"},
    "link": {"between", "distance", "cost_km"},
}
_PERCENT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*%\s*$")


@dataclasses.dataclass(frozen=True)
class Shock:
    """A covariate change in some regions: ``value * (1 + change)`` or ``value + add``."""

    variable: str
    regions: tuple[str, ...]
    change: float | None
    add: float | None
    side: str
    entry: str  # e.g. "[[shock]] #1", for messages


@dataclasses.dataclass(frozen=True)
class HubChange:
    """A destination's attractiveness multiplied by ``factor``."""

    region: str
    factor: float
    entry: str


@dataclasses.dataclass(frozen=True)
class LinkChange:
    """The cost between two regions (both directions) scaled by ``factor`` or set."""

    between: tuple[str, str]
    factor: float | None
    cost_km: float | None
    entry: str


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A validated scenario (see the module docstring for the file format).

    Attributes
    ----------
    name, model : str
    year, draws, seed : int
    level : float
    covariance : str
    shocks, hubs, links : tuple
        :class:`Shock`, :class:`HubChange`, :class:`LinkChange` entries, region ids in
        the 2024 borders.
    source : str
        File (or ``"<dict>"``) the scenario came from, for messages.
    description : str
    """

    name: str
    model: str
    year: int
    draws: int
    seed: int
    level: float
    covariance: str
    shocks: tuple[Shock, ...]
    hubs: tuple[HubChange, ...]
    links: tuple[LinkChange, ...]
    source: str
    description: str = ""


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Scenario

    Raises
    ------
    ValidationError
        Not readable TOML, or any problem of :func:`scenario_from_dict`.
    RegionNameError
        When the only problems are unknown regions.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(f"scenario file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path.name}: not a valid TOML file ({exc})") from None
    return scenario_from_dict(doc, source=path.name)


def scenario_from_dict(doc: Mapping[str, Any], *, source: str = "<dict>") -> Scenario:
    """Validate a parsed scenario (the TOML document as a mapping).

    Parameters
    ----------
    doc : mapping
        ``{"scenario": {...}, "shock": [...], "hub": [...], "link": [...]}``.
    source : str
        Name used in messages (the file name).

    Returns
    -------
    Scenario

    Raises
    ------
    ValidationError, RegionNameError
        Every problem at once, each naming ``source``, the entry and the fix.
    """
    problems: list[tuple[type[ValidationError], str]] = []

    def problem(entry: str, message: str, cls: type[ValidationError] = ValidationError):
        problems.append((cls, f"{source}: {entry}: {message}"))

    unknown_tables = sorted(set(doc) - set(_KEYS))
    if unknown_tables:
        problem(
            "top level",
            f"unknown table(s) {unknown_tables}; valid are [scenario], [[shock]], "
            "[[hub]] and [[link]]",
        )
    head = doc.get("scenario")
    if not isinstance(head, Mapping):
        problem(
            "[scenario]", "missing; add a [scenario] table with at least model = ..."
        )
        head = {}
    settings = _settings(head, problem)
    model = settings["model"]
    shocks = tuple(
        s
        for k, raw in enumerate(_entries(doc, "shock", problem), start=1)
        if (s := _shock(raw, f"[[shock]] #{k}", model, problem)) is not None
    )
    hubs = tuple(
        h
        for k, raw in enumerate(_entries(doc, "hub", problem), start=1)
        if (h := _hub(raw, f"[[hub]] #{k}", model, problem)) is not None
    )
    links = tuple(
        x
        for k, raw in enumerate(_entries(doc, "link", problem), start=1)
        if (x := _link(raw, f"[[link]] #{k}", problem)) is not None
    )
    _check_overlaps(shocks, hubs, links, problem)
    if not (doc.get("shock") or doc.get("hub") or doc.get("link")):
        problem(
            "scenario", "changes nothing; add a [[shock]], [[hub]] or [[link]] entry"
        )
    if problems:
        classes = {cls for cls, _ in problems}
        cls = RegionNameError if classes == {RegionNameError} else ValidationError
        if len(problems) == 1:
            raise cls(problems[0][1])
        raise cls(
            f"{len(problems)} problems in the scenario:\n- "
            + "\n- ".join(m for _, m in problems)
        )
    return Scenario(**settings, shocks=shocks, hubs=hubs, links=links, source=source)


def _unknown_keys(raw: Mapping, table: str, entry: str, problem) -> None:
    extra = sorted(set(raw) - _KEYS[table])
    if extra:
        problem(entry, f"unknown key(s) {extra}; valid keys are {sorted(_KEYS[table])}")


def _integer(value, entry, key, low, problem) -> int | None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        problem(entry, f"{key} must be an integer >= {low}, got {value!r}")
        return None
    return value


def _settings(head: Mapping, problem) -> dict[str, Any]:
    entry = "[scenario]"
    _unknown_keys(head, "scenario", entry, problem)
    model = head.get("model")
    if model not in MODELS:
        problem(
            entry,
            f"unknown model {model!r}; write model = one of {list(MODELS)}",
        )
        model = None
    year = head.get("year", SCENARIO_YEARS[-1])
    if year not in SCENARIO_YEARS or isinstance(year, bool):
        problem(
            entry,
            f"year = {year!r} is not a year of the study's push-pull panel; use one of "
            f"{list(SCENARIO_YEARS)}",
        )
    draws = _integer(head.get("draws", 1000), entry, "draws", 100, problem)
    if draws is not None and draws > 100_000:
        problem(entry, f"draws = {draws} is more than needed; use at most 100000")
    seed = _integer(head.get("seed", 0), entry, "seed", 0, problem)
    level = head.get("level", 0.95)
    if not isinstance(level, float) or not 0 < level < 1:
        problem(entry, f"level must be a number in (0, 1) such as 0.95, got {level!r}")
    covariance = head.get("covariance", "two-way")
    if covariance not in COVARIANCES:
        problem(
            entry, f"unknown covariance {covariance!r}; use one of {list(COVARIANCES)}"
        )
    name = head.get("name", "Scenario")
    description = head.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        problem(entry, "name and description must be strings")
    return {
        "name": str(name),
        "model": model,
        "year": year,
        "draws": draws,
        "seed": seed,
        "level": level,
        "covariance": covariance,
        "description": str(description),
    }


def _entries(doc: Mapping, table: str, problem) -> list[Mapping]:
    raw = doc.get(table, [])
    if not isinstance(raw, list) or not all(isinstance(e, Mapping) for e in raw):
        problem(f"[[{table}]]", f"write each entry as an array of tables, [[{table}]]")
        return []
    return raw


def _percent(value, entry: str, key: str, problem) -> float | None:
    """'+20%' -> 0.2; a change at or below -100 % is out of range."""
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if match is None:
        problem(
            entry, f'{key} = {value!r} is not a percentage; write e.g. {key} = "+20%"'
        )
        return None
    change = float(match.group(1)) / 100
    if change <= -1:
        problem(
            entry,
            f"{key} = {value!r} would make the value zero or negative; a change must "
            "lie above -100%",
        )
        return None
    return change


def _region(name, entry: str, problem) -> str | None:
    if not isinstance(name, str):
        problem(entry, f"region {name!r} must be a string")
        return None
    try:
        return resolve(name)
    except RegionNameError as exc:
        problem(entry, str(exc), RegionNameError)
        return None


def _shock(raw: Mapping, entry: str, model: str | None, problem) -> Shock | None:
    _unknown_keys(raw, "shock", entry, problem)
    variable = raw.get("variable")
    ok = True
    if variable not in VARIABLES:
        problem(entry, f"unknown variable {variable!r}; use one of {list(VARIABLES)}")
        ok = False
    regions = raw.get("regions")
    if not isinstance(regions, list) or not regions:
        problem(entry, 'regions must be a non-empty list, e.g. regions = ["Kostanay"]')
        regions, ok = [], False
    ids = [_region(r, entry, problem) for r in regions]
    ok = ok and None not in ids
    change, add = raw.get("change"), raw.get("add")
    if (change is None) == (add is None):
        problem(entry, 'give exactly one of change = "+20%" (relative) or add = -2.0')
        ok = False
    elif change is not None:
        change = _percent(change, entry, "change", problem)
        ok = ok and change is not None
    elif not isinstance(add, (int, float)) or isinstance(add, bool) or add != add:
        problem(entry, f"add must be a number, got {add!r}")
        ok = False
    side = raw.get("side", "both")
    if side not in _SIDES:
        problem(entry, f"unknown side {side!r}; use one of {list(_SIDES)}")
        return None
    if model is not None and variable in VARIABLES:
        ok = _check_side(model, variable, side, entry, problem) and ok
    if not ok:
        return None
    return Shock(
        variable=variable,
        regions=tuple(ids),
        change=change,
        add=None if add is None else float(add),
        side=side,
        entry=entry,
    )


def _check_side(model: str, variable: str, side: str, entry: str, problem) -> bool:
    """Check that a shock reaches at least one side the model estimates."""
    if IDENTIFIED_SIDES[model] & set(_SIDES[side]):
        return True
    if model == "doubly":
        why = (
            "a doubly-constrained model absorbs every zone covariate in its origin and "
            "destination constraints, so the shock cannot act"
        )
        fix = (
            'use model = "production" (pull), "attraction" (push) or "unconstrained", or '
            "change costs with [[link]]"
        )
    else:
        absorbed = "origin" if model == "production" else "destination"
        kept = "out-migrants" if model == "production" else "in-migrants"
        why = (
            f"the {absorbed}-side effect of {variable} is absorbed by the {absorbed} "
            f"constraint of a {model}-constrained model (each region's {kept} are fixed)"
        )
        other = "attraction" if model == "production" else "production"
        fix = f'use model = "{other}" or "unconstrained", or side = "both"'
    problem(entry, f"{why}; {fix}")
    return False


def _hub(raw: Mapping, entry: str, model: str | None, problem) -> HubChange | None:
    _unknown_keys(raw, "hub", entry, problem)
    region = _region(raw.get("region"), entry, problem)
    change = _percent(raw.get("attractiveness"), entry, "attractiveness", problem)
    if model in ("attraction", "doubly"):
        problem(
            entry,
            f"a {model}-constrained model keeps every destination's in-migrants fixed, "
            "so a change of attractiveness is absorbed by the destination constraint; "
            'use model = "production" or "unconstrained"',
        )
        return None
    if region is None or change is None:
        return None
    return HubChange(region=region, factor=1 + change, entry=entry)


def _link(raw: Mapping, entry: str, problem) -> LinkChange | None:
    _unknown_keys(raw, "link", entry, problem)
    between = raw.get("between")
    if not isinstance(between, list) or len(between) != 2:
        problem(
            entry,
            'between must name two regions, e.g. between = ["Pavlodar", "Astana"]',
        )
        return None
    ids = [_region(r, entry, problem) for r in between]
    if None in ids:
        return None
    if ids[0] == ids[1]:
        problem(
            entry, f"between names the same region twice ({ids[0]}); name two regions"
        )
        return None
    distance, cost_km = raw.get("distance"), raw.get("cost_km")
    if (distance is None) == (cost_km is None):
        problem(entry, 'give exactly one of distance = "-30%" or cost_km = 400')
        return None
    if distance is not None:
        change = _percent(distance, entry, "distance", problem)
        if change is None:
            return None
        return LinkChange(tuple(ids), 1 + change, None, entry)
    if (
        not isinstance(cost_km, (int, float))
        or isinstance(cost_km, bool)
        or not 0 < cost_km < float("inf")
    ):
        problem(entry, f"cost_km must be a positive distance in km, got {cost_km!r}")
        return None
    return LinkChange(tuple(ids), None, float(cost_km), entry)


def _check_overlaps(shocks, hubs, links, problem) -> None:
    """Report a variable of a region, a hub or a pair changed twice (ambiguous)."""
    seen: dict[tuple, str] = {}
    keyed = [
        ((s.variable, r, side), s.entry, f"{s.variable} of {r} ({side} side)")
        for s in shocks
        for r in s.regions
        for side in _SIDES[s.side]
    ]
    keyed += [
        (("hub", h.region), h.entry, f"the attractiveness of {h.region}") for h in hubs
    ]
    keyed += [
        (
            ("link", *sorted(x.between)),
            x.entry,
            f"the cost {x.between[0]}-{x.between[1]}",
        )
        for x in links
    ]
    for key, entry, what in keyed:
        if key in seen and seen[key] != entry:
            problem(
                entry,
                f"{what} is already changed by {seen[key]}; merge the two entries",
            )
        seen.setdefault(key, entry)
