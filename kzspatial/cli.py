"""Command-line interface: ``kzspatial <command>``. No analysis logic lives here: each
command parses options, calls the library, and prints results (stdout) or logs (stderr)."""

from __future__ import annotations

import logging
import sys

import typer

app = typer.Typer(
    help="Spatial analysis of internal migration in Kazakhstan.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Inspect and check the registered source data.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.callback()
def _configure(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log details to stderr."),
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
    from ._show_versions import show_versions

    show_versions()


@data_app.command("list")
def data_list() -> None:
    """List the registered data files with licence and concept (tab-separated)."""
    from .data import registry

    print("key\tdataset\tlicence\tconcept\turl")
    for entry in registry().values():
        print(f"{entry.key}\t{entry.dataset}\t{entry.licence}\t{entry.concept}\t{entry.url}")


@data_app.command("check")
def data_check(
    tolerance: int = typer.Option(10, help="Largest difference (persons) called agreement."),
    details: bool = typer.Option(False, help="Print every region, not only the summary."),
) -> None:
    """Cross-check OD-derived regional nets against the monthly file (2022-2024)."""
    import warnings

    from .datacheck import check_od_nets, summarise_check
    from .io import load_monthly_migration, load_od_flows

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 2022 is loaded on purpose here
        od = load_od_flows(years=(2022, 2023, 2024), include_2022=True)
    check = check_od_nets(od, load_monthly_migration(), tolerance=tolerance)
    print("Interregional net migration: OD file vs monthly file "
          "(persons; both are nets of moves between regions)")
    print(summarise_check(check).to_string(index=False))
    if details:
        print(check.to_string(index=False))


def _run_options(out, maps, years, focus_year, borders, permutations, seed, offline, tiles,
                 cell_km, overwrite):
    from pathlib import Path

    from .pipeline import RunOptions

    return RunOptions(out_dir=Path(out), maps_dir=Path(maps) if maps else None,
                      years=tuple(years) if years else None, focus_year=focus_year,
                      borders=borders, permutations=permutations, seed=seed,
                      offline=offline, tiles=tiles, cell_km=cell_km, overwrite=overwrite)


_OUT = typer.Option("output", "--out", help="Output folder (maps go to ./maps for the "
                    "default folder, DIR/maps otherwise).")
_MAPS = typer.Option(None, "--maps", help="Folder for the HTML maps (overrides the default).")
_YEARS = typer.Option(None, "--year", "-y", help="OD year to include (repeat); default: "
                      "2010, 2015, 2020, 2021, 2023, 2024 (2022 is excluded, see README).")
_FOCUS = typer.Option(2024, "--focus-year", help="Year of the detailed results.")
_BORDERS = typer.Option("2024", "--borders", help="Border configuration: 2024 (20 units), "
                        "2018 (17) or 2010 (16); flows are aggregated exactly.")
_PERMS = typer.Option(999, "--permutations", help="Permutations for pseudo p-values.")
_SEED = typer.Option(12345, "--seed", help="Seed of every random step.")
_OFFLINE = typer.Option(True, "--offline/--cdn", help="Inline map scripts (works without "
                        "network) or load them from CDNs (smaller files).")
_TILES = typer.Option(None, "--tiles", help="Basemap tiles: OpenStreetMap or a URL template; "
                      "default none (regions are the basemap).")
_CELL = typer.Option(5.0, "--cell-km", help="Grid cell size in km for the catchment rasters.")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace outputs of an earlier run.")


@app.command("run")
def run_command(out: str = _OUT, maps: str = _MAPS, year: list[int] = _YEARS,
                focus_year: int = _FOCUS, borders: str = _BORDERS,
                permutations: int = _PERMS, seed: int = _SEED, offline: bool = _OFFLINE,
                tiles: str = _TILES, cell_km: float = _CELL,
                overwrite: bool = _OVERWRITE) -> None:
    """Run the main job on the default data: checks, models, Moran's I, catchments,
    maps, report, GeoPackage and rasters."""
    from .pipeline import run

    options = _run_options(out, maps, year, focus_year, borders, permutations, seed,
                           offline, tiles, cell_km, overwrite)
    written = run(options)
    print("kzspatial run wrote:")
    for name, path in written.items():
        print(f"  {name}\t{path}")


def main() -> None:
    """Entry point of the ``kzspatial`` console script."""
    from ._errors import KzSpatialError

    try:
        app()
    except KzSpatialError as exc:
        print(f"kzspatial: error: {exc}", file=sys.stderr)
        sys.exit(2)
