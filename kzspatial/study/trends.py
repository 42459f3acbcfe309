"""National and regional migration trends, 2010 onwards, under both BNS concepts.

Two counts of internal migration exist and are never mixed here:

- **moves between regions** (interregional): the total of the BNS origin-destination
  file, persons who changed permanent residence from one region to another;
- **all moves within the republic**: the arrivals of the BNS monthly file, which also
  count moves between settlements of the same region.

Shares of moves ending in the three cities are shares of moves between regions. The urban
share is that of the population at 1 January (population workbook, 2000-2023); later dates
are not in any registered source and stay missing. Rates are per 1,000 residents at
1 January of the flow year, or of the latest earlier date, in exactly matching borders:
a group of regions gets a population only where every population unit of that date lies
entirely inside it (the crosswalk sums, never pro-rates).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import ValidationError

# one rule for "population at 1 January or the latest earlier date"
from kzspatial.datasets.indicators import population_at, regional_indicators
from kzspatial.datasets.migration import OD_YEAR_STATUS
from kzspatial.datasets.regions import (
    HUB_IDS,
    configuration_ids,
    get_region,
    parent_in,
)

__all__ = [
    "BETWEEN_REGIONS",
    "PART_YEAR_UNSTATED",
    "WITHIN_REPUBLIC",
    "group_rates",
    "national_trends",
    "regional_trends",
    "year_periods",
]

BETWEEN_REGIONS = "moves between regions"
WITHIN_REPUBLIC = "all moves within the republic"
PART_YEAR_UNSTATED = "part year, months not stated by the source"
_MONTH_ABBR = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def _hub_label(region_id: str) -> str:
    return get_region(region_id).name_en.removesuffix(" city").lower()


def year_periods(
    years, monthly: pd.DataFrame | None = None
) -> dict[int, tuple[str, str]]:
    """Return what part of each year the counts cover: ``{year: (period, months)}``.

    A year is a part year when :data:`kzspatial.datasets.migration.OD_YEAR_STATUS` says
    so. Its months are taken from the monthly file when that file has monthly rows for
    the year; otherwise the period is :data:`PART_YEAR_UNSTATED` and ``months`` is empty:
    no months are assumed.

    Parameters
    ----------
    years : iterable of int
    monthly : pandas.DataFrame, optional
        :func:`kzspatial.datasets.migration.load_monthly_migration` with
        ``annual=False`` (a ``month`` column); annual tables carry no months.
    """
    months_by_year: dict[int, list[int]] = {}
    if monthly is not None and "month" in monthly.columns:
        for year, part in monthly.groupby(YEAR):
            found = sorted(int(m) for m in part["month"].dropna().unique())
            if found:
                months_by_year[int(year)] = found
    out = {}
    for year in sorted({int(y) for y in years}):
        months = months_by_year.get(year, [])
        text = ""
        if months:
            contiguous = months == list(range(months[0], months[-1] + 1))
            text = (
                f"{_MONTH_ABBR[months[0] - 1]}-{_MONTH_ABBR[months[-1] - 1]}"
                if contiguous
                else ", ".join(_MONTH_ABBR[m - 1] for m in months)
            )
        part_year = OD_YEAR_STATUS.get(year, "").startswith("part year")
        if part_year:
            period = f"part year ({text})" if months else PART_YEAR_UNSTATED
        elif months and len(months) < 12:
            period = f"part year ({text})"
        else:
            period = "full year"
        out[year] = (period, text)
    return out


def national_trends(
    od: pd.DataFrame,
    *,
    monthly: pd.DataFrame | None = None,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """National moves under both concepts, the three cities' shares and the urban share.

    Parameters
    ----------
    od : pandas.DataFrame
        Long OD flows ``year, origin, destination, flow`` in today's 20 regions (moves
        between regions), e.g. every year of
        :func:`kzspatial.datasets.migration.load_od_flows`.
    monthly : pandas.DataFrame, optional
        The monthly file (all moves within the republic), annual or with ``month``
        (pass ``annual=False`` so that the months covered can be stated).
    population : pandas.DataFrame, optional
        :func:`kzspatial.datasets.population.load_population` (``urban`` and
        ``population`` columns) for the urban share at 1 January.

    Returns
    -------
    pandas.DataFrame
        One row per year of ``od`` or ``monthly``: ``year, period, months, od_status,
        moves_between_regions, moves_within_republic, moves_within_regions`` (the
        difference, where both exist), ``share_to_<city>`` for Astana, Almaty and
        Shymkent and ``share_to_three_cities`` (fractions of moves between regions),
        ``arrivals_share_three_cities`` (fraction of all moves within the republic
        ending in the three cities), ``urban_share`` (fraction, 1 January) and
        ``urban_share_note``. Missing figures stay NaN.
    """
    years = set(od[YEAR].astype(int))
    if monthly is not None:
        years |= set(monthly[YEAR].astype(int))
    periods = year_periods(years, monthly)
    rows = []
    for year in sorted(years):
        flows = od[od[YEAR] == year]
        total = float(flows[FLOW].sum()) if len(flows) else np.nan
        row = {
            YEAR: year,
            "period": periods[year][0],
            "months": periods[year][1],
            "od_status": OD_YEAR_STATUS.get(year, "unchecked") if len(flows) else "",
            "moves_between_regions": total,
        }
        inflow = flows.groupby(DESTINATION)[FLOW].sum()
        for hub in HUB_IDS:
            row[f"share_to_{_hub_label(hub)}"] = (
                float(inflow.get(hub, 0.0)) / total if total > 0 else np.nan
            )
        row["share_to_three_cities"] = (
            float(inflow.reindex(list(HUB_IDS)).fillna(0).sum()) / total
            if total > 0
            else np.nan
        )
        row["moves_within_republic"] = np.nan
        row["arrivals_share_three_cities"] = np.nan
        if monthly is not None:
            part = monthly[monthly[YEAR] == year]
            if len(part):
                arrivals = float(part["arrivals"].sum())
                row["moves_within_republic"] = arrivals
                row["arrivals_share_three_cities"] = (
                    float(part.loc[part["region_id"].isin(HUB_IDS), "arrivals"].sum())
                    / arrivals
                )
        row["moves_within_regions"] = (
            row["moves_within_republic"] - row["moves_between_regions"]
        )
        row.update(_urban_share(population, year))
        rows.append(row)
    return pd.DataFrame(rows)


def _urban_share(population: pd.DataFrame | None, year: int) -> dict[str, object]:
    if population is None or "urban" not in population.columns:
        return {
            "urban_share": np.nan,
            "urban_share_note": "no urban/rural figures given",
        }
    rows = population[population[YEAR] == year]
    if rows.empty:
        last = int(population[YEAR].max())
        return {
            "urban_share": np.nan,
            "urban_share_note": f"not available: the population table ends at "
            f"1 January {last}",
        }
    share = float(rows["urban"].sum() / rows["population"].sum())
    definition = (
        str(rows["urban_definition"].iat[0]) if "urban_definition" in rows else ""
    )
    return {
        "urban_share": share,
        "urban_share_note": f"1 January {year}"
        + (f", {definition} urban definition" if definition else ""),
    }


def group_rates(
    od: pd.DataFrame,
    population: pd.DataFrame,
    groups: Mapping[str, str],
) -> pd.DataFrame:
    """Gross in-, out- and net migration and rates per 1,000 for groups of regions.

    Flows between regions of the same group are internal to it and not counted. A
    group's population in a year is the sum of the population units of that date lying
    entirely inside it; if a unit straddles two groups (e.g. South Kazakhstan, which held
    Shymkent until 2018, straddles "south" and "three cities"), both get no population
    and no rates that year: nothing is pro-rated.

    Parameters
    ----------
    od : pandas.DataFrame
        ``year, origin, destination, flow`` in today's 20 regions.
    population : pandas.DataFrame
        ``region_id, year, configuration, population`` at 1 January, in the borders of
        each date (:func:`kzspatial.datasets.population.load_population`).
    groups : mapping of str to str
        Group of each of today's 20 region ids (identity for regions in today's borders;
        ``parent_in(r, "2010")`` for the 2010 borders; macro-regions).

    Returns
    -------
    pandas.DataFrame
        ``year, unit, population, population_date, in_migration, out_migration,
        net_migration, in_rate, out_rate, net_rate, note``; counts are persons (moves
        between regions), rates per 1,000; ``note`` says why a population is missing.
    """
    ids = configuration_ids("2024")
    missing = sorted(set(ids) - set(groups))
    if missing:
        raise ValidationError(f"groups lacks regions {missing}; give all 20")
    group_of = pd.Series({r: groups[r] for r in ids})
    names = list(dict.fromkeys(group_of))
    # group number of each flow's ends (-1: not one of the 20 regions, not counted);
    # flows inside a group count 0, a missing flow counts 0
    code = {r: names.index(g) for r, g in group_of.items()}
    o = od[ORIGIN].map(code).fillna(-1).to_numpy(int)
    d = od[DESTINATION].map(code).fillna(-1).to_numpy(int)
    between = np.where((o == d) & (o >= 0), 0.0, od[FLOW].fillna(0).to_numpy(float))
    year_of = od[YEAR].to_numpy()
    frames = []
    for year in np.unique(year_of[pd.notna(year_of)]):
        rows = year_of == year
        out_m, in_m = (
            np.bincount(
                end[rows & (end >= 0)],
                weights=between[rows & (end >= 0)],
                minlength=len(names),
            )
            for end in (o, d)
        )
        pop, note, pop_year = _group_population(population, int(year), group_of)
        frame = pd.DataFrame(
            {
                YEAR: int(year),
                "unit": names,
                "population": [pop.get(g, np.nan) for g in names],
                "population_date": f"{pop_year}-01-01",
                "in_migration": in_m,
                "out_migration": out_m,
            }
        )
        frame["net_migration"] = frame["in_migration"] - frame["out_migration"]
        for rate, count in (
            ("in_rate", "in_migration"),
            ("out_rate", "out_migration"),
            ("net_rate", "net_migration"),
        ):
            frame[rate] = 1000.0 * frame[count] / frame["population"]
        frame["note"] = [note.get(g, "") for g in names]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _group_population(
    population: pd.DataFrame, year: int, group_of: pd.Series
) -> tuple[dict[str, float], dict[str, str], int]:
    rows, pop_year = population_at(population, year)
    conf = str(rows["configuration"].iat[0])
    # which groups each population unit of that date overlaps
    touches: dict[str, set[str]] = {}
    for region, group in group_of.items():
        touches.setdefault(parent_in(region, conf), set()).add(group)
    values = rows.set_index("region_id")["population"].astype(float)
    pop: dict[str, float] = {}
    note: dict[str, str] = {}
    straddling = {g for gs in touches.values() if len(gs) > 1 for g in gs}
    for unit, gs in touches.items():
        if len(gs) > 1:
            for g in gs:
                note[g] = (
                    f"no population: the unit {get_region(unit).name_en} of 1 January "
                    f"{pop_year} ({conf} borders) also covers other groups"
                )
            continue
        (g,) = gs
        if g not in straddling:
            pop[g] = pop.get(g, 0.0) + float(values.get(unit, np.nan))
    return pop, note, pop_year


def regional_trends(
    od: pd.DataFrame,
    population: pd.DataFrame,
    *,
    monthly: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Gross in-, out- and net rates per 1,000 by region and year, with the period.

    Each year is expressed in the borders of its population figures (the OD flows are
    aggregated exactly), as in :func:`kzspatial.datasets.indicators.regional_indicators`,
    whose columns this returns plus ``period`` and ``months`` (see :func:`year_periods`).
    """
    table = regional_indicators(od, population)
    periods = year_periods(table[YEAR].unique(), monthly)
    table.insert(1, "period", table[YEAR].map(lambda y: periods[int(y)][0]))
    table.insert(2, "months", table[YEAR].map(lambda y: periods[int(y)][1]))
    return table
