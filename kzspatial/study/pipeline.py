"""The main job behind ``kzspatial run``: data, analyses, and every product written.

Load and check the data, fit the models, compute autocorrelation, catchments and the
study's tables, and write maps, the flow explorer, reports, GeoPackage, rasters and CSV
tables.

Each step is a function of the previous steps' results, so the CLI subcommands and
notebooks can run any part; :func:`run` computes only the analyses its products read
(``kzspatial moran`` fits no catchments). :func:`run` writes every product through
:class:`kzspatial.render._atomic.StagedOutputs`: existing outputs are refused unless
``overwrite=True``, and an interrupted run leaves earlier outputs intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm  # plain progress on stderr, also under Jupyter

from kzspatial._constants import YEAR
from kzspatial.datasets.regions import HUB_COLOURS, HUB_NAMES
from kzspatial.render._atomic import StagedOutputs
from kzspatial.render._workers import Forked, frozen_heap, worker_count
from kzspatial.study.catchment_suite import (
    CatchmentResults,
    catchment_suite,
)
from kzspatial.study.gravity_suite import (
    GravityResults,
    gravity_suite,
    panel_suite,
)
from kzspatial.study.inequality import push_pull_elasticities
from kzspatial.study.inputs import StudyData, load_study_data
from kzspatial.study.map_products import map_inputs, write_explorer, write_maps
from kzspatial.study.moran_suite import (
    MoranSuite,
    autocorrelation_suite,
    flow_autocorrelation,
)
from kzspatial.study.scenario_products import (
    load_run_scenario,
    scenario_explorer_flows,
    write_scenario_geopackage,
)
from kzspatial.study.scenarios import ScenarioResult, run_scenario
from kzspatial.study.spatial_products import write_geopackage_products, write_rasters
from kzspatial.study.study_suite import StudyResults, study_suite, write_study
from kzspatial.study.table_info import result_tables

__all__ = [
    "ANALYSES",
    "PRODUCTS",
    "SCENARIO_PRODUCTS",
    "RunOptions",
    "RunResult",
    "output_targets",
    "run",
]

logger = logging.getLogger("kzspatial")

#: What :func:`run` can write; subcommands of the CLI write subsets.
PRODUCTS = frozenset(
    {"maps", "explorer", "report", "study", "gpkg", "rasters", "tables"}
    | {"flowmap", "kepler", "excel"}
)
#: What ``kzspatial scenario`` writes: the scenario's tables and GeoPackage
#: (``scenario.gpkg``), the explorer with the scenario mode and the study report with
#: the scenario section.
SCENARIO_PRODUCTS = frozenset({"scenario_gpkg", "tables", "explorer", "study"})
#: What :func:`run` can compute; each product reads some of them (see :func:`_analyses`).
#: A scenario is computed whenever :attr:`RunOptions.scenario_file` is given.
ANALYSES = frozenset({"gravity", "moran", "catchments", "study"})


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
    #: Attribution of URL ``tiles`` (the tile provider's).
    attribution: str | None = None
    #: Load the 2022 OD year despite its contradicted nets (warns).
    include_2022: bool = False
    #: Run steps estimated above the time/memory limit (see kzspatial.study.budget).
    allow_large: bool = False
    #: Asserted balances checked by the study (None: the study's Table 2, shipped).
    claims_file: Path | None = None
    #: Published figures checked by the study (None: the study's Table 6, shipped).
    published_file: Path | None = None
    #: Relative difference beyond which a published figure is flagged.
    tolerance: float = 0.05
    #: A TOML scenario (kzspatial.study.scenario_file); adds it to the tables, the
    #: GeoPackage, the explorer and the study report.
    scenario_file: Path | None = None
    #: Parameter draws and seed of the scenario's intervals (None: the file's).
    scenario_draws: int | None = None
    scenario_seed: int | None = None

    def __post_init__(self) -> None:
        """Refuse bad values and too costly runs now, before any work.

        See :func:`kzspatial.study.run_checks.check_run_options`.
        """
        from kzspatial.study.run_checks import check_run_options

        check_run_options(self, analyses=_analyses(self, log=False))

    @property
    def maps_folder(self) -> Path:
        """Return the folder of the HTML maps.

        ``maps_dir`` if set, else ``./maps`` for the default output folder and
        ``<out_dir>/maps`` otherwise.
        """
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
    if "scenario_gpkg" in wanted:
        targets["scenario_gpkg"] = out / "scenario.gpkg"
    if "report" in wanted:
        targets["report"] = out / "autocorrelation.html"
        targets["report_files"] = out / "autocorrelation_files"
    if "study" in wanted:
        targets["study"] = out / "study.html"
        targets["study_files"] = out / "study_files"
    if "tables" in wanted:
        targets["tables"] = out / "tables"
    if "explorer" in wanted:
        targets["explorer"] = options.maps_folder / "flows.html"
    if "flowmap" in wanted:
        targets["flowmap"] = out / "flowmap_blue"
    if "kepler" in wanted:
        targets["kepler"] = out / "kepler_flows.csv"
    if "excel" in wanted:
        targets["excel"] = out / "kzspatial_tables.xlsx"
    if "maps" in wanted:
        for y in years:
            targets[f"map_{y}"] = options.maps_folder / f"flows_{y}.html"
        targets["map_residuals"] = (
            options.maps_folder / f"residuals_{options.focus_year}.html"
        )
    if options.borders == "2024" and "rasters" in wanted:
        for name in (*HUB_NAMES.values(), "dominant_hub", "potential", "population"):
            stem = f"huff_{name.lower()}" if name in HUB_NAMES.values() else name
            targets[f"raster_{stem}"] = out / f"{stem}.tif"
            targets[f"qml_{stem}"] = out / f"{stem}.qml"
    return targets


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
    study: StudyResults | None = None
    scenario: ScenarioResult | None = None


def _catchment_sections(catchments: CatchmentResults | None) -> list[tuple]:
    """Report sections of the calibrated hub-choice model (none without catchments)."""
    if catchments is None:
        return []
    return [
        (
            "catchment_agreement_summary",
            "Catchments: which hub the out-migrants choose, observed against models",
            "Out-migrants of the 17 non-hub regions who moved to Astana, Almaty or "
            "Shymkent. Calibrated Huff: hub attractiveness (Astana = 1) and power "
            "decay fitted by maximum likelihood to that year's choices; 'fitted on' a "
            "previous year = out-of-sample. Mass-only Huff: attractiveness from the "
            "production-constrained gravity model. n_agree = regions whose observed "
            "leading hub the model gets right; beta_se_quasi = standard error scaled "
            "by the Pearson dispersion.",
            catchments.agreement_summary,
        ),
        (
            "hub_choice_model_checks",
            "Catchments: would a richer hub-choice model fit better?",
            "Each year the calibrated model (one distance decay, one attractiveness per "
            "hub) is tested against hub-specific decays and hub preferences by "
            "macro-region (kzspatial's five-zone grouping). Movers of one region do not "
            "choose independently (dispersion far above 1), so the added parameters are "
            "judged by the quasi-likelihood F test; p_value above 0.05 = the data do "
            "not support the richer model. clear_missed = regions whose observed leading "
            "hub leads by more than 10 points but the model names another hub.",
            catchments.model_checks,
        ),
        (
            "catchment_changes",
            "Catchments: leading hub in the first and last OD year",
            "Observed = hub receiving most of the region's movers to the three hubs; "
            "model = calibrated Huff fitted on each year.",
            catchments.changes,
        ),
        (
            "centre_sensitivity",
            "Distance decay and catchments under three choices of zone centres",
            "Default: population-weighted GeoNames centres (distances between where "
            "people live).",
            catchments.sensitivity,
        ),
    ]


def _catchment_figures(agreement: pd.DataFrame | None, data) -> dict:
    """Return the leading-hub grid shown under the ``catchment_changes`` table.

    ``agreement`` is :attr:`CatchmentResults.agreement` (None without catchments).
    """
    if agreement is None:
        return {}
    from kzspatial.render.catchment_figure import leading_hub_figure

    names = data.regions_by_conf["2024"].set_index("region_id")["name_en"].to_dict()
    png = leading_hub_figure(agreement, HUB_COLOURS, labels=names)
    caption = (
        "Leading hub of each non-hub region's movers to the three hubs, every OD "
        "year: observed (left) and calibrated Huff fitted on that year (right). "
        "Blank: no movers to the hubs that year."
    )
    return {"catchment_changes": (png, caption)}


def _report_regions(data: StudyData, options: RunOptions):
    """Polygons of the report's LISA maps: the focus year's population borders."""
    conf_years = data.indicators.groupby(YEAR)["configuration"].first()
    return data.regions_by_conf[conf_years[options.focus_year]]


def _report_figures(
    entries, data: StudyData, options: RunOptions
) -> list[tuple[bytes, bytes, bytes]]:
    """Draw the report's figures of every Moran entry in this process."""
    from kzspatial.render.report_figures import draw_entry_figures

    return draw_entry_figures(entries, _report_regions(data, options), workers=1)


def _worker_analyses(
    receive, data, options: RunOptions, wanted, draw: bool, fork: bool
):
    """Compute the study tables and the zone Moran's I, draw and write the matplotlib products.

    A generator for :class:`kzspatial.render._workers.Forked` (``inbox=True``),
    yielding the :class:`StudyResults` without the push-pull elasticities (if
    ``"study"`` is in ``wanted``), then the zone part of the Moran suite (if ``"moran"``
    is): in a worker process each reaches the pipeline while the next is computed. None
    of it reads the gravity models, so the worker starts before they are fitted; the
    pipeline adds what does (:func:`_with_gravity`). Then, with the report or the study
    report among the products, the rest of the matplotlib work, from what the pipeline
    sends (:func:`_worker_writes`).

    With ``draw``, the report's figures are drawn by a process forked from this one
    (``fork``) as soon as the zone Moran's I is computed, while this one computes the
    study tables, draws the catchment figure and writes the study report: the four
    processes of a run then end together instead of this one working alone at the end.
    matplotlib is imported before that fork, so it is set up once for both.
    """
    with contextlib.ExitStack() as jobs:
        zones = figures = study = None
        if "moran" in wanted:
            zones = autocorrelation_suite(
                data,
                focus_year=options.focus_year,
                permutations=options.permutations,
                seed=options.seed,
            )
            if draw:
                from kzspatial.render import report_figures  # noqa: F401 - see above

                # this heap (matplotlib, the Moran suite) frozen for both processes:
                # their GC passes over it, writing its shared pages, cost more CPU than
                # the second process saved (measured: +1.6 s a run)
                jobs.enter_context(frozen_heap())
                figures = jobs.enter_context(
                    Forked(_report_figures, zones[0], data, options, fork=fork)
                )
        if "study" in wanted:
            study = study_suite(
                data,
                None,
                claims_file=options.claims_file,
                published_file=options.published_file,
                tolerance=options.tolerance,
            )
            yield study
        if zones is not None:
            yield zones
        if options.products & {"report", "study"}:
            yield from _worker_writes(receive(), study, data, options, figures)


def _worker_writes(
    sent: dict, study, data: StudyData, options: RunOptions, figures: Forked | None
):
    """Draw the report's catchment figure and write the study report (in the worker).

    ``sent`` is what :func:`_write_products` sends: the staged ``paths``, the catchments'
    ``agreement``, the study's ``elasticities``, the run's ``provenance`` and the
    ``scenario`` section; ``study`` is the worker's own :class:`StudyResults`;
    ``figures`` the job drawing the report's figures. Yields, with the report, its
    figures and then the catchment figure (a dict); then None. The study report is
    written first: the pipeline needs the figures only for the report, its last product.
    """
    catchment_figures = None
    if "report" in options.products:
        catchment_figures = _catchment_figures(sent["agreement"], data)
    if "study" in options.products:
        write_study(
            sent["paths"]["study"],
            sent["paths"]["study_files"],
            dataclasses.replace(study, elasticities=sent["elasticities"]),
            dataclasses.replace(data, provenance=sent["provenance"]),
            scenario=sent["scenario"],
        )
    if "report" in options.products:
        yield figures.get()
        yield catchment_figures
    yield None


def _with_gravity(zones, study, data, gravity, options: RunOptions):
    """Complete the worker's results with the parts that read the gravity models.

    The flow Moran's I (Pearson residuals of the gravity model, or of its own fit
    without ``gravity``) joins the zone Moran's I of the worker into the
    :class:`MoranSuite`, as :func:`moran_suite` does (each part has its own random
    stream seeded by ``options.seed``, so the order does not matter); the push-pull
    elasticities join the study tables.
    """
    moran = None
    if zones is not None:
        flow_moran = flow_autocorrelation(
            data,
            gravity,
            year=options.focus_year,
            permutations=options.permutations,
            seed=options.seed,
        )
        moran = MoranSuite.from_parts(zones, flow_moran)
    if study is not None:
        study = dataclasses.replace(
            study,
            elasticities=push_pull_elasticities(
                gravity.inequality if gravity is not None else None
            ),
        )
    return moran, study


def _report(
    paths, data, options, moran: MoranSuite, catchments, figures, catchment_figures
) -> None:
    """Write the autocorrelation report from the figures drawn beforehand."""
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
        regions=_report_regions(data, options),
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
                "comparison, the raw flows, which size and distance dominate. Null: "
                + "; ".join(dict.fromkeys(moran.flow_moran.get("null", ())))
                + ".",
                # the null is the same text on every row: stated once, above
                moran.flow_moran.drop(columns="null", errors="ignore"),
            ),
            *_catchment_sections(catchments),
        ],
        extra_figures=catchment_figures,
        figures=figures,
    )
    # the report writes its figures next to its HTML; move them to their own target
    written["figures"].replace(paths["report_files"])


def _analyses(options: RunOptions, *, log: bool = True) -> frozenset[str]:
    """Return the analyses ``options.products`` read.

    The tables read those of ``options.analyses``, the GeoPackage all, the report the
    Moran suite, the study report the study (which reads the gravity results), the
    rasters the catchments. The maps and the explorer need only the per-year gravity
    flows and the flow catchments (see
    :func:`kzspatial.study.map_products.map_inputs`).
    """
    wanted = set()
    if "tables" in options.products:
        wanted |= ANALYSES if options.analyses is None else set(options.analyses)
    if options.products & {"gpkg", "excel"}:
        wanted |= ANALYSES
    if "report" in options.products:
        wanted.add("moran")
    if "rasters" in options.products:
        wanted.add("catchments")
    if "study" in options.products:
        wanted.add("study")
    if "study" in wanted:
        wanted.add("gravity")  # the push-pull elasticities
    if options.borders != "2024" and "catchments" in wanted:
        if log:
            logger.info("catchments and rasters are computed in the 2024 borders only")
        wanted.discard("catchments")
    return frozenset(wanted)


def write_exports(
    paths: dict[str, Path],
    result: RunResult,
    options: RunOptions,
    exports: Collection[str] = ("flowmap", "kepler", "excel"),
) -> None:
    """Write the flowmap.blue sheets, the kepler.gl CSV and the Excel workbook.

    Those in both ``exports`` and ``options.products``. flowmap.blue and kepler.gl get
    the observed moves between regions of every loaded year (in ``options.borders``);
    the workbook every CSV table of the run and the provenance, its first sheet
    describing each (:data:`TABLE_INFO`).
    """
    from kzspatial.render.exports import (
        write_excel,
        write_flowmap_blue,
        write_kepler_csv,
    )
    from kzspatial.study.table_info import describe

    data = result.data
    exports = set(exports) & options.products
    if "flowmap" in exports:
        write_flowmap_blue(paths["flowmap"], data.regions, data.od, overwrite=True)
    if "kepler" in exports:
        write_kepler_csv(paths["kepler"], data.regions, data.od, overwrite=True)
    if "excel" in exports:
        tables = result_tables(
            data,
            result.gravity,
            result.panel,
            result.moran,
            result.catchments,
            result.study,
            result.scenario,
        )
        tables["provenance"] = pd.DataFrame(data.provenance)
        write_excel(
            paths["excel"],
            tables,
            {name: describe(name) for name in tables},
            overwrite=True,
        )


#: Products written by a second process while this one writes the rest: the folium
#: ones, the flow sheets and the rasters, which need no other process's results
#: (about as much work as this process's GeoPackage, workbook and tables).
_WORKER_PRODUCTS = frozenset({"maps", "explorer", "flowmap", "kepler", "rasters"})


def _write_in_worker(paths: dict[str, Path], result: RunResult, options: RunOptions):
    """Write the maps, the explorer, the flow sheets and the rasters (in a forked process)."""
    data, products, scenario = result.data, options.products, result.scenario
    if "rasters" in products and result.catchments is not None:
        write_rasters(result.catchments, paths)
    if products & {"flowmap", "kepler"}:
        write_exports(paths, result, options, {"flowmap", "kepler"})
    if not products & {"maps", "explorer"}:
        return  # their inputs may need fits of their own (map_inputs)
    flows, polygons = map_inputs(data, result.gravity, result.catchments)
    if "maps" in products:
        write_maps(data, flows, polygons, options, paths)
    if "explorer" in products:
        write_explorer(
            data,
            flows,
            options,
            paths["explorer"],
            scenario=None if scenario is None else scenario_explorer_flows(scenario),
            scenario_label="Scenario"
            if scenario is None
            else f"Scenario: {scenario.scenario.name}",
        )


def _write_products(
    paths: dict[str, Path],
    result: RunResult,
    options: RunOptions,
    analyses_job: Forked | None,
    fork: bool,
) -> None:
    """Write every product of ``options.products`` to its (staged) path.

    The maps, explorer, flow sheets and rasters are written by a forked process
    (``fork``) while this one writes the GeoPackage, workbook and tables;
    ``analyses_job`` draws the report's figures and writes the study report from what
    is sent to it here. The report is written last, from its figures.
    """
    data, products = result.data, options.products
    scenario = result.scenario
    if products & {"report", "study"}:
        analyses_job.send(
            {
                "paths": paths,
                "agreement": None
                if result.catchments is None
                else result.catchments.agreement,
                "elasticities": None
                if result.study is None
                else result.study.elasticities,
                "provenance": data.provenance,
                "scenario": None if scenario is None else scenario.report_section(),
            }
        )
    in_worker = bool(products & _WORKER_PRODUCTS)
    # what was computed since the analyses worker forked: frozen for this worker too
    with (
        frozen_heap(),
        Forked(
            _write_in_worker,
            paths,
            result,
            options,
            fork=fork and in_worker and bool(products - _WORKER_PRODUCTS),
        ) as worker,
    ):
        if "gpkg" in products:
            write_geopackage_products(
                data,
                result.gravity,
                result.panel,
                result.catchments,
                result.moran,
                options,
                paths["gpkg"],
                study=result.study,
                scenario=scenario,
            )
        if "scenario_gpkg" in products:
            write_scenario_geopackage(paths["scenario_gpkg"], scenario, data)
        if "excel" in products:
            write_exports(paths, result, options, {"excel"})
        if "tables" in products:
            _write_run_tables(paths["tables"], result, options)
        if "report" in products:
            figures = analyses_job.get()
            _report(
                paths,
                data,
                options,
                result.moran,
                result.catchments,
                figures,
                analyses_job.get(),
            )
        if products & {"report", "study"}:
            analyses_job.get()  # the study report written
        if in_worker:
            worker.get()


def _write_run_tables(folder: Path, result: RunResult, options: RunOptions) -> None:
    """Write the tables of the analyses asked for, not of those computed as inputs."""
    asked = ANALYSES if options.analyses is None else options.analyses
    computed = {
        "gravity": result.gravity,
        "moran": result.moran,
        "catchments": result.catchments,
        "study": result.study,
    }
    kept = {k: (v if k in asked else None) for k, v in computed.items()}
    panel = result.panel if kept["gravity"] is not None else None
    _write_tables(
        folder,
        result_tables(
            result.data,
            kept["gravity"],
            panel,
            kept["moran"],
            kept["catchments"],
            kept["study"],
            result.scenario,
        ),
    )


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
    OutputLockedError
        Another run is writing into the same output folder (before any work is done).
    OutputWriteError
        The disk is full or a folder is read-only; earlier outputs are intact.
    ValidationError
        Bad options (unknown product, focus year not loaded, ...).
    """
    from kzspatial._errors import ValidationError
    from kzspatial.datasets.migration import DEFAULT_OD_YEARS

    unknown = set(options.products) - PRODUCTS - SCENARIO_PRODUCTS
    if unknown:
        raise ValidationError(
            f"unknown products {sorted(unknown)}; choose from "
            f"{sorted(PRODUCTS | SCENARIO_PRODUCTS)}"
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
    with stage.locked():  # one run per output folder; a killed run's outputs recovered
        return _run_locked(options, stage, years, start)


def _run_locked(options: RunOptions, stage: StagedOutputs, years, start) -> RunResult:
    """Compute and write the products of :func:`run`, the output folders locked.

    With two workers (``KZSPATIAL_WORKERS``, default 2) the zone Moran's I, the study
    tables and the report's figures are computed by a process forked right after the
    data are loaded (which forks one of its own for the figures, see
    :func:`_worker_analyses`), while this one fits the gravity models and the
    catchments, and the writing is shared too (see :func:`_write_products`).
    """
    from kzspatial._errors import ValidationError

    wanted = _analyses(options)
    fork = worker_count() > 1
    scenario_step = options.scenario_file is not None
    steps = tqdm(
        total=2 + len(wanted) + scenario_step,
        desc="kzspatial",
        unit="step",
        disable=None,
    )
    steps.set_postfix_str("loading and checking data")
    data = load_study_data(
        years, borders=options.borders, include_2022=options.include_2022
    )
    if options.focus_year not in data.years:
        raise ValidationError(
            f"focus year {options.focus_year} is not among the loaded "
            f"years {data.years}; add it with --year"
        )
    steps.update()
    gravity = panel = moran = catchments = study = scenario = None
    with contextlib.ExitStack() as jobs:  # an error here ends the worker processes
        jobs.enter_context(frozen_heap())  # the loaded data: workers' GC skips them
        analyses_job = None
        if wanted & {"study", "moran"}:
            draw = "report" in options.products
            analyses_job = jobs.enter_context(
                Forked(
                    _worker_analyses,
                    data,
                    options,
                    wanted,
                    draw,
                    fork,
                    fork=fork,
                    inbox=True,
                )
            )
        if "gravity" in wanted:
            steps.set_postfix_str("gravity models")
            gravity = gravity_suite(data, focus_year=options.focus_year)
            panel = panel_suite(data)
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
            # opt-in settlement data (OpenStreetMap) join the run's provenance
            data = dataclasses.replace(
                data, provenance=[*data.provenance, *catchments.settlement_provenance]
            )
            steps.update()
        if scenario_step:
            steps.set_postfix_str("scenario")
            scenario = run_scenario(load_run_scenario(options), data=data)
            steps.update()
        if wanted & {"study", "moran"}:
            steps.set_postfix_str("study tables and Moran's I")
            study = analyses_job.get() if "study" in wanted else None
            zones = analyses_job.get() if "moran" in wanted else None
            moran, study = _with_gravity(zones, study, data, gravity, options)
            steps.update(len(wanted & {"study", "moran"}))
        steps.set_postfix_str("writing outputs")
        result = RunResult(
            {}, data, gravity, panel, moran, catchments, 0.0, study, scenario
        )
        with stage:
            _write_products(
                {name: stage.path(name) for name in stage.targets},
                result,
                options,
                analyses_job,
                fork,
            )
    steps.update()
    steps.close()
    seconds = time.perf_counter() - start
    logger.info("finished in %.1f s", seconds)
    written = {k: v for k, v in stage.targets.items() if v.exists()}
    return dataclasses.replace(result, paths=written, seconds=seconds)
