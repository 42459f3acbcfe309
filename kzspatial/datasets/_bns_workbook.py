"""Parser of the BNS regional-statistics workbooks, shared by the loaders.

Reads the layout the Bureau of National Statistics uses in its regional tables: a
header row of periods, a column of region labels (with footnote markers such as
``"Туркестанская 1"``), blocks of rows under a title row, a national total row per
block and footnote rows below. It turns one block into long records
``{region_id, year, configuration, value}``, inferring year by year the border
configuration the rows form, and checks the regions against the national row.

Every problem of a file is collected in a :class:`Problems` and raised at once as a
:class:`~kzspatial._errors.ValidationError` naming the file, sheet, row and fix.
Workbooks are only read, never modified. The loaders live in
:mod:`kzspatial.datasets.regional_stats`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets.fetch import registry
from kzspatial.datasets.regions import (
    CONFIGURATIONS,
    configuration_ids,
    get_region,
    resolve,
)

# Labels of the national total row in the BNS workbooks.
_NATIONAL_LABELS = frozenset(
    {"республика казахстан", "republic of kazakhstan", "the republic of kazakhstan"}
)

# Footnote markers: "Туркестанская 1", "Turkestanskaya 3)", glued "Туркестанская2)".
_LABEL_FOOTNOTE = re.compile(r"(?:\s+(\d+)\)?|(?<=[^\W\d_.])(\d+)\))\s*$")
_FOOTNOTE_ROW = re.compile(r"^\s*(\d+)\)\s*(.*)$", re.DOTALL)
_NO_DATA = frozenset({"", "-", "–", "—", "x", "х", "..."})


class Problems:
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
class Block:
    """Rows under one block title (e.g. «Городское население»), national row apart."""

    title: str | None
    national: _Row | None = None
    regions: list[_Row] = field(default_factory=list)


@dataclass
class _Table:
    sheet: str
    blocks: list[Block]
    footnotes: dict[str, str]


def split_footnote(label: str) -> tuple[str, str | None]:
    """Label without its footnote marker, and the marker (None if there is none)."""
    match = _LABEL_FOOTNOTE.search(label)
    if match is None:
        return label.strip(), None
    return label[: match.start()].strip(), match.group(1) or match.group(2)


def resolve_label(label: str, configuration: str) -> str:
    """Region id of a row label in the given border configuration."""
    return resolve(label, configuration=configuration)


def is_national(label: str) -> bool:
    """Return True for the label of the national total row."""
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


def open_workbook(path: Path, sheets: Iterable[str], problems: Problems):
    """Open for reading (values, not formulas); report missing required sheets."""
    import openpyxl  # here: a run with its data cached never reads a workbook

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


def _column_letter(number: int) -> str:
    """Excel's letters of column ``number`` (1 = A), for messages."""
    from openpyxl.utils import get_column_letter  # loaded with the workbook

    return get_column_letter(number)


def sheet_rows(ws) -> Iterator[tuple[int, tuple]]:
    """``(excel row number, cell values)`` of every row of a worksheet."""
    yield from enumerate(ws.iter_rows(values_only=True), start=1)


def read_table(
    ws,
    *,
    first_row: int,
    columns: dict[int, object],
    problems: Problems,
    label_column: int = 0,
) -> _Table:
    """Read labelled rows below the header into blocks.

    A row whose label is neither a region nor the national total and which has no value
    in ``columns`` is a block title, or a footnote when the label starts with ``"1)"``;
    blank rows are skipped.
    """
    blocks = [Block(title=None)]
    footnotes: dict[str, str] = {}
    for excel_row, cells in sheet_rows(ws):
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
                    f"{_column_letter(label_column + 1)}",
                    "enter the region name or delete the row",
                )
            continue
        name, marker = split_footnote(label)
        if not has_cells and not is_national(name) and not resolves(name, "2010"):
            note = _FOOTNOTE_ROW.match(label)
            if note:
                footnotes[note.group(1)] = " ".join(note.group(2).split())
            else:
                blocks.append(Block(title=" ".join(label.casefold().split())))
            continue
        values: dict[object, float] = {}
        for (ci, key), raw in zip(columns.items(), selected.values(), strict=True):
            value = _number(raw)
            if value is None:
                problems.add(
                    f"sheet {ws.title!r}, row {excel_row}, cell "
                    f"{_column_letter(ci + 1)}{excel_row} ({key})",
                    f"{raw!r} is not a number",
                    "enter a number, or '-' for no data",
                )
                value = math.nan
            values[key] = value
        row = _Row(excel_row, name, marker, values)
        block = blocks[-1]
        if is_national(name):
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


def year_header(
    ws, *, problems: Problems, max_rows: int = 20
) -> tuple[int, dict[int, int]]:
    """Row number and ``{column index: year}`` of the first row with several years."""
    for excel_row, cells in sheet_rows(ws):
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


def check_labels(block: Block, sheet: str, problems: Problems) -> bool:
    """Report region names the resolver does not know; True if all are known."""
    ok = True
    for row in block.regions:
        try:
            resolve_label(row.label, "2010")  # every unit has a home in these borders
        except RegionNameError as exc:
            ok = False
            problems.add(
                f"sheet {sheet!r}, row {row.excel_row}",
                str(exc).split(". Use")[0],
                "use a region name that kzspatial.datasets.regions.resolve knows",
            )
    return ok


def infer_configuration(
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
            ids = [resolve_label(label, configuration) for label in labels]
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


def describe_mismatch(labels: list[str]) -> str:
    """Describe what keeps the labels from forming the nearest border configuration."""
    best = None
    for configuration in CONFIGURATIONS:
        ids = [
            resolve_label(label, configuration)
            if resolves(label, configuration)
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


def resolves(label: str, configuration: str) -> bool:
    """Return True if the label names a unit of the given border configuration."""
    try:
        resolve_label(label, configuration)
    except RegionNameError:
        return False
    return True


def tidy_block(
    block: Block,
    periods: Iterable[object],
    *,
    sheet: str,
    value: str,
    problems: Problems,
    absent_cities: bool = False,
    known: dict[object, str] | None = None,
) -> tuple[list[dict], dict[object, str]]:
    """Long records ``{region_id, year, configuration, value}`` of one block.

    ``known`` fixes the configuration of some periods (taken from a block that is
    unambiguous, e.g. the totals, when ``absent_cities`` makes a block ambiguous).
    """
    records: list[dict] = []
    configurations: dict[object, str] = {}
    if not check_labels(block, sheet, problems):
        return records, configurations
    failures: dict[tuple[str, str], list[object]] = {}  # one problem for many years
    for period in periods:
        present = [row for row in block.regions if not math.isnan(row.values[period])]
        if not present:
            continue
        labels = [row.label for row in present]
        candidates = (known[period],) if known and period in known else CONFIGURATIONS
        inferred = infer_configuration(
            labels, absent_cities=absent_cities, candidates=candidates
        )
        if inferred is None:
            rows = ", ".join(str(r.excel_row) for r in present)
            failures.setdefault((rows, describe_mismatch(labels)), []).append(period)
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


def national_checks(
    block: Block,
    records: list[dict],
    *,
    value: str,
    kind: str,
    sheet: str,
    problems: Problems,
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


def registry_source(key: str) -> dict[str, str]:
    """Provenance of a registered file, for ``df.attrs["source"]``."""
    entry = registry()[key]
    return {
        "key": key,
        "licence": entry.licence,
        "concept": entry.concept,
        "unit": entry.unit,
        "citation": entry.citation,
        "url": entry.url,
    }


def finish_frame(records: list[dict], value_columns: list[str]) -> pd.DataFrame:
    """Return records as a frame sorted by year and catalogue order, fixed columns."""
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


def annual_header(
    ws, pattern: re.Pattern, problems: Problems, max_rows: int = 20
) -> tuple[int, dict[int, int]]:
    """Header row and ``{column index: year}`` of the cells matching ``pattern``."""
    for excel_row, cells in sheet_rows(ws):
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


def configuration_of_years(frame: pd.DataFrame) -> dict[int, str]:
    """``{year: border configuration}`` of a loader's output."""
    pairs = frame[["year", "configuration"]].drop_duplicates()
    return {
        int(y): str(c)
        for y, c in zip(pairs["year"], pairs["configuration"], strict=True)
    }


def unemployment_header(
    ws, problems: Problems
) -> tuple[int, dict[int, int], dict[int, str]]:
    """Row of period labels, ``{column: year}`` of annual columns, footnotes by year."""
    year_row, years = year_header(ws, problems=problems)
    if not years:
        return 0, {}, {}
    labels = next(
        cells for excel_row, cells in sheet_rows(ws) if excel_row == year_row + 1
    )
    columns, notes, current = {}, {}, None
    for ci, label in enumerate(labels):
        current = years.get(ci, current)  # the year cell is merged over five columns
        if isinstance(label, str) and label.strip().casefold().startswith("year"):
            if current is None:
                problems.add(
                    f"sheet {ws.title!r}, cell {_column_letter(ci + 1)}{year_row + 1}",
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
