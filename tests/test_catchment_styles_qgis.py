"""The catchment styles draw one year and one rule, checked in headless QGIS.

PyQGIS lives in Debian's /usr/bin/python3; tests/qgis_catchment_check.py runs in a
subprocess and reports which features each layer's default style draws, with the
temporal controller off and with a time range of one calendar year.
"""

import json
import os
import subprocess
from pathlib import Path

import geopandas as gpd
import kz_synthetic as syn
import numpy as np
import pandas as pd
import pytest

from kzspatial.render.gpkg import HISTORY_TEMPORAL, write_geopackage

pytestmark = pytest.mark.qgis

SYSTEM_PYTHON = "/usr/bin/python3"
CHECK_SCRIPT = Path(__file__).with_name("qgis_catchment_check.py")


def _history(years, rules) -> gpd.GeoDataFrame:
    """The same three polygons every year, their hubs rotated from year to year."""
    base = syn.catchments(syn.regions())
    parts = [
        base.assign(year=y, rule=r, hub=np.roll(base["hub"].to_numpy(), k))
        for k, y in enumerate(years)
        for r in rules
    ]
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=base.crs)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    if subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    ).returncode:
        pytest.skip("python3-qgis is not installed (apt-get install python3-qgis)")
    history = _history([2010, 2015, 2023, 2024], ["flow_share>=0.15", "huff_model"])
    # the focus year need not be the last one: the style follows the attrs
    history.attrs.update(default_year=2023, default_rule="flow_share>=0.15")
    plain = _history([2010, 2024], ["huff_mass_only", "huff_p>=0.5"])
    focus = _history([2024], ["huff_calibrated"])
    path = write_geopackage(
        tmp_path_factory.mktemp("qgis") / "catch.gpkg",
        {
            "catchments_history": history,
            "catchments_alternatives": plain,
            "catchments": focus,
        },
    )
    result = subprocess.run(
        [
            SYSTEM_PYTHON,
            str(CHECK_SCRIPT),
            str(path),
            *("catchments_history", "catchments_alternatives", "catchments"),
            *("--years", "2010,2015,2020,2023,2024"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_default_history_style_shows_only_the_focus_year(drawn):
    layer = drawn["catchments_history"]
    assert layer["renderer"] == "RuleRenderer"
    assert layer["features"] == 4 * 2 * 3
    assert layer["years"] == [2023]
    assert layer["rules"] == ["flow_share>=0.15"]
    assert layer["drawn"] == 3 and len(layer["hubs"]) == 3


def test_without_attrs_the_latest_year_and_its_first_rule(drawn):
    layer = drawn["catchments_alternatives"]
    assert layer["years"] == [2024]
    assert layer["rules"] == ["huff_mass_only"]


def test_history_style_carries_temporal_properties(drawn):
    layer = drawn["catchments_history"]
    assert layer["default_style_loaded"]
    temporal = layer["temporal"]
    assert temporal["active"]
    assert temporal["mode"] == "start and end from expressions"
    assert temporal["start_expression"] == HISTORY_TEMPORAL["start_expression"]
    assert temporal["end_expression"] == HISTORY_TEMPORAL["end_expression"]


def test_a_time_range_of_one_year_draws_that_year_of_the_default_rule(drawn):
    by_year = drawn["catchments_history"]["by_year"]
    for year in (2010, 2015, 2024):
        assert by_year[str(year)]["years"] == [year]
        assert by_year[str(year)]["rules"] == ["flow_share>=0.15"]
        assert by_year[str(year)]["drawn"] == 3
    assert by_year["2020"]["drawn"] == 0  # no features of 2020 in the layer


def test_real_renders_follow_the_time_range(drawn):
    # QgsMapRendererSequentialJob, not the emulation above: the frame of the focus
    # year looks like the map without a time range, other years differ, a year
    # without features is blank
    layer = drawn["catchments_history"]
    frames = layer["image_by_year"]
    assert layer["image"]["drawn_share"] > 0.05
    assert frames["2024"]["drawn_share"] > 0.05
    assert frames["2020"]["drawn_share"] == 0
    # hubs rotate by one place a year: three different maps, 2024 back to 2010's
    assert len({frames[y]["digest"] for y in ("2010", "2015", "2023")}) == 3
    assert frames["2024"]["digest"] == frames["2010"]["digest"]
    # the fixture's focus year (2023) is drawn with the controller off
    assert layer["image"]["digest"] == frames["2023"]["digest"]


def test_qgis_constructor_drops_the_stored_temporal_switch(drawn):
    # QgsVectorLayer(uri, name, "ogr") applies the default style and then resets the
    # temporal properties from the provider's capabilities (none for a GeoPackage):
    # only layers given their style after creation (QGIS desktop's add-layer path,
    # layer.loadDefaultStyle()) come up temporal. If QGIS changes this, the README
    # note on the temporal controller can be simplified.
    plain = drawn["catchments_history"]["constructor_temporal"]
    assert not plain["active"]
    assert plain["start_expression"] == HISTORY_TEMPORAL["start_expression"]


def test_focus_year_and_alternatives_stay_non_temporal(drawn):
    for name in ("catchments", "catchments_alternatives"):
        layer = drawn[name]
        assert not layer["temporal"]["active"]
        assert layer["temporal"]["start_expression"] == ""
        # a layer without temporal properties is drawn the same in every frame
        for year in ("2010", "2024"):
            assert layer["by_year"][year]["years"] == layer["years"]
            assert layer["image_by_year"][year]["digest"] == layer["image"]["digest"]
    assert drawn["catchments"]["renderer"] == "categorizedSymbol"
    assert drawn["catchments"]["years"] == [2024]
