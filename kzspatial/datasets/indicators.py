"""Regional migration indicators by year.

The indicators are joined to population and economy in matching borders.

For each OD year the population table decides the border configuration: the OD flows (given
in today's 20 regions) are aggregated through :mod:`kzspatial.datasets.crosswalk` to the borders of
the population figures, never the other way round, and nothing is pro-rated.

Rates are per 1,000 residents at 1 January of the flow year. Where that date is not in the
population table (2024: the table ends at 1 January 2023), the latest earlier date *in the
same borders* is used and recorded in ``population_date``; no figure is estimated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.flows import in_flows, out_flows, to_matrix
from kzspatial.datasets.crosswalk import aggregate_flows
from kzspatial.datasets.regions import configuration_ids

__all__ = ["INDICATOR_LABELS", "population_at", "regional_indicators"]

INDICATOR_LABELS = {
    "net_rate": "Net interregional migration per 1,000 residents",
    "in_rate": "In-migration from other regions per 1,000 residents",
    "out_rate": "Out-migration to other regions per 1,000 residents",
    "urban_share": "Urban population share (%)",
    "grp_per_capita": "GRP per capita (thousand KZT)",
    "unemployment": "Unemployment rate (%)",
}


def population_at(population: pd.DataFrame, year: int) -> tuple[pd.DataFrame, int]:
    """Return population at 1 January of ``year``, or of the latest earlier year.

    Parameters
    ----------
    population : pandas.DataFrame
        :func:`kzspatial.datasets.population.load_population` (``year``,
        ``configuration`` columns).
    year : int

    Returns
    -------
    rows : pandas.DataFrame
        The rows of the year used, all in one border configuration.
    year_used : int
    """
    years = [y for y in population[YEAR].unique() if y <= year]
    if not years:
        raise ValidationError(f"no population figures at or before 1 January {year}")
    latest = max(years)
    rows = population[population[YEAR] == latest]
    if rows["configuration"].nunique() != 1:
        raise ValidationError(
            f"population of {latest} mixes border configurations "
            f"{sorted(rows['configuration'].unique())}"
        )
    return rows, int(latest)


def regional_indicators(
    od: pd.DataFrame,
    population: pd.DataFrame,
    *,
    grp: pd.DataFrame | None = None,
    unemployment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Migration counts and rates per region and year, with covariates in the same borders.

    Parameters
    ----------
    od : pandas.DataFrame
        Long OD flows ``year, origin, destination, flow`` in the 20-unit configuration
        (moves between regions, persons per year).
    population : pandas.DataFrame
        ``region_id, year, configuration, population`` (1 January) and optionally
        ``urban_share``, from :func:`kzspatial.datasets.population.load_population`.
    grp, unemployment : pandas.DataFrame, optional
        ``region_id, year, configuration`` plus ``grp_per_capita`` / ``unemployment``.
        Joined only where their configuration equals that of the population rows.

    Returns
    -------
    pandas.DataFrame
        One row per year and region: ``year, region_id, configuration, population,
        population_date, in_migration, out_migration, net_migration, in_rate, out_rate,
        net_rate`` (per 1,000), and ``urban_share``, ``grp_per_capita``, ``unemployment``
        where available (missing values stay NaN: never filled in).
    """
    frames = []
    for year in sorted(od[YEAR].unique()):
        pop_rows, pop_year = population_at(population, int(year))
        conf = str(pop_rows["configuration"].iat[0])
        flows_year = od[od[YEAR] == year]
        flows_year.attrs = {**od.attrs, "configuration": "2024"}
        flows_conf, _ = aggregate_flows(flows_year, conf)
        ids = configuration_ids(conf)
        F = to_matrix(
            flows_conf[ORIGIN].tolist(),
            flows_conf[DESTINATION].tolist(),
            flows_conf[FLOW].to_numpy(),
            ids,
        )
        pop = pop_rows.set_index("region_id")
        missing = sorted(set(ids) - set(pop.index))
        if missing:
            raise AlignmentError(
                f"population at 1 January {pop_year} lacks regions "
                f"{missing} of the {conf} configuration"
            )
        frame = pd.DataFrame(
            {
                YEAR: int(year),
                "region_id": ids,
                "configuration": conf,
                "population": pop.loc[list(ids), "population"].to_numpy(dtype=float),
                "population_date": f"{pop_year}-01-01",
                "in_migration": in_flows(F),
                "out_migration": out_flows(F),
            }
        )
        frame["net_migration"] = frame["in_migration"] - frame["out_migration"]
        for name, col in (
            ("in_rate", "in_migration"),
            ("out_rate", "out_migration"),
            ("net_rate", "net_migration"),
        ):
            frame[name] = 1000.0 * frame[col] / frame["population"]
        if "urban_share" in pop.columns:
            frame["urban_share"] = pop.loc[list(ids), "urban_share"].to_numpy(
                dtype=float
            )
        for table, column in ((grp, "grp_per_capita"), (unemployment, "unemployment")):
            frame[column] = np.nan
            if table is None:
                continue
            rows = table[(table[YEAR] == year) & (table["configuration"] == conf)]
            values = rows.set_index("region_id")[column]
            frame[column] = frame["region_id"].map(values).astype(float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
