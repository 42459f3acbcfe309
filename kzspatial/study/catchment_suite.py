"""The catchment suite: where the out-migrants of each region go among the three hubs.

Observed flow catchments (shares of out-migrants going to Astana, Almaty or Shymkent,
every year) and model-based Huff catchments of regions, districts and a national grid,
with hub attractiveness and distance decay from the production-constrained power model.
:func:`catchment_suite` runs the named steps in order; :func:`flow_catchment_tables` is the
observed part alone (the flow maps draw its polygons). Numerics are in
:mod:`kzspatial.core.catchments` and :mod:`kzspatial.geo.grids`; nothing here writes files.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial._errors import ValidationError
from kzspatial.core.gravity import GravityFit
from kzspatial.datasets.regions import HUB_NAMES
from kzspatial.study.gravity_suite import (
    GravityResults,
    centre_distances,
    fit_model,
    push_pull_covariates,
)
from kzspatial.study.inputs import StudyData, latest_values

__all__ = [
    "HUB_NAMES",
    "MODEL_CAVEAT",
    "CatchmentResults",
    "catchment_suite",
    "flow_catchment_tables",
]

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
    gravity: GravityResults | None = None,
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

    Parameters
    ----------
    data : StudyData
        In the 2024 borders.
    gravity : GravityResults, optional
        Source of the production-constrained model, centres and distances; without it
        that one model is fitted alone (the same model, see
        :func:`kzspatial.study.gravity_suite.fit_model`).
    focus_year : int
        Year of the model and of the population tables.
    cell_km : float
        Grid cell size (km).
    threshold : float
        Share of out-migrants that puts a region into a hub's flow catchment.
    settlements : {"geonames", "osm"}
        Points for grid-cell populations.

    Returns
    -------
    CatchmentResults

    Raises
    ------
    ValidationError
        Borders other than 2024, or an unknown ``settlements``.
    """
    from kzspatial.geo.grids import polygon_huff

    points, point_source = _settlement_points(data, settlements)
    shares, flow_polygons, flow = flow_catchment_tables(data, threshold=threshold)
    fit, centres, D = _hub_model(data, gravity, focus_year)
    attractiveness = _attractiveness(data, fit, focus_year)
    beta = fit.params["beta"]
    hubs = gpd.GeoSeries(
        centres.loc[list(HUB_NAMES)].geometry.to_numpy(),
        index=list(HUB_NAMES.values()),
        crs=4326,
    )
    region_res, region_huff = _region_huff(data.ids, D, attractiveness, beta)
    district_huff = polygon_huff(
        data.districts.set_index("district_id"), hubs, attractiveness, beta, "pow"
    ).reset_index()
    pop_regions, pop_year = latest_values(
        data.population, "population", focus_year, "2024"
    )
    pop_regions = pop_regions.reindex(list(data.ids)).to_numpy(float)
    grid = _grid_catchments(
        data,
        centres,
        hubs,
        attractiveness,
        beta,
        points,
        pop_regions,
        cell_km,
        focus_year,
    )
    population = _population_table(
        [
            (
                f"regions, observed flow share >= {threshold:.0%} ({focus_year})",
                np.asarray(flow[focus_year].catchment_index),
                pop_regions,
                f"BNS population at 1 January {pop_year}",
            ),
            (
                f"regions, Huff dominant hub ({focus_year} model)",
                region_res.dominant_index,
                pop_regions,
                f"BNS population at 1 January {pop_year}",
            ),
            (
                f"{cell_km:g} km grid, Huff dominant hub ({focus_year} model)",
                grid["grid_huff"].dominant_index,
                grid["cell_population"],
                point_source,
            ),
        ]
    )
    return CatchmentResults(
        shares=shares,
        flow_polygons=flow_polygons,
        attractiveness=attractiveness,
        beta=beta,
        cost_func="pow",
        region_huff=region_huff,
        district_huff=district_huff,
        population=population,
        **grid,
    )


def _check_borders(data: StudyData) -> None:
    if data.borders != "2024":
        raise ValidationError(
            "catchments are computed in the 2024 borders (the hubs are "
            "separate units only there); run with borders='2024'"
        )


def flow_catchment_tables(
    data: StudyData, *, threshold: float = 0.15
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, dict]:
    """Observed flow catchments of the hubs, every OD year.

    Parameters
    ----------
    data : StudyData
        In the 2024 borders.
    threshold : float
        Share of out-migrants that puts a region into a hub's catchment.

    Returns
    -------
    shares : pandas.DataFrame
        ``year, region_id, out_migrants, share_<hub>..., other_share, dominant_hub,
        catchment``.
    polygons : geopandas.GeoDataFrame
        Regions dissolved by catchment, every year (EPSG:4326).
    results : dict of int to FlowCatchments
        :func:`kzspatial.core.catchments.flow_catchments` by year.
    """
    from kzspatial.core.catchments import flow_catchments
    from kzspatial.geo.grids import flow_catchment_polygons

    _check_borders(data)
    ids = list(data.ids)
    hub_names = list(HUB_NAMES.values())
    by_year = {y: data.matrix(y) for y in data.years}
    flow = flow_catchments(by_year, ids, list(HUB_NAMES), threshold=threshold)
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
            pop, _ = latest_values(data.population, "population", year, "2024")
            population = pop.reindex(ids).to_numpy(float)
        except ValidationError:
            population = None
        poly = flow_catchment_polygons(regions, res, population=population)
        polygons.append(poly.to_crs(4326))
    shares = pd.concat(share_rows, ignore_index=True)
    return shares, pd.concat(polygons, ignore_index=True), flow


def _hub_model(
    data: StudyData, gravity: GravityResults | None, focus_year: int
) -> tuple[GravityFit, gpd.GeoDataFrame, np.ndarray]:
    """The production-constrained power model, centres (by region id) and distances."""
    if gravity is not None:
        fit = gravity.fits[(focus_year, "production", "pow")]
        centres, D = gravity.centres, gravity.distance_km
    else:
        centres, D = centre_distances(data)
        cov, _ = push_pull_covariates(data, focus_year)
        fit = fit_model(data, D, focus_year, "production", "pow", cov)
    return fit, centres.set_index("region_id"), D


def _attractiveness(data: StudyData, fit: GravityFit, year: int) -> dict[str, float]:
    """``exp(sum_k gamma_k x_hk)`` of each hub, by hub name."""
    ids = list(data.ids)
    cov, _ = push_pull_covariates(data, year)
    log_a = sum(fit.params[f"destination:{k}"] * cov[k] for k in cov)
    return {name: float(np.exp(log_a[ids.index(h)])) for h, name in HUB_NAMES.items()}


def _region_huff(ids, D, attractiveness, beta) -> tuple[object, pd.DataFrame]:
    """Huff probabilities of the regions (centre-to-centre distances, 5 km floor)."""
    from kzspatial.core.catchments import huff_probabilities

    ids = list(ids)
    hub_names = list(HUB_NAMES.values())
    region_res = huff_probabilities(
        D[:, [ids.index(h) for h in HUB_NAMES]],
        [attractiveness[n] for n in hub_names],
        beta,
        "pow",
        hubs=hub_names,
        min_cost=5.0,
        dtype=np.float64,
    )
    table = pd.DataFrame(
        region_res.probabilities, columns=[f"p_{n.lower()}" for n in hub_names]
    )
    table.insert(0, "region_id", ids)
    table["dominant_hub"] = [hub_names[k] for k in region_res.dominant_index]
    table["dominant_probability"] = region_res.dominant_probability
    return region_res, table


def _settlement_points(
    data: StudyData, settlements: str
) -> tuple[gpd.GeoDataFrame, str]:
    """Points with a population for the grid cells, and how to cite them."""
    _check_borders(data)
    if settlements == "geonames":
        return data.cities, "GeoNames city points (mixed vintage)"
    if settlements == "osm":
        from kzspatial.datasets.places import load_osm_settlements

        return load_osm_settlements(data.outline), (
            "OpenStreetMap settlement points (ODbL 1.0, © OpenStreetMap "
            "contributors; population tags of mixed vintage)"
        )
    raise ValidationError(
        f"settlements must be 'geonames' or 'osm' (opt-in, ODbL), got {settlements!r}"
    )


def _grid_catchments(
    data, centres, hubs, attractiveness, beta, points, pop_regions, cell_km, year
) -> dict:
    """National grid: Huff probabilities, cell populations, regional potential, and the
    dominance and threshold polygons (EPSG:4326); keyed by :class:`CatchmentResults`
    field."""
    from kzspatial.core.catchments import gravity_potential
    from kzspatial.geo.grids import (
        distances_to_hubs_km,
        dominance_polygons,
        grid_huff,
        national_grid,
        population_to_cells,
        threshold_polygons,
    )

    ids = list(data.ids)
    grid = national_grid(data.outline, cell_km * 1000.0)
    g_huff = grid_huff(grid, hubs, attractiveness, beta, "pow")
    cell_pop, _ = population_to_cells(
        grid, points.geometry.x, points.geometry.y, points["population"]
    )
    D_cells = distances_to_hubs_km(
        grid, gpd.GeoSeries(centres.loc[ids].geometry.to_numpy(), index=ids, crs=4326)
    )
    potential = gravity_potential(
        D_cells, pop_regions, beta, "pow", labels=ids, min_cost=5.0
    )
    dominance = dominance_polygons(grid, g_huff, cell_population=cell_pop, year=year)
    thresholds = threshold_polygons(
        grid, g_huff, (0.5, 0.75), cell_population=cell_pop, year=year
    )
    return {
        "grid": grid,
        "grid_huff": g_huff,
        "cell_population": cell_pop,
        "potential": np.asarray(potential),
        "dominance": dominance.to_crs(4326),
        "thresholds": thresholds.to_crs(4326),
    }


def _population_table(rules) -> pd.DataFrame:
    """Population in each hub's catchment and outside, per (rule, index, population,
    source); ``index`` is the hub index of each unit (-1 outside)."""
    from kzspatial.core.catchments import catchment_population

    hub_names = list(HUB_NAMES.values())
    rows = []
    for rule, index, population, source in rules:
        res = catchment_population(index, population, hub_names)
        for k, name in enumerate(hub_names):
            rows.append(
                {
                    "rule": rule,
                    "hub": name,
                    "population": res.population[k],
                    "source": source,
                }
            )
        rows.append(
            {
                "rule": rule,
                "hub": "outside every catchment",
                "population": res.unassigned,
                "source": source,
            }
        )
    return pd.DataFrame(rows)
