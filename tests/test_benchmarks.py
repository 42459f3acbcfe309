"""The benchmark scripts still run: each one's ``--smoke`` mode, which writes nothing.

The benchmarks themselves run on demand (benchmarks/README.md); this only keeps them
from rotting as the package changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SYNTHETIC = [
    "bench_gravity",
    "bench_gravity_chunks",
    "bench_flow_moran",
    "bench_catchments",
    "bench_maps",
    "bench_distributed",
    # drives Debian's chromium through playwright
    pytest.param("bench_explorer", marks=pytest.mark.browser),
]
REAL_DATA = ["bench_real", "bench_run"]

pytestmark = pytest.mark.slow


def run_smoke(name: str) -> subprocess.CompletedProcess:
    results = BENCHMARKS / "results"
    before = {p.name: p.read_bytes() for p in results.iterdir()}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / f"{name}.py"), "--smoke"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    after = {p.name: p.read_bytes() for p in results.iterdir()}
    assert after == before, "a smoke run must not touch the committed results"
    return done


@pytest.mark.parametrize("name", SYNTHETIC)
def test_synthetic_benchmark_smoke(name):
    assert run_smoke(name).stdout.strip()


@pytest.mark.data
@pytest.mark.parametrize("name", REAL_DATA)
def test_real_data_benchmark_smoke(name):
    assert run_smoke(name).stdout.strip()
