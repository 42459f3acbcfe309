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
    logging.basicConfig(stream=sys.stderr, level=level, format="kzspatial: %(message)s")


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


def main() -> None:
    """Entry point of the ``kzspatial`` console script."""
    from ._errors import KzSpatialError

    try:
        app()
    except KzSpatialError as exc:
        print(f"kzspatial: error: {exc}", file=sys.stderr)
        sys.exit(2)
