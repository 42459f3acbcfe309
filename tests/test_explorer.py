"""The flow explorer page, hermetic: embedded JSON, escaping, argument checks.

The browser behaviour is in ``test_explorer_browser.py``.
"""

from __future__ import annotations

import json
import re
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from kzspatial._errors import AlignmentError, CRSError, ValidationError
from kzspatial.render.explorer import DATA_ELEMENT_ID, explorer_data, explorer_map

HOSTILE = [
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=1>",
    "${alert(1)}",
    "{{ 7 * 7 }} {% if 1 %}x{% endif %}",
    "<!--<script>",
]
YEARS = (2019, 2020, 2021)


def squares(n: int = 6, names: list[str] | None = None) -> gpd.GeoDataFrame:
    """``n`` unit squares in a row near Kazakhstan (EPSG:4326)."""
    return gpd.GeoDataFrame(
        {
            "region_id": [f"R{i}" for i in range(n)],
            "name_en": names or [f"Region {i}" for i in range(n)],
        },
        geometry=[shapely.box(60 + 2 * i, 45, 61 + 2 * i, 46) for i in range(n)],
        crs="EPSG:4326",
    )


def od_table(regions: gpd.GeoDataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = regions["region_id"].tolist()
    rows = [
        (year, o, d, int(rng.integers(0, 500)))
        for year in YEARS
        for o in ids
        for d in ids
        if o != d
    ]
    return pd.DataFrame(rows, columns=["year", "origin", "destination", "flow"])


def embedded(m) -> dict:
    html = m.get_root().render()
    found = re.findall(
        rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>',
        html,
        flags=re.S,
    )
    assert len(found) == 1
    return json.loads(found[0])


@pytest.fixture
def regions():
    return squares()


@pytest.fixture
def od(regions):
    return od_table(regions)


def test_every_year_is_embedded_with_its_flows(regions, od):
    data = embedded(explorer_map(regions, od))
    assert data["years"] == list(YEARS)
    assert data["ids"] == regions["region_id"].tolist()
    assert data["names"] == regions["name_en"].tolist()
    for year, block in zip(data["years"], data["flows"], strict=True):
        got = pd.DataFrame(
            {
                "origin": np.array(data["ids"])[block["o"]],
                "destination": np.array(data["ids"])[block["d"]],
                "flow": block["v"],
            }
        )
        expected = od[od["year"] == year].drop(columns="year")
        pd.testing.assert_frame_equal(
            got.sort_values(["origin", "destination"]).reset_index(drop=True),
            expected.sort_values(["origin", "destination"]).reset_index(drop=True),
            check_dtype=False,
        )
        assert block["f"] is None


def test_fitted_aligned_with_observed_pairs(regions, od):
    fitted = od.rename(columns={"flow": "fitted"}).sample(frac=1.0, random_state=1)
    fitted["fitted"] = fitted["fitted"] + 0.25
    data = explorer_data(regions, od, fitted=fitted)
    for year, block in zip(data["years"], data["flows"], strict=True):
        # fitted = observed + 0.25 pair by pair, whatever the row order of ``fitted``
        np.testing.assert_allclose(block["f"], np.asarray(block["v"]) + 0.25)
        assert len(block["f"]) == len(od[od["year"] == year])


def test_population_of_a_missing_year_is_the_latest_earlier(regions, od):
    population = pd.DataFrame(
        {
            "year": np.repeat([2019, 2020], len(regions)),
            "region_id": list(regions["region_id"]) * 2,
            "population": [1000] * len(regions) + [2000] * len(regions),
        }
    )
    data = explorer_data(regions, od, population=population)
    assert data["populationYears"] == [2019, 2020, 2020]
    assert [row[0] for row in data["population"]] == [1000, 2000, 2000]


def test_scenario_without_year_applies_to_every_year(regions, od):
    scenario = od[od["year"] == 2021].drop(columns="year")
    data = explorer_data(regions, od, scenario=scenario, scenario_label="+10 %")
    assert data["scenario"]["label"] == "+10 %"
    sums = [sum(block["v"]) for block in data["scenario"]["flows"]]
    assert sums == [scenario["flow"].sum()] * len(YEARS)


def test_hostile_names_stay_inert_json(od):
    regions = squares(names=[*HOSTILE, "Plain"])
    m = explorer_map(regions, od, hubs=["R0", "R1"], title=HOSTILE[0])
    html = m.get_root().render()
    payload = re.search(
        rf'id="{DATA_ELEMENT_ID}">(.*?)</script>', html, flags=re.S
    ).group(1)
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert "window.__pwned=1</script>" not in html
    assert "onerror=window.__pwned" not in html.replace(payload, "")
    assert "{{ 7 * 7 }}" in payload  # the Jinja-looking name was not evaluated
    data = json.loads(payload)
    assert data["names"] == [*HOSTILE, "Plain"]
    assert data["title"] == HOSTILE[0]
    # the page holds exactly as many script elements as with harmless names
    plain = explorer_map(squares(), od, hubs=["R0", "R1"]).get_root().render()
    assert html.count("<script") == plain.count("<script")


def test_script_asset_cannot_close_its_element():
    code = (
        resources.files("kzspatial.render")
        .joinpath("_assets", "explorer.js")
        .read_text(encoding="utf-8")
    )
    assert "</" not in code
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code


def test_inputs_are_not_modified(regions, od):
    before_regions, before_od = regions.copy(), od.copy()
    explorer_map(regions, od)
    pd.testing.assert_frame_equal(od, before_od)
    pd.testing.assert_frame_equal(
        pd.DataFrame(regions.drop(columns="geometry")),
        pd.DataFrame(before_regions.drop(columns="geometry")),
    )


def _population(regions):
    return pd.DataFrame(
        {"year": 2019, "region_id": regions["region_id"], "population": 1000}
    )


BAD_CALLS = {
    "missing column": (
        lambda r, od: explorer_map(r, od.drop(columns="flow")),
        ValidationError,
        r"od lacks column\(s\) \['flow'\]",
    ),
    "negative flow": (
        lambda r, od: explorer_map(r, od.assign(flow=-od["flow"] - 1)),
        ValidationError,
        "negative",
    ),
    "infinite flow": (
        lambda r, od: explorer_map(r, od.assign(flow=np.inf)),
        ValidationError,
        "infinite",
    ),
    "fractional year": (
        lambda r, od: explorer_map(r, od.assign(year=2024.7)),
        ValidationError,
        "not whole numbers",
    ),
    "unknown region": (
        lambda r, od: explorer_map(r, od.replace({"origin": {"R0": "XX"}})),
        AlignmentError,
        r"not in regions_gdf: \['XX'\]",
    ),
    "duplicate rows": (
        lambda r, od: explorer_map(r, pd.concat([od, od.head(1)])),
        ValidationError,
        "duplicate",
    ),
    "bad mode": (
        lambda r, od: explorer_map(r, od, mode="bogus"),
        ValidationError,
        "mode must be one of",
    ),
    "top_n zero": (
        lambda r, od: explorer_map(r, od, top_n=0),
        ValidationError,
        "top_n must be a positive integer",
    ),
    "negative threshold": (
        lambda r, od: explorer_map(r, od, threshold=-1),
        ValidationError,
        "threshold must be >= 0",
    ),
    "fitted mode without fitted": (
        lambda r, od: explorer_map(r, od, mode="pearson"),
        ValidationError,
        "needs fitted=",
    ),
    "rate mode without population": (
        lambda r, od: explorer_map(r, od, mode="rate"),
        ValidationError,
        "needs population=",
    ),
    "unknown hub": (
        lambda r, od: explorer_map(r, od, hubs=["R0", "NOPE"]),
        AlignmentError,
        "hubs must be a sequence of region ids",
    ),
    "hub as a string": (
        lambda r, od: explorer_map(r, od, hubs="R0"),
        AlignmentError,
        "hubs must be a sequence",
    ),
    "fitted pair absent from od": (
        lambda r, od: explorer_map(
            r,
            od.iloc[1:],
            fitted=od.rename(columns={"flow": "fitted"}),
        ),
        AlignmentError,
        "absent from od",
    ),
    "fitted covers a year partly": (
        lambda r, od: explorer_map(
            r, od, fitted=od.iloc[1:].rename(columns={"flow": "fitted"})
        ),
        AlignmentError,
        "covers year 2019 only partly",
    ),
    "population lacks a region": (
        lambda r, od: explorer_map(r, od, population=_population(r).iloc[1:]),
        AlignmentError,
        r"population lacks 1 region\(s\)",
    ),
    "no CRS": (
        lambda r, od: explorer_map(r.set_crs(None, allow_override=True), od),
        CRSError,
        "no CRS",
    ),
    "no flows": (
        lambda r, od: explorer_map(r, od.iloc[:0]),
        ValidationError,
        "no flows",
    ),
    "tiles URL without attribution": (
        lambda r, od: explorer_map(r, od, tiles="https://t.example/{z}/{x}/{y}.png"),
        ValidationError,
        "needs attribution",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_bad_arguments_raise_clear_errors(case, regions, od):
    call, error, message = BAD_CALLS[case]
    with pytest.raises(error, match=message):
        call(regions, od)
