"""A scenario's products: its GeoPackage layers, explorer flows, and option checks.

``kzspatial scenario FILE`` and ``kzspatial run --scenario FILE`` both run the scenario
inside :func:`kzspatial.study.pipeline.run` (staged, atomic and locked outputs); this
module holds what they add to the run's products:

- :func:`load_run_scenario`: the scenario file with the ``draws`` / ``seed`` overrides
  of the run options, and :func:`check_scenario_options`, which refuses bad options
  and a bad file before any data are loaded;
- :func:`scenario_layers`: the ``scenario_nets`` polygon layer (regions with the net
  change and its interval, styled diverging on ``net_change``) and the
  ``scenario_flows`` / ``scenario_coefficients`` attribute tables;
- :func:`write_scenario_geopackage`: those layers alone in ``scenario.gpkg``;
- :func:`scenario_explorer_flows`: the predicted flows for the explorer's scenario mode.

The numbers come from :mod:`kzspatial.study.scenarios`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import ValidationError
from kzspatial._version import __version__
from kzspatial.study.inputs import StudyData
from kzspatial.study.scenario_file import SCENARIO_YEARS, Scenario, load_scenario
from kzspatial.study.scenarios import ScenarioResult
from kzspatial.study.table_info import layer_metadata

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "check_scenario_options",
    "load_run_scenario",
    "scenario_explorer_flows",
    "scenario_layers",
    "scenario_metadata",
    "write_scenario_geopackage",
]

#: Range of ``draws`` a scenario file accepts (:mod:`kzspatial.study.scenario_file`).
_DRAWS = (100, 100_000)


def _override_problems(draws: Any, seed: Any) -> list[str]:
    from kzspatial.study.run_checks import option_error

    problems = []
    if draws is not None and (
        not isinstance(draws, int)
        or isinstance(draws, bool)
        or not _DRAWS[0] <= draws <= _DRAWS[1]
    ):
        problems.append(
            option_error(
                "scenario_draws",
                draws,
                f"kzspatial scenario --draws: the parameter draws must be a whole "
                f"number from {_DRAWS[0]} to {_DRAWS[1]:,}, e.g. 1000",
            )
        )
    if seed is not None and (
        not isinstance(seed, int) or isinstance(seed, bool) or seed < 0
    ):
        problems.append(
            option_error(
                "scenario_seed",
                seed,
                "kzspatial scenario --seed: the seed of the draws must be a whole "
                "number from 0, e.g. 1",
            )
        )
    return problems


def check_scenario_options(options: Any) -> list[str]:
    """List the problems of the scenario options of a run (empty when fine).

    A ``scenario_file`` needs the 2024 borders and the panel years (2023, 2024) among
    the loaded years, and the ``scenario_gpkg`` product needs a scenario file. The file
    itself is read and validated (:func:`load_run_scenario`): its problems are listed
    as they are, each naming the file and the entry.

    Parameters
    ----------
    options : RunOptions
    """
    from kzspatial.study.run_checks import option_error

    problems = _override_problems(options.scenario_draws, options.scenario_seed)
    if options.scenario_file is None:
        if "scenario_gpkg" in options.products:
            problems.append(
                option_error(
                    "products",
                    "scenario_gpkg",
                    "the scenario GeoPackage needs scenario_file (--scenario FILE)",
                )
            )
        return problems
    if options.borders != "2024":
        problems.append(
            option_error(
                "borders",
                options.borders,
                "a scenario runs on the model of the 20 regions of 2024; drop "
                "--borders or use --borders 2024 with --scenario",
            )
        )
    try:  # the file's own problems, each naming the file and the entry
        load_scenario(options.scenario_file)
    except ValidationError as exc:
        problems.append(str(exc))
    if options.years is not None:
        missing = sorted(set(SCENARIO_YEARS) - set(options.years))
        if missing:
            problems.append(
                option_error(
                    "years",
                    tuple(options.years),
                    "a scenario's model is fitted on the "
                    f"{'-'.join(map(str, SCENARIO_YEARS))} flows; add "
                    + " ".join(f"--year {y}" for y in missing),
                )
            )
    return problems


def load_run_scenario(options: Any) -> Scenario:
    """Read and validate the run's scenario file, with the draws / seed overrides.

    Parameters
    ----------
    options : RunOptions
        ``scenario_file`` (not None), ``scenario_draws`` and ``scenario_seed`` (None:
        those of the file).

    Returns
    -------
    Scenario

    Raises
    ------
    ValidationError
        The file is missing, not TOML, or has bad entries (each named with the file).
    """
    scenario = load_scenario(options.scenario_file)
    changes = {
        key: value
        for key, value in (
            ("draws", options.scenario_draws),
            ("seed", options.scenario_seed),
        )
        if value is not None
    }
    return dataclasses.replace(scenario, **changes) if changes else scenario


def scenario_layers(
    result: ScenarioResult, regions: gpd.GeoDataFrame
) -> dict[str, pd.DataFrame]:
    """Return the GeoPackage layers of a scenario.

    Parameters
    ----------
    result : ScenarioResult
    regions : geopandas.GeoDataFrame
        Region polygons of the 2024 borders with ``region_id``.

    Returns
    -------
    dict of str to DataFrame
        ``scenario_nets`` (polygons with the nets, baseline and scenario, net change
        and its interval), ``scenario_flows`` and ``scenario_coefficients`` (tables).
    """
    tables = result.tables()
    nets = result.regions_layer(regions)
    return {
        "scenario_nets": nets,
        "scenario_flows": tables["scenario_flows"],
        "scenario_coefficients": tables["scenario_coefficients"],
    }


def scenario_metadata(result: ScenarioResult) -> dict[str, dict[str, str]]:
    """Title and abstract of each layer of :func:`scenario_layers`.

    From :data:`~kzspatial.study.table_info.TABLE_INFO`; the ``scenario_nets`` layer is
    titled with the scenario's name and its abstract adds the scenario note (what the
    model holds fixed, how the intervals are drawn).
    """
    metadata = layer_metadata(
        ["scenario_nets", "scenario_flows", "scenario_coefficients"]
    )
    metadata["scenario_nets"] = {
        "title": f"Scenario: {result.scenario.name}",
        "abstract": f"{metadata['scenario_nets']['abstract']}\n\n{result.note}",
    }
    return metadata


def write_scenario_geopackage(
    path: Path, result: ScenarioResult, data: StudyData
) -> None:
    """Write the scenario's layers, the scenario note and the provenance to ``path``.

    Parameters
    ----------
    path : Path
        Target (a staged path of the run).
    result : ScenarioResult
    data : StudyData
        Region polygons (2024 borders) and the provenance of the data.
    """
    from kzspatial.render.gpkg import write_geopackage

    layers = scenario_layers(result, data.regions)
    layers["provenance"] = pd.DataFrame(data.provenance)
    metadata = layer_metadata(["provenance"]) | scenario_metadata(result)
    s = result.scenario
    provenance = {
        "kzspatial_version": __version__,
        "scenario_file": s.source,
        "model": s.model,
        "year": s.year,
        "draws": s.draws,
        "seed": s.seed,
        "level": s.level,
        "covariance": s.covariance,
        "sources": "; ".join(f"{p['title']} ({p['licence']})" for p in data.provenance),
    }
    write_geopackage(
        path,
        layers,
        metadata=metadata,
        provenance=provenance,
        overwrite=True,
    )


def scenario_explorer_flows(result: ScenarioResult) -> pd.DataFrame:
    """Return ``year, origin, destination, flow``: the scenario's predicted flows."""
    flows = result.flows
    return pd.DataFrame(
        {
            YEAR: result.scenario.year,
            ORIGIN: flows[ORIGIN],
            DESTINATION: flows[DESTINATION],
            FLOW: flows["scenario"],
        }
    )
