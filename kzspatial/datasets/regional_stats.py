"""Regional statistics of the Bureau of National Statistics (BNS).

Each loader reads one registered workbook (see ``geodata/registry.toml``) through
:func:`kzspatial.datasets.fetch.fetch`, validates it and returns a tidy :class:`pandas.DataFrame`
with one row per region and year:

``region_id``
    Region id valid in the row's ``configuration`` (see :mod:`kzspatial.datasets.regions`).
``year``
    Reference year (population: 1 January of that year).
``configuration``
    Border vintage in which *the file* expresses the figure: ``"2010"`` (16 units,
    South Kazakhstan undivided), ``"2018"`` (17 units, Shymkent separate) or ``"2024"``
    (20 units, Abai, Zhetysu and Ulytau separate). It is inferred, year by year, from
    which rows carry values, and is checked to cover every unit of that configuration
    exactly once. BNS republishes figures in new borders back to some years before a
    split took legal effect (population on 1 January 2022 is already given for Abai,
    Zhetysu and Ulytau, created in June 2022), so the configuration records the borders
    of the figures, not the law on that date. Nothing is ever pro-rated.

The national total row is dropped from the output but used to check the regions: counts
must sum to it; rates and per-capita values (weighted means) must lie within the
regional range. Every frame carries ``df.attrs["source"]`` (registry key, licence,
concept, unit, citation, URL) and the checks in further ``attrs`` entries.

Malformed input (missing sheet or column, non-numeric value, unknown region, a year
whose rows form no border configuration) raises
:class:`~kzspatial._errors.ValidationError` naming the file, sheet, row and fix, with
all problems of the file at once. Input files are only read, never modified.

The workbook layout is read by :mod:`kzspatial.datasets._bns_workbook`; population is
loaded by :mod:`kzspatial.datasets.population`, GeoNames cities by
:mod:`kzspatial.datasets.cities`.

Source: BNS figures republished by Open Data Kazakhstan (ODC PDDL 1.0).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from kzspatial.datasets._bns_workbook import (
    Problems,
    annual_header,
    check_labels,
    configuration_of_years,
    describe_mismatch,
    finish_frame,
    infer_configuration,
    national_checks,
    open_workbook,
    read_table,
    registry_source,
    resolve_label,
    resolves,
    sheet_rows,
    tidy_block,
    unemployment_header,
)
from kzspatial.datasets.fetch import fetch

__all__ = ["load_grp_per_capita", "load_unemployment", "load_wages_2022"]

_GRP_SHEETS = {
    "тыс.тенге": "grp_per_capita_thousand_kzt",
    "в долларах США": "grp_per_capita_usd",
}
_ANNUAL_GRP_HEADER = re.compile(r"^\s*(\d{4})\s*год(?!\w)")

_WAGE_COLUMNS = {
    "всего персонала": "average_wage",
    "руководители и государственные служащие": "wage_managers",
    "специалисты-профессионалы": "wage_professionals",
    "специалисты-техники и иной вспомогательный профессиональный персонал": "wage_technicians",
    "служащие в области администрирования": "wage_clerical",
    "работники сферы услуг и продаж": "wage_service_sales",
    "фермеры и рабочие сельского и лесного хозяйства, рыбоводства и рыболовства": "wage_agriculture",
    "рабочие промышленности, строительства, транспорта и других родственных занятий": "wage_craft",
    "операторы производственного оборудования, сборщики и водители": "wage_operators",
    "неквалифицированные рабочие": "wage_elementary",
    "работники, не входящие в другие группы": "wage_other",
}
_WAGES_YEAR = 2022
# The wages workbook has a "South Kazakhstan Region" row although that unit was split in
# 2018; its cells repeat values of other rows (see load_wages_2022).
_WAGES_CORRUPT_UNIT = "KZ-51"


# --------------------------------------------------------------------------- population


def load_grp_per_capita(*, path: str | Path | None = None) -> pd.DataFrame:
    """Gross regional product per capita by region, annual 2008-2022.

    Concept: gross regional product (production approach) divided by the average
    resident population of the year, in the borders in which the file gives each year.
    Units: thousand tenge per person (``grp_per_capita_thousand_kzt``) and US dollars
    per person at the National Bank's average annual rate (``grp_per_capita_usd``).

    Parameters
    ----------
    path : str or Path, optional
        Workbook laid out as the registered ``grp_per_capita.xlsx`` (sheets «тыс.тенге»
        and «в долларах США», cumulative quarterly columns and one ``"<year> год"``
        column per year). Default: the registered file.

    Returns
    -------
    pandas.DataFrame
        ``region_id``, ``year``, ``configuration``, ``grp_per_capita_thousand_kzt``,
        ``grp_per_capita_usd``; only full years (the cumulative quarterly columns and
        the incomplete 2023 are not returned).

    Raises
    ------
    ValidationError
        Missing sheet, no annual columns, non-numeric cell, unknown region, rows that
        form no border configuration, the two sheets disagreeing on regions and years,
        or a national value outside the regional range, all reported at once.

    Notes
    -----
    In the registered file: 2008-2017 in 16 units (South Kazakhstan, ``KZ-51``);
    2018-2021 in 17 units (Turkistan and Shymkent; South Kazakhstan has values only up
    to the first quarter of 2018); 2022 in 20 units (Abai, Zhetysu and Ulytau given for
    the whole year 2022). Per-capita values cannot be summed; the check against the
    national row is that the national value lies within the regional range.
    """
    path = Path(fetch("grp_per_capita.xlsx") if path is None else path)
    problems = Problems(path)
    workbook = open_workbook(path, _GRP_SHEETS, problems)
    problems.raise_if_any()
    merged: dict[tuple[int, str], dict] = {}
    checks, footnotes = [], {}
    for sheet, column in _GRP_SHEETS.items():
        ws = workbook[sheet]
        header_row, years = annual_header(ws, _ANNUAL_GRP_HEADER, problems)
        if not years:
            continue
        table = read_table(
            ws, first_row=header_row + 1, columns=years, problems=problems
        )
        footnotes.update({f"{sheet} {k}": v for k, v in table.footnotes.items()})
        if len(table.blocks) != 1:
            problems.add(
                f"sheet {sheet!r}",
                f"{len(table.blocks)} blocks of rows",
                "keep one table: national row, then regions",
            )
            continue
        block = table.blocks[0]
        records, _ = tidy_block(
            block, years.values(), sheet=sheet, value=column, problems=problems
        )
        checks += [
            {"sheet": sheet, **c}
            for c in national_checks(
                block,
                records,
                value=column,
                kind="range",
                sheet=sheet,
                problems=problems,
            )
        ]
        for record in records:
            merged.setdefault(
                (record["year"], record["region_id"]),
                {
                    "region_id": record["region_id"],
                    "year": record["year"],
                    "configuration": record["configuration"],
                },
            )[column] = record[column]
    problems.raise_if_any()
    for (year, region_id), record in sorted(merged.items()):
        absent = [c for c in _GRP_SHEETS.values() if c not in record]
        if absent:
            problems.add(
                f"{region_id}, {year}",
                f"value only on one sheet (no {absent})",
                "give both sheets the same regions and years",
            )
    problems.raise_if_any()
    frame = finish_frame(list(merged.values()), list(_GRP_SHEETS.values()))
    frame.attrs = {
        "source": registry_source("grp_per_capita.xlsx"),
        "configuration_by_year": configuration_of_years(frame),
        "national_check": checks,
        "footnotes": footnotes,
    }
    return frame


# ------------------------------------------------------------------------- unemployment


def load_unemployment(*, path: str | Path | None = None) -> pd.DataFrame:
    """Unemployment rate by region, annual, 2001-2022 (2023: see Notes).

    Concept: unemployed persons as a share of the labour force, from the BNS sample
    survey of population employment (ILO definitions). Unit: percent.

    Parameters
    ----------
    path : str or Path, optional
        Workbook laid out as the registered ``unemployment_rate.xlsx`` (sheet
        «Regions_quarter»: a row of years over merged cells, below it the quarters and
        ``"year"``). Default: the registered file.

    Returns
    -------
    pandas.DataFrame
        ``region_id``, ``year``, ``configuration``, ``unemployment_rate`` (percent),
        ``methodology`` (``"pre-2015"`` or ``"19th ICLS"``) and ``estimated`` (True
        where a row footnote says the figures are estimates, see Notes). Quarterly
        values are not returned.

    Raises
    ------
    ValidationError
        Missing sheet or header, non-numeric cell, unknown region, rows that form no
        border configuration, or a national rate outside the regional range.

    Notes
    -----
    Methodology break: the header of the first year produced under the standards of the
    19th International Conference of Labour Statisticians carries a footnote saying so;
    in the registered file that is 2015. Figures before and after are not comparable
    without care.

    In the registered file: 2001-2009 in 16 units (South Kazakhstan, ``KZ-51``);
    2010-2021 in 17 units: the annual column gives Turkistan and Shymkent, which the
    file's footnote calls "estimates based on data from SKO" for 2010-2017
    (``estimated`` is True there), while South Kazakhstan keeps quarterly values only;
    2022 in 20 units. The 2023 annual column is empty (only the four quarters are
    filled): no 2023 row is returned, and quarters are not averaged into a year, since
    the BNS annual rate is not their mean by definition.
    """
    path = Path(fetch("unemployment_rate.xlsx") if path is None else path)
    sheet = "Regions_quarter"
    problems = Problems(path)
    workbook = open_workbook(path, [sheet], problems)
    problems.raise_if_any()
    ws = workbook[sheet]
    header_row, columns, header_notes = unemployment_header(ws, problems)
    problems.raise_if_any()
    table = read_table(ws, first_row=header_row + 1, columns=columns, problems=problems)
    if len(table.blocks) != 1:
        problems.add(
            f"sheet {sheet!r}",
            f"{len(table.blocks)} blocks of rows",
            "keep one table: national row, then regions",
        )
        problems.raise_if_any()
    block = table.blocks[0]
    records, _ = tidy_block(
        block,
        columns.values(),
        sheet=sheet,
        value="unemployment_rate",
        problems=problems,
    )
    checks = national_checks(
        block,
        records,
        value="unemployment_rate",
        kind="range",
        sheet=sheet,
        problems=problems,
    )
    problems.raise_if_any()

    break_year = next(
        (
            year
            for year, marker in sorted(header_notes.items())
            if "icls" in table.footnotes.get(marker, "").casefold()
        ),
        None,
    )
    estimated_years = {}
    for marker, text in table.footnotes.items():
        span = re.search(r"from (\d{4}) to (\d{4}) estimates", text)
        if span:
            estimated_years[marker] = range(int(span.group(1)), int(span.group(2)) + 1)
    for record in records:
        row = record["_row"]
        record["methodology"] = (
            "19th ICLS"
            if break_year is not None and record["year"] >= break_year
            else "pre-2015"
        )
        record["estimated"] = record["year"] in estimated_years.get(row.footnote, ())
    frame = finish_frame(records, ["unemployment_rate", "methodology", "estimated"])
    frame["estimated"] = frame["estimated"].astype(bool)
    frame.attrs = {
        "source": registry_source("unemployment_rate.xlsx"),
        "configuration_by_year": configuration_of_years(frame),
        "national_check": checks,
        "methodology_break_year": break_year,
        "footnotes": table.footnotes,
    }
    return frame


# --------------------------------------------------------------------------- wages


def load_wages_2022(*, path: str | Path | None = None) -> pd.DataFrame:
    """Average monthly nominal wage by region and occupation group, 2022.

    Concept: average monthly nominal wage of employees from the BNS survey of wages by
    occupation, all staff (``average_wage``) and by occupation group (``wage_*``,
    following the ISCO-08 major groups). Unit: tenge per month.

    Parameters
    ----------
    path : str or Path, optional
        Workbook laid out as the registered ``wages_2022.xlsx`` (one sheet; header
        «Регионы», «Всего персонала», then ten occupation groups). Default: the
        registered file.

    Returns
    -------
    pandas.DataFrame
        20 rows in configuration ``"2024"``: ``region_id``, ``year``, ``configuration``,
        ``average_wage`` and the ten ``wage_*`` columns.

    Raises
    ------
    ValidationError
        Missing column, non-numeric cell, unknown region, rows that do not form the
        20-unit configuration, or a national value outside the regional range.

    Notes
    -----
    Known defect: the registered file has a row "South Kazakhstan Region", a unit that
    ceased to exist in 2018, next to Turkistan Region and Shymkent city. Its cells
    repeat values of other rows (all staff = North Kazakhstan; the occupation groups =
    Pavlodar's shifted by one column). The row is dropped, never merged into any region;
    ``df.attrs["dropped_rows"]`` records it with the share of its values found in other
    rows.
    """
    path = Path(fetch("wages_2022.xlsx") if path is None else path)
    problems = Problems(path)
    workbook = open_workbook(path, [], problems)
    ws = workbook.worksheets[0]
    columns = _wage_columns(ws, problems)
    problems.raise_if_any()
    table = read_table(ws, first_row=2, columns=columns, problems=problems)
    problems.raise_if_any()
    block = table.blocks[0]
    block.regions, dropped = _drop_corrupt_rows(block.regions)
    value_columns = list(_WAGE_COLUMNS.values())
    if not check_labels(block, ws.title, problems):
        problems.raise_if_any()
    inferred = infer_configuration([row.label for row in block.regions])
    if inferred is None or inferred[0] != "2024":
        problems.add(
            f"sheet {ws.title!r}, rows {[r.excel_row for r in block.regions]}",
            describe_mismatch([row.label for row in block.regions]),
            f"list each of the 20 regions valid in {_WAGES_YEAR} exactly once",
        )
        problems.raise_if_any()
    records = [
        {
            "region_id": region_id,
            "year": _WAGES_YEAR,
            "configuration": "2024",
            **row.values,
        }
        for region_id, row in zip(inferred[1], block.regions, strict=True)
    ]
    for row in block.regions:
        for column, value in row.values.items():
            if math.isnan(value):
                problems.add(
                    f"sheet {ws.title!r}, row {row.excel_row} ({row.label})",
                    f"no value for {column}",
                    "enter the wage figure",
                )
    problems.raise_if_any()
    frame = finish_frame(records, value_columns)
    checks = []
    for column in value_columns:
        national = block.national.values[column] if block.national else math.nan
        low, high = frame[column].min(), frame[column].max()
        checks.append(
            {
                "column": column,
                "national": national,
                "regions_min": low,
                "regions_max": high,
            }
        )
        if not low <= national <= high:
            problems.add(
                f"sheet {ws.title!r}, national row, {column}",
                f"national {national:g} outside the regional range {low:g}..{high:g}",
                "correct the regional rows or the national row",
            )
    problems.raise_if_any()
    frame.attrs = {
        "source": registry_source("wages_2022.xlsx"),
        "dropped_rows": dropped,
        "national_check": checks,
    }
    return frame


def _wage_columns(ws, problems: Problems) -> dict[int, str]:
    """``{column index: value column}`` from the header row; reports missing ones."""
    header = next(sheet_rows(ws), (1, ()))[1]
    columns: dict[int, str] = {}
    for ci, text in enumerate(header):
        key = " ".join(str(text).casefold().split()) if text is not None else ""
        if key in _WAGE_COLUMNS:
            columns[ci] = _WAGE_COLUMNS[key]
    for missing in sorted(
        set(_WAGE_COLUMNS)
        - {k for k, v in _WAGE_COLUMNS.items() if v in columns.values()}
    ):
        problems.add(
            f"sheet {ws.title!r}, row 1",
            f"missing column {missing!r}",
            "restore the header of the original workbook",
        )
    return columns


def _drop_corrupt_rows(regions: list) -> tuple[list, list[dict]]:
    """Rows kept, and a record of each South Kazakhstan row dropped."""
    dropped, kept = [], []
    for row in regions:
        if (
            resolves(row.label, "2010")
            and not resolves(row.label, "2024")
            and resolve_label(row.label, "2010") == _WAGES_CORRUPT_UNIT
        ):
            others = {v for r in regions if r is not row for v in r.values.values()}
            repeated = sum(v in others for v in row.values.values()) / len(row.values)
            dropped.append(
                {
                    "row": row.excel_row,
                    "label": row.label,
                    "reason": "South Kazakhstan did not exist in 2022 (split "
                    "in 2018); the row repeats values of other rows",
                    "share_of_values_found_in_other_rows": repeated,
                }
            )
        else:
            kept.append(row)
    return kept, dropped
