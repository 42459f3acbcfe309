"""The catchment history styles draw one year and one rule, checked in headless QGIS.

PyQGIS lives in Debian's /usr/bin/python3; tests/qgis_catchment_check.py runs in a
subprocess and reports which features each layer's default style draws.
"""

import json
import os
import subprocess
from pathlib import Path

import geopandas as gpd
import kz_synthetic as syn
import pandas as pd
import pytest

from kzspatial.render.gpkg import write_geopackage

pytestmark = pytest.mark.qgis

SYSTEM_PYTHON = "/usr/bin/python3"
CHECK_SCRIPT = Path(__file__).with_name("qgis_catchment_check.py")


def _history(years, rules) -> gpd.GeoDataFrame:
    base = syn.catchments(syn.regions())
    parts = [base.assign(year=y, rule=r) for y in years for r in rules]
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
    path = write_geopackage(
        tmp_path_factory.mktemp("qgis") / "catch.gpkg",
        {"catchments_history": history, "catchments_alternatives": plain},
    )
    result = subprocess.run(
        [
            SYSTEM_PYTHON,
            str(CHECK_SCRIPT),
            str(path),
            *("catchments_history", "catchments_alternatives"),
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
