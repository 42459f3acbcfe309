"""The spatial products of ``kzspatial run``: the styled GeoPackage and the rasters.

Layers, attribute tables and QGIS metadata of the GeoPackage, and the catchment rasters
(Cloud-Optimised GeoTIFF with QGIS styles), from the results of the analyses.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial._version import __version__
from kzspatial.datasets.regions import HUB_COLOURS
from kzspatial.study.catchment_suite import (
    CatchmentResults,
)
from kzspatial.study.gravity_suite import (
    GravityResults,
)
from kzspatial.study.inputs import StudyData
from kzspatial.study.moran_suite import MoranSuite
from kzspatial.study.scenario_products import scenario_layers, scenario_metadata
from kzspatial.study.scenarios import ScenarioResult
from kzspatial.study.study_suite import StudyResults
from kzspatial.study.table_info import TABLE_INFO, layer_metadata, result_tables

if TYPE_CHECKING:
    from kzspatial.study.pipeline import RunOptions

__all__ = ["write_geopackage_products", "write_rasters"]

logger = logging.getLogger("kzspatial")


def _regions_layer(data, catchments, entries, focus_year) -> gpd.GeoDataFrame:
    ind = data.indicators[data.indicators[YEAR] == focus_year].set_index("region_id")
    regions = data.regions.copy()
    keep = [
        "population",
        "population_date",
        "in_migration",
        "out_migration",
        "net_migration",
        "in_rate",
        "out_rate",
        "net_rate",
        "urban_share",
    ]
    for col in keep:
        if col in ind.columns:
            regions[col] = regions["region_id"].map(ind[col])
    regions["year"] = np.int16(focus_year)
    lisa = next(
        (e for e in entries if e.variable == "net_rate" and e.weights_name == "queen"),
        None,
    )
    if lisa is not None and list(lisa.ids) == list(regions["region_id"]):
        regions["lisa_net_rate_Ii"] = lisa.local.Is
        regions["lisa_net_rate_p"] = lisa.local.p_sim
        regions["lisa_net_rate_p_two_sided"] = lisa.local.p_sim_two_sided
        regions["lisa_net_rate_cluster"] = list(lisa.cluster_labels)
    if catchments is not None:
        huff = catchments.region_huff.set_index("region_id")
        for col in huff.columns:
            regions[f"huff_{col}"] = regions["region_id"].map(huff[col])
        shares = catchments.shares[catchments.shares[YEAR] == focus_year].set_index(
            "region_id"
        )
        regions["flow_catchment"] = regions["region_id"].map(shares["catchment"])
    regions["fid"] = np.arange(1, len(regions) + 1, dtype=np.int64)
    return regions


def _layer_metadata(
    focus: int, catchments: CatchmentResults | None, arcs: pd.DataFrame
) -> dict:
    """Title and abstract of each GeoPackage layer."""
    from kzspatial.render.gpkg import od_flows_rule

    n_drawn, threshold = od_flows_rule(arcs["flow"])
    return layer_metadata(TABLE_INFO) | {
        "regions": {
            "title": f"Regions of Kazakhstan: migration {focus}",
            "abstract": "Moves between regions (BNS), rates per 1,000 residents, "
            "LISA of the net rate (queen weights), Huff probabilities.",
        },
        "od_flows": {
            "title": f"Moves between regions, {focus}: the {n_drawn} largest of "
            f"{len(arcs)} drawn (≥ {threshold:,.0f} persons)",
            "abstract": "Persons who moved between two regions (BNS), the fitted value "
            "of the doubly-constrained power gravity model and the Pearson residual, "
            "per origin-destination pair; arrowheads at the destination. The default "
            f"style draws the flows of at least {threshold:,.0f} persons; tick its "
            "second rule to draw every arc.",
        },
        "od_matrix": {
            "title": "Moves between regions, every year (table)",
            "abstract": "Observed, fitted and Pearson residual per pair and year; join "
            "to regions on origin / destination = region_id.",
        },
        "catchments": {
            "title": f"Catchments of Astana, Almaty and Shymkent, {focus}",
            "abstract": "Leading hub of each 5 km cell under the calibrated Huff model "
            "(hub attractiveness and distance decay fitted to the observed choice "
            "among the hubs). " + (catchments.caveat if catchments is not None else ""),
        },
        "catchments_history": {
            "title": "Catchments of the hubs, every year",
            "abstract": "rule flow_share>=t: regions whose out-migrants go to the hub "
            "in at least that share (observed); huff_calibrated_regions: leading hub "
            "of the calibrated Huff model fitted on that year. The default style "
            f"shows the observed catchments of {focus}; with QGIS's temporal "
            "controller on (step 1 year) each frame shows its own year.",
        },
        "catchments_alternatives": {
            "title": f"Catchments of the hubs: alternative rules, {focus}",
            "abstract": "huff_mass_only: leading hub when attractiveness comes from "
            "the production-constrained gravity model (mass only, no capital effect); "
            "huff_p>=x: cells where the calibrated probability reaches x (zones "
            "overlap). The default style shows huff_mass_only.",
        },
        "catchment_agreement": {"title": "Hub shares: observed against the models"},
        "catchment_agreement_summary": {"title": "Hub-choice models: fit by year"},
        "hub_choice_params": {"title": "Calibrated Huff model: estimates"},
        "hub_choice_model_checks": {"title": "Hub-choice models: richer models tested"},
        "catchment_changes": {"title": "Leading hub: first and last OD year"},
        "centre_sensitivity": {"title": "Decay and catchments by zone centres"},
        "centre_sensitivity_regions": {"title": "Leading hub by zone centres"},
        **_settlement_metadata(catchments),
        "moran_global": {"title": f"Moran's I of regional indicators, {focus}"},
    }


def _settlement_metadata(catchments: CatchmentResults | None) -> dict:
    """Layers whose populations were placed through the run's settlement points."""
    points = (
        catchments.settlement_source
        if catchments is not None
        else "the run's settlement points"
    )
    allocated = (
        "each region's official (BNS) population allocated to its settlement points, "
        f"summing to the regional totals (points: {points})"
    )
    return {
        "grid_population": {
            "title": "Grid population: allocation per region",
            "abstract": f"How the grid cells got their residents: {allocated}.",
        },
        "catchment_population": {
            "title": TABLE_INFO["catchment_population"].title,
            "abstract": "Population inside each hub's catchment under each rule, "
            "with the no-hub and outside rows; grid and district rules use "
            f"{allocated}. Source and method per row.",
        },
        "districts": {
            "title": "Districts of Kazakhstan",
            "abstract": "huff_*: calibrated Huff model at each district's "
            f"representative point; population_allocated: {allocated}, summed by "
            "district: an allocation, not an official district count (none is "
            "published in the data).",
        },
    }


def write_geopackage_products(
    data: StudyData,
    gravity: GravityResults,
    panel: dict[str, pd.DataFrame],
    catchments: CatchmentResults | None,
    moran: MoranSuite,
    options: RunOptions,
    path: Path,
    study: StudyResults | None = None,
    scenario: ScenarioResult | None = None,
) -> None:
    """All layers and tables of the run in one styled GeoPackage.

    With a ``scenario``, its ``scenario_nets`` polygon layer and its tables
    (:func:`kzspatial.study.scenario_products.scenario_layers`).
    """
    from kzspatial.render.gpkg import write_geopackage
    from kzspatial.render.maps import flow_lines

    entries = moran.entries
    focus = options.focus_year
    layers: dict[str, pd.DataFrame] = {
        "regions": _regions_layer(data, catchments, entries, focus)
    }
    districts = data.districts.copy()
    if catchments is not None:
        huff = catchments.district_huff.set_index("district_id")
        for col in huff.columns.drop("population_allocated"):
            districts[f"huff_{col}"] = districts["district_id"].map(huff[col])
        # an allocation of the regional totals, not a district count (none published)
        districts["population_allocated"] = districts["district_id"].map(
            huff["population_allocated"]
        )
    layers["districts"] = districts
    cities = data.cities[
        [
            "geonameid",
            "name",
            "population",
            "region_id",
            "centre_of",
            "population_vintage",
            "geometry",
        ]
    ].copy()
    cities["population"] = cities["population"].astype("int64")
    layers["cities"] = cities
    od = gravity.flows.rename(columns={"observed": "flow"})
    # One year of arcs keeps the styled layer readable; every year is in od_matrix.
    arcs = flow_lines(data.regions, od, year=focus)
    arcs["year"] = arcs["year"].astype("int16")
    layers["od_flows"] = arcs
    layers["od_matrix"] = od.astype({"year": "int16"})
    if catchments is not None:
        layers.update(_catchment_layers(catchments, focus))
    summary = pd.DataFrame(
        [
            {
                "variable": e.variable,
                "weights": e.weights_name,
                "year": e.year,
                "n": len(e.ids),
                "I": e.global_.I,
                "EI": e.global_.EI,
                "z_rand": e.global_.z_rand,
                "p_rand": e.global_.p_rand,
                "p_sim": e.global_.p_sim,
                "p_sim_two_sided": e.global_.p_sim_two_sided,
                "alternative": e.global_.alternative,
                "permutations": options.permutations,
                "seed": options.seed,
            }
            for e in entries
        ]
    )
    # the attribute tables are the CSV tables, less those a spatial layer already holds
    # (gravity_flows is od_matrix, huff_regions is in regions) and the data-check
    # summary, which only aggregates the data_check table
    tables = result_tables(data, gravity, panel, moran, catchments, study)
    for held in ("gravity_flows", "huff_regions", "data_check_summary"):
        tables.pop(held, None)
    layers.update(
        moran_global=summary, **tables, provenance=pd.DataFrame(data.provenance)
    )
    metadata = _layer_metadata(focus, catchments, arcs)
    if scenario is not None:
        layers.update(scenario_layers(scenario, data.regions))
        metadata.update(scenario_metadata(scenario))
    layers = {k: v for k, v in layers.items() if len(v)}
    metadata = {k: v for k, v in metadata.items() if k in layers}
    provenance = {
        "kzspatial_version": __version__,
        "seed": options.seed,
        "permutations": options.permutations,
        "borders": options.borders,
        "focus_year": focus,
        "sources": "; ".join(f"{p['title']} ({p['licence']})" for p in data.provenance),
    }
    write_geopackage(
        path,
        layers,
        equal_area=["regions"],
        metadata=metadata,
        provenance=provenance,
        overwrite=True,
    )


def _catchment_layers(catchments: CatchmentResults, focus: int) -> dict:
    """Split the catchments into a focus-year, a history and an alternatives layer.

    The history holds every OD year, the alternatives the mass-only Huff and the
    probability zones; their styles show one rule of the focus year by default.
    """
    history = catchments.history.copy()
    history.attrs.update(default_year=focus, default_rule="flow_share>=0.15")
    alternatives = gpd.GeoDataFrame(
        pd.concat(
            [catchments.dominance_mass_only, catchments.thresholds], ignore_index=True
        ),
        crs=4326,
    ).assign(centres=catchments.centres)
    alternatives.attrs.update(default_year=focus, default_rule="huff_mass_only")
    return {
        "catchments": catchments.dominance.assign(centres=catchments.centres),
        "catchments_history": history,
        "catchments_alternatives": alternatives,
    }


def _raster_tags(catchments: CatchmentResults) -> dict:
    """Describe the calibrated model and the grid population method for a raster."""
    fit = catchments.hub_fit
    se = dict(zip(fit.param_names, fit.se_quasi, strict=True))
    tags = {
        "model": "calibrated Huff (MLE on the observed choice among the hubs)",
        "beta": fit.beta,
        "beta_se_quasi": se["beta"],
        "centres": catchments.centres,
        "population_method": "dasymetric: each region's official (BNS) population "
        "allocated to its settlement points, cells summing to the regional totals; "
        f"points: {catchments.settlement_source}",
        "population_points": catchments.settlement_source,
    }
    for hub, a in fit.attractiveness.items():
        tags[f"attractiveness_{hub.lower()}"] = a
    return tags


def write_rasters(catchments: CatchmentResults, paths: dict[str, Path]) -> None:
    """COGs with QGIS sidecar styles: probability per hub, dominant hub, potential."""
    from kzspatial.geo.grids import hub_class_raster, to_raster
    from kzspatial.render.raster import write_cog

    grid = catchments.grid
    hubs = catchments.grid_huff.hubs
    for k, hub in enumerate(hubs):
        stem = f"huff_{hub.lower()}"
        write_cog(
            paths[f"raster_{stem}"],
            to_raster(
                grid,
                np.asarray(catchments.grid_huff.probabilities[:, k], dtype=np.float32),
                fill=np.nan,
            ),
            grid.transform,
            grid.crs,
            nodata=np.nan,
            value_range=(0.0, 1.0),
            description=f"Huff probability of choosing {hub} (model prediction)",
            tags=_raster_tags(catchments),
            overwrite=True,
        )
        _move_sidecar(paths, stem)
    dominant = hub_class_raster(grid, catchments.grid_huff.dominant_index)
    write_cog(
        paths["raster_dominant_hub"],
        dominant,
        grid.transform,
        grid.crs,
        nodata=0,
        colormap={
            k + 1: HUB_COLOURS.get(h, (128, 128, 128, 255)) for k, h in enumerate(hubs)
        },
        categories={k + 1: h for k, h in enumerate(hubs)},
        description="Hub with the highest Huff probability (model prediction)",
        tags=_raster_tags(catchments),
        overwrite=True,
    )
    _move_sidecar(paths, "dominant_hub")
    for stem, values, description in (
        (
            "potential",
            catchments.potential,
            "Gravity potential of regional populations (persons x km^beta)",
        ),
        (
            "population",
            catchments.cell_population,
            "Residents per cell: official regional population allocated to "
            "settlement points (dasymetric), summing to the regional totals; "
            f"points: {catchments.settlement_source}",
        ),
    ):
        write_cog(
            paths[f"raster_{stem}"],
            to_raster(grid, np.asarray(values, dtype=np.float32), fill=np.nan),
            grid.transform,
            grid.crs,
            nodata=np.nan,
            description=description,
            tags=_raster_tags(catchments),
            overwrite=True,
        )
        _move_sidecar(paths, stem)


def _move_sidecar(paths: dict[str, Path], stem: str) -> None:
    """Move the QGIS style written next to a staged raster to its own staged target."""
    paths[f"raster_{stem}"].with_suffix(".qml").replace(paths[f"qml_{stem}"])
