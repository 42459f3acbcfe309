"""Regional inequality of GRP per capita and its relation to migration.

Per year, the max/min ratio, Gini and Theil index of GRP per capita across the regions
of that year's borders, unweighted and weighted by population at 1 January (aggregated
exactly to the GRP's borders where the population is given in finer ones). The number of
units changes with the borders (16 to 2017, 17 to 2021, 20 in 2022), which moves the
indices by itself: trends are reported with that caveat and per border period.

The relation to migration: per OD year, the correlation across regions between the net
rate of moves between regions and log GRP per capita of the latest year before the moves
(in the same borders), and the push-pull elasticities of the gravity model, taken from
the ``gravity_inequality`` table of :func:`kzspatial.study.analysis.gravity_suite`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.inequality import gini, max_min_ratio, theil
from kzspatial.datasets.crosswalk import aggregate_regions
from kzspatial.datasets.regions import configuration_ids, get_region, parent_in
from kzspatial.study.trends import group_rates

__all__ = [
    "INEQUALITY_MEASURES",
    "check_ratio_claim",
    "grp_inequality",
    "inequality_trend",
    "migration_grp_correlation",
    "push_pull_elasticities",
]

INEQUALITY_MEASURES = (
    "max_min_ratio",
    "gini",
    "gini_weighted",
    "theil",
    "theil_weighted",
)
_GRP = "grp_per_capita_thousand_kzt"


def _weights(population: pd.DataFrame, year: int, conf: str) -> pd.Series | None:
    """Return population at 1 January ``year`` in the ``conf`` borders, or None."""
    rows = population[population[YEAR] == year]
    if rows.empty:
        return None
    try:
        summed = aggregate_regions(rows, conf, sum_columns=["population"])
    except AlignmentError:  # population in coarser borders: cannot be split
        return None
    return summed.set_index("region_id")["population"]


def grp_inequality(
    grp: pd.DataFrame,
    population: pd.DataFrame,
    *,
    value_col: str = _GRP,
) -> pd.DataFrame:
    """Inequality of GRP per capita across regions, per year.

    Parameters
    ----------
    grp : pandas.DataFrame
        ``region_id, year, configuration`` and ``value_col``
        (:func:`kzspatial.datasets.regional_stats.load_grp_per_capita`).
    population : pandas.DataFrame
        ``region_id, year, configuration, population`` at 1 January.
    value_col : str
        Column of GRP per capita (thousand KZT by default).

    Returns
    -------
    pandas.DataFrame
        ``year, configuration, n_regions, max_region, max_value, min_region,
        min_value`` and :data:`INEQUALITY_MEASURES`; the weighted ones are NaN where
        no population of 1 January in matching borders exists.
    """
    if value_col not in grp.columns:
        raise ValidationError(f"grp lacks the column {value_col!r}")
    rows = []
    for year, part in grp.groupby(YEAR, sort=True):
        part = part[np.isfinite(part[value_col].astype(float))]
        confs = part["configuration"].unique()
        if len(confs) != 1:
            raise ValidationError(f"GRP of {year} mixes configurations {list(confs)}")
        conf = str(confs[0])
        x = part[value_col].to_numpy(float)
        ids = part["region_id"].tolist()
        weights = _weights(population, int(year), conf)
        w = None if weights is None else weights.reindex(ids).to_numpy(float)
        has_w = w is not None and bool(np.all(np.isfinite(w)))
        rows.append(
            {
                YEAR: int(year),
                "configuration": conf,
                "n_regions": len(x),
                "max_region": get_region(ids[int(np.argmax(x))]).name_en,
                "max_value": x.max(),
                "min_region": get_region(ids[int(np.argmin(x))]).name_en,
                "min_value": x.min(),
                "max_min_ratio": max_min_ratio(x),
                "gini": gini(x),
                "gini_weighted": gini(x, w) if has_w else np.nan,
                "theil": theil(x),
                "theil_weighted": theil(x, w) if has_w else np.nan,
            }
        )
    return pd.DataFrame(rows)


def inequality_trend(
    table: pd.DataFrame, *, measures=INEQUALITY_MEASURES
) -> pd.DataFrame:
    """Linear trend of each measure over the years, overall and per border period.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`grp_inequality`.

    Returns
    -------
    pandas.DataFrame
        ``measure, years, configuration`` ("all" or one border configuration),
        ``n, first, last, slope_per_year, p_value`` (OLS of the measure on the year,
        two-sided p for a zero slope; NaN with fewer than 3 years).
    """
    from scipy import stats  # a second to import: only where a run needs it

    rows = []
    periods = [("all", table)] + [
        (str(c), part) for c, part in table.groupby("configuration", sort=False)
    ]
    for measure in measures:
        for conf, part in periods:
            part = part[np.isfinite(part[measure])]
            n = len(part)
            fit = (
                stats.linregress(part[YEAR].astype(float), part[measure])
                if n >= 3
                else None
            )
            rows.append(
                {
                    "measure": measure,
                    "configuration": conf,
                    "years": f"{part[YEAR].min()}-{part[YEAR].max()}" if n else "",
                    "n": n,
                    "first": part[measure].iat[0] if n else np.nan,
                    "last": part[measure].iat[-1] if n else np.nan,
                    "slope_per_year": fit.slope if fit else np.nan,
                    "p_value": fit.pvalue if fit else np.nan,
                }
            )
    return pd.DataFrame(rows)


def check_ratio_claim(
    table: pd.DataFrame, *, low: float = 1.5, high: float = 2.0
) -> pd.DataFrame:
    """Compare a claimed range of the max/min ratio with each year's ratio.

    Returns
    -------
    pandas.DataFrame
        ``year, max_region, min_region, max_min_ratio, claimed, within_claim``.
    """
    out = table[[YEAR, "max_region", "min_region", "max_min_ratio"]].copy()
    out["claimed"] = f"{low:g}-{high:g}"
    out["within_claim"] = out["max_min_ratio"].between(low, high)
    return out


def migration_grp_correlation(
    od: pd.DataFrame,
    population: pd.DataFrame,
    grp: pd.DataFrame,
    *,
    value_col: str = _GRP,
) -> pd.DataFrame:
    """Correlation across regions of net migration rates with log GRP per capita.

    For each OD year, GRP per capita is that of the latest year before the moves; net
    rates (moves between regions per 1,000 at 1 January) are computed in that GRP
    year's borders, with the flows and the population aggregated exactly to them.

    Returns
    -------
    pandas.DataFrame
        ``year, grp_year, configuration, n, pearson_r, pearson_p, spearman_rho,
        spearman_p`` (two-sided p-values; Pearson on log GRP per capita).
    """
    from scipy import stats

    rows = []
    for year in sorted(od[YEAR].unique()):
        earlier = grp[(grp[YEAR] < year) & np.isfinite(grp[value_col].astype(float))]
        if earlier.empty:
            continue
        grp_year = int(earlier[YEAR].max())
        values = earlier[earlier[YEAR] == grp_year]
        conf = str(values["configuration"].iat[0])
        groups = {r: parent_in(r, conf) for r in configuration_ids("2024")}
        rates = group_rates(od[od[YEAR] == year], population, groups)
        joined = rates.merge(
            values[["region_id", value_col]], left_on="unit", right_on="region_id"
        )
        joined = joined[np.isfinite(joined["net_rate"])]
        x = np.log(joined[value_col].to_numpy(float))
        y = joined["net_rate"].to_numpy(float)
        pearson = stats.pearsonr(x, y)
        spearman = stats.spearmanr(x, y)
        rows.append(
            {
                YEAR: int(year),
                "grp_year": grp_year,
                "configuration": conf,
                "n": len(joined),
                "pearson_r": float(pearson.statistic),
                "pearson_p": float(pearson.pvalue),
                "spearman_rho": float(spearman.statistic),
                "spearman_p": float(spearman.pvalue),
            }
        )
    return pd.DataFrame(rows)


def push_pull_elasticities(gravity_inequality: pd.DataFrame) -> pd.DataFrame:
    """Return the push (origin) and pull (destination) terms of the inequality model.

    Parameters
    ----------
    gravity_inequality : pandas.DataFrame
        The ``gravity_inequality`` table of the run (``GravityResults.inequality``):
        ``parameter`` named ``origin:<covariate>`` / ``destination:<covariate>``,
        ``estimate``, ``ci_low_two_way``, ``ci_high_two_way`` and ``note``.

    Returns
    -------
    pandas.DataFrame
        ``side`` (push: origin, pull: destination), ``covariate, estimate, ci_low,
        ci_high, excludes_zero``; empty when the model was not fitted.
    """
    if gravity_inequality is None or gravity_inequality.empty:
        return pd.DataFrame(
            columns=["side", "covariate", "estimate", "ci_low", "ci_high"]
        )
    need = {"parameter", "estimate", "ci_low_two_way", "ci_high_two_way"}
    if need - set(gravity_inequality.columns):
        raise ValidationError(
            f"gravity_inequality lacks {sorted(need - set(gravity_inequality.columns))}"
        )
    table = gravity_inequality[
        gravity_inequality["parameter"].str.contains(":", regex=False)
    ]
    parts = table["parameter"].str.split(":", n=1, expand=True)
    side, covariate = parts[0], parts[1]
    out = pd.DataFrame(
        {
            "side": side.map(
                {"origin": "push (origin)", "destination": "pull (destination)"}
            ),
            "covariate": covariate,
            "estimate": table["estimate"],
            "ci_low": table["ci_low_two_way"],
            "ci_high": table["ci_high_two_way"],
        }
    ).reset_index(drop=True)
    out["excludes_zero"] = (out["ci_low"] > 0) | (out["ci_high"] < 0)
    return out
