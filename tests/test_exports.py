"""Exports for flowmap.blue, kepler.gl and Excel, read back with csv and openpyxl.

Totals are compared with the OD table they came from (self-flows are not exported, as on
the maps), coordinates with points computed here from the polygons.
"""

from __future__ import annotations

import csv
from collections import defaultdict

import kz_synthetic as syn
import numpy as np
import openpyxl
import pandas as pd
import pytest
import shapely

from kzspatial._errors import AlignmentError, OverwriteError, ValidationError
from kzspatial.render.exports import (
    write_excel,
    write_flowmap_blue,
    write_kepler_csv,
)

YEARS = (2021, 2023, 2024)


@pytest.fixture(scope="module")
def regions():
    return syn.regions()


@pytest.fixture(scope="module")
def od(regions):
    flows = syn.od_flows(regions, years=YEARS, seed=3)[
        ["year", "origin", "destination", "flow"]
    ]
    # a self-flow, which has no arc and is not exported
    extra = pd.DataFrame(
        {"year": [2024], "origin": ["KZ-71"], "destination": ["KZ-71"], "flow": [999]}
    )
    return pd.concat([flows, extra], ignore_index=True)


def _read(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _od_totals(od):
    between = od[od["origin"] != od["destination"]]
    return between.groupby("year")["flow"].sum().to_dict()


def test_flowmap_blue_sheets_hold_every_year_and_the_od_totals(tmp_path, regions, od):
    written = write_flowmap_blue(tmp_path / "fm", regions, od)
    locations = _read(written["locations"])
    assert list(locations[0]) == ["id", "name", "lat", "lon"]
    assert [r["id"] for r in locations] == regions["region_id"].tolist()
    # every location lies inside its own polygon
    for row, geom in zip(locations, regions.geometry, strict=True):
        assert geom.contains(shapely.Point(float(row["lon"]), float(row["lat"])))
    flows = _read(written["flows"])
    assert list(flows[0]) == ["origin", "dest", "count", "time"]
    totals = defaultdict(float)
    for row in flows:
        totals[int(row["time"][:4])] += float(row["count"])
        assert row["time"].endswith("-01-01")
        assert row["origin"] != row["dest"]
    assert dict(totals) == pytest.approx(_od_totals(od))
    ids = {r["id"] for r in locations}
    assert {r["origin"] for r in flows} | {r["dest"] for r in flows} <= ids


def test_kepler_csv_has_both_ends_and_the_od_totals(tmp_path, regions, od):
    path = write_kepler_csv(tmp_path / "kepler.csv", regions, od)
    rows = _read(path)
    assert {
        "origin_lat",
        "origin_lng",
        "destination_lat",
        "destination_lng",
        "flow",
        "year",
        "time",
    } <= set(rows[0])
    totals = defaultdict(float)
    for row in rows:
        totals[int(row["year"])] += float(row["flow"])
    assert dict(totals) == pytest.approx(_od_totals(od))
    points = regions.set_index("region_id").geometry
    for row in rows[:50]:
        for end in ("origin", "destination"):
            point = shapely.Point(float(row[f"{end}_lng"]), float(row[f"{end}_lat"]))
            assert points[row[end]].contains(point)


def test_exports_refuse_bad_input_and_existing_files(tmp_path, regions, od):
    bad = od.copy()
    bad.loc[0, "origin"] = "KZ-XX"
    with pytest.raises(AlignmentError, match="KZ-XX"):
        write_kepler_csv(tmp_path / "k.csv", regions, bad)
    negative = od.copy()
    negative.loc[0, "flow"] = -5
    with pytest.raises(ValidationError, match="negative"):
        write_flowmap_blue(tmp_path / "fm", regions, negative)
    with pytest.raises(ValidationError, match="'year'"):
        write_kepler_csv(tmp_path / "k.csv", regions, od.drop(columns="year"))
    write_kepler_csv(tmp_path / "k.csv", regions, od)
    with pytest.raises(OverwriteError, match="exists"):
        write_kepler_csv(tmp_path / "k.csv", regions, od)
    assert not list(tmp_path.glob(".k.csv.*"))  # no temporary left behind


def _description(unit="persons"):
    return {"what it is": "t", "concept": "c", "unit": unit, "source": "s"}


def test_excel_workbook_describes_and_holds_each_table(tmp_path, od):
    long_name = "a_table_name_longer_than_excel_allows_for_sheets"
    tables = {
        "od": od,
        long_name: pd.DataFrame({"x": [1.5, np.nan], "label": ["a", "b"]}),
        long_name + "_too": pd.DataFrame({"y": [1]}),
    }
    path = write_excel(
        tmp_path / "t.xlsx",
        tables,
        {name: _description() for name in tables},
    )
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames[0] == "about"
    about = list(book["about"].values)
    header = about[0]
    assert header[:6] == ("sheet", "table", "what it is", "concept", "unit", "source")
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in about[1:]}
    assert set(rows) == set(tables)
    sheets = [rows[name]["sheet"] for name in tables]
    assert len(set(sheets)) == 3 and all(len(s) <= 31 for s in sheets)
    assert sheets[1:] == [s for s in book.sheetnames if s not in ("about", "od")]
    values = list(book[rows["od"]["sheet"]].values)
    assert values[0] == ("year", "origin", "destination", "flow")
    assert sum(v[3] for v in values[1:]) == od["flow"].sum()
    assert rows["od"]["rows"] == len(od)


def test_excel_needs_a_full_description_of_every_table(tmp_path, od):
    with pytest.raises(ValidationError, match="other: no description"):
        write_excel(
            tmp_path / "t.xlsx", {"od": od, "other": od}, {"od": _description()}
        )
    with pytest.raises(ValidationError, match=r"od: description lacks \['unit'\]"):
        write_excel(tmp_path / "t.xlsx", {"od": od}, {"od": _description(unit="")})
    with pytest.raises(ValidationError, match="no tables"):
        write_excel(tmp_path / "t.xlsx", {}, {})
    assert not (tmp_path / "t.xlsx").exists()
