"""Published figures set beside the official data, under both BNS concepts.

A user's table of published figures (``year, variable, value, unit``, optionally
``region``) is validated, every problem named by its line and column, and each figure is
compared with every official concept that can measure it:

==========================  =============================================================
variable                    concepts compared
==========================  =============================================================
``internal_migration``      moves between regions (OD total); all moves within the
                            republic (arrivals of the monthly file)
``share_to_large_cities``   share of moves between regions ending in Astana, Almaty and
                            Shymkent; share of all arrivals within the republic there
``urban_share``             urban population share at 1 January of the year; at
                            1 January of the next year (end of the year)
``urbanisation_growth``     relative change of the urban share, in %, over the year
                            before 1 January; over the year (to the next 1 January)
``net_migration``           net moves between regions of a region (the nets of all
                            moves within the republic are the same by construction)
==========================  =============================================================

The figure is "closest" to the concept with the smallest relative difference and is
flagged under each concept where that difference exceeds ``tolerance``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets.regions import get_region, resolve
from kzspatial.study.trends import BETWEEN_REGIONS, WITHIN_REPUBLIC

__all__ = [
    "STUDY_TABLE6_COLUMNS",
    "VARIABLES",
    "check_published",
    "load_official_national",
    "published_from_wide",
    "read_published",
    "validate_published",
]

_COUNT_UNITS = {
    "persons": 1.0,
    "people": 1.0,
    "thousand": 1e3,
    "thousand persons": 1e3,
    "thousand people": 1e3,
    "million": 1e6,
}
_PERCENT_UNITS = {"%": 1.0, "percent": 1.0, "pct": 1.0}
# variable -> (units accepted with their factor to the base unit, region allowed)
VARIABLES: dict[str, tuple[dict[str, float], bool]] = {
    "internal_migration": (_COUNT_UNITS, False),
    "share_to_large_cities": (_PERCENT_UNITS, False),
    "urban_share": (_PERCENT_UNITS, False),
    "urbanisation_growth": (_PERCENT_UNITS, False),
    "net_migration": (_COUNT_UNITS, True),
}
STUDY_TABLE6_COLUMNS: dict[str, tuple[str, str]] = {
    "internal_migration_thousand": ("internal_migration", "thousand"),
    "urban_share_pct": ("urban_share", "%"),
    "urbanisation_growth_pct": ("urbanisation_growth", "%"),
    "share_to_large_cities_pct": ("share_to_large_cities", "%"),
}
_COLUMNS = ("year", "variable", "value", "unit")


def published_from_wide(
    wide: pd.DataFrame,
    columns: Mapping[str, tuple[str, str]] = STUDY_TABLE6_COLUMNS,
    *,
    year_col: str = "year",
) -> pd.DataFrame:
    """Turn a wide table (one column per series) into the long published-figure format.

    Parameters
    ----------
    wide : pandas.DataFrame
        A year column and one column per series, e.g. the study's Table 6.
    columns : mapping of str to (variable, unit)
        Which column holds which variable in which unit.

    Returns
    -------
    pandas.DataFrame
        ``year, variable, value, unit``; empty cells are dropped.
    """
    missing = sorted(({year_col} | set(columns)) - set(wide.columns))
    if missing:
        raise ValidationError(f"the wide table lacks columns {missing}")
    frames = [
        pd.DataFrame(
            {
                "year": wide[year_col],
                "variable": variable,
                "value": wide[column],
                "unit": unit,
            }
        )
        for column, (variable, unit) in columns.items()
    ]
    out = pd.concat(frames, ignore_index=True)
    return out[out["value"].notna()].reset_index(drop=True)


def read_published(path: str | Path) -> pd.DataFrame:
    """Read and validate a CSV of published figures (see :func:`validate_published`)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError(f"{path}: not a readable UTF-8 CSV ({exc})") from None
    except pd.errors.EmptyDataError:
        raise ValidationError(f"{path}: the file is empty") from None
    return validate_published(table, source=str(path))


def validate_published(table: pd.DataFrame, *, source: str = "table") -> pd.DataFrame:
    """Check a table of published figures; report every problem at once.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``year, variable, value, unit`` and optionally ``region`` (empty for
        national figures). Values may be strings as read from a CSV.
    source : str
        Name used in messages (the file).

    Returns
    -------
    pandas.DataFrame
        ``line`` (line in the file, header = 1), ``year`` (int), ``variable``,
        ``value`` (float), ``unit``, ``region`` (name as given) and ``region_id``.

    Raises
    ------
    ValidationError
        Missing columns, or rows with a non-integer year, a non-numeric value, an
        unknown variable, a unit that does not fit the variable, an unknown region or a
        region on a national-only variable, or duplicated rows; each problem names its
        line and column.
    """
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ValidationError(
            f"{source}: missing column(s) {missing}; expected {list(_COLUMNS)} and "
            f"optionally 'region' (found {list(table.columns)})"
        )
    text = table.astype(str).apply(lambda s: s.str.strip())
    if "region" not in text.columns:
        text["region"] = ""
    text["region"] = text["region"].replace({"nan": "", "None": ""})
    problems: list[str] = []
    rows = []
    for k, row in enumerate(text.itertuples(index=False)):
        line = k + 2
        year = pd.to_numeric(row.year, errors="coerce")
        value = pd.to_numeric(row.value.replace(",", ""), errors="coerce")
        if not np.isfinite(year) or year != int(year):
            problems.append(f"line {line}, column 'year': {row.year!r} is not a year")
        if not np.isfinite(value):
            problems.append(
                f"line {line}, column 'value': {row.value!r} is not a number"
            )
        variable = row.variable.casefold()
        region_id = ""
        if variable not in VARIABLES:
            problems.append(
                f"line {line}, column 'variable': {row.variable!r} is unknown; "
                f"use one of {sorted(VARIABLES)}"
            )
        else:
            units, by_region = VARIABLES[variable]
            if row.unit.casefold() not in units:
                problems.append(
                    f"line {line}, column 'unit': {row.unit!r} does not fit "
                    f"{variable}; use one of {sorted(units)}"
                )
            if row.region and not by_region:
                problems.append(
                    f"line {line}, column 'region': {variable} is national only; "
                    "leave the region empty"
                )
            elif by_region and not row.region:
                problems.append(
                    f"line {line}, column 'region': {variable} needs a region"
                )
        if row.region:
            try:
                region_id = resolve(row.region)
            except RegionNameError as exc:
                problems.append(f"line {line}, column 'region': {exc}")
        rows.append(
            {
                "line": line,
                "year": int(year) if np.isfinite(year) else -1,
                "variable": variable,
                "value": float(value),
                "unit": row.unit,
                "region": row.region,
                "region_id": region_id,
            }
        )
    out = pd.DataFrame(rows)
    key = out[["year", "variable", "region_id"]].astype(str).agg("|".join, axis=1)
    for dup in key[key.duplicated()].unique():
        lines = ", ".join(map(str, out.loc[key == dup, "line"]))
        problems.append(f"lines {lines}: the same year, variable and region repeat")
    if problems:
        raise ValidationError(
            f"{source}: {len(problems)} problem(s) in the published figures:\n  "
            + "\n  ".join(problems[:50])
        )
    return out


def load_official_national(population: pd.DataFrame | None = None) -> pd.DataFrame:
    """Official national series of every registered year, from kzspatial's loaders.

    Every OD year is included, 2022 too (its regional nets contradict the official
    ones; its status is in ``od_status``), with the monthly file and the population.

    Parameters
    ----------
    population : pandas.DataFrame, optional
        :func:`kzspatial.datasets.population.load_population`, when the caller
        has it already (the workbook takes a second to parse); loaded by default.
    """
    from kzspatial.datasets.migration import load_monthly_migration, load_od_flows
    from kzspatial.datasets.population import load_population
    from kzspatial.study.trends import national_trends

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 2022 is read knowingly
        od = load_od_flows(
            (2010, 2015, 2020, 2021, 2022, 2023, 2024, 2025), include_2022=True
        )
    return national_trends(
        od,
        monthly=load_monthly_migration(annual=False),
        population=load_population() if population is None else population,
    )


def _official(
    national: pd.DataFrame, nets: pd.Series | None, variable: str, year: int, region
) -> list[tuple[str, float]]:
    """(concept, official value in the variable's base unit) pairs for one figure."""
    by_year = national.set_index(YEAR)

    def get(column: str, y: int) -> float:
        return float(by_year.at[y, column]) if y in by_year.index else np.nan

    if variable == "internal_migration":
        return [
            (BETWEEN_REGIONS, get("moves_between_regions", year)),
            (WITHIN_REPUBLIC, get("moves_within_republic", year)),
        ]
    if variable == "share_to_large_cities":
        return [
            (BETWEEN_REGIONS, 100 * get("share_to_three_cities", year)),
            (WITHIN_REPUBLIC, 100 * get("arrivals_share_three_cities", year)),
        ]
    if variable == "urban_share":
        return [
            ("1 January of the year", 100 * get("urban_share", year)),
            ("1 January of the next year", 100 * get("urban_share", year + 1)),
        ]
    if variable == "urbanisation_growth":
        u = [get("urban_share", y) for y in (year - 1, year, year + 1)]
        return [
            ("change to 1 January of the year", 100 * (u[1] / u[0] - 1)),
            ("change to 1 January of the next year", 100 * (u[2] / u[1] - 1)),
        ]
    value = np.nan if nets is None else float(nets.get((year, region), np.nan))
    return [(BETWEEN_REGIONS + " (nets equal under both concepts)", value)]


def check_published(
    table: pd.DataFrame,
    *,
    national: pd.DataFrame | None = None,
    od: pd.DataFrame | None = None,
    tolerance: float = 0.05,
) -> pd.DataFrame:
    """Set each published figure beside the official data under every concept.

    Parameters
    ----------
    table : pandas.DataFrame
        Published figures (``year, variable, value, unit``, optional ``region``);
        validated with :func:`validate_published` unless it already has ``line``.
    national : pandas.DataFrame, optional
        :func:`kzspatial.study.trends.national_trends`; default
        :func:`load_official_national`.
    od : pandas.DataFrame, optional
        OD flows (20 regions) for regional ``net_migration`` figures.
    tolerance : float, default 0.05
        Relative difference beyond which a figure is flagged.

    Returns
    -------
    pandas.DataFrame
        One row per figure and concept: ``line, year, variable, region, published,
        unit, concept, official`` (in the published unit), ``difference,
        relative_difference, flagged, closest`` and ``verdict`` (the same for all
        concepts of a figure).
    """
    if not 0 < tolerance < 10:
        raise ValidationError(f"tolerance must be a positive fraction, got {tolerance}")
    if "line" not in table.columns:
        table = validate_published(table)
    if national is None:
        national = load_official_national()
    nets = None
    if od is not None:
        nets = (
            od.groupby([YEAR, DESTINATION])[FLOW]
            .sum()
            .sub(od.groupby([YEAR, ORIGIN])[FLOW].sum(), fill_value=0)
        )
    rows = []
    for fig in table.itertuples(index=False):
        factor = VARIABLES[fig.variable][0][fig.unit.casefold()]
        found = _official(national, nets, fig.variable, fig.year, fig.region_id)
        figure_rows = []
        for concept, official in found:
            official = official / factor
            diff = fig.value - official
            rel = abs(diff) / abs(official) if official else np.nan
            figure_rows.append(
                {
                    "line": fig.line,
                    "year": fig.year,
                    "variable": fig.variable,
                    "region": get_region(fig.region_id).name_en
                    if fig.region_id
                    else "",
                    "published": fig.value,
                    "unit": fig.unit,
                    "concept": concept,
                    "official": official,
                    "difference": diff,
                    "relative_difference": rel,
                    "flagged": bool(np.isfinite(rel) and rel > tolerance),
                }
            )
        status = national.set_index(YEAR).reindex([fig.year])
        for row in figure_rows:
            row["year_status"] = "; ".join(
                str(v)
                for v in status[["period", "od_status"]].iloc[0]
                if isinstance(v, str) and v
            )
        rows += _with_verdict(figure_rows, tolerance)
    return pd.DataFrame(rows)


def _with_verdict(figure_rows: list[dict], tolerance: float) -> list[dict]:
    rel = np.array([r["relative_difference"] for r in figure_rows], float)
    known = np.isfinite(rel)
    best = int(np.nanargmin(rel)) if known.any() else -1
    if best < 0:
        verdict = "no official figure for this year"
    elif rel[best] <= tolerance:
        verdict = (
            f"matches {figure_rows[best]['concept']} within {tolerance:.0%} "
            f"({rel[best]:.1%})"
        )
    else:
        unknown = [
            r["concept"] for r, k in zip(figure_rows, known, strict=True) if not k
        ]
        verdict = (
            f"differs from every available concept by more than {tolerance:.0%}; "
            f"closest: {figure_rows[best]['concept']} ({rel[best]:.1%} off)"
            + (f"; no official figure for {', '.join(unknown)}" if unknown else "")
        )
    for k, row in enumerate(figure_rows):
        row["closest"] = k == best
        row["verdict"] = verdict
    return figure_rows
