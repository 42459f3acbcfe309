"""The main job: load and check the data, fit the models, compute autocorrelation and
catchments, and write maps, report, GeoPackage and rasters.

Each step is a function of the previous steps' results, so the CLI subcommands and
notebooks can run any part; :func:`run` computes only the analyses its products read
(``kzspatial moran`` fits no catchments). :func:`run` writes every product through
:class:`kzspatial.render._atomic.StagedOutputs`: existing outputs are refused unless
``overwrite=True``, and an interrupted run leaves earlier outputs intact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm  # plain progress on stderr, also under Jupyter

from kzspatial._constants import YEAR
from kzspatial._version import __version__
from kzspatial.datasets.regions import HUB_COLOURS, HUB_IDS, HUB_NAMES
from kzspatial.render._atomic import StagedOutputs
from kzspatial.study.catchment_suite import (
    CatchmentResults,
    catchment_suite,
    flow_catchment_tables,
)
from kzspatial.study.gravity_suite import (
    GravityResults,
    centre_distances,
    doubly_fits,
    flow_table,
    gravity_suite,
    panel_suite,
)
from kzspatial.study.inputs import StudyData, load_study_data
from kzspatial.study.moran_suite import MoranSuite, moran_suite

__all__ = [
    "ANALYSES",
    "PRODUCTS",
    "RunOptions",
    "RunResult",
    "output_targets",
    "run",
    "write_maps",
]

logger = logging.getLogger("kzspatial")

#: What :func:`run` can write; subcommands of the CLI write subsets.
PRODUCTS = frozenset({"maps", "report", "gpkg", "rasters", "tables"})
#: What :func:`run` can compute; each product reads some of them (see :func:`_analyses`).
ANALYSES = frozenset({"gravity", "moran", "catchments"})


@dataclass(frozen=True)
class RunOptions:
    """Options of :func:`run` (the CLI's ``kzspatial run``)."""

    out_dir: Path = Path("output")
    maps_dir: Path | None = None
    years: tuple[int, ...] | None = None
    focus_year: int = 2024
    borders: str = "2024"
    permutations: int = 999
    seed: int = 12345
    offline: bool = True
    tiles: str | None = None
    cell_km: float = 5.0
    overwrite: bool = False
    products: frozenset[str] = PRODUCTS
    map_mode: str = "top"
    top_n: int = 60
    threshold: float | None = None
    settlements: str = "geonames"
    #: Analyses whose tables ``"tables"`` writes; None: every analysis.
    analyses: frozenset[str] | None = None

    @property
    def maps_folder(self) -> Path:
        """Where HTML maps go: ``maps_dir``, or ``./maps`` for the default output folder
        and ``<out_dir>/maps`` otherwise."""
        if self.maps_dir is not None:
            return Path(self.maps_dir)
        return (
            Path("maps")
            if Path(self.out_dir) == Path("output")
            else Path(self.out_dir) / "maps"
        )


def output_targets(options: RunOptions, years: Sequence[int]) -> dict[str, Path]:
    """Every file :func:`run` writes for ``options.products``, by name."""
    out = Path(options.out_dir)
    wanted = options.products
    targets = {}
    if "gpkg" in wanted:
        targets["gpkg"] = out / "kzspatial.gpkg"
    if "report" in wanted:
        targets["report"] = out / "autocorrelation.html"
        targets["report_files"] = out / "autocorrelation_files"
    if "tables" in wanted:
        targets["tables"] = out / "tables"
    if "maps" in wanted:
        for y in years:
            targets[f"map_{y}"] = options.maps_folder / f"flows_{y}.html"
        targets["map_residuals"] = (
            options.maps_folder / f"residuals_{options.focus_year}.html"
        )
    if options.borders == "2024" and "rasters" in wanted:
        for name in (*HUB_NAMES.values(), "dominant_hub", "potential"):
            stem = f"huff_{name.lower()}" if name in HUB_NAMES.values() else name
            targets[f"raster_{stem}"] = out / f"{stem}.tif"
            targets[f"qml_{stem}"] = out / f"{stem}.qml"
    return targets


def write_maps(
    data: StudyData,
    model_flows: pd.DataFrame,
    flow_polygons: gpd.GeoDataFrame | None,
    options: RunOptions,
    paths: dict[str, Path],
) -> None:
    """One flow map per year (``options.map_mode``: top, threshold or net flows) and a
    map of the flows furthest from the gravity model in the focus year.

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
        title=f"Flows furthest from the gravity model, {options.focus_year}",
    )
    save_map(m, paths["map_residuals"], offline=options.offline, overwrite=True)


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


def _layer_metadata(focus: int, catchments: CatchmentResults | None) -> dict:
    """Title and abstract of each GeoPackage layer."""
    return {
        "regions": {
            "title": f"Regions of Kazakhstan: migration {focus}",
            "abstract": "Moves between regions (BNS), rates per 1,000 residents, "
            "LISA of the net rate (queen weights), Huff probabilities.",
        },
        "od_flows": {
            "title": f"Moves between regions, {focus} (arcs)",
            "abstract": "Persons who moved between two regions (BNS), the fitted value "
            "of the doubly-constrained power gravity model and the Pearson residual, "
            "per origin-destination pair; arrowheads at the destination.",
        },
        "od_matrix": {
            "title": "Moves between regions, every year (table)",
            "abstract": "Observed, fitted and Pearson residual per pair and year; join "
            "to regions on origin / destination = region_id.",
        },
        "catchments": {
            "title": "Catchments of Astana, Almaty and Shymkent",
            "abstract": "rule flow_share>=t: regions whose out-migrants go to the hub in "
            "at least that share (observed); huff_dominant / huff_p>=x: grid zones of "
            "the fitted gravity model. "
            + (catchments.caveat if catchments is not None else ""),
        },
        "moran_global": {"title": f"Moran's I of regional indicators, {focus}"},
        "moran_by_year": {"title": "Moran's I by year (queen weights)"},
        "moran_bivariate": {"title": "Bivariate Moran's I"},
        "flow_moran": {"title": "Moran's I of the OD flows"},
        "gravity_params": {"title": "Gravity model coefficients"},
        "gravity_fit": {"title": "Gravity models and baselines: goodness of fit"},
        "gravity_inequality": {"title": "Push-pull elasticities (inequality model)"},
        "gravity_out_of_sample": {"title": "Gravity model: out-of-sample check"},
        "gravity_panel": {"title": "Gravity panel in one border configuration"},
        "decay_by_year": {"title": "Distance decay by year"},
        "indicators": {"title": "Regional migration indicators by year"},
        "data_check": {"title": "OD file vs monthly file: regional nets"},
        "provenance": {"title": "Data sources and licences"},
        "flow_shares": {"title": "Shares of out-migrants going to each hub"},
        "catchment_population": {"title": "Population by catchment"},
    }


def write_geopackage_products(
    data: StudyData,
    gravity: GravityResults,
    panel: dict[str, pd.DataFrame],
    catchments: CatchmentResults | None,
    moran: MoranSuite,
    options: RunOptions,
    path: Path,
) -> None:
    """All layers and tables of the run in one styled GeoPackage."""
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
        for col in huff.columns:
            districts[f"huff_{col}"] = districts["district_id"].map(huff[col])
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
        flow_polys = catchments.flow_polygons.copy()
        flow_polys["hub"] = flow_polys["hub"].map(HUB_NAMES).fillna(flow_polys["hub"])
        parts = [flow_polys, catchments.dominance, catchments.thresholds]
        layers["catchments"] = gpd.GeoDataFrame(
            pd.concat(parts, ignore_index=True), crs=4326
        )
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
    tables = _tables(data, gravity, panel, moran, catchments)
    for held in ("gravity_flows", "huff_regions", "data_check_summary"):
        tables.pop(held, None)
    layers.update(
        moran_global=summary, **tables, provenance=pd.DataFrame(data.provenance)
    )
    layers = {k: v for k, v in layers.items() if len(v)}
    metadata = _layer_metadata(focus, catchments)
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
            tags={
                "beta": catchments.beta,
                "attractiveness": catchments.attractiveness[hub],
            },
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
        overwrite=True,
    )
    _move_sidecar(paths, "dominant_hub")
    write_cog(
        paths["raster_potential"],
        to_raster(
            grid, np.asarray(catchments.potential, dtype=np.float32), fill=np.nan
        ),
        grid.transform,
        grid.crs,
        nodata=np.nan,
        description="Gravity potential of regional populations (persons x km^beta)",
        tags={"beta": catchments.beta},
        overwrite=True,
    )
    _move_sidecar(paths, "potential")


def _move_sidecar(paths: dict[str, Path], stem: str) -> None:
    """The QGIS style written next to a staged raster goes to its own staged target."""
    paths[f"raster_{stem}"].with_suffix(".qml").replace(paths[f"qml_{stem}"])


def _write_tables(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)


@dataclass(frozen=True, eq=False)
class RunResult:
    """What :func:`run` computed and wrote; analyses the products did not need are None."""

    paths: dict[str, Path]
    data: StudyData
    gravity: GravityResults | None
    panel: dict[str, pd.DataFrame] | None
    moran: MoranSuite | None
    catchments: CatchmentResults | None
    seconds: float


def _report(paths, data, options, moran: MoranSuite) -> None:
    from kzspatial.render.report import write_autocorrelation_report

    conf_years = data.indicators.groupby(YEAR)["configuration"].first()
    borders_note = (
        "; ".join(f"{y}: {c}" for y, c in conf_years.items())
        + " (2010 = 16 units with South Kazakhstan, 2018 = 17 units, 2024 = 20 units)."
    )
    written = write_autocorrelation_report(
        paths["report"],
        entries=moran.entries,
        by_year=moran.by_year,
        # the focus year is analysed in the borders of its population figures
        regions=data.regions_by_conf[conf_years[options.focus_year]],
        weights=moran.weights,
        provenance=data.provenance,
        seed=options.seed,
        permutations=options.permutations,
        by_year_weights="queen",
        borders_note=borders_note,
        overwrite=True,
        extra_tables=[
            (
                "moran_bivariate",
                "Bivariate Moran's I: income and unemployment against "
                "neighbours' net migration",
                "x = GRP per capita or unemployment of a region; "
                "y = net interregional migration rate of its neighbours (queen weights).",
                moran.bivariate,
            ),
            (
                "flow_moran",
                "Moran's I of the flows",
                "Zone weights: 4 nearest neighbours; "
                "flow weights origin (W⊗I), destination (I⊗W), od (W⊗W). Targets: Pearson "
                "residuals of the doubly-constrained gravity model (default) and, for "
                "comparison, the raw flows, which size and distance dominate.",
                moran.flow_moran,
            ),
        ],
    )
    # the report writes its figures next to its HTML; move them to their own target
    written["figures"].replace(paths["report_files"])


def _tables(data, gravity, panel, moran, catchments) -> dict[str, pd.DataFrame]:
    """The CSV tables of the analyses computed (None: not computed) and of the data."""
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
            huff_regions=catchments.region_huff,
        )
    return tables


def _analyses(options: RunOptions) -> frozenset[str]:
    """The analyses ``options.products`` read: the tables those of ``options.analyses``,
    the GeoPackage all, the report the Moran suite, the rasters the catchments. The maps
    need only the per-year gravity flows and the flow catchments (see :func:`_map_inputs`)."""
    wanted = set()
    if "tables" in options.products:
        wanted |= ANALYSES if options.analyses is None else set(options.analyses)
    if "gpkg" in options.products:
        wanted |= ANALYSES
    if "report" in options.products:
        wanted.add("moran")
    if "rasters" in options.products:
        wanted.add("catchments")
    if options.borders != "2024" and "catchments" in wanted:
        logger.info("catchments and rasters are computed in the 2024 borders only")
        wanted.discard("catchments")
    return frozenset(wanted)


def _map_inputs(data, gravity, catchments) -> tuple:
    """The per-year gravity flows and flow-catchment polygons the maps draw, taken from
    the analyses when computed, else computed alone (the same numbers)."""
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


def run(options: RunOptions = RunOptions()) -> RunResult:
    """Run the main job (or the subset ``options.products``) end to end.

    Returns
    -------
    RunResult
        Written paths by product, and the computed results.

    Raises
    ------
    OverwriteError
        Outputs exist and ``options.overwrite`` is False (before any work is done).
    ValidationError
        Bad options (unknown product, focus year not loaded, ...).
    """
    from kzspatial._errors import ValidationError
    from kzspatial.datasets.migration import DEFAULT_OD_YEARS

    unknown = set(options.products) - PRODUCTS
    if unknown:
        raise ValidationError(
            f"unknown products {sorted(unknown)}; choose from {sorted(PRODUCTS)}"
        )
    unknown = set(options.analyses or ()) - ANALYSES
    if unknown:
        raise ValidationError(
            f"unknown analyses {sorted(unknown)}; choose from {sorted(ANALYSES)}"
        )
    start = time.perf_counter()
    years = tuple(options.years) if options.years else None
    # Refuse early: the targets depend only on the options and the requested years.
    stage = StagedOutputs(
        output_targets(options, list(years or DEFAULT_OD_YEARS)),
        overwrite=options.overwrite,
    )
    stage.check()
    wanted = _analyses(options)
    steps = tqdm(total=2 + len(wanted), desc="kzspatial", unit="step", disable=None)
    steps.set_postfix_str("loading and checking data")
    data = load_study_data(years, borders=options.borders)
    if options.focus_year not in data.years:
        raise ValidationError(
            f"focus year {options.focus_year} is not among the loaded "
            f"years {data.years}; add it with --year"
        )
    steps.update()
    gravity = panel = moran = catchments = None
    if "gravity" in wanted:
        steps.set_postfix_str("gravity models")
        gravity = gravity_suite(data, focus_year=options.focus_year)
        panel = panel_suite(data)
        steps.update()
    if "moran" in wanted:
        steps.set_postfix_str("Moran's I")
        moran = moran_suite(
            data,
            gravity,
            focus_year=options.focus_year,
            permutations=options.permutations,
            seed=options.seed,
        )
        steps.update()
    if "catchments" in wanted:
        steps.set_postfix_str("catchments")
        catchments = catchment_suite(
            data,
            gravity,
            focus_year=options.focus_year,
            cell_km=options.cell_km,
            settlements=options.settlements,
        )
        steps.update()
    steps.set_postfix_str("writing outputs")
    with stage:
        paths = {name: stage.path(name) for name in stage.targets}
        if "maps" in options.products:
            flows, polygons = _map_inputs(data, gravity, catchments)
            write_maps(data, flows, polygons, options, paths)
        if "gpkg" in options.products:
            write_geopackage_products(
                data, gravity, panel, catchments, moran, options, paths["gpkg"]
            )
        if "rasters" in options.products and catchments is not None:
            write_rasters(catchments, paths)
        if "report" in options.products:
            _report(paths, data, options, moran)
        if "tables" in options.products:
            _write_tables(
                paths["tables"], _tables(data, gravity, panel, moran, catchments)
            )
    steps.update()
    steps.close()
    seconds = time.perf_counter() - start
    logger.info("finished in %.1f s", seconds)
    return RunResult(
        paths={k: v for k, v in stage.targets.items() if v.exists()},
        data=data,
        gravity=gravity,
        panel=panel,
        moran=moran,
        catchments=catchments,
        seconds=seconds,
    )
