"""The study's published tables, shipped as example inputs: claims to check, not data.

Two tables of a 2025 study of internal migration in Kazakhstan (see
``examples/published/README.md``) are the default inputs of the claims checks of
``kzspatial run``: Table 2 (the migration balance it asserts for groups of regions) and
Table 6 (its national series, in the long published-figure format). They are read from
``examples/published/`` in a source checkout and from ``kzspatial/_examples/`` in a wheel
(``[tool.hatch.build.targets.wheel.force-include]`` in ``pyproject.toml``), the way the
data registry is.
"""

from __future__ import annotations

from pathlib import Path

from kzspatial._errors import DataFetchError

__all__ = ["STUDY_TABLE2", "STUDY_TABLE6", "example_path"]

#: The study's Table 2 (``region_group, main_industry, asserted_migration_balance``).
STUDY_TABLE2 = "study_table2_regional_balance.csv"
#: The study's Table 6, long (``year, variable, value, unit``).
STUDY_TABLE6 = "study_table6_published_figures.csv"


def example_path(name: str) -> Path:
    """Location of a shipped example table of published claims.

    Parameters
    ----------
    name : str
        File name, e.g. :data:`STUDY_TABLE2` or :data:`STUDY_TABLE6`.

    Returns
    -------
    Path
        The file in the wheel (``kzspatial/_examples/``) or the source checkout
        (``examples/published/``).

    Raises
    ------
    DataFetchError
        The file is in neither place (a broken installation).
    """
    package = Path(__file__).resolve().parent.parent
    candidates = (
        package / "_examples" / name,
        package.parent / "examples" / "published" / name,
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataFetchError(
        f"example table {name!r} not found in {candidates[0].parent} or "
        f"{candidates[1].parent}; reinstall kzspatial, or pass the file explicitly"
    )
