"""Command-line interface: ``kzspatial <command>``.

No analysis logic lives here: each command parses options, calls the library, and
prints results (stdout) or logs (stderr).
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="Spatial analysis of internal migration in Kazakhstan.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Inspect and check the registered source data.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


@app.callback()
def _configure(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log details to stderr."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log only errors."),
) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose else logging.INFO)
    # Only kzspatial's own messages; libraries (GDAL via pyogrio) stay at warnings.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("kzspatial: %(message)s"))
    logger = logging.getLogger("kzspatial")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


@app.command("show-versions")
def show_versions_command() -> None:
    """Print versions of kzspatial, its dependencies, GDAL, PROJ and GEOS."""
    from kzspatial._show_versions import show_versions

    show_versions()


@data_app.command("list")
def data_list() -> None:
    """List the registered data files with licence and concept (tab-separated)."""
    from kzspatial.datasets.fetch import registry

    print("key\tdataset\tlicence\tconcept\turl")
    for entry in registry().values():
        print(
            f"{entry.key}\t{entry.dataset}\t{entry.licence}\t{entry.concept}\t{entry.url}"
        )


@data_app.command("check")
def data_check(
    tolerance: int = typer.Option(
        10, help="Largest difference (persons) called agreement."
    ),
    details: bool = typer.Option(
        False, help="Print every region, not only the summary."
    ),
) -> None:
    """Cross-check OD-derived regional nets against the monthly file (2022-2024)."""
    import warnings

    from kzspatial.study.run_checks import option_error

    if tolerance < 0:
        _fail(
            option_error(
                "tolerance",
                tolerance,
                "the largest difference (persons) still called agreement must be "
                ">= 0, e.g. 10",
            )
        )
    from kzspatial.datasets.datacheck import check_od_nets, summarise_check
    from kzspatial.datasets.migration import load_monthly_migration, load_od_flows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 2022 is loaded on purpose here
        od = load_od_flows(years=(2022, 2023, 2024), include_2022=True)
    check = check_od_nets(od, load_monthly_migration(), tolerance=tolerance)
    print(
        "Interregional net migration: OD file vs monthly file "
        "(persons; both are nets of moves between regions)"
    )
    print(summarise_check(check).to_string(index=False))
    if details:
        print(check.to_string(index=False))


_OUT = typer.Option(
    "output",
    "--out",
    help="Output folder (maps go to ./maps for the "
    "default folder, DIR/maps otherwise).",
)
_MAPS = typer.Option(
    None, "--maps", help="Folder for the HTML maps (overrides the default)."
)
_YEARS = typer.Option(
    None,
    "--year",
    "-y",
    help="OD year to include (repeat); default: "
    "2010, 2015, 2020, 2021, 2023, 2024 (2022 is excluded, see README).",
)
_FOCUS = typer.Option(2024, "--focus-year", help="Year of the detailed results.")
_BORDERS = typer.Option(
    "2024",
    "--borders",
    help="Border configuration: 2024 (20 units), "
    "2018 (17) or 2010 (16); flows are aggregated exactly.",
)
_PERMS = typer.Option(999, "--permutations", help="Permutations for pseudo p-values.")
_SEED = typer.Option(12345, "--seed", help="Seed of every random step.")
_OFFLINE = typer.Option(
    True,
    "--offline/--cdn",
    help="Inline map scripts (works without "
    "network) or load them from CDNs (smaller files).",
)
_TILES = typer.Option(
    None,
    "--tiles",
    help="Basemap tiles: OpenStreetMap or a URL template; "
    "default none (regions are the basemap).",
)
_CELL = typer.Option(
    5.0, "--cell-km", help="Grid cell size in km for the catchment rasters."
)
_SETTLEMENTS = typer.Option(
    "geonames",
    "--settlements",
    help="Points for grid-cell populations: geonames (CC BY 4.0) or osm (opt-in; ODbL "
    "1.0 share-alike applies to what you publish).",
)
_OVERWRITE = typer.Option(
    False, "--overwrite", help="Replace outputs of an earlier run."
)
_ATTRIBUTION = typer.Option(
    None, "--attribution", help="Attribution of URL --tiles (the provider's)."
)
_INCLUDE_2022 = typer.Option(
    False,
    "--include-2022",
    help="Allow --year 2022, whose regional nets contradict the official ones.",
)
_ALLOW_LARGE = typer.Option(
    False,
    "--allow-large",
    help="Run steps estimated above 1 h or 4.3 GB (permutations, fine grids).",
)


def _fail(message: str) -> None:
    """Print ``message`` as an error on stderr and exit with code 2 (bad usage)."""
    print(f"kzspatial: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


_CLAIMS = typer.Option(
    None,
    "--claims",
    help="CSV of asserted migration balances (region_group, "
    "asserted_migration_balance); default: the study's Table 2, shipped as an example.",
)
_PUBLISHED = typer.Option(
    None,
    "--published",
    help="CSV of published figures (year, variable, value, unit[, region]); default: "
    "the study's Table 6, shipped as an example.",
)
_EXPORT_FORMATS = ("gpkg", "flowmap", "kepler", "excel")
_FORMATS = typer.Option(
    None,
    "--format",
    "-f",
    help="What to write (repeat for several): gpkg (the styled GeoPackage for QGIS, the "
    "default), flowmap (flowmap.blue locations.csv + flows.csv), kepler (kepler.gl CSV "
    "of arcs with a year) or excel (workbook of the result tables).",
)
_SCENARIO = typer.Option(
    None,
    "--scenario",
    help="TOML scenario file (see examples/scenarios): adds the scenario's tables, "
    "GeoPackage layer, explorer mode and study report section.",
)
_TOLERANCE = typer.Option(
    0.05,
    "--tolerance",
    help="Relative difference beyond which a published figure is flagged.",
)


def _execute(products, *, analyses=None, out="output", maps=None, year=None, **options):
    """Run the pipeline for ``products`` (tables of ``analyses``).

    The keyword ``options`` are :class:`RunOptions` fields; a kzspatial error exits
    with code 2.
    """
    from pathlib import Path

    from kzspatial._errors import KzSpatialError
    from kzspatial.study.pipeline import RunOptions, run

    try:
        return run(
            RunOptions(
                out_dir=Path(out),
                maps_dir=Path(maps) if maps else None,
                years=tuple(year) if year else None,
                products=frozenset(products),
                analyses=frozenset(analyses) if analyses is not None else None,
                **options,
            )
        )
    except KzSpatialError as exc:
        _fail(str(exc))


def _print_written(result) -> None:
    print(f"kzspatial wrote ({result.seconds:.1f} s):")
    for name, path in result.paths.items():
        print(f"  {name}\t{path}")


def _print_table(title: str, frame) -> None:
    print(f"\n## {title}")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


@app.command("run")
def run_command(
    out: str = _OUT,
    maps: str = _MAPS,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    borders: str = _BORDERS,
    permutations: int = _PERMS,
    seed: int = _SEED,
    offline: bool = _OFFLINE,
    tiles: str = _TILES,
    cell_km: float = _CELL,
    settlements: str = _SETTLEMENTS,
    overwrite: bool = _OVERWRITE,
    attribution: str = _ATTRIBUTION,
    include_2022: bool = _INCLUDE_2022,
    allow_large: bool = _ALLOW_LARGE,
    claims: str = _CLAIMS,
    published: str = _PUBLISHED,
    tolerance: float = _TOLERANCE,
    scenario: str = _SCENARIO,
) -> None:
    """Run the main job on the default data and write every product.

    Checks, models, Moran's I, catchments, the study's tables, maps and the flow
    explorer, reports, GeoPackage, rasters and the exports (flowmap.blue, kepler.gl,
    Excel).
    """
    from kzspatial.study.pipeline import PRODUCTS

    result = _execute(
        PRODUCTS,
        out=out,
        maps=maps,
        year=year,
        focus_year=focus_year,
        borders=borders,
        permutations=permutations,
        seed=seed,
        offline=offline,
        tiles=tiles,
        cell_km=cell_km,
        settlements=settlements,
        overwrite=overwrite,
        attribution=attribution,
        include_2022=include_2022,
        allow_large=allow_large,
        scenario_file=Path(scenario) if scenario else None,
        **_study_options(claims, published, tolerance),
    )
    _print_written(result)


@app.command("scenario")
def scenario_command(
    file: str = typer.Argument(
        ..., help="TOML scenario file (see examples/scenarios and the README)."
    ),
    out: str = _OUT,
    maps: str = _MAPS,
    overwrite: bool = _OVERWRITE,
    draws: int = typer.Option(
        None, "--draws", help="Parameter draws of the intervals (default: the file's)."
    ),
    seed: int = typer.Option(
        None, "--seed", help="Seed of the draws (default: the file's)."
    ),
    offline: bool = _OFFLINE,
) -> None:
    """Predict flows and nets by region under a what-if scenario, against the baseline.

    Prints the summary; writes the scenario tables (tables/scenario_*.csv), its
    GeoPackage (scenario.gpkg, layer scenario_nets), the flow explorer with the scenario
    mode and the study report with the scenario section.
    """
    from kzspatial.study.pipeline import SCENARIO_PRODUCTS

    result = _execute(
        SCENARIO_PRODUCTS,
        analyses=(),
        out=out,
        maps=maps,
        overwrite=overwrite,
        offline=offline,
        scenario_file=Path(file),
        scenario_draws=draws,
        scenario_seed=seed,
    )
    print(result.scenario.summary())
    _print_written(result)


@app.command("gravity")
def gravity_command(
    out: str = _OUT,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    borders: str = _BORDERS,
    overwrite: bool = _OVERWRITE,
    include_2022: bool = _INCLUDE_2022,
) -> None:
    """Fit the gravity models; print fit and inequality tables, write CSV tables."""
    result = _execute(
        {"tables"},
        analyses={"gravity"},
        out=out,
        year=year,
        focus_year=focus_year,
        borders=borders,
        overwrite=overwrite,
        include_2022=include_2022,
    )
    _print_table(f"Model comparison, {focus_year}", result.gravity.fit_table)
    if len(result.gravity.inequality):
        _print_table(
            "Push-pull elasticities, 2023-2024 panel",
            result.gravity.inequality[
                [
                    "parameter",
                    "estimate",
                    "se_cluster_two_way",
                    "ci_low_two_way",
                    "ci_high_two_way",
                ]
            ],
        )
    _print_written(result)


@app.command("moran")
def moran_command(
    out: str = _OUT,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    borders: str = _BORDERS,
    permutations: int = _PERMS,
    seed: int = _SEED,
    overwrite: bool = _OVERWRITE,
    include_2022: bool = _INCLUDE_2022,
    allow_large: bool = _ALLOW_LARGE,
) -> None:
    """Global, local, bivariate and flow Moran's I; print tables, write CSV tables."""
    result = _execute(
        {"tables"},
        analyses={"moran"},
        out=out,
        year=year,
        focus_year=focus_year,
        borders=borders,
        permutations=permutations,
        seed=seed,
        overwrite=overwrite,
        include_2022=include_2022,
        allow_large=allow_large,
    )
    moran = result.moran
    _print_table(f"Global Moran's I, {focus_year}", moran.global_table())
    _print_table(
        "Global Moran's I by year (queen)",
        moran.by_year.pivot_table(
            index="variable", columns="year", values="I"
        ).reset_index(),
    )
    _print_table("Bivariate Moran's I", moran.bivariate)
    _print_table("Flow Moran's I", moran.flow_moran.drop(columns="null"))
    _print_written(result)


@app.command("catchments")
def catchments_command(
    out: str = _OUT,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    cell_km: float = _CELL,
    settlements: str = _SETTLEMENTS,
    overwrite: bool = _OVERWRITE,
    include_2022: bool = _INCLUDE_2022,
    allow_large: bool = _ALLOW_LARGE,
) -> None:
    """Flow and Huff catchments of Astana, Almaty, Shymkent; rasters and CSV tables."""
    result = _execute(
        {"rasters", "tables"},
        analyses={"catchments"},
        out=out,
        year=year,
        focus_year=focus_year,
        cell_km=cell_km,
        settlements=settlements,
        overwrite=overwrite,
        include_2022=include_2022,
        allow_large=allow_large,
    )
    c = result.catchments
    shares = c.shares[c.shares["year"] == focus_year]
    _print_table(f"Flow catchments, {focus_year} (shares of out-migrants)", shares)
    _print_table("Population by catchment", c.population)
    print(f"\n{c.caveat}")
    _print_written(result)


@app.command("map")
def map_command(
    mode: str = typer.Option(
        "top", "--mode", help="top, threshold, net or residual flows."
    ),
    top_n: int = typer.Option(
        60, "--top-n", help="Flows drawn in top/net/residual mode."
    ),
    threshold: float = typer.Option(
        None, "--threshold", help="Minimum persons (threshold mode)."
    ),
    out: str = _OUT,
    maps: str = _MAPS,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    borders: str = _BORDERS,
    offline: bool = _OFFLINE,
    tiles: str = _TILES,
    overwrite: bool = _OVERWRITE,
    attribution: str = _ATTRIBUTION,
    include_2022: bool = _INCLUDE_2022,
    explorer: bool = typer.Option(
        True,
        "--explorer/--no-explorer",
        help="Also write the flow explorer (maps/flows.html: every year in one page).",
    ),
) -> None:
    """Write the interactive flow maps and the flow explorer (maps/flows.html).

    One map per year plus the model residuals, and (unless --no-explorer) the explorer
    holding every year in one page.
    """
    result = _execute(
        {"maps", "explorer"} if explorer else {"maps"},
        out=out,
        maps=maps,
        year=year,
        focus_year=focus_year,
        borders=borders,
        offline=offline,
        tiles=tiles,
        overwrite=overwrite,
        attribution=attribution,
        include_2022=include_2022,
        map_mode=mode,
        top_n=top_n,
        threshold=threshold,
    )
    _print_written(result)


@app.command("export")
def export_command(
    out: str = _OUT,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    borders: str = _BORDERS,
    permutations: int = _PERMS,
    seed: int = _SEED,
    overwrite: bool = _OVERWRITE,
    include_2022: bool = _INCLUDE_2022,
    allow_large: bool = _ALLOW_LARGE,
    formats: list[str] = _FORMATS,
) -> None:
    """Write the styled GeoPackage for QGIS, or files for other tools (--format).

    flowmap: flowmap_blue/locations.csv + flows.csv; kepler: kepler_flows.csv; excel:
    kzspatial_tables.xlsx (a first sheet describes each table).
    """
    result = _execute(
        _export_products(formats),
        out=out,
        year=year,
        focus_year=focus_year,
        borders=borders,
        permutations=permutations,
        seed=seed,
        overwrite=overwrite,
        include_2022=include_2022,
        allow_large=allow_large,
    )
    _print_written(result)


def _export_products(formats: list[str] | None) -> set[str]:
    """Products of ``kzspatial export --format ...`` (default: the GeoPackage)."""
    from kzspatial._errors import ValidationError

    chosen = [f.strip().casefold() for f in (formats or ["gpkg"])]
    unknown = sorted(set(chosen) - set(_EXPORT_FORMATS))
    if unknown:
        raise ValidationError(
            f"--format {', '.join(unknown)} is unknown; choose from "
            f"{', '.join(_EXPORT_FORMATS)} (repeat --format for several)"
        )
    return set(chosen)


def _study_options(claims, published, tolerance) -> dict:
    """RunOptions fields of the study's claims checks (files given on the CLI)."""
    from pathlib import Path

    return {
        "claims_file": Path(claims) if claims else None,
        "published_file": Path(published) if published else None,
        "tolerance": tolerance,
    }


@app.command("study")
def study_command(
    out: str = _OUT,
    year: list[int] = _YEARS,
    claims: str = _CLAIMS,
    published: str = _PUBLISHED,
    tolerance: float = _TOLERANCE,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Write the study report (study.html) and its tables.

    Trends, regional balance typology, inequality and the checks of published claims.
    """
    result = _execute(
        {"study", "tables"},
        analyses={"study"},
        out=out,
        year=year,
        overwrite=overwrite,
        **_study_options(claims, published, tolerance),
    )
    study = result.study
    _print_table(
        "Asserted balances against the data",
        study.claims[["region_group", "asserted", "class", "verdict", "mean_rate"]],
    )
    flagged = study.published[study.published["closest"]]
    _print_table(
        "Published figures: closest official concept",
        flagged[["year", "variable", "published", "unit", "concept", "official"]]
        .assign(verdict=flagged["verdict"])
        .head(40),
    )
    _print_written(result)


@app.command("check-published")
def check_published_command(
    file: str = typer.Argument(
        ..., help="CSV of published figures: year, variable, value, unit[, region]."
    ),
    tolerance: float = _TOLERANCE,
    out_csv: str = typer.Option(
        None, "--out-csv", help="Also write the comparison table to this CSV file."
    ),
    overwrite: bool = _OVERWRITE,
) -> None:
    """Set published figures beside the official data under both BNS concepts.

    Prints the comparison (tab-separated, stdout) and flags differences beyond
    --tolerance.
    """
    from kzspatial.datasets.migration import load_od_flows
    from kzspatial.render._atomic import atomic_path
    from kzspatial.study.published import check_published, read_published

    table = read_published(file)
    comparison = check_published(table, od=load_od_flows(), tolerance=tolerance)
    print(comparison.to_csv(sep="\t", index=False, float_format="%.6g"), end="")
    n_flagged = comparison.groupby("line")["flagged"].all().sum()
    logging.getLogger("kzspatial").info(
        "%d of %d figures differ from every official concept by more than %.0f%%",
        n_flagged,
        comparison["line"].nunique(),
        100 * tolerance,
    )
    if out_csv:
        with atomic_path(out_csv, overwrite=overwrite) as tmp:
            comparison.to_csv(tmp, index=False)


report_app = typer.Typer(help="Write reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("autocorrelation")
def report_autocorrelation(
    out: str = _OUT,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    permutations: int = _PERMS,
    seed: int = _SEED,
    overwrite: bool = _OVERWRITE,
    include_2022: bool = _INCLUDE_2022,
    allow_large: bool = _ALLOW_LARGE,
) -> None:
    """Self-contained HTML spatial-autocorrelation report (+ PNG figures and CSV)."""
    result = _execute(
        {"report"},
        out=out,
        year=year,
        focus_year=focus_year,
        permutations=permutations,
        seed=seed,
        overwrite=overwrite,
        include_2022=include_2022,
        allow_large=allow_large,
    )
    _print_written(result)


def main() -> None:
    """Entry point of the ``kzspatial`` console script."""
    from kzspatial._errors import KzSpatialError

    try:
        app()
    except KzSpatialError as exc:
        print(f"kzspatial: error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        # Python's last collection at exit would traverse every object the run made
        # (~0.4 s); the outputs are written and closed, nothing is left to finalise.
        gc.freeze()
