"""The study's questions as one suite: trends, typology, inequality and the claims checks.

:func:`study_suite` computes, from the loaded :class:`~kzspatial.study.inputs.StudyData`
and the gravity results, every table of the study report ("Internal migration in
Kazakhstan 2010–2024: what the data say"): national trends under both BNS concepts,
net rates of today's 20 regions, the regional balance typology, the inequality of GRP
per capita and its relation to migration, and two checks of published claims — the
study's Table 2 (asserted migration balances) and Table 6 (national series). By default
both claim tables are the shipped examples
(:mod:`kzspatial.datasets.published_examples`); a user's files replace them.

:meth:`StudyResults.tables` names the tables as ``kzspatial run`` writes them (CSV under
``tables/``, attribute tables of the GeoPackage); :func:`write_study` renders the
report. A scenario section, when a scenario was run, is passed through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kzspatial._errors import ValidationError
from kzspatial.datasets.macro_regions import load_macro_regions
from kzspatial.datasets.published_examples import (
    STUDY_TABLE2,
    STUDY_TABLE6,
    example_path,
)
from kzspatial.datasets.regions import configuration_ids
from kzspatial.study import inequality, published, trends, typology
from kzspatial.study.gravity_suite import GravityResults
from kzspatial.study.inputs import StudyData

__all__ = ["StudyResults", "study_suite", "write_study"]


@dataclass(frozen=True, eq=False)
class StudyResults:
    """Tables of :func:`study_suite`, described in :mod:`kzspatial.study.table_info`."""

    national: pd.DataFrame
    region_rates: pd.DataFrame
    typology: pd.DataFrame
    claims: pd.DataFrame
    inequality: pd.DataFrame
    inequality_trend: pd.DataFrame
    ratio_claim: pd.DataFrame
    correlation: pd.DataFrame
    elasticities: pd.DataFrame
    published: pd.DataFrame
    claims_source: str
    published_source: str

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by their output names (``study_*``)."""
        return {
            "study_national": self.national,
            "study_region_rates": self.region_rates,
            "study_typology": self.typology,
            "study_claims_table2": self.claims,
            "study_inequality": self.inequality,
            "study_inequality_trend": self.inequality_trend,
            "study_ratio_claim": self.ratio_claim,
            "study_correlation": self.correlation,
            "study_elasticities": self.elasticities,
            "study_published_check": self.published,
        }


def study_suite(
    data: StudyData,
    gravity: GravityResults | None,
    *,
    claims_file: str | Path | None = None,
    published_file: str | Path | None = None,
    tolerance: float = 0.05,
) -> StudyResults:
    """Compute every table of the study report.

    Parameters
    ----------
    data : StudyData
        The loaded inputs; the study reads the flows in today's 20 regions
        (``data.od20``) whatever ``data.borders`` is.
    gravity : GravityResults, optional
        For the push-pull elasticities (``gravity.inequality``); None leaves that
        table empty.
    claims_file : str or Path, optional
        CSV of asserted balances (``region_group, asserted_migration_balance``);
        default: the study's Table 2 shipped with kzspatial.
    published_file : str or Path, optional
        CSV of published figures (``year, variable, value, unit``, optional
        ``region``); default: the study's Table 6 shipped with kzspatial.
    tolerance : float, default 0.05
        Relative difference beyond which a published figure is flagged.

    Returns
    -------
    StudyResults

    Raises
    ------
    ValidationError
        A claims or published-figures file is malformed (named by line and column).
    """
    claims_path = Path(claims_file or example_path(STUDY_TABLE2))
    published_path = Path(published_file or example_path(STUDY_TABLE6))
    # the user's files first: a bad file fails before any work
    for path, what in ((claims_path, "claims"), (published_path, "published")):
        if not path.is_file():
            raise ValidationError(
                f"{what} file {path} does not exist; give an existing CSV"
            )
    claims = published.read_published(published_path)
    try:
        claims_table = pd.read_csv(claims_path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError(f"{claims_path}: not a readable CSV ({exc})") from None
    od, population = data.od20, data.population
    macro = load_macro_regions()
    # every OD year (2022 and the 2025 part year too, each labelled) and the monthly file
    national = published.load_official_national(population)
    grp_table = inequality.grp_inequality(
        data.grp, population, value_col="grp_per_capita"
    )
    return StudyResults(
        national=national,
        region_rates=trends.group_rates(
            od, population, {r: r for r in configuration_ids("2024")}
        ),
        typology=typology.balance_typology(od, population, macro),
        claims=typology.check_balance_claims(claims_table, od, population, macro),
        inequality=grp_table,
        inequality_trend=inequality.inequality_trend(grp_table),
        ratio_claim=inequality.check_ratio_claim(grp_table),
        correlation=inequality.migration_grp_correlation(
            od, population, data.grp, value_col="grp_per_capita"
        ),
        elasticities=inequality.push_pull_elasticities(
            gravity.inequality if gravity is not None else None
        ),
        published=published.check_published(
            claims, national=national, od=od, tolerance=tolerance
        ),
        claims_source=str(claims_path),
        published_source=str(published_path),
    )


def write_study(
    html: Path,
    files: Path,
    study: StudyResults,
    data: StudyData,
    *,
    scenario: Mapping[str, object] | None = None,
) -> None:
    """Write the study report to ``html`` and its CSV tables to ``files``.

    Parameters
    ----------
    html, files : Path
        The report and the folder of its tables (staged targets of the run).
    study : StudyResults
    data : StudyData
        For the provenance of the data sources.
    scenario : mapping, optional
        ``title``, ``note`` and ``table`` of a scenario section (see
        :func:`kzspatial.render.study_report.write_study_report`).
    """
    from kzspatial.render.study_report import write_study_report

    claims = {
        "title": "Published claims checked (not data)",
        "concept": f"The study's Table 2: {study.claims_source}; its Table 6: "
        f"{study.published_source}",
        "unit": "as published",
        "licence": "quoted for verification",
        "citation": "Baidybekova, Tolamisova, Dyrka, Turysbekova (2025), Internal "
        "migration in Kazakhstan: urbanization, regional inequality and economic "
        "development",
    }
    written = write_study_report(
        html,
        national=study.national,
        region_rates=study.region_rates,
        typology=study.typology,
        claims=study.claims,
        inequality=study.inequality,
        inequality_trend=study.inequality_trend,
        correlation=study.correlation,
        elasticities=study.elasticities,
        published=study.published,
        provenance=[*data.provenance, claims],
        scenario=scenario,
        overwrite=True,
    )
    # the report writes its tables next to its HTML; move them to their own target
    written["files"].replace(files)
