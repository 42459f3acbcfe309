"""The default od_flows style draws only the largest flows, read by headless QGIS.

The rule (flow >= the N-th largest flow of the layer, N = OD_FLOWS_TOP_N) must be the
renderer QGIS builds from the stored QML, and the features it draws must be exactly the N
largest flows computed here from the layer's data; the regions are labelled by name.
"""

import json
import os
import subprocess
from pathlib import Path

import kz_synthetic as syn
import numpy as np
import pyogrio
import pytest

from kzspatial.render.gpkg import OD_FLOWS_TOP_N, od_flows_rule, write_geopackage
from kzspatial.render.maps import flow_lines

SYSTEM_PYTHON = "/usr/bin/python3"
CHECK_SCRIPT = Path(__file__).with_name("qgis_flow_rule_check.py")


def test_rule_counts_the_largest_flows_and_ties():
    import pandas as pd

    flows = pd.Series([5.0, 9.0, 1.0, 7.0, 7.0, 3.0])
    assert od_flows_rule(flows, top_n=3) == (3, 7.0)
    assert od_flows_rule(flows, top_n=2) == (3, 7.0)  # the tie with the 2nd is drawn
    assert od_flows_rule(flows, top_n=10) == (6, 0.0)


@pytest.mark.qgis
def test_qgis_reads_the_rule_and_draws_only_the_largest_flows(tmp_path):
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("python3-qgis is not installed (apt-get install python3-qgis)")
    regions = syn.regions()
    regions["net_migration"] = np.linspace(-4000.0, 9000.0, len(regions))
    flows = syn.od_flows(regions)  # 380 pairs, Poisson counts
    path = write_geopackage(
        tmp_path / "k.gpkg",
        {"regions": regions, "od_flows": flow_lines(regions, flows)},
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, str(CHECK_SCRIPT), str(path), "od_flows"],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["valid"] and report["renderer"] == "RuleRenderer"
    assert report["features"] == 380
    largest, other = report["rules"]
    assert largest["active"] and not other["active"]
    assert other["filter"] == "ELSE"
    # the expected set, from the layer as written (fid order), without the rule helper
    layer = pyogrio.read_dataframe(path, layer="od_flows", fid_as_index=True)
    order = layer["flow"].sort_values(ascending=False, kind="stable")
    nth = order.iloc[OD_FLOWS_TOP_N - 1]
    expected = set(layer.index[layer["flow"] >= nth])
    assert len(expected) >= OD_FLOWS_TOP_N
    assert set(report["drawn_fids"]) == expected
    assert f"{len(expected)} largest flows" in largest["label"]
    assert report["regions_labels"] == {"enabled": True, "field": "name_en"}
