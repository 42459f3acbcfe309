"""The result tables of ``kzspatial run`` and what each is: title, concept, unit, source.

One catalogue for every place a table is described: the GeoPackage layer titles and
abstracts, and the first sheet of the Excel workbook (``kzspatial export --format
excel``). Sources name the datasets of the ``provenance`` table (licences, URLs and
checksums are there).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import pandas as pd

__all__ = ["TABLE_INFO", "TableInfo", "describe", "layer_metadata", "result_tables"]

_OD = "BNS origin-destination file of moves between regions (Diar299/kz-migration)"
_MONTHLY = "BNS monthly arrivals by region (kanatislambekov)"
_POP = "BNS population at 1 January (open-data-kazakhstan)"
_GRP = "BNS GRP per capita (open-data-kazakhstan)"
_UNEMP = "BNS unemployment rate (open-data-kazakhstan)"
_BOUNDARIES = "administrative boundaries (kaz_admbnda, HDX)"
_SETTLEMENTS = (
    "settlement points named in the table (GeoNames, CC BY 4.0; or, opted in, "
    "OpenStreetMap, ODbL 1.0)"
)
_CLAIMS = (
    "published claims, not data: Baidybekova et al. (2025), Internal migration in "
    "Kazakhstan"
)


class TableInfo(NamedTuple):
    """Description of one result table."""

    title: str
    concept: str
    unit: str
    source: str


TABLE_INFO: dict[str, TableInfo] = {
    "moran_by_year": TableInfo(
        "Moran's I by year (queen weights)",
        "global Moran's I of regional indicators in each OD year, each year in the "
        "borders of its population figures",
        "I (dimensionless); p-values",
        f"{_OD}; {_POP}; {_BOUNDARIES}",
    ),
    "moran_bivariate": TableInfo(
        "Bivariate Moran's I",
        "GRP per capita or unemployment of a region against its neighbours' net "
        "interregional migration rate (queen weights)",
        "I (dimensionless); p-values",
        f"{_OD}; {_POP}; {_GRP}; {_UNEMP}; {_BOUNDARIES}",
    ),
    "flow_moran": TableInfo(
        "Moran's I of the OD flows",
        "autocorrelation of flows (origin, destination and od weights) of the Pearson "
        "residuals of the gravity model and of the raw flows",
        "I (dimensionless); p-values",
        f"{_OD}; {_BOUNDARIES}",
    ),
    "gravity_params": TableInfo(
        "Gravity model coefficients",
        "Poisson (PPML) gravity models of moves between regions: coefficients with "
        "standard errors",
        "log-scale coefficients (elasticities for log covariates)",
        f"{_OD}; {_POP}; {_BOUNDARIES}",
    ),
    "gravity_fit": TableInfo(
        "Gravity models and baselines: goodness of fit",
        "fit of each gravity model and baseline to the moves between regions",
        "deviance, pseudo-R², SRMSE (dimensionless)",
        f"{_OD}; {_POP}; {_BOUNDARIES}",
    ),
    "gravity_flows": TableInfo(
        "Observed and fitted flows",
        "moves between regions and the fitted value and Pearson residual of each "
        "year's doubly-constrained power gravity model",
        "persons; residual (dimensionless)",
        f"{_OD}; {_BOUNDARIES}",
    ),
    "gravity_inequality": TableInfo(
        "Push-pull elasticities (inequality model)",
        "origin and destination terms of GRP per capita and unemployment in a gravity "
        "panel, two-way clustered intervals",
        "elasticity",
        f"{_OD}; {_GRP}; {_UNEMP}",
    ),
    "gravity_out_of_sample": TableInfo(
        "Gravity model: out-of-sample check",
        "models fitted on earlier years, predicting a later year's moves",
        "deviance, SRMSE (dimensionless)",
        f"{_OD}; {_POP}; {_BOUNDARIES}",
    ),
    "gravity_panel": TableInfo(
        "Gravity panel in one border configuration",
        "gravity model pooled over the OD years with flows aggregated exactly to one "
        "border configuration",
        "log-scale coefficients",
        f"{_OD}; {_POP}; {_BOUNDARIES}",
    ),
    "decay_by_year": TableInfo(
        "Distance decay by year",
        "distance exponent of the gravity model in each OD year",
        "elasticity of flows with respect to distance",
        f"{_OD}; {_BOUNDARIES}",
    ),
    "indicators": TableInfo(
        "Regional migration indicators by year",
        "in-, out- and net moves between regions and rates per 1,000 residents, in the "
        "borders of each year's population figures",
        "persons; per 1,000 residents",
        f"{_OD}; {_POP}; {_GRP}; {_UNEMP}",
    ),
    "data_check": TableInfo(
        "OD file vs monthly file: regional nets",
        "net interregional migration of each region from the OD file against the "
        "monthly file",
        "persons",
        f"{_OD}; {_MONTHLY}",
    ),
    "data_check_summary": TableInfo(
        "OD file vs monthly file: verdict by year",
        "how many regional nets agree, and the largest difference",
        "regions; persons",
        f"{_OD}; {_MONTHLY}",
    ),
    "flow_shares": TableInfo(
        "Shares of out-migrants going to each hub",
        "share of each region's out-migrants (moves between regions) going to Astana, "
        "Almaty and Shymkent, and the flow catchment",
        "fraction",
        _OD,
    ),
    "catchment_population": TableInfo(
        "Population by catchment",
        "population inside each hub's catchment under each catchment rule (regions, "
        "grid cells, districts; grid and district populations allocated from the "
        "regional totals through settlement points)",
        "persons",
        f"{_OD}; {_POP}; {_SETTLEMENTS}",
    ),
    "catchment_agreement": TableInfo(
        "Hub choice: observed shares against the calibrated model",
        "for every non-hub region and OD year, the observed shares of out-migrants "
        "(moves between regions) going to each hub, the calibrated Huff model's "
        "probabilities, the observed and predicted leading hub; in sample, out of "
        "sample (calibrated on the previous OD year) and the mass-only Huff",
        "fraction; log-likelihood",
        f"{_OD}; {_POP}; GeoNames (CC BY 4.0)",
    ),
    "catchment_agreement_summary": TableInfo(
        "Hub choice: fit of the calibrated and mass-only models",
        "per OD year and model: log-likelihood, mean absolute share error, regions whose "
        "leading hub the model gets right",
        "log-likelihood; fraction; count",
        f"{_OD}; {_POP}; GeoNames (CC BY 4.0)",
    ),
    "hub_choice_model_checks": TableInfo(
        "Hub choice: do richer models explain the choices better?",
        "per OD year: the calibrated model (one decay) against hub-specific decays and "
        "hub preferences by macro-region, quasi-likelihood F test of the added "
        "parameters, and the regions with a clear observed leading hub (lead above 10 "
        "points) that each model gets wrong",
        "log-likelihood; F statistic; count",
        f"{_OD}; GeoNames (CC BY 4.0)",
    ),
    "hub_choice_params": TableInfo(
        "Calibrated hub choice: decay and hub attractiveness",
        "maximum-likelihood distance decay and log attractiveness of Almaty and Shymkent "
        "relative to Astana, with model-based and overdispersion-scaled standard errors",
        "dimensionless",
        f"{_OD}; GeoNames (CC BY 4.0)",
    ),
    "catchment_changes": TableInfo(
        "Regions that changed hub, 2010 to 2024",
        "leading hub of each region's out-migrants in the first and last OD year, "
        "observed and under the calibrated model",
        "hub names",
        _OD,
    ),
    "centre_sensitivity": TableInfo(
        "Sensitivity to the zone centres: distance decay",
        "gravity and calibrated hub-choice decay under population-weighted, "
        "administrative and representative-point centres",
        "dimensionless; count",
        f"{_OD}; {_BOUNDARIES}; GeoNames (CC BY 4.0)",
    ),
    "centre_sensitivity_regions": TableInfo(
        "Sensitivity to the zone centres: catchments",
        "leading hub of each region under each choice of zone centres",
        "hub names",
        f"{_OD}; {_BOUNDARIES}; GeoNames (CC BY 4.0)",
    ),
    "grid_population": TableInfo(
        "Grid population: dasymetric allocation",
        "each region's official population allocated to its settlement points, then to "
        "grid cells; cells sum to the official regional totals",
        "persons",
        f"{_POP}; {_SETTLEMENTS}",
    ),
    "huff_regions": TableInfo(
        "Huff probabilities by region",
        "probability that a region's migrants choose each hub under the fitted "
        "production-constrained gravity model (a model prediction)",
        "probability",
        f"{_OD}; {_BOUNDARIES}",
    ),
    "study_national": TableInfo(
        "National migration trends under both BNS concepts",
        "moves between regions (OD file) and all moves within the republic (monthly "
        "file); shares of moves between regions ending in the three cities; urban "
        "share at 1 January",
        "persons per year; shares as fractions",
        f"{_OD}; {_MONTHLY}; {_POP}",
    ),
    "study_region_rates": TableInfo(
        "Net, in- and out-migration rates of today's 20 regions",
        "moves between regions per 1,000 residents at 1 January, in exactly matching "
        "borders (no rate where the population units of a year do not match)",
        "persons; per 1,000 residents",
        f"{_OD}; {_POP}",
    ),
    "study_typology": TableInfo(
        "Regional balance typology (regions and macro-regions)",
        "class of the net interregional migration rate over the OD years by the "
        "stated rule (column rule)",
        "per 1,000 residents",
        f"{_OD}; {_POP}; macro-regions (kzspatial/datasets/macro_regions.csv)",
    ),
    "study_claims_table2": TableInfo(
        "The study's Table 2 against the data",
        "asserted migration balance of groups of regions beside the class of their "
        "net rate: supported, refuted or not testable",
        "per 1,000 residents",
        f"{_CLAIMS}, Table 2; {_OD}; {_POP}",
    ),
    "study_inequality": TableInfo(
        "Inequality of GRP per capita across regions",
        "max/min ratio, Gini and Theil index, population-weighted and not",
        "ratio; index",
        f"{_GRP}; {_POP}",
    ),
    "study_inequality_trend": TableInfo(
        "Trend of the inequality measures",
        "linear trend per year of each inequality measure",
        "measure per year",
        f"{_GRP}; {_POP}",
    ),
    "study_ratio_claim": TableInfo(
        "Claim: GRP per capita differs 1.5-2 times between regions",
        "max/min ratio of GRP per capita in each year against the claimed range",
        "ratio",
        f"{_CLAIMS}; {_GRP}",
    ),
    "study_correlation": TableInfo(
        "Net migration rate against GRP per capita",
        "correlation across regions in each year",
        "correlation coefficient",
        f"{_OD}; {_POP}; {_GRP}",
    ),
    "study_elasticities": TableInfo(
        "Push-pull elasticities of GRP per capita and unemployment",
        "origin (push) and destination (pull) terms of the gravity inequality model, "
        "two-way clustered 95% intervals",
        "elasticity",
        f"{_OD}; {_GRP}; {_UNEMP}",
    ),
    "study_published_check": TableInfo(
        "Published figures (the study's Table 6) against the official data",
        "each published figure beside every official concept that can measure it; "
        "flagged beyond the tolerance",
        "unit of the published figure",
        f"{_CLAIMS}, Table 6; {_OD}; {_MONTHLY}; {_POP}",
    ),
    "scenario_flows": TableInfo(
        "Scenario: moves between regions against the baseline",
        "observed moves of the scenario year, the fitted gravity model's baseline and "
        "its prediction under the scenario's changes (a TOML file), with intervals from "
        "parametric draws of the coefficients; what the model holds fixed is in the "
        "scenario note",
        "persons; change in persons and percent",
        f"{_OD}; {_POP}; {_GRP}; {_UNEMP}; scenario file",
    ),
    "scenario_nets": TableInfo(
        "Scenario: net migration by region against the baseline",
        "in-, out- and net moves between regions of each region, baseline and "
        "scenario, with the net change and its interval (coefficient uncertainty only)",
        "persons",
        f"{_OD}; {_POP}; {_GRP}; {_UNEMP}; scenario file",
    ),
    "scenario_coefficients": TableInfo(
        "Scenario: coefficients of the fitted model",
        "estimates of the push-pull gravity panel (2023-2024) the scenario runs on, with "
        "the covariance and interval level the scenario draws from",
        "log-scale coefficients (elasticities for log covariates)",
        f"{_OD}; {_POP}; {_GRP}; {_UNEMP}",
    ),
    "provenance": TableInfo(
        "Data sources and licences",
        "every registered input: title, concept, unit, licence, citation, URL, SHA-256",
        "-",
        "geodata/registry.toml",
    ),
}


def describe(name: str) -> dict[str, str]:
    """Return the Excel description (``what it is, concept, unit, source``) of a table.

    Raises
    ------
    KeyError
        ``name`` is not in :data:`TABLE_INFO` (a new table must be described there).
    """
    info = TABLE_INFO[name]
    return {
        "what it is": info.title,
        "concept": info.concept,
        "unit": info.unit,
        "source": info.source,
    }


def layer_metadata(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Return the GeoPackage title and abstract of each described table of ``names``.

    Names not in :data:`TABLE_INFO` are left out.
    """
    return {
        name: {
            "title": info.title,
            "abstract": f"{info.concept}. Unit: {info.unit}. Source: {info.source}.",
        }
        for name in names
        if (info := TABLE_INFO.get(name)) is not None
    }


def result_tables(
    data, gravity, panel, moran, catchments, study=None, scenario=None
) -> dict[str, pd.DataFrame]:
    """Collect the run's CSV tables by name (the names of :data:`TABLE_INFO`).

    The tables of the analyses computed (None: not computed), the data tables and,
    when a scenario was run (a :class:`~kzspatial.study.scenarios.ScenarioResult`),
    its ``scenario_*`` tables.
    """
    tables = {}
    if moran is not None:
        tables.update(
            moran_by_year=moran.by_year,
            moran_bivariate=moran.bivariate,
            flow_moran=moran.flow_moran,
        )
    if gravity is not None:
        tables.update(
            gravity_params=gravity.params,
            gravity_fit=gravity.fit_table,
            gravity_flows=gravity.flows,
            gravity_inequality=gravity.inequality,
            gravity_out_of_sample=gravity.out_of_sample,
            gravity_panel=panel["params"],
            decay_by_year=panel["decay_by_year"],
        )
    tables.update(
        indicators=data.indicators,
        data_check=data.data_check,
        data_check_summary=data.data_check_summary,
    )
    if catchments is not None:
        tables.update(
            flow_shares=catchments.shares,
            catchment_population=catchments.population,
            huff_regions=pd.concat(
                [catchments.region_huff, catchments.region_huff_mass_only],
                ignore_index=True,
            ),
            catchment_agreement=catchments.agreement,
            catchment_agreement_summary=catchments.agreement_summary,
            hub_choice_params=catchments.hub_params,
            catchment_changes=catchments.changes,
            hub_choice_model_checks=catchments.model_checks,
            centre_sensitivity=catchments.sensitivity,
            centre_sensitivity_regions=catchments.sensitivity_regions,
            grid_population=catchments.population_allocation,
        )
    if study is not None:
        tables.update(study.tables())
    if scenario is not None:
        tables.update(scenario.tables())
    return tables
