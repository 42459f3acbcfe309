"""Shared fixtures. Unit tests are hermetic; tests marked ``data`` read the real files
through kzspatial's own loaders (mirror via KZSPATIAL_DATA_MIRROR, or the user cache)."""

from __future__ import annotations

import os

import numpy as np
import pytest


def pytest_report_header(config):
    import kzspatial

    return [f"kzspatial {kzspatial.__version__}",
            f"KZSPATIAL_DATA_MIRROR={os.environ.get('KZSPATIAL_DATA_MIRROR', '')}"]


@pytest.fixture
def rng():
    return np.random.default_rng(seed=0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the download cache of the test run out of the user's home."""
    if "KZSPATIAL_CACHE" not in os.environ:
        monkeypatch.setenv("KZSPATIAL_CACHE",
                           str(tmp_path_factory.getbasetemp() / "kzspatial-cache"))
