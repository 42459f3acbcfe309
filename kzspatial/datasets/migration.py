"""Reading and validating migration tables.

The BNS origin-destination file, the monthly arrivals/departures file, and user OD
tables.

Every reader reports *all* problems of a file at once, naming the file, the row (line number
in the file, header = line 1) and the fix. Nothing the caller passed in is modified.

Statistical concepts
--------------------
- **Moves between regions** (interregional migration): persons who changed permanent residence
  from one region to another during the year. This is what the OD matrix counts; its regional
  nets sum to zero over the republic.
- **All moves within the republic**: additionally includes moves between settlements of the
  same region. The monthly file's arrivals and departures count this, so they exceed the OD
  in- and out-flows; its nets equal the interregional nets.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.datasets.fetch import fetch, registry
from kzspatial.datasets.regions import resolve

__all__ = [
    "DEFAULT_OD_YEARS",
    "OD_YEAR_STATUS",
    "PART_YEARS",
    "load_monthly_migration",
    "load_od_flows",
    "read_od_csv",
]

# What is known about each year of the BNS OD file (Diar299/kz-migration), from comparisons
# with official BNS regional nets documented in the data README; `kzspatial data check`
# reproduces the 2022-2024 part against the independent monthly file.
OD_YEAR_STATUS: dict[int, str] = {
    2010: "unchecked: no independent figures available here",
    2015: "unchecked: no independent figures available here",
    2020: "unchecked: no independent figures available here",
    2021: "checked against rounded official regional nets",
    2022: "excluded: regional nets contradict the official ones (e.g. Astana negative)",
    2023: "checked: official regional nets matched for 18 of 20 regions",
    2024: "checked: reproduces the official regional nets exactly",
    2025: "part year: the source does not state which months it covers; not "
    "comparable with full years",
}
#: Years that do not cover a whole calendar year (loading them warns).
PART_YEARS = frozenset(
    y for y, s in OD_YEAR_STATUS.items() if s.startswith("part year")
)
_INT64_MAX = float(np.iinfo(np.int64).max)
DEFAULT_OD_YEARS = (2010, 2015, 2020, 2021, 2023, 2024)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise ValidationError(
            f"{path}: the file is empty; expected a CSV with a header row "
            "and one row per origin-destination pair"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{path}: line {line} is not valid UTF-8 (byte {exc.start}); re-save the file "
            "as UTF-8 (in Excel: 'CSV UTF-8')"
        ) from None


def _parse_csv(path: Path, text: str) -> pd.DataFrame:
    """Parse CSV text into strings, one row per record.

    A record with more or fewer fields than the header, a repeated column name or a
    malformed quote raises ValidationError (pandas would shift the columns of a longer
    record into an index). ``attrs["line"]`` holds each row's line number in the file.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        rows, lines, problems = [], [], []
        for record in reader:
            if not any(field.strip() for field in record):
                continue  # blank line
            if len(record) != len(header):
                problems.append(
                    f"line {reader.line_num}: {len(record)} fields, the header has "
                    f"{len(header)}; quote fields that contain commas"
                )
            rows.append(record)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise ValidationError(
            f"{path}: line {reader.line_num} is not valid CSV ({exc})"
        ) from None
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.insert(0, f"line 1: column(s) {repeated} occur more than once")
    if problems:
        raise ValidationError(
            f"{path}: {len(problems)} problem(s) in the CSV layout:\n  "
            + "\n  ".join(problems[:50])
        )
    table = pd.DataFrame(rows, columns=header, dtype=str)
    table.attrs["line"] = lines
    return table


def _is_whole_year(value: object) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and np.isfinite(value)
        and float(value).is_integer()
        and 0 < value < 10_000
    )


def _parse_years(raw: pd.Series, line: np.ndarray, problems: list[str]) -> np.ndarray:
    """Parse the year column; anything but a whole year is a problem of its line."""
    values = pd.to_numeric(raw.str.strip(), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 1e4)
    for k in np.flatnonzero(~ok):
        what = "is not a number" if np.isnan(values[k]) else "is not a whole year"
        problems.append(
            f"line {line[k]}: year {raw.iat[k]!r} {what}; write years like 2024"
        )
    return np.where(ok, values, -1).astype(np.int64)


def _parse_counts(
    raw: pd.Series, line: np.ndarray, problems: list[str], counts: str
) -> np.ndarray:
    """Parse counts of persons (float64), listing the problems of each line.

    Non-numbers and negatives are problems; for integer counts also fractions and values
    outside int64.
    """
    clean = raw.str.strip().str.replace(" ", "", regex=False)
    flow = pd.to_numeric(clean, errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(flow)
    for k in np.flatnonzero(~finite):
        what = "is not a number" if np.isnan(flow[k]) else "is infinite"
        problems.append(
            f"line {line[k]}: count {raw.iat[k]!r} {what}; counts must be persons "
            "(e.g. 1234)"
        )
    for k in np.flatnonzero(finite & (flow < 0)):
        problems.append(
            f"line {line[k]}: count {flow[k]:g} is negative; migration counts are >= 0"
        )
    if counts == "integer":
        too_big = finite & (np.abs(flow) >= _INT64_MAX)
        for k in np.flatnonzero(too_big):
            problems.append(
                f"line {line[k]}: count {raw.iat[k]!r} is outside the range of a "
                "64-bit integer; it cannot be a number of persons"
            )
        for k in np.flatnonzero(finite & ~too_big & (flow != np.round(flow))):
            problems.append(
                f"line {line[k]}: count {flow[k]:g} is not a whole number of "
                "persons (pass counts='real' for estimates)"
            )
    return flow


def read_od_csv(
    path: str | Path,
    *,
    origin_col: str | None = None,
    destination_col: str | None = None,
    flow_col: str | None = None,
    year_col: str | None = None,
    year: int | None = None,
    configuration: str = "2024",
    counts: str = "integer",
) -> pd.DataFrame:
    """Read and validate an origin-destination table.

    Column names default to kzspatial's (``origin, destination, flow, year``) or the BNS
    file's (``region_emmigr, region_immigr, N, Year``), whichever the file has.

    Parameters
    ----------
    path : str or Path
        CSV file, UTF-8.
    origin_col, destination_col, flow_col, year_col : str, optional
        Column names in the file.
    year : int, optional
        Year of every row when the file has no year column.
    configuration : {"2024", "2018", "2010"}
        Border configuration in which region names are resolved.
    counts : {"integer", "real"}
        ``"integer"`` requires whole numbers of persons.

    Returns
    -------
    pandas.DataFrame
        Columns ``year`` (int), ``origin``, ``destination`` (region ids), ``flow`` (persons),
        sorted by year, origin, destination; ``attrs["configuration"]`` records the borders.

    Raises
    ------
    ValidationError
        Empty file, wrong encoding, missing column, non-numeric / negative / non-integer
        count, unknown region, self-flow or duplicated pair; all problems listed at once
        with their line numbers.
    """
    path = Path(path)
    if counts not in ("integer", "real"):
        raise ValidationError(f"counts must be 'integer' or 'real', got {counts!r}")
    if year is not None and not _is_whole_year(year):
        raise ValidationError(f"year must be a whole year such as 2024, got {year!r}")
    table = _parse_csv(path, _read_text(path))
    if table.empty:
        raise ValidationError(f"{path}: the file has a header but no rows")
    columns = {}
    for role, given, fallbacks in (
        (ORIGIN, origin_col, (ORIGIN, "region_emmigr")),
        (DESTINATION, destination_col, (DESTINATION, "region_immigr")),
        (FLOW, flow_col, (FLOW, "N")),
        (YEAR, year_col, (YEAR, "Year")),
    ):
        options = (given,) if given else fallbacks
        found = next((c for c in options if c in table.columns), None)
        if found is None and not (role == YEAR and year is not None):
            raise ValidationError(
                f"{path}: no {role} column (looked for {', '.join(map(repr, options))}; "
                f"the file has {list(table.columns)}). Rename the column or pass "
                f"{role}_col='...'"
            )
        columns[role] = found

    problems: list[str] = []
    line = np.asarray(table.attrs["line"])  # header is line 1
    if columns[YEAR] is None:
        years = np.full(len(table), int(year))
    else:
        years = _parse_years(table[columns[YEAR]], line, problems)
    flow = _parse_counts(table[columns[FLOW]], line, problems, counts)

    ids = {}
    for role in (ORIGIN, DESTINATION):
        resolved = []
        for k, name in enumerate(table[columns[role]]):
            try:
                resolved.append(resolve(name, configuration=configuration))
            except RegionNameError as exc:
                problems.append(f"line {line[k]}: {role} {exc}")
                resolved.append(None)
        ids[role] = np.array(resolved, dtype=object)
    both = (ids[ORIGIN] != None) & (ids[DESTINATION] != None)  # noqa: E711
    for k in np.flatnonzero(both & (ids[ORIGIN] == ids[DESTINATION])):
        problems.append(
            f"line {line[k]}: self-flow {table[columns[ORIGIN]].iat[k]!r} -> "
            f"{table[columns[DESTINATION]].iat[k]!r}; an interregional OD table "
            "has no flows within a region: delete the row"
        )
    keys = pd.Series(
        [
            f"{y}|{o}|{d}"
            for y, o, d in zip(years, ids[ORIGIN], ids[DESTINATION], strict=True)
        ]
    )
    dup = keys.duplicated(keep=False).to_numpy() & both
    for key in dict.fromkeys(keys[dup]):
        rows = ", ".join(str(x) for x in line[(keys == key).to_numpy()])
        y, o, d = key.split("|")
        problems.append(
            f"lines {rows}: pair {o} -> {d} in {y} occurs more than once; "
            "keep one row per pair and year"
        )
    if problems:
        shown = problems[:50]
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise ValidationError(
            f"{path}: {len(problems)} problem(s) in the OD table:\n  "
            + "\n  ".join(shown)
            + more
        )
    out = pd.DataFrame(
        {
            YEAR: years,
            ORIGIN: ids[ORIGIN].astype(str),
            DESTINATION: ids[DESTINATION].astype(str),
            FLOW: flow.astype(np.int64) if counts == "integer" else flow,
        }
    )
    out = out.sort_values([YEAR, ORIGIN, DESTINATION], ignore_index=True)
    out.attrs["configuration"] = configuration
    out.attrs["source"] = str(path)
    return out


def load_od_flows(
    years: Iterable[int] | None = None, *, include_2022: bool = False
) -> pd.DataFrame:
    """Interregional migration flows between the 20 regions (BNS), long format.

    Concept: persons who changed permanent residence between two different regions during
    the year (moves between regions). Unit: persons per year. All years are expressed in
    today's 20 regions (configuration ``"2024"``).

    Parameters
    ----------
    years : iterable of int, optional
        Years to load; default :data:`DEFAULT_OD_YEARS` (every full year except 2022).
    include_2022 : bool, default False
        2022 is excluded because its regional nets contradict the official BNS nets (Astana
        comes out negative). Set True to load it anyway; a warning is emitted.

    Returns
    -------
    pandas.DataFrame
        Columns ``year, origin, destination, flow``; 380 pairs per year.
        ``attrs["year_status"]`` maps each year to what is known of its quality.

    Raises
    ------
    ValidationError
        A requested year is not in the file, or 2022 was asked for without ``include_2022``.
    """
    if years is not None:
        years = list(years)
        bad = [y for y in years if not _is_whole_year(y)]
        if bad:
            raise ValidationError(
                f"years must be whole years such as 2024, got {bad}; available: "
                f"{sorted(OD_YEAR_STATUS)}"
            )
    wanted = tuple(
        DEFAULT_OD_YEARS if years is None else sorted({int(y) for y in years})
    )
    if 2022 in wanted and not include_2022:
        raise ValidationError(
            "2022 is excluded by default: its regional nets contradict the official BNS nets "
            "(e.g. Astana comes out negative). Pass include_2022=True (on the command "
            "line: --include-2022) to load it anyway"
        )
    entry = registry()["od_interregional.csv"]
    flows = read_od_csv(fetch(entry.key))
    available = sorted(set(flows[YEAR]))
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise ValidationError(
            f"years {missing} are not in {entry.url}; available: {available}"
        )
    for part in sorted(PART_YEARS & set(wanted)):
        warnings.warn(
            f"{part} is a {OD_YEAR_STATUS[part]} (recorded in attrs['year_status'] "
            "and the provenance table)",
            UserWarning,
            stacklevel=2,
        )
    if 2022 in wanted:
        warnings.warn(
            "loading 2022 OD flows: their regional nets contradict the official "
            "BNS nets; do not use them for conclusions",
            UserWarning,
            stacklevel=2,
        )
    out = flows[flows[YEAR].isin(wanted)].reset_index(drop=True)
    out.attrs.update(
        configuration="2024",
        source=entry.key,
        concept=entry.concept,
        unit=entry.unit,
        licence=entry.licence,
        year_status={y: OD_YEAR_STATUS.get(y, "unchecked") for y in wanted},
    )
    return out


_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)


def load_monthly_migration(
    years: Iterable[int] = (2022, 2023, 2024), *, annual: bool = True
) -> pd.DataFrame:
    """Arrivals, departures and net migration by region (BNS), 2022-2024.

    Concept: **all moves within the republic** — within-region moves are included in
    arrivals and departures, so these exceed the OD in- and out-flows; the nets equal the
    interregional nets. Unit: persons. Regions in today's 20 units. The 2022 and 2023 files
    hold annual totals only ("Total" rows); 2024 holds 12 months.

    Parameters
    ----------
    years : iterable of int
    annual : bool, default True
        Return one row per region and year (months summed). With False, rows are as in
        the files: ``month`` 1-12, or missing for an annual "Total" row.

    Returns
    -------
    pandas.DataFrame
        Columns ``year, region_id, arrivals, departures, net`` (plus ``month`` when
        ``annual=False``).

    Raises
    ------
    ValidationError
        Malformed file: unknown region or month, non-numeric counts, ``net`` not equal to
        ``arrivals - departures``, or a region without either a "Total" row or 12 months.
    """
    frames = []
    for year in years:
        key = f"monthly_{int(year)}.csv"
        if key not in registry():
            raise ValidationError(
                f"no monthly migration file for {year}; available years: "
                "2022, 2023, 2024"
            )
        path = fetch(key)
        table = pd.read_csv(io.StringIO(_read_text(path)), dtype=str)
        need = {"region", "month", "arrivals", "departures", "net"}
        if not need <= set(table.columns):
            raise ValidationError(
                f"{path}: missing columns {sorted(need - set(table.columns))}"
            )
        problems = []
        region_ids = []
        for k, name in enumerate(table["region"]):
            try:
                region_ids.append(resolve(name))
            except RegionNameError as exc:
                problems.append(f"line {k + 2}: {exc}")
                region_ids.append(None)
        month_name = table["month"].str.strip().str.casefold()
        is_total = (month_name == "total").to_numpy()
        month = month_name.map({m: i + 1 for i, m in enumerate(_MONTHS)})
        for k in np.flatnonzero(month.isna().to_numpy() & ~is_total):
            problems.append(
                f"line {k + 2}: unknown month {table['month'].iat[k]!r} "
                "(expected a month name or 'Total')"
            )
        values = {
            c: pd.to_numeric(table[c], errors="coerce")
            for c in ("arrivals", "departures", "net")
        }
        for c, v in values.items():
            for k in np.flatnonzero(v.isna().to_numpy()):
                problems.append(
                    f"line {k + 2}: {c} {table[c].iat[k]!r} is not a number"
                )
        bad_net = (
            values["arrivals"] - values["departures"] != values["net"]
        ).to_numpy()
        for k in np.flatnonzero(bad_net & ~values["net"].isna().to_numpy()):
            problems.append(f"line {k + 2}: net != arrivals - departures")
        if problems:
            raise ValidationError(
                f"{path}: {len(problems)} problem(s):\n  " + "\n  ".join(problems[:50])
            )
        frame = pd.DataFrame(
            {
                YEAR: int(year),
                "month": month.astype("Int64"),
                "region_id": region_ids,
                **{c: v.astype(np.int64) for c, v in values.items()},
            }
        )
        per_region = frame.groupby("region_id")["month"].agg(
            lambda m: (
                "total"
                if m.isna().sum() == 1 and len(m) == 1
                else (
                    "months"
                    if m.notna().all() and m.nunique() == 12 and len(m) == 12
                    else "bad"
                )
            )
        )
        if len(per_region) != 20 or (per_region == "bad").any():
            raise ValidationError(
                f"{path}: each of the 20 regions needs one 'Total' row or 12 monthly rows; "
                f"found {len(per_region)} regions, malformed: "
                f"{sorted(per_region[per_region == 'bad'].index)}"
            )
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    if annual:
        out = out.groupby([YEAR, "region_id"], as_index=False)[
            ["arrivals", "departures", "net"]
        ].sum()
    entry = registry()["monthly_2024.csv"]
    out.attrs.update(
        configuration="2024",
        source=entry.dataset,
        concept=entry.concept,
        unit=entry.unit,
    )
    return out
