"""Open kzspatial's GeoPackage in headless QGIS (Debian's python3-qgis) and render it.

PyQGIS lives in Debian's /usr/bin/python3, not in the project venv, so
tests/qgis_check.py runs in a subprocess and reports JSON. Install with ``apt-get
install -y --no-install-recommends python3-qgis qgis-providers gdal-bin``.
"""

import json
import os
import subprocess
from pathlib import Path

import kz_synthetic as syn
import numpy as np
import pytest

from kzspatial.render.gpkg import write_geopackage
from kzspatial.render.maps import flow_lines

pytestmark = pytest.mark.qgis

SYSTEM_PYTHON = "/usr/bin/python3"
CHECK_SCRIPT = Path(__file__).with_name("qgis_check.py")
STYLED = {
    "regions": "graduatedSymbol",
    "regions_kz_aea": "graduatedSymbol",
    "catchments": "categorizedSymbol",
}


def _qgis_available() -> bool:
    try:
        result = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import qgis.core"],
            capture_output=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


if not _qgis_available():
    pytest.skip(
        f"python3-qgis is not installed ({SYSTEM_PYTHON} -c 'import qgis.core' "
        "fails); apt-get install -y --no-install-recommends python3-qgis "
        "qgis-providers",
        allow_module_level=True,
    )
Image = pytest.importorskip("PIL.Image", reason="Pillow is needed to inspect the PNG")


@pytest.fixture(scope="module")
def qgis_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qgis")
    regions = syn.regions()
    flows = syn.od_flows(regions)
    regions["net_migration"] = np.linspace(-4000.0, 9000.0, len(regions))
    cities = regions[regions["region_id"].isin(syn.HUB_IDS)].copy()
    cities["geometry"] = cities.representative_point()
    path = write_geopackage(
        folder / "kzspatial.gpkg",
        {
            "regions": regions,
            "districts": syn.districts(30),
            "cities": cities,
            "od_flows": flow_lines(regions, flows),
            "catchments": syn.catchments(regions),
            "od_matrix": flows,
        },
        equal_area=["regions"],
        provenance={"kzspatial_version": "0.1.0"},
    )
    png = folder / "qgis.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [SYSTEM_PYTHON, str(CHECK_SCRIPT), str(path), str(png)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_layer_is_valid_and_documented(qgis_report):
    layers = qgis_report["layers"]
    assert set(layers) == {
        "regions",
        "regions_kz_aea",
        "districts",
        "cities",
        "od_flows",
        "catchments",
        "od_matrix",
    }  # layer_styles is hidden by QGIS
    for name, layer in layers.items():
        assert layer["valid"], name
        assert layer["title"], name
    assert layers["regions"]["title"] == "Regions of Kazakhstan"
    assert "kzspatial_version=0.1.0" in layers["od_flows"]["abstract"]
    assert layers["regions_kz_aea"]["crs"] == "KZ Albers Equal Area (kzspatial)"
    assert layers["od_matrix"]["wkb_type"] == 100  # attribute table (NoGeometry)


def test_styles_are_applied_from_the_geopackage(qgis_report):
    layers = qgis_report["layers"]
    for name, renderer in STYLED.items():
        assert layers[name]["renderer"] == renderer, name
    for name in (
        "regions",
        "regions_kz_aea",
        "districts",
        "cities",
        "od_flows",
        "catchments",
    ):
        assert layers[name]["styles_in_db"] >= 1, name
    # single symbol with data-defined width: the stored style orders large flows last
    assert layers["od_flows"]["order_by"] is True
    assert layers["regions"]["aliases"]["net_migration"] == "Net migration (persons)"


def test_renders_a_non_blank_png(qgis_report):
    assert qgis_report["saved"]
    image = Image.open(qgis_report["png"]).convert("RGB")
    assert image.size == (1000, 600)
    assert len(image.getcolors(maxcolors=1 << 18) or []) > 20
