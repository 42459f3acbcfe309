"""Population at 1 January by region, sex and urban/rural (BNS workbook).

The conventions of every BNS loader (columns, border configurations, checks against the
national row, ``attrs``) are described in :mod:`kzspatial.datasets.regional_stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets._bns_workbook import (
    Problems,
    finish_frame,
    is_national,
    national_checks,
    open_workbook,
    read_table,
    registry_source,
    resolve_label,
    split_footnote,
    tidy_block,
    year_header,
)
from kzspatial.datasets.fetch import fetch
from kzspatial.datasets.regions import get_region

__all__ = ["load_population"]

_POPULATION_SHEETS = {"total": "Все население", "male": "Мужчины", "female": "Женщины"}
_POPULATION_BLOCKS = {
    "мужчины": "total",
    "женщины": "total",
    "городское население": "urban",
    "сельское население": "rural",
}
# BNS reclassified urban settlements with effect from 1 January 2008 (visible in the
# file as a fall of the national urban count from 2007 to 2008, the total being smooth).
_URBAN_BREAK_YEAR = 2008


def load_population(
    *,
    measure: str = "all",
    path: str | Path | None = None,
    csv_path: str | Path | None = None,
) -> pd.DataFrame:
    """Resident population on 1 January by region, 2000-2023, total, urban and rural.

    Concept: resident (de jure) population at the beginning of the year, BNS estimates
    in the borders in which the file gives each year. Unit: persons.

    Parameters
    ----------
    measure : {"all", "total", "urban", "rural"}
        Value columns returned: ``"all"`` gives ``population``, ``urban``, ``rural``,
        ``urban_share`` and ``urban_definition``; ``"total"`` gives ``population``;
        ``"urban"`` ``urban``; ``"rural"`` ``rural``.
    path : str or Path, optional
        Workbook laid out as the registered ``population_source.xlsx`` (sheets
        «Все население», «Мужчины», «Женщины»). Default: the registered file.
    csv_path : str or Path, optional
        Long table (``Область, Год, Население``) to cross-check the totals against.
        Default: the registered ``population_csv_final.csv`` when ``path`` is None,
        otherwise no cross-check.

    Returns
    -------
    pandas.DataFrame
        One row per region and year: ``region_id``, ``year``, ``configuration`` and the
        value columns of ``measure``. ``population = urban + rural`` exactly; urban and
        rural are the sums of the male and female sheets; ``urban_share`` is a fraction.

    Raises
    ------
    ValidationError
        Missing sheet, non-numeric cell, unknown region, a year whose rows form no
        border configuration, or counts that do not add up (regions to the national
        total, men + women to the total, urban + rural to the total), all reported at
        once.

    Notes
    -----
    What the registered file contains (checked by the tests, inferred by the loader):

    - 2000-2016: 16 units (configuration ``"2010"``); the row «Туркестанская 1» holds
      South Kazakhstan including Shymkent (its footnote: data for 2000-2016 refer to
      South Kazakhstan) and is returned as ``KZ-51``.
    - 2017-2021: 17 units (``"2018"``), Turkistan and Shymkent separate already on
      1 January 2017 and 2018, before the June 2018 split: BNS republished those years.
    - 2022-2023: 20 units (``"2024"``), Abai, Zhetysu and Ulytau separate already on
      1 January 2022, although they were created in June 2022.

    Breaks inside the series, not corrected here:

    - urban/rural: reclassification of settlements with effect from 1 January 2008 (the
      national urban count falls from 2007 to 2008 while the total does not);
      ``urban_definition`` is ``"pre-2008"`` or ``"2008"``, and ``df.attrs["breaks"]``
      records it;
    - level: from 2009 the totals are consistent with the 2009 census, earlier years
      are not revised (national total +2.6 % between 2008 and 2009);
    - 2014/2015: territory passed from Almaty Region to Almaty city.

    The cities of republican significance have no row in the rural blocks; their rural
    population is 0 (checked: their urban count equals their total).
    """
    if measure not in {"all", "total", "urban", "rural"}:
        raise ValidationError(
            f"measure={measure!r} is not one of 'all', 'total', 'urban', 'rural'"
        )
    registered = path is None
    path = Path(fetch("population_source.xlsx") if registered else path)
    problems = Problems(path)
    workbook = open_workbook(path, _POPULATION_SHEETS.values(), problems)
    problems.raise_if_any()

    sheets = _read_population_sheets(workbook, problems)
    records = _combine_sexes(sheets, problems)
    problems.raise_if_any()

    frame = finish_frame(records, ["population", "urban", "rural"])
    for column in ("population", "urban", "rural"):
        frame[column] = frame[column].astype("int64")
    frame["urban_share"] = frame["urban"] / frame["population"]
    frame["urban_definition"] = frame["year"].map(
        lambda y: "pre-2008" if y < _URBAN_BREAK_YEAR else "2008"
    )

    csv_check = None
    if csv_path is not None or registered:
        csv_path = Path(
            fetch("population_csv_final.csv") if csv_path is None else csv_path
        )
        csv_check = _cross_check_population_csv(
            csv_path, frame, sheets.national.get(("total", "total"), {})
        )

    keep = {
        "all": ["population", "urban", "rural", "urban_share", "urban_definition"],
        "total": ["population"],
        "urban": ["urban"],
        "rural": ["rural"],
    }[measure]
    frame = frame[["region_id", "year", "configuration", *keep]]
    frame.attrs = {
        "source": registry_source("population_source.xlsx"),
        "reference_date": "1 January",
        "configuration_by_year": dict(sorted(sheets.configuration_by_year.items())),
        "national_check": sheets.checks,
        "csv_cross_check": csv_check,
        "breaks": [
            {
                "year": _URBAN_BREAK_YEAR,
                "columns": ["urban", "rural", "urban_share"],
                "description": "urban settlements reclassified from 1 January 2008",
            },
            {
                "year": 2009,
                "columns": ["population", "urban", "rural"],
                "description": "level shift: from 2009 consistent with the 2009 census",
            },
        ],
        "footnotes": sheets.footnotes,
    }
    return frame


@dataclass
class _PopulationSheets:
    """What the three sheets give, before men and women are combined."""

    # (sheet key, block kind) -> {(year, region_id): population}
    series: dict[tuple[str, str], dict[tuple[int, str], float]] = field(
        default_factory=dict
    )
    # (sheet key, block kind) -> {year: national total}
    national: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    configuration_by_year: dict[int, str] = field(default_factory=dict)
    footnotes: dict[str, str] = field(default_factory=dict)


def _read_population_sheets(workbook, problems: Problems) -> _PopulationSheets:
    """Every block of the three sheets, one border configuration per year."""
    sheets = _PopulationSheets()
    for sheet_key, sheet in _POPULATION_SHEETS.items():
        ws = workbook[sheet]
        header_row, years = year_header(ws, problems=problems)
        if not years:
            continue
        table = read_table(
            ws, first_row=header_row + 1, columns=years, problems=problems
        )
        sheets.footnotes.update({f"{sheet} {k}": v for k, v in table.footnotes.items()})
        for block in table.blocks:
            kind = (
                "total" if block.title is None else _POPULATION_BLOCKS.get(block.title)
            )
            if kind is None:
                problems.add(
                    f"sheet {sheet!r}",
                    f"unexpected block title {block.title!r}",
                    f"use one of {sorted(_POPULATION_BLOCKS)}",
                )
                continue
            records, confs = tidy_block(
                block,
                years.values(),
                sheet=sheet,
                value="population",
                problems=problems,
                absent_cities=kind == "rural",
                known=sheets.configuration_by_year,
            )
            for year, conf in confs.items():
                if sheets.configuration_by_year.setdefault(year, conf) != conf:
                    problems.add(
                        f"sheet {sheet!r}, {year}",
                        f"regions form configuration {conf} here but "
                        f"{sheets.configuration_by_year[year]} elsewhere",
                        "give every sheet and block in the same borders",
                    )
            sheets.series[sheet_key, kind] = {
                (r["year"], r["region_id"]): r["population"] for r in records
            }
            sheets.national[sheet_key, kind] = (
                {y: v for y, v in block.national.values.items() if not math.isnan(v)}
                if block.national
                else {}
            )
            for check in national_checks(
                block,
                records,
                value="population",
                kind="sum",
                sheet=sheet,
                problems=problems,
            ):
                sheets.checks.append({"sheet": sheet, "block": kind, **check})
    problems.raise_if_any()

    for key in [
        ("total", "total"),
        *[(s, b) for s in ("male", "female") for b in ("total", "urban", "rural")],
    ]:
        if key not in sheets.series:
            problems.add(
                f"sheet {_POPULATION_SHEETS[key[0]]!r}",
                f"no {key[1]} block",
                "restore the block (title row, national row, regions)",
            )
    problems.raise_if_any()
    return sheets


def _combine_sexes(sheets: _PopulationSheets, problems: Problems) -> list[dict]:
    """Sum men + women into total, urban and rural records; check against the totals."""
    records = []
    for (year, region_id), population in sorted(
        sheets.series["total", "total"].items()
    ):
        counts = {}
        for kind in ("total", "urban", "rural"):
            parts = [
                sheets.series[sex, kind].get((year, region_id))
                for sex in ("male", "female")
            ]
            if (
                kind == "rural"
                and parts == [None, None]
                and get_region(region_id).kind == "city"
            ):
                parts = [0.0, 0.0]  # cities of republican significance: no rural row
            if None in parts:
                problems.add(
                    f"sheets 'Мужчины'/'Женщины', {kind} block, {year}",
                    f"no value for {region_id}",
                    "restore the row",
                )
                break
            counts[kind] = sum(parts)
        else:
            where = f"{region_id}, {year}"
            if counts["total"] != population:
                problems.add(
                    where,
                    f"men + women = {counts['total']:g} but the total "
                    f"is {population:g}",
                    "correct the sex-specific or total rows",
                )
            if counts["urban"] + counts["rural"] != population:
                both = counts["urban"] + counts["rural"]
                problems.add(
                    where,
                    f"urban + rural = {both:g} but the total is {population:g}",
                    "correct the urban or rural rows",
                )
            records.append(
                {
                    "region_id": region_id,
                    "year": year,
                    "configuration": sheets.configuration_by_year[year],
                    "population": population,
                    "urban": counts["urban"],
                    "rural": counts["rural"],
                }
            )
    return records


def _cross_check_population_csv(
    csv_path: Path, frame: pd.DataFrame, national: dict[int, float]
) -> dict:
    """Compare the workbook totals with the long CSV; any difference is an error."""
    problems = Problems(csv_path)
    try:
        table = pd.read_csv(csv_path, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValidationError(
            f"{csv_path} is not a UTF-8 CSV ({exc}). Fix: pass the "
            "original csv_final.csv"
        ) from exc
    missing = {"Область", "Год", "Население"} - set(table.columns)
    if missing:
        problems.add(
            "header",
            f"missing column(s) {sorted(missing)}",
            "restore the columns Область, Год, Население",
        )
        problems.raise_if_any()
    years = set(frame["year"])
    table = table[table["Год"].isin(years)]
    expected = {(int(r.year), r.region_id): r.population for r in frame.itertuples()}
    by_year_conf = dict(zip(frame["year"], frame["configuration"], strict=False))
    mismatches = []
    for line, row in table.iterrows():
        year, label, value = int(row["Год"]), str(row["Область"]), row["Население"]
        if is_national(label):
            reference = national.get(year)
        else:
            name = split_footnote(label)[0]
            try:
                region_id = resolve_label(name, by_year_conf[year])
            except RegionNameError as exc:
                problems.add(
                    f"line {line + 2}",
                    str(exc).split(". Use")[0],
                    "use a region name that kzspatial.datasets.regions.resolve knows",
                )
                continue
            reference = expected.get((year, region_id))
        if reference is None or not math.isclose(float(value), float(reference)):
            mismatches.append(
                {
                    "year": year,
                    "label": label,
                    "csv": float(value),
                    "workbook": reference,
                }
            )
    problems.raise_if_any()
    if mismatches:
        problems.add(
            "rows",
            f"{len(mismatches)} value(s) differ from the workbook, "
            f"e.g. {mismatches[:3]}",
            "use the CSV and workbook of the same release",
        )
        problems.raise_if_any()
    return {"file": csv_path.name, "rows_compared": len(table), "mismatches": 0}


# --------------------------------------------------------------------------- GRP
