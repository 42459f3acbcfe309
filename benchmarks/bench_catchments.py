"""Benchmark of grid catchments: Huff on a national 1 km grid (issue 7, target 3).

Targets (medians on the project machine): Huff probabilities for the 3 hubs on a 1 km
grid over Kazakhstan (about 2.7 million cells) in under 2 s, for the 20 regional
centres in under 10 s.

The outline is a synthetic Kazakhstan-shaped polygon (tests/kz_synthetic.py, about
2.85 million km², so slightly *more* cells than the real country); the real outline is
wired in by the lead once the data loaders exist.

Usage::

    PYTHONPATH=. python benchmarks/bench_catchments.py            # writes results file
    PYTHONPATH=. python benchmarks/bench_catchments.py --smoke    # 25 km, 1 run, stdout
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import rasterio
import scipy
import shapely

from kzspatial.core.catchments import gravity_potential, huff_probabilities
from kzspatial.geo.grids import (
    distances_to_hubs_km,
    dominance_polygons,
    grid_huff,
    hub_class_raster,
    national_grid,
    to_raster,
)
from kzspatial.render.raster import write_cog

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from kz_synthetic import (
    CENTRE_POPULATION,
    CENTRES_LONLAT,
    HUBS,
    centre_points,
    kz_like_outline,
)

RESULTS = Path(__file__).parent / "results" / "catchments.md"
BETA = -2.0  # power decay as in CONVENTIONS 5; the fitted value is wired in later


def _measure(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall time of ``repeats`` runs, and peak traced memory of one more run."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def _machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if "model name" in line
            )
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}; load average at start {load}"
    )


def _versions() -> str:
    return (
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, pyproj {pyproj.__version__} (PROJ "
        f"{pyproj.proj_version_str}), rasterio {rasterio.__version__} (GDAL "
        f"{rasterio.__gdal_version__}), geopandas {gpd.__version__}, shapely "
        f"{shapely.__version__}"
    )


def run(
    cell_size_m: float, repeats: int
) -> tuple[list[tuple[str, float, float, str]], str]:
    """Time each step; return rows (step, median s, peak MiB, target) and notes."""
    outline = kz_like_outline()
    hubs3, centres20 = centre_points(HUBS), centre_points(list(CENTRES_LONLAT))
    pop3 = {h: CENTRE_POPULATION[h] for h in HUBS}
    pop20 = [CENTRE_POPULATION[h] for h in centres20.index]
    grid = national_grid(outline, cell_size_m)
    grid.centres_lonlat  # noqa: B018  (warm the per-grid cache once)
    d3 = distances_to_hubs_km(grid, hubs3)
    d20 = distances_to_hubs_km(grid, centres20)
    result3 = huff_probabilities(d3, list(pop3.values()), BETA, min_cost=5.0, hubs=HUBS)

    def cold_three_hubs():
        fresh = national_grid(outline, cell_size_m)
        return grid_huff(fresh, hubs3, pop3, BETA)

    def write_rasters():
        with tempfile.TemporaryDirectory() as folder:
            labels = {k + 1: h for k, h in enumerate(HUBS)}
            classes = hub_class_raster(grid, result3.dominant_index)
            write_cog(
                Path(folder, "dominant.tif"),
                classes,
                grid.transform,
                grid.crs,
                nodata=0,
                categories=labels,
            )
            band = to_raster(grid, result3.probabilities[:, 0], fill=np.nan)
            write_cog(
                Path(folder, "p_astana.tif"),
                band,
                grid.transform,
                grid.crs,
                nodata=np.nan,
                value_range=(0.0, 1.0),
            )

    steps = [
        (
            "grid mask (rasterize outline)",
            lambda: national_grid(outline, cell_size_m),
            "",
        ),
        (
            "cell centres lon/lat (once per grid, cached)",
            lambda: national_grid(outline, cell_size_m).centres_lonlat,
            "",
        ),
        (
            "**Huff 3 hubs: distances + probabilities**",
            lambda: grid_huff(grid, hubs3, pop3, BETA),
            "< 2 s",
        ),
        (
            "Huff 3 hubs: probabilities only (core)",
            lambda: huff_probabilities(d3, list(pop3.values()), BETA, min_cost=5.0),
            "",
        ),
        (
            "Huff 3 hubs, cold: grid + lon/lat + distances + probabilities",
            cold_three_hubs,
            "< 2 s",
        ),
        (
            "**Huff 20 centres: distances + probabilities**",
            lambda: grid_huff(grid, centres20, pop20, BETA),
            "< 10 s",
        ),
        (
            "Huff 20 centres: probabilities only (core)",
            lambda: huff_probabilities(d20, pop20, BETA, min_cost=5.0),
            "",
        ),
        (
            "gravity potential, 20 centres (core)",
            lambda: gravity_potential(d20, pop20, BETA, min_cost=5.0),
            "",
        ),
        (
            "dominance polygons, 3 hubs (shapes + dissolve)",
            lambda: dominance_polygons(grid, result3),
            "",
        ),
        ("write 2 COGs + QML (dominant uint8, probability float32)", write_rasters, ""),
    ]
    rows = []
    for name, fn, target in steps:
        seconds, peak = _measure(fn, repeats)
        rows.append((name, seconds, peak, target))
        print(f"{name:<66} {seconds:8.3f} s {peak:9.1f} MiB", flush=True)
    notes = (
        f"grid: {cell_size_m:g} m cells, {grid.shape[0]:,} x {grid.shape[1]:,}, "
        f"{grid.n_cells:,} cells inside; decay pow, beta = {BETA}, min cost 5 km; "
        f"attractiveness = rough city populations; float32 outputs"
    )
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="25 km grid, 1 run, no file"
    )
    parser.add_argument("--cell-size", type=float, default=1000.0, help="metres")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cell_size, repeats = (25_000.0, 1) if args.smoke else (args.cell_size, args.repeats)
    machine = _machine()
    rows, notes = run(cell_size, repeats)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    lines = [
        "# Catchments benchmark (issue 7, target 3)",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine}",
        f"- versions: {_versions()}",
        f"- {notes}",
        "- outline: synthetic Kazakhstan-shaped polygon (tests/kz_synthetic.py), "
        "not the real border",
        f"- times: median of {repeats} runs; peak = tracemalloc peak of one extra "
        f"run (numpy buffers included); process peak RSS {peak_rss:,.0f} MiB",
        "",
        "| step | median (s) | peak traced memory (MiB) | target |",
        "|---|---:|---:|---|",
        *(f"| {n} | {s:.3f} | {m:,.1f} | {t} |" for n, s, m, t in rows),
        "",
    ]
    if args.smoke:
        print("\n".join(lines))
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
