"""The gravity suite: the Wilson family of spatial-interaction models on the real flows.

Distances between population-weighted region centres, the doubly-constrained power model
of every year (its residuals feed the flow Moran's I and the maps), every constraint ×
decay for the focus year with push-pull covariates, the radiation and
intervening-opportunities baselines, the inequality panel, an out-of-sample check and a
panel in one border configuration (:func:`panel_suite`). Numerics are in
:mod:`kzspatial.core.gravity` and :mod:`kzspatial.core.baselines`; nothing here writes files.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import ValidationError
from kzspatial.core.baselines import (
    compare_models,
    intervening_opportunities,
    radiation,
)
from kzspatial.core.distance import great_circle_matrix_km
from kzspatial.core.flows import out_flows, pairs_from_matrix, to_matrix
from kzspatial.core.gravity import GravityFit, fit_gravity
from kzspatial.datasets.crosswalk import (
    aggregate_flows,
    aggregate_regions,
    dissolve_regions,
)
from kzspatial.datasets.places import (
    population_weighted_centres,
    representative_centres,
)
from kzspatial.datasets.regions import configuration_ids
from kzspatial.study.inputs import StudyData, latest_values

__all__ = [
    "GravityResults",
    "centre_distances",
    "doubly_fits",
    "fit_model",
    "flow_table",
    "gravity_suite",
    "panel_suite",
    "push_pull_covariates",
    "push_pull_panel",
    "region_centres",
]

logger = logging.getLogger("kzspatial")


@dataclass(frozen=True, eq=False)
class GravityResults:
    """Fitted spatial-interaction models and their tables.

    Attributes
    ----------
    fits : dict of (year, constraint, cost_func) to GravityFit
    centres : geopandas.GeoDataFrame
        Region centres used for distances.
    distance_km : numpy.ndarray, shape (n, n)
    params : pandas.DataFrame
        Long: ``model, year, parameter, estimate, se_robust, se_cluster_origin,
        se_cluster_two_way, ci_low, ci_high`` (95 %, robust).
    fit_table : pandas.DataFrame
        Goodness of fit of every model and of the radiation / intervening-opportunities
        baselines for the focus year.
    flows : pandas.DataFrame
        ``year, origin, destination, observed, fitted, residual`` (Pearson residual of the
        doubly-constrained power model).
    inequality : pandas.DataFrame
        Elasticities of the push-pull model of the 2023-2024 panel.
    out_of_sample : pandas.DataFrame
        Fit on one year, predict the next available year.
    covariate_years : dict
        Which year of each covariate entered each flow year.
    """

    fits: dict[tuple[int, str, str], GravityFit]
    centres: gpd.GeoDataFrame
    distance_km: np.ndarray
    params: pd.DataFrame
    fit_table: pd.DataFrame
    flows: pd.DataFrame
    inequality: pd.DataFrame
    out_of_sample: pd.DataFrame
    covariate_years: dict

    def residual_matrix(self, year: int) -> np.ndarray:
        """Pearson residuals of the doubly-constrained power model, (n, n), NaN diagonal."""
        return self.fits[(year, "doubly", "pow")].pearson_resid


def region_centres(data: StudyData, *, method: str = "population") -> gpd.GeoDataFrame:
    """Return the region centres distances are measured between.

    Population-weighted (GeoNames, the default), administrative, or polygon
    representative points (``method="representative"``).
    """
    admin = data.admin_centres
    if method == "representative":
        regions = data.regions.set_index("region_id").loc[list(data.ids)]
        return representative_centres(regions.reset_index())
    if data.borders != "2024":
        admin = None  # older units have no single administrative centre in the file
    if method == "admin":
        if admin is None:
            raise ValidationError(
                "administrative centres exist only for the 2024 borders; "
                "use method='population'"
            )
        return admin.set_index("region_id").loc[list(data.ids)].reset_index()
    if method != "population":
        raise ValidationError(
            "centre method must be 'population', 'admin' or 'representative', got "
            f"{method!r}"
        )
    return population_weighted_centres(data.regions, data.cities, fallback=admin)


def centre_distances(
    data: StudyData, *, centres: str = "population"
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Region centres (see :func:`region_centres`) and their great-circle distances.

    Returns
    -------
    centres : geopandas.GeoDataFrame
        One point per region of ``data.borders``, in ``data.ids`` order.
    distance_km : numpy.ndarray, shape (n_regions, n_regions)
    """
    centre_gdf = region_centres(data, method=centres)
    return centre_gdf, great_circle_matrix_km(
        centre_gdf.geometry.x, centre_gdf.geometry.y
    )


def push_pull_covariates(
    data: StudyData, year: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Zone covariates of flows in ``year``, in ``data.borders``, with their years.

    Population is taken at 1 January of the flow year (or the latest earlier date); GRP
    per capita and unemployment lag the flows by at least one year (the latest year
    before the flow year), which also avoids feedback from the moves themselves.
    """
    ids = list(data.ids)
    pop, pop_year = latest_values(data.population, "population", year, data.borders)
    grp, grp_year = latest_values(data.grp, "grp_per_capita", year - 1, data.borders)
    unemp, unemp_year = latest_values(
        data.unemployment, "unemployment", year - 1, data.borders
    )
    values = {
        "log_population": np.log(pop.reindex(ids).to_numpy(float)),
        "log_grp_per_capita": np.log(grp.reindex(ids).to_numpy(float)),
        "unemployment": unemp.reindex(ids).to_numpy(float),
    }
    for name, v in values.items():
        if not np.all(np.isfinite(v)):
            missing = [r for r, x in zip(ids, v, strict=True) if not np.isfinite(x)]
            raise ValidationError(f"{name} for {year} flows is missing for {missing}")
    return values, {
        "population": pop_year,
        "grp_per_capita": grp_year,
        "unemployment": unemp_year,
    }


def push_pull_panel(
    data: StudyData, years: Sequence[int]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[int, dict[str, int]]]:
    """Flows and zone covariates of ``years`` stacked for a push-pull panel fit.

    The set-up shared by the study's inequality model and the scenario model
    (:func:`kzspatial.study.scenarios.fit_scenario_model`).

    Parameters
    ----------
    data : StudyData
    years : sequence of int
        Flow years of the panel, each loaded.

    Returns
    -------
    flows : numpy.ndarray, shape (n_years, n_regions, n_regions)
    covariates : dict of str to numpy.ndarray, shape (n_years, n_regions)
        :func:`push_pull_covariates` of each year, stacked in the order of ``years``.
    covariate_years : dict of int to dict of str to int
        Which year of each covariate entered each flow year.
    """
    years = list(years)
    per_year = {y: push_pull_covariates(data, y) for y in years}
    names = per_year[years[0]][0]
    covariates = {k: np.stack([per_year[y][0][k] for y in years]) for k in names}
    flows = np.stack([data.matrix(y) for y in years])
    return flows, covariates, {y: per_year[y][1] for y in years}


def fit_model(
    data: StudyData,
    D: np.ndarray,
    year: int,
    constraint: str,
    cost_func: str,
    covariates: dict[str, np.ndarray] | None = None,
) -> GravityFit:
    """One Wilson model of the flows of ``year``.

    ``covariates`` (see :func:`push_pull_covariates`) enter on the sides the constraint
    leaves free: both for ``"unconstrained"``, destinations for ``"production"``, origins
    for ``"attraction"``, none for ``"doubly"``. The suites fit the same model through
    this one call, so a model fitted on its own equals the one in :func:`gravity_suite`.

    Parameters
    ----------
    data : StudyData
    D : numpy.ndarray, shape (n_regions, n_regions)
        Distances (km) between the regions of ``data.ids``.
    year : int
        Flow year.
    constraint, cost_func : str
        As in :func:`kzspatial.core.gravity.fit_gravity`.
    covariates : dict of str to numpy.ndarray of shape (n_regions,), optional

    Returns
    -------
    GravityFit
    """
    o_side = constraint in ("unconstrained", "attraction")
    d_side = constraint in ("unconstrained", "production")
    return fit_gravity(
        data.matrix(year),
        D,
        constraint=constraint,
        cost_func=cost_func,
        ids=list(data.ids),
        origin_vars=covariates if o_side else None,
        destination_vars=covariates if d_side else None,
    )


def doubly_fits(data: StudyData, D: np.ndarray) -> dict[int, GravityFit]:
    """Fit the doubly-constrained power model of every loaded year, by year.

    Parameters
    ----------
    data : StudyData
    D : numpy.ndarray, shape (n_regions, n_regions)
        Distances (km) between the regions of ``data.ids``.
    """
    return {year: fit_model(data, D, year, "doubly", "pow") for year in data.years}


def flow_table(data: StudyData, fits: dict[int, GravityFit]) -> pd.DataFrame:
    """Observed, fitted and Pearson residual of every pair and year, long.

    Parameters
    ----------
    data : StudyData
    fits : dict of int to GravityFit
        One model per year, e.g. :func:`doubly_fits`.

    Returns
    -------
    pandas.DataFrame
        ``year, origin, destination, observed, fitted, residual``.
    """
    ids = list(data.ids)
    flows = []
    for year, fit in fits.items():
        o, d, obs = pairs_from_matrix(data.matrix(year), ids)
        _, _, fitted = pairs_from_matrix(fit.fitted, ids)
        _, _, resid = pairs_from_matrix(fit.pearson_resid, ids)
        flows.append(
            pd.DataFrame(
                {
                    YEAR: year,
                    ORIGIN: o,
                    DESTINATION: d,
                    "observed": obs,
                    "fitted": fitted,
                    "residual": resid,
                }
            )
        )
    return pd.concat(flows, ignore_index=True)


def _param_rows(model: str, year, fit: GravityFit) -> list[dict]:
    ci = fit.conf_int(0.05)
    rows = []
    for name in fit.param_names:
        rows.append(
            {
                "model": model,
                "year": str(year),
                "parameter": name,
                "estimate": fit.params[name],
                "se_robust": fit.bse_robust[name],
                "se_cluster_origin": fit.bse_cluster["origin"][name],
                "se_cluster_two_way": fit.bse_cluster["two-way"][name],
                "ci_low": ci[name][0],
                "ci_high": ci[name][1],
            }
        )
    return rows


def gravity_suite(
    data: StudyData,
    *,
    focus_year: int = 2024,
    centres: str = "population",
) -> GravityResults:
    """Fit the Wilson family to the real flows, plus baselines and the inequality model.

    - every constraint × decay for ``focus_year``, with the push–pull covariates each
      constraint can identify;
    - the doubly-constrained power model for every loaded year (for residuals and maps);
    - radiation and intervening opportunities on the same cells;
    - the inequality model: an unconstrained panel of 2023 and 2024 with origin and
      destination log population, log GRP per capita and unemployment and year effects;
    - out-of-sample: production-constrained model fitted on each year, predicting the
      next loaded year from that year's covariates and outflow totals.
    """
    centre_gdf, D = centre_distances(data, centres=centres)
    ids = list(data.ids)
    fits: dict[tuple[int, str, str], GravityFit] = {}
    param_rows: list[dict] = []
    for year, fit in doubly_fits(data, D).items():
        fits[(year, "doubly", "pow")] = fit
        param_rows += _param_rows("doubly/pow", year, fit)
    cov, focus_covariate_years = push_pull_covariates(data, focus_year)
    covariate_years = {focus_year: focus_covariate_years}
    for cost_func in ("pow", "exp"):
        for constraint in ("unconstrained", "production", "attraction", "doubly"):
            key = (focus_year, constraint, cost_func)
            if key not in fits:
                fits[key] = fit_model(data, D, focus_year, constraint, cost_func, cov)
            if (constraint, cost_func) != ("doubly", "pow"):
                param_rows += _param_rows(
                    f"{constraint}/{cost_func}", focus_year, fits[key]
                )
    fit_table = _fit_table(data.matrix(focus_year), fits, cov, D, focus_year)
    flows = flow_table(data, {y: fits[(y, "doubly", "pow")] for y in data.years})
    inequality = _inequality_model(data, D, ids, param_rows, covariate_years)
    out_of_sample = _out_of_sample(data, D, ids)
    # every table records the zone centres its distances were measured between
    return GravityResults(
        fits=fits,
        centres=centre_gdf,
        distance_km=D,
        params=pd.DataFrame(param_rows).assign(centres=centres),
        fit_table=fit_table.assign(centres=centres),
        flows=flows.assign(centres=centres),
        inequality=inequality.assign(centres=centres),
        out_of_sample=out_of_sample.assign(centres=centres),
        covariate_years=covariate_years,
    )


def _fit_table(F, fits, cov, D, focus_year) -> pd.DataFrame:
    """Goodness of fit of the focus-year models and of the two baselines."""
    population = np.exp(cov["log_population"])
    models = {
        f"{c}/{f}": fits[(focus_year, c, f)] for (_y, c, f) in fits if _y == focus_year
    }
    models["radiation"] = radiation(out_flows(F), population, D)
    models["intervening opportunities"] = intervening_opportunities(F, population, D)
    fit_table = pd.DataFrame(compare_models(F, models))
    fit_table.insert(1, "year", focus_year)
    fit_table["converged"] = [getattr(m, "converged", True) for m in models.values()]
    return fit_table


_INEQUALITY_NOTE = (
    "Association, not causation: elasticities of expected moves between regions with "
    "respect to origin (push) and destination (pull) characteristics, holding distance "
    "and the other covariates fixed, over the {years} panel of {n} regions ({pairs} "
    "pairs). GRP per capita is that of {grp} and unemployment that of {unemp} (the latest "
    "available before the moves). Covariates vary only across {n} units, so the two-way "
    "clustered standard errors are the honest ones; regional fixed traits correlated "
    "with GRP (capital status, climate, housing) are not controlled for."
)


def _inequality_model(data, D, ids, param_rows, covariate_years) -> pd.DataFrame:
    years = [y for y in (2023, 2024) if y in data.years]
    if len(years) < 2 or data.borders != "2024":
        return pd.DataFrame()
    flows, stacked, used_years = push_pull_panel(data, years)
    covariate_years.update(used_years)
    fit = fit_gravity(
        flows,
        D,
        constraint="unconstrained",
        cost_func="pow",
        ids=ids,
        years=years,
        origin_vars=stacked,
        destination_vars=stacked,
    )
    rows = _param_rows("inequality panel (unconstrained/pow)", "2023-2024", fit)
    param_rows += rows
    table = pd.DataFrame(rows)
    z = 1.959963984540054
    se = table["se_cluster_two_way"].where(
        np.isfinite(table["se_cluster_two_way"]), table["se_robust"]
    )
    table["ci_low_two_way"] = table["estimate"] - z * se
    table["ci_high_two_way"] = table["estimate"] + z * se
    used = list(used_years.values())
    table["note"] = _INEQUALITY_NOTE.format(
        years="-".join(map(str, years)),
        n=len(ids),
        pairs=fit.n_obs,
        grp="/".join(sorted({str(u["grp_per_capita"]) for u in used})),
        unemp="/".join(sorted({str(u["unemployment"]) for u in used})),
    )
    return table


def _out_of_sample(data, D, ids) -> pd.DataFrame:
    rows = []
    years = data.years
    for train, test in itertools.pairwise(years):
        try:
            cov_train, _ = push_pull_covariates(data, train)
            cov_test, _ = push_pull_covariates(data, test)
        except ValidationError as exc:
            logger.debug("out-of-sample %s->%s skipped: %s", train, test, exc)
            continue
        fit = fit_gravity(
            data.matrix(train),
            D,
            constraint="production",
            cost_func="pow",
            ids=ids,
            destination_vars=cov_train,
        )
        F_test = data.matrix(test)
        predicted = fit.predict(
            destination_vars=cov_test, origin_totals=out_flows(F_test)
        )
        score = compare_models(F_test, {"predicted": predicted})[0]
        in_sample = compare_models(data.matrix(train), {"fitted": fit.fitted})[0]
        rows.append(
            {
                "train_year": train,
                "test_year": test,
                "model": "production/pow + destination covariates",
                "srmse_test": score["srmse"],
                "ssi_test": score["ssi"],
                "pseudo_r2_test": score["pseudo_r2"],
                "srmse_train": in_sample["srmse"],
                "ssi_train": in_sample["ssi"],
            }
        )
    return pd.DataFrame(rows)


def panel_suite(data: StudyData, *, borders: str = "2010") -> dict[str, pd.DataFrame]:
    """Every loaded year in one border configuration: how distance decay changed.

    Flows of all years are aggregated exactly to ``borders`` (default the 16 units before
    2018, the only configuration into which every year's population figures can be
    aggregated without splitting a unit); distances join the population-weighted centres of
    those units; population at 1 January of each year is aggregated to the same borders
    through the crosswalk.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"decay_by_year"``: the doubly-constrained power model fitted to each year
        separately (``beta`` with robust and origin-clustered SEs, pseudo-R², SRMSE);
        ``"params"``: a production-constrained panel with year-specific origin effects,
        a common decay and the destination log population (robust and clustered SEs).
    """
    flows, internal = aggregate_flows(data.od20, borders)
    ids = list(configuration_ids(borders))
    regions = data.regions_by_conf.get(borders)
    if regions is None:
        regions = dissolve_regions(data.regions_by_conf["2024"], borders)
    centres = population_weighted_centres(regions, data.cities)
    D = great_circle_matrix_km(centres.geometry.x, centres.geometry.y)
    years = sorted(int(y) for y in flows[YEAR].unique())
    matrices = np.stack(
        [
            to_matrix(
                flows.loc[flows[YEAR] == y, ORIGIN].tolist(),
                flows.loc[flows[YEAR] == y, DESTINATION].tolist(),
                flows.loc[flows[YEAR] == y, FLOW].to_numpy(),
                ids,
            )
            for y in years
        ]
    )
    log_pop = []
    for y in years:
        latest = int(data.population.loc[data.population[YEAR] <= y, YEAR].max())
        rows = data.population[data.population[YEAR] == latest]
        pop = aggregate_regions(rows, borders, sum_columns=["population"])
        log_pop.append(
            np.log(
                pop.set_index("region_id")["population"].reindex(ids).to_numpy(float)
            )
        )
    decay = []
    for k, y in enumerate(years):
        fit = fit_gravity(matrices[k], D, constraint="doubly", cost_func="pow", ids=ids)
        decay.append(
            {
                YEAR: y,
                "borders": borders,
                "n_units": len(ids),
                "beta": fit.params["beta"],
                "se_robust": fit.bse_robust["beta"],
                "se_cluster_origin": fit.bse_cluster["origin"]["beta"],
                "pseudo_r2": fit.pseudo_r2,
                "srmse": fit.srmse,
                "flows_became_internal": float(
                    internal.loc[internal[YEAR] == y, FLOW].sum()
                ),
            }
        )
    panel = fit_gravity(
        matrices,
        D,
        constraint="production",
        cost_func="pow",
        ids=ids,
        years=years,
        destination_vars={"log_population": np.stack(log_pop)},
    )
    params = pd.DataFrame(
        _param_rows(
            f"panel {years[0]}-{years[-1]} production/pow",
            f"{years[0]}-{years[-1]}",
            panel,
        )
    )
    params["borders"] = borders
    return {"decay_by_year": pd.DataFrame(decay), "params": params}
