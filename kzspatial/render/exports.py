"""Exports for the tools analysts use: flowmap.blue, kepler.gl and Excel (edge: disk).

- :func:`write_flowmap_blue`: flowmap.blue's two sheets, ``locations.csv`` (``id, name,
  lat, lon``) and ``flows.csv`` (``origin, dest, count, time``), one row per pair and
  OD year; ``time`` is the first day of the year (ISO 8601), so flowmap.blue's time
  slider steps through the years.
- :func:`write_kepler_csv`: one row per pair and year with ``origin_lat, origin_lng,
  destination_lat, destination_lng`` (kepler.gl pairs these into an arc layer), ``flow``,
  ``year`` and ``time`` (a timestamp for kepler.gl's time filter).
- :func:`write_excel`: a workbook of result tables, its first sheet describing each
  table (name, what it is, concept, unit, source).

Each region is placed at a point inside its polygon (the anchor of the flow maps, not
the centroid, which can fall outside a crescent-shaped region). Self-flows are left
out, as on the maps. Every file is written atomically (:func:`atomic_path`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, REGION_ID, YEAR
from kzspatial._errors import ValidationError
from kzspatial.render._atomic import atomic_path
from kzspatial.render.maps._checks import anchor_points, check_flows, require_columns

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "EXCEL_DESCRIPTION_COLUMNS",
    "kepler_table",
    "write_excel",
    "write_flowmap_blue",
    "write_kepler_csv",
]

#: Columns of the first sheet of :func:`write_excel` (besides ``sheet``).
EXCEL_DESCRIPTION_COLUMNS = ("table", "what it is", "concept", "unit", "source")
_COORD_DECIMALS = 5  # about 1 m
_MAX_SHEET_NAME = 31  # Excel's limit
_ABOUT = "about"  # the first sheet, describing the others


def _locations(
    regions_gdf: gpd.GeoDataFrame, region_id_col: str, name_col: str | None
) -> pd.DataFrame:
    anchors = anchor_points(regions_gdf, region_id_col)
    if name_col is not None:
        require_columns(regions_gdf, [name_col], "regions_gdf")
        names = regions_gdf[name_col].astype(str).to_numpy()
    else:
        names = anchors.index.to_numpy()
    return pd.DataFrame(
        {
            "id": anchors.index.to_numpy(),
            "name": names,
            "lat": anchors["lat"].round(_COORD_DECIMALS).to_numpy(),
            "lon": anchors["lon"].round(_COORD_DECIMALS).to_numpy(),
        }
    )


def _od_by_year(od: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """Validate ``year, origin, destination, flow`` of every year; drop self-flows."""
    require_columns(od, [YEAR, ORIGIN, DESTINATION, FLOW], "od")
    years = sorted(int(y) for y in pd.unique(od[YEAR]))
    if not years:
        raise ValidationError("od has no rows; nothing to export")
    parts = [
        check_flows(
            od,
            anchors,
            origin_col=ORIGIN,
            destination_col=DESTINATION,
            value_col=FLOW,
            year=year,
        )
        for year in years
    ]
    out = pd.concat(parts, ignore_index=True)[[YEAR, ORIGIN, DESTINATION, FLOW]]
    out[YEAR] = out[YEAR].astype(int)
    return out


def _year_start(years: pd.Series) -> pd.Series:
    return years.astype(int).astype(str) + "-01-01"


def write_flowmap_blue(
    folder: str | Path,
    regions_gdf: gpd.GeoDataFrame,
    od: pd.DataFrame,
    *,
    region_id_col: str = REGION_ID,
    name_col: str | None = "name_en",
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write flowmap.blue's ``locations.csv`` and ``flows.csv`` into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Folder of the two files (created if needed).
    regions_gdf : geopandas.GeoDataFrame
        One polygon per region with a CRS, ``region_id_col`` and ``name_col``.
    od : pandas.DataFrame
        Long OD table ``year, origin, destination, flow`` (persons).
    region_id_col, name_col : str
        Columns of ``regions_gdf``; ``name_col=None`` names regions by their ids.
    overwrite : bool
        Replace existing files.

    Returns
    -------
    dict of str -> Path
        ``locations`` and ``flows``.

    Raises
    ------
    ValidationError, AlignmentError, CRSError
        Missing columns, negative or non-numeric flows, duplicate pairs in a year,
        flow ids that are not regions, regions without a CRS.
    OverwriteError
        A file exists and ``overwrite`` is False.
    """
    folder = Path(folder)
    locations = _locations(regions_gdf, region_id_col, name_col)
    flows = _od_by_year(od, locations.set_index("id")[["lon", "lat"]])
    table = pd.DataFrame(
        {
            "origin": flows[ORIGIN],
            "dest": flows[DESTINATION],
            "count": flows[FLOW],
            "time": _year_start(flows[YEAR]),
        }
    )
    written = {}
    for name, frame in (("locations", locations), ("flows", table)):
        target = folder / f"{name}.csv"
        with atomic_path(target, overwrite=overwrite) as tmp:
            frame.to_csv(tmp, index=False)
        written[name] = target
    return written


def kepler_table(
    regions_gdf: gpd.GeoDataFrame,
    od: pd.DataFrame,
    *,
    region_id_col: str = REGION_ID,
    name_col: str | None = "name_en",
) -> pd.DataFrame:
    """OD flows with the coordinates of both ends, one row per pair and year.

    Returns
    -------
    pandas.DataFrame
        ``origin, origin_name, origin_lat, origin_lng, destination, destination_name,
        destination_lat, destination_lng, flow, year, time``.
    """
    locations = _locations(regions_gdf, region_id_col, name_col).set_index("id")
    flows = _od_by_year(od, locations[["lon", "lat"]])
    out = {}
    for end, col in (("origin", ORIGIN), ("destination", DESTINATION)):
        at = locations.loc[flows[col]]
        out[end] = flows[col].to_numpy()
        out[f"{end}_name"] = at["name"].to_numpy()
        out[f"{end}_lat"] = at["lat"].to_numpy()
        out[f"{end}_lng"] = at["lon"].to_numpy()
    out["flow"] = flows[FLOW].to_numpy()
    out["year"] = flows[YEAR].to_numpy()
    out["time"] = (_year_start(flows[YEAR]) + " 00:00:00").to_numpy()
    return pd.DataFrame(out)


def write_kepler_csv(
    path: str | Path,
    regions_gdf: gpd.GeoDataFrame,
    od: pd.DataFrame,
    *,
    region_id_col: str = REGION_ID,
    name_col: str | None = "name_en",
    overwrite: bool = False,
) -> Path:
    """Write :func:`kepler_table` as a CSV that kepler.gl turns into an arc layer.

    Parameters
    ----------
    path : str or Path
        CSV file to write.
    regions_gdf, od, region_id_col, name_col
        As for :func:`write_flowmap_blue`.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.
    """
    table = kepler_table(
        regions_gdf, od, region_id_col=region_id_col, name_col=name_col
    )
    path = Path(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        table.to_csv(tmp, index=False)
    return path


def _sheet_names(names: list[str]) -> dict[str, str]:
    """Make unique sheet names of at most 31 characters (Excel's limit), not "about"."""
    out: dict[str, str] = {}
    used: set[str] = {_ABOUT}
    for name in names:
        sheet = name[:_MAX_SHEET_NAME]
        k = 2
        while sheet.casefold() in used:
            suffix = f"~{k}"
            sheet = name[: _MAX_SHEET_NAME - len(suffix)] + suffix
            k += 1
        used.add(sheet.casefold())
        out[name] = sheet
    return out


def write_excel(
    path: str | Path,
    tables: Mapping[str, pd.DataFrame],
    descriptions: Mapping[str, Mapping[str, str]],
    *,
    overwrite: bool = False,
) -> Path:
    """Write result tables to an Excel workbook whose first sheet describes them.

    Parameters
    ----------
    path : str or Path
        ``.xlsx`` file to write.
    tables : mapping of str to pandas.DataFrame
        The tables by name, one sheet each (names cut to Excel's 31 characters and
        made unique; the first sheet gives the full name).
    descriptions : mapping of str to mapping
        For every table, ``what it is``, ``concept``, ``unit`` and ``source``.
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValidationError
        No tables, a table without a description, or a description lacking a field.
    OverwriteError
        ``path`` exists and ``overwrite`` is False.
    """
    if not tables:
        raise ValidationError("no tables to write to the workbook")
    fields = EXCEL_DESCRIPTION_COLUMNS[1:]
    problems = [
        f"{name}: no description"
        if name not in descriptions
        else f"{name}: description lacks {missing}"
        for name in tables
        if name not in descriptions
        or (missing := [f for f in fields if not descriptions[name].get(f)])
    ]
    if problems:
        raise ValidationError(
            "every table needs a description with "
            f"{list(fields)}: " + "; ".join(problems)
        )
    sheets = _sheet_names(list(tables))
    about = pd.DataFrame(
        [
            {"sheet": sheets[name], "table": name}
            | {f: descriptions[name][f] for f in fields}
            | {"rows": len(frame), "columns": ", ".join(map(str, frame.columns))}
            for name, frame in tables.items()
        ]
    )
    path = Path(path)
    with (
        atomic_path(path, overwrite=overwrite) as tmp,
        pd.ExcelWriter(tmp, engine="openpyxl") as writer,
    ):
        about.to_excel(writer, sheet_name=_ABOUT, index=False)
        for name, frame in tables.items():
            frame.to_excel(writer, sheet_name=sheets[name], index=False)
        for sheet in writer.book.worksheets:
            sheet.freeze_panes = "A2"
    return path
