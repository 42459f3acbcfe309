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
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from kzspatial._constants import YEAR
from kzspatial._errors import ValidationError
from kzspatial.core.gravity import GravityFit
from kzspatial.core.huff import HubChoiceFit
from kzspatial.datasets.regions import HUB_NAMES
from kzspatial.study.gravity_suite import (
    GravityResults,
    centre_distances,
    fit_model,
    push_pull_covariates,
)
from kzspatial.study.hub_choice import (
    CALIBRATED,
    DEFAULT_CENTRES,
    MASS_ONLY,
    agreement_tables,
    catchment_changes,
    centre_sensitivity,
    hub_params_table,
    model_checks,
)
from kzspatial.study.inputs import StudyData, dataset_provenance, latest_values

__all__ = [
    "HUB_NAMES",
    "MODEL_CAVEAT",
    "CatchmentResults",
    "catchment_suite",
    "flow_catchment_tables",
]

MODEL_CAVEAT = (
    "District and grid-cell catchments are predictions of the calibrated Huff model "
    "(hub attractiveness and distance decay fitted by maximum likelihood to the "
    "observed choice among the hubs), not observed flows. Cell populations are each "
    "region's official (BNS) population allocated to its settlement points "
    "(dasymetric), so they add up to the regional totals; the points only say where "
    "people live within a region."
)


@dataclass(frozen=True, eq=False)
class CatchmentResults:
    """Observed flow catchments and model-based (Huff) catchments of the three hubs.

    Attributes
    ----------
    shares : pandas.DataFrame
        Every OD year: ``year, region_id, out_migrants, share_<hub>..., other_share,
        dominant_hub, catchment, centres`` (threshold rule, shares of out-migrants).
    flow_polygons : geopandas.GeoDataFrame
        Regions dissolved by flow catchment, every year.
    history : geopandas.GeoDataFrame
        Regions dissolved by observed flow catchment and by calibrated-model leading
        hub, every OD year (``rule``, ``year``).
    hub_fit : HubChoiceFit
        The calibrated Huff model of the focus year (drives every model catchment).
    attractiveness : dict of str to float
        Calibrated hub attractiveness (Astana = 1); ``beta`` its decay (km).
    mass_only : tuple of (dict of str to float, float)
        Attractiveness ``exp(sum_k gamma_k x_hk)`` and decay of the production-
        constrained power model: the mass-only alternative.
    region_huff, region_huff_mass_only, district_huff : pandas.DataFrame
        Huff probabilities ``p_<hub>``, ``dominant_hub``, ``dominant_probability``;
        ``district_huff`` also ``population_allocated``, the dasymetric allocation of
        the official regional populations summed by district (not an official count).
    grid, grid_huff, grid_huff_mass_only, cell_population, potential
        The national grid, its calibrated and mass-only Huff results, the dasymetric
        population per cell and the gravity potential of the regions' populations.
    population_allocation : pandas.DataFrame
        How each region's population was put on the grid.
    dominance, dominance_mass_only, thresholds : geopandas.GeoDataFrame
        Grid polygons of the leading hub (calibrated, mass-only) and of calibrated
        probability thresholds, focus year.
    population : pandas.DataFrame
        Population in each catchment under each rule (regions, grid cells, districts),
        with ``no hub`` / ``outside`` rows, method, date and the national total.
    agreement, agreement_summary, hub_params : pandas.DataFrame
        See :func:`kzspatial.study.hub_choice.agreement_tables`.
    changes : pandas.DataFrame
        Leading hubs in the first and last OD years.
    model_checks : pandas.DataFrame
        Richer hub-choice models tested against the calibrated one, every OD year; see
        :func:`kzspatial.study.hub_choice.model_checks`.
    sensitivity, sensitivity_regions : pandas.DataFrame
        See :func:`kzspatial.study.hub_choice.centre_sensitivity`.
    settlement_source : str
        The settlement points of the dasymetric populations, as cited in the tables
        and rasters (GeoNames, or opt-in OpenStreetMap under the ODbL).
    centres : str
        Zone-centre choice of every distance.
    settlement_provenance : tuple of dict
        Provenance rows of settlement data beyond :attr:`StudyData.provenance` (the
        OpenStreetMap file when opted in), with how many points were clipped.
    """

    shares: pd.DataFrame
    flow_polygons: gpd.GeoDataFrame
    history: gpd.GeoDataFrame
    hub_fit: HubChoiceFit
    attractiveness: dict[str, float]
    beta: float
    cost_func: str
    mass_only: tuple[dict[str, float], float]
    region_huff: pd.DataFrame
    region_huff_mass_only: pd.DataFrame
    district_huff: pd.DataFrame
    grid: object
    grid_huff: object
    grid_huff_mass_only: object
    cell_population: np.ndarray
    population_allocation: pd.DataFrame
    potential: np.ndarray
    dominance: gpd.GeoDataFrame
    dominance_mass_only: gpd.GeoDataFrame
    thresholds: gpd.GeoDataFrame
    population: pd.DataFrame
    agreement: pd.DataFrame
    agreement_summary: pd.DataFrame
    hub_params: pd.DataFrame
    changes: pd.DataFrame
    model_checks: pd.DataFrame
    sensitivity: pd.DataFrame
    sensitivity_regions: pd.DataFrame
    settlement_source: str
    centres: str = DEFAULT_CENTRES
    caveat: str = MODEL_CAVEAT
    settlement_provenance: tuple[dict, ...] = ()


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

    The model catchments of regions, districts and grid cells come from the
    calibrated Huff model of ``focus_year``
    (:func:`kzspatial.study.hub_choice.calibrate_hubs`): hub attractiveness and power
    decay fitted to the observed choice among the hubs of every non-hub region's
    movers. The mass-only Huff (attractiveness
    ``A_h = exp(sum_k gamma_k x_hk)`` and decay of the production-constrained power
    model with destination covariates) is kept as a labelled alternative. Grid-cell
    populations are the official regional populations allocated to settlement points:
    GeoNames (``settlements="geonames"``, CC BY 4.0) or, opt-in, OpenStreetMap
    (``"osm"``, ODbL 1.0: share-alike applies to what you publish from them).

    Parameters
    ----------
    data : StudyData
        In the 2024 borders.
    gravity : GravityResults, optional
        Source of the production-constrained model, centres and distances; without it
        that one model is fitted alone (the same model, see
        :func:`kzspatial.study.gravity_suite.fit_model`).
    focus_year : int
        Year of the models and of the population tables.
    cell_km : float
        Grid cell size (km).
    threshold : float
        Share of out-migrants that puts a region into a hub's flow catchment.
    settlements : {"geonames", "osm"}
        Points for the dasymetric grid population.

    Returns
    -------
    CatchmentResults

    Raises
    ------
    ValidationError
        Borders other than 2024, or an unknown ``settlements``.
    """
    # over 120 lines with its docstring: one call per step, the steps in order
    points, point_source, point_provenance = _settlement_points(data, settlements)
    shares, flow_polygons, flow = flow_catchment_tables(data, threshold=threshold)
    fit, centres, D = _hub_model(data, gravity, focus_year)
    mass_only = (_attractiveness(data, fit, focus_year), fit.params["beta"])
    agreement, summary, hub_fits = agreement_tables(
        data, D, mass_only, focus_year=focus_year, centres=DEFAULT_CENTRES
    )
    hub_fit = hub_fits[focus_year]
    hubs = gpd.GeoSeries(
        centres.loc[list(HUB_NAMES)].geometry.to_numpy(),
        index=list(HUB_NAMES.values()),
        crs=4326,
    )
    region_res, region_huff = _region_huff(
        data.ids, D, hub_fit.attractiveness, hub_fit.beta
    )
    _, region_mass = _region_huff(data.ids, D, *mass_only)
    pop_regions, pop_year = latest_values(
        data.population, "population", focus_year, "2024"
    )
    _require_every_region(pop_regions, data.ids, pop_year)
    district_huff, district_outside = _district_catchments(
        data, hubs, hub_fit, pop_regions, points
    )
    grid = _grid_catchments(
        data,
        centres,
        hubs,
        hub_fit,
        mass_only,
        points,
        pop_regions,
        cell_km,
        focus_year,
    )
    grid["population_allocation"] = grid["population_allocation"].assign(
        points=point_source
    )
    pop_regions = pop_regions.reindex(list(data.ids)).to_numpy(float)
    population = _population_table(
        [
            *_rules(
                flow[focus_year],
                region_res,
                region_mass,
                grid,
                pop_regions,
                threshold,
                cell_km,
            ),
            _district_rule(district_huff, district_outside),
        ],
        float(pop_regions.sum()),
        date=f"{pop_year}-01-01",
        source=f"BNS population at 1 January {pop_year}",
        point_source=point_source,
    )
    sensitivity, sensitivity_regions = centre_sensitivity(data, focus_year=focus_year)
    first, last = min(data.years), max(data.years)
    return CatchmentResults(
        shares=shares.assign(centres=DEFAULT_CENTRES),
        flow_polygons=flow_polygons,
        history=_history(data, flow_polygons, agreement),
        hub_fit=hub_fit,
        attractiveness=hub_fit.attractiveness,
        beta=hub_fit.beta,
        cost_func="pow",
        mass_only=mass_only,
        region_huff=region_huff.assign(model=CALIBRATED, centres=DEFAULT_CENTRES),
        region_huff_mass_only=region_mass.assign(
            model=MASS_ONLY, centres=DEFAULT_CENTRES
        ),
        district_huff=district_huff,
        population=population,
        agreement=agreement,
        agreement_summary=summary,
        hub_params=pd.concat(
            [hub_params_table(f, y, DEFAULT_CENTRES) for y, f in hub_fits.items()],
            ignore_index=True,
        ),
        changes=catchment_changes(agreement, first, last),
        model_checks=model_checks(data, D),
        sensitivity=sensitivity,
        sensitivity_regions=sensitivity_regions,
        settlement_source=point_source,
        settlement_provenance=point_provenance,
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
    """Fit the production-constrained power model; also return centres and distances."""
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


def _district_catchments(
    data: StudyData, hubs, hub_fit: HubChoiceFit, pop_regions: pd.Series, points
) -> tuple[pd.DataFrame, float]:
    """Calibrated Huff of the districts and their allocated populations.

    Returns the district table (``district_id``, Huff columns,
    ``population_allocated``, ``model``, ``centres``) and the population allocated
    outside every district.
    """
    from kzspatial.geo.grids import polygon_huff
    from kzspatial.geo.population import dasymetric_polygon_population

    districts = data.districts.set_index("district_id")
    huff = polygon_huff(districts, hubs, hub_fit.attractiveness, hub_fit.beta, "pow")
    population, outside = dasymetric_polygon_population(
        districts, data.regions, pop_regions, points
    )
    table = huff.join(population).reset_index()
    return table.assign(model=CALIBRATED, centres=DEFAULT_CENTRES), outside


def _settlement_points(
    data: StudyData, settlements: str
) -> tuple[gpd.GeoDataFrame, str, tuple[dict, ...]]:
    """Points with a population for the grid cells, how to cite them, provenance.

    The provenance rows are those missing from ``data.provenance`` (GeoNames is
    always there).
    """
    _check_borders(data)
    if settlements == "geonames":
        return data.cities, "GeoNames city points (mixed vintage)", ()
    if settlements == "osm":
        from kzspatial.datasets.places import load_osm_settlements

        points = load_osm_settlements(data.outline)
        (row,) = dataset_provenance([points.attrs["source"]])
        row["clipping"] = (
            f"{len(points)} of {points.attrs['points_in_file']} points kept (those with "
            f"a numeric population tag inside Kazakhstan); "
            f"{points.attrs['dropped_outside']} tagged points outside the country "
            "outline dropped"
        )
        return (
            points,
            "OpenStreetMap settlement points (ODbL 1.0, © OpenStreetMap "
            "contributors; population tags of mixed vintage)",
            (row,),
        )
    raise ValidationError(
        f"settlements must be 'geonames' or 'osm' (opt-in, ODbL), got {settlements!r}"
    )


def _grid_catchments(
    data, centres, hubs, hub_fit, mass_only, points, pop_regions, cell_km, year
) -> dict:
    """Compute the grid products, keyed by :class:`CatchmentResults` field.

    Calibrated and mass-only Huff, dasymetric cell populations, the regional potential,
    and the dominance and threshold polygons (EPSG:4326).
    """
    from kzspatial.core.catchments import gravity_potential
    from kzspatial.geo.grids import (
        distances_to_hubs_km,
        dominance_polygons,
        grid_huff,
        national_grid,
        threshold_polygons,
    )
    from kzspatial.geo.population import dasymetric_population

    ids = list(data.ids)
    grid = national_grid(data.outline, cell_km * 1000.0)
    g_huff = grid_huff(grid, hubs, hub_fit.attractiveness, hub_fit.beta, "pow")
    g_mass = grid_huff(grid, hubs, *mass_only, "pow")
    cell_pop, allocation = dasymetric_population(
        grid, data.regions, pop_regions, points
    )
    D_cells = distances_to_hubs_km(
        grid, gpd.GeoSeries(centres.loc[ids].geometry.to_numpy(), index=ids, crs=4326)
    )
    potential = gravity_potential(
        D_cells,
        pop_regions.reindex(ids).to_numpy(float),
        hub_fit.beta,
        "pow",
        labels=ids,
        min_cost=5.0,
    )
    polygons = {
        "dominance": dominance_polygons(
            grid, g_huff, cell_population=cell_pop, year=year, rule="huff_calibrated"
        ),
        "dominance_mass_only": dominance_polygons(
            grid, g_mass, cell_population=cell_pop, year=year, rule="huff_mass_only"
        ),
        "thresholds": threshold_polygons(
            grid, g_huff, (0.5, 0.75), cell_population=cell_pop, year=year
        ),
    }
    return {
        "grid": grid,
        "grid_huff": g_huff,
        "grid_huff_mass_only": g_mass,
        "cell_population": cell_pop,
        "population_allocation": allocation,
        "potential": np.asarray(potential),
        **{k: v.to_crs(4326) for k, v in polygons.items()},
    }


class _Rule(NamedTuple):
    """A catchment rule of the population table.

    ``index`` is the hub of each unit (-1 for none, labelled ``rest``); ``outside``
    is a population lying in no unit, with its label.
    """

    rule: str
    method: str
    index: np.ndarray
    population: np.ndarray
    units: str
    rest: str
    outside: tuple[str, float] | None = None


_CALIBRATED_TEXT = "calibrated Huff (hub attractiveness and decay fitted by MLE)"


def _require_every_region(pop_regions: pd.Series, ids, pop_year: int) -> None:
    missing = [r for r in ids if not np.isfinite(pop_regions.get(r, np.nan))]
    if missing:
        raise ValidationError(
            f"no {pop_year} population for the regions {missing}; the catchment "
            "populations need every region"
        )


def _rules(
    flow, region_res, region_mass, grid, pop_regions, threshold, cell_km
) -> list[_Rule]:
    """List the region and grid rules of the population table."""
    calibrated = _CALIBRATED_TEXT
    return [
        _Rule(
            f"regions: observed flow share >= {threshold:.0%}",
            f"region joins the hub receiving the largest share of its out-migrants "
            f"when that share is at least {threshold:.0%}; hubs are their own cores",
            np.asarray(flow.catchment_index),
            pop_regions,
            "regions",
            f"no hub (largest share below {threshold:.0%})",
        ),
        _Rule(
            "regions: calibrated Huff, leading hub",
            f"{calibrated}, at the region centre",
            region_res.dominant_index,
            pop_regions,
            "regions",
            "no hub",
        ),
        _Rule(
            "regions: mass-only Huff, leading hub",
            "Huff with attractiveness from the production-constrained gravity model",
            np.asarray(
                [list(HUB_NAMES.values()).index(h) for h in region_mass["dominant_hub"]]
            ),
            pop_regions,
            "regions",
            "no hub",
        ),
        _Rule(
            f"{cell_km:g} km grid: calibrated Huff, leading hub",
            f"{calibrated}, at each cell centre; official regional populations "
            "allocated to settlement points (dasymetric)",
            np.asarray(grid["grid_huff"].dominant_index),
            grid["cell_population"],
            "cells",
            "outside the grid",
        ),
    ]


def _district_rule(district_huff: pd.DataFrame, outside: float) -> _Rule:
    """Build the district rule: allocated district populations by leading hub."""
    hub_names = list(HUB_NAMES.values())
    return _Rule(
        "districts: calibrated Huff, leading hub",
        f"{_CALIBRATED_TEXT}, at each district's representative point; district "
        "populations are each region's official population allocated to its "
        "settlement points (dasymetric) and summed by district polygon: an "
        "allocation, not an official district count (none is published in the data)",
        np.asarray(
            [
                hub_names.index(h) if h in hub_names else -1
                for h in district_huff["dominant_hub"]
            ]
        ),
        district_huff["population_allocated"].to_numpy(float),
        "districts",
        "no hub",
        ("outside every district", outside),
    )


def _population_table(rules, national, *, date, source, point_source) -> pd.DataFrame:
    """Sum the population of each hub's catchment and of the rest, per rule.

    Shares are of ``national``, the sum of the official regional populations of
    ``date``.
    """
    from kzspatial.core.catchments import catchment_population

    hub_names = list(HUB_NAMES.values())
    rows = []
    for rule, method, index, population, units, rest, outside in rules:
        res = catchment_population(index, population, hub_names)
        labels = [*hub_names, rest]
        values = [*res.population, res.unassigned]
        if outside is not None:
            labels.append(outside[0])
            values.append(outside[1])
        for hub, value in zip(labels, values, strict=True):
            rows.append(
                {
                    "rule": rule,
                    "hub": hub,
                    "population": value,
                    "share_of_national": value / national,
                    "units": units,
                    "method": method,
                    "population_date": date,
                    "national_total": national,
                    "source": source
                    + ("" if units == "regions" else f"; placed by {point_source}"),
                    "centres": DEFAULT_CENTRES,
                }
            )
    return pd.DataFrame(rows)


def _history(data, flow_polygons, agreement) -> gpd.GeoDataFrame:
    """Observed flow catchments and calibrated-model leading hubs, every OD year."""
    from kzspatial.geo.crs import KZ_AEA

    regions = data.regions.set_index("region_id")
    model = agreement[agreement["model"] == CALIBRATED]
    parts = [
        flow_polygons.assign(
            hub=flow_polygons["hub"].map(HUB_NAMES).fillna(flow_polygons["hub"])
        )
    ]
    geoms = regions.geometry.to_numpy()
    unions: dict[tuple[bool, ...], shapely.Geometry] = {}  # by members: 5 distinct
    for year, rows in model.groupby(YEAR):
        hub_of = dict(zip(rows["region_id"], rows["predicted_hub"], strict=True))
        hub_of.update(HUB_NAMES)  # a hub region is its own catchment
        hubs = regions.index.map(hub_of).to_numpy()
        # what dissolve("hub") gives: hubs sorted, each the union of its regions
        # in their order, regions of no hub left out
        names = sorted({h for h in hubs if isinstance(h, str)})
        members = [tuple(hubs == h) for h in names]
        for key in members:
            if key not in unions:
                unions[key] = shapely.union_all(geoms[np.array(key)])
        dissolved = gpd.GeoSeries([unions[k] for k in members], crs=regions.crs)
        area = dissolved.to_crs(KZ_AEA).area / 1e6
        parts.append(
            gpd.GeoDataFrame(
                {
                    "hub": names,
                    "rule": "huff_calibrated_regions",
                    "year": int(year),
                    "population": np.nan,
                    "area_km2": area.to_numpy(),
                },
                geometry=dissolved.to_crs(4326).to_numpy(),
                crs=4326,
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["year"] = out["year"].astype("int16")
    out["centres"] = DEFAULT_CENTRES
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
