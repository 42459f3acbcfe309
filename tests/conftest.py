"""Shared fixtures. Unit tests are hermetic; tests marked ``data`` read the real files
through kzspatial's own loaders (mirror via KZSPATIAL_DATA_MIRROR, or the user cache)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Run by Debian's Python with PyQGIS (see test_gpkg_qgis.py), never imported here: the
# test command's --doctest-modules would otherwise import it and fail on ``import qgis``.
collect_ignore_glob = ["qgis_*.py"]

#: Debian's Chromium, driven by playwright (no ``playwright install``).
CHROMIUM = Path("/usr/bin/chromium")
#: Flags of every headless Chromium of the tests: no sandbox (containers), no GPU, no
#: background network, no scrollbars in screenshots.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
]


def pytest_report_header(config):
    import kzspatial

    return [
        f"kzspatial {kzspatial.__version__}",
        f"KZSPATIAL_DATA_MIRROR={os.environ.get('KZSPATIAL_DATA_MIRROR', '')}",
    ]


@pytest.fixture
def rng():
    return np.random.default_rng(seed=0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the download cache of the test run out of the user's home."""
    if "KZSPATIAL_CACHE" not in os.environ:
        monkeypatch.setenv(
            "KZSPATIAL_CACHE", str(tmp_path_factory.getbasetemp() / "kzspatial-cache")
        )


def validate_gpkg_command() -> list[str]:
    """Command running GDAL's GeoPackage validator, or skip the calling test.

    Prefers the pure-Python ``gdal-utils`` in this environment (``pip install --no-deps
    gdal-utils``; CI installs it), then Debian's python3-gdal copy.
    """
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("osgeo_utils") is not None:
        return [sys.executable, "-m", "osgeo_utils.samples.validate_gpkg"]
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import osgeo_utils"],
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        return ["/usr/bin/python3", "-m", "osgeo_utils.samples.validate_gpkg"]
    pytest.skip(
        "GDAL's validate_gpkg is not available: pip install --no-deps gdal-utils"
    )


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (playwright), one per test module; skips without either.

    Module scope, not session: tests that start their own playwright (sync API) must
    not run while another instance is open in the same thread.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()
