"""Command-line interface: ``kzspatial <command>``. No analysis logic lives here: each
command parses options, calls the library, and prints results (stdout) or logs (stderr)."""

from __future__ import annotations

import logging
import sys

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


def _execute(products, *, analyses=None, out="output", maps=None, year=None, **options):
    """Run the pipeline for ``products`` (tables of ``analyses``); options are
    :class:`RunOptions` fields."""
    from pathlib import Path

    from kzspatial.study.pipeline import RunOptions, run

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
) -> None:
    """Run the main job on the default data: checks, models, Moran's I, catchments,
    maps, report, GeoPackage and rasters."""
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
    )
    _print_written(result)


@app.command("gravity")
def gravity_command(
    out: str = _OUT,
    year: list[int] = _YEARS,
    focus_year: int = _FOCUS,
    borders: str = _BORDERS,
    overwrite: bool = _OVERWRITE,
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
) -> None:
    """Write the interactive flow maps (one per year, plus model residuals)."""
    result = _execute(
        {"maps"},
        out=out,
        maps=maps,
        year=year,
        focus_year=focus_year,
        borders=borders,
        offline=offline,
        tiles=tiles,
        overwrite=overwrite,
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
) -> None:
    """Write the styled GeoPackage (kzspatial.gpkg) for QGIS."""
    result = _execute(
        {"gpkg"},
        out=out,
        year=year,
        focus_year=focus_year,
        borders=borders,
        permutations=permutations,
        seed=seed,
        overwrite=overwrite,
    )
    _print_written(result)


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
