"""Flow maps of ``kzspatial run``: per-year maps, residual map and the flow explorer.

One folium map per OD year, the map of the gravity model's residuals, and the flow
explorer holding every year in one page.

Both read the per-year flows of the doubly-constrained gravity model
(:func:`kzspatial.study.gravity_suite.flow_table`), taken from the gravity results when
the run computed them (:func:`map_inputs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial.datasets.regions import HUB_IDS
from kzspatial.study.catchment_suite import flow_catchment_tables
from kzspatial.study.gravity_suite import centre_distances, doubly_fits, flow_table
from kzspatial.study.inputs import StudyData

if TYPE_CHECKING:
    from kzspatial.study.pipeline import RunOptions

__all__ = ["map_inputs", "write_explorer", "write_maps"]

#: Initial mode of the flow explorer for each ``map_mode`` of the per-year maps.
_EXPLORER_MODE = {
    "top": "observed",
    "threshold": "observed",
    "net": "net",
    "residual": "pearson",
}


def write_maps(
    data: StudyData,
    model_flows: pd.DataFrame,
    flow_polygons: gpd.GeoDataFrame | None,
    options: RunOptions,
    paths: dict[str, Path],
) -> None:
    """Write one flow map per year and a map of the gravity model's residuals.

    The per-year maps draw ``options.map_mode`` (top, threshold or net flows); the
    residual map the flows furthest from the gravity model in the focus year.

    Parameters
    ----------
    data : StudyData
    model_flows : pandas.DataFrame
        ``year, origin, destination, observed, fitted, residual``
        (:func:`kzspatial.study.gravity_suite.flow_table`).
    flow_polygons : geopandas.GeoDataFrame, optional
        Flow catchments by year, drawn under the flows.
    options : RunOptions
    paths : dict of str to Path
        ``map_<year>`` and ``map_residuals`` targets.
    """
    from kzspatial.render.maps import flow_map, save_map

    titles = {
        "top": "Largest moves between regions, {year} (persons)",
        "threshold": "Moves between regions of at least {threshold:,.0f} persons, {year}",
        "net": "Largest net moves between regions, {year} (persons)",
        "residual": "Flows furthest from the gravity model, {year}",
    }

    flows = model_flows.rename(columns={"observed": "flow"})
    hubs = list(HUB_IDS) if data.borders == "2024" else None
    for year in data.years:
        polygons = None
        if flow_polygons is not None:
            polygons = flow_polygons[flow_polygons[YEAR] == year]
        m = flow_map(
            data.regions,
            flows,
            year=year,
            mode=options.map_mode,
            top_n=options.top_n,
            threshold=options.threshold,
            hubs=hubs,
            catchments=polygons,
            tiles=options.tiles,
            attribution=options.attribution,
            title=titles[options.map_mode].format(
                year=year, threshold=options.threshold or 0
            ),
        )
        save_map(m, paths[f"map_{year}"], offline=options.offline, overwrite=True)
    m = flow_map(
        data.regions,
        flows,
        year=options.focus_year,
        mode="residual",
        top_n=options.top_n,
        hubs=hubs,
        tiles=options.tiles,
        attribution=options.attribution,
        title=f"Flows furthest from the gravity model, {options.focus_year}",
    )
    save_map(m, paths["map_residuals"], offline=options.offline, overwrite=True)


def write_explorer(
    data: StudyData,
    model_flows: pd.DataFrame,
    options: RunOptions,
    path: Path,
    *,
    scenario: pd.DataFrame | None = None,
    scenario_label: str = "Scenario",
) -> None:
    """Write the flow explorer: every OD year in one offline page (``maps/flows.html``).

    Observed flows, rates per 1,000 of the origin's population (1 January, in the
    borders of the flows), the fitted flows of each year's doubly-constrained gravity
    model (fitted, raw and Pearson residual modes) and the hubs as proportional symbols.

    Parameters
    ----------
    data : StudyData
    model_flows : pandas.DataFrame
        ``year, origin, destination, observed, fitted`` of every loaded year
        (:func:`kzspatial.study.gravity_suite.flow_table`).
    options : RunOptions
        ``map_mode`` (initial mode), ``top_n``, ``threshold``, ``tiles``, ``offline``.
    path : Path
        Where to write the page.
    scenario : pandas.DataFrame, optional
        ``origin, destination, flow`` (and optionally ``year``) predicted under a
        scenario; adds the scenario mode, labelled ``scenario_label``.
    scenario_label : str
    """
    from kzspatial.render.explorer import explorer_map
    from kzspatial.render.maps import save_map

    population = data.population[data.population["configuration"] == data.borders]
    years = data.years
    first = int(population[YEAR].min())
    # the population units of earlier dates do not match these borders
    note = (
        f"; rates before {first} use the population of 1 January {first}"
        if years[0] < first
        else ""
    )
    flows = model_flows.rename(columns={"observed": "flow"})
    m = explorer_map(
        data.regions,
        flows[[YEAR, "origin", "destination", "flow"]],
        population=population[[YEAR, "region_id", "population"]],
        fitted=flows[[YEAR, "origin", "destination", "fitted"]],
        scenario=scenario,
        scenario_label=scenario_label,
        hubs=list(HUB_IDS) if data.borders == "2024" else None,
        title=f"Moves between regions, {years[0]}–{years[-1]} ({data.borders} "
        f"borders{note})",
        mode=_EXPLORER_MODE[options.map_mode],
        top_n=options.top_n,
        threshold=options.threshold or 0.0,
        tiles=options.tiles,
        attribution=options.attribution,
    )
    save_map(m, path, offline=options.offline, overwrite=True)


def map_inputs(data, gravity, catchments) -> tuple:
    """Return the per-year gravity flows and flow-catchment polygons the maps draw.

    They are taken from the analyses when computed, else computed alone (the same
    numbers).
    """
    if gravity is not None:
        flows = gravity.flows
    else:
        _, D = centre_distances(data)
        flows = flow_table(data, doubly_fits(data, D))
    if catchments is not None:
        polygons = catchments.flow_polygons
    elif data.borders == "2024":
        _, polygons, _ = flow_catchment_tables(data)
    else:
        polygons = None
    return flows, polygons
