"""Benchmark of kzspatial's HTML flow maps against the issue-7 targets.

Targets: a 40,000-flow district OD (224 zones) in top-N or threshold mode -> HTML under
5 MB in under 3 s (build + offline save); the 380-flow regional map offline under 1.5
MB.

Synthetic data from ``tests/kz_synthetic.py`` (Voronoi regions/districts, gravity
flows). Times are medians of ``--repeat`` runs of ``flow_map`` +
``save_map(offline=True)``.

    PYTHONPATH=. python benchmarks/bench_maps.py            # writes
    benchmarks/results/maps.md PYTHONPATH=. python benchmarks/bench_maps.py --smoke    #
    tiny, fast, writes nothing
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The synthetic generators live with the tests; reuse them rather than keep a second
# copy.
sys.path.insert(0, str(HERE.parent / "tests"))

import branca  # noqa: E402
import folium  # noqa: E402
import geopandas  # noqa: E402
import kz_synthetic as syn  # noqa: E402

from kzspatial.render.maps import flow_map, save_map  # noqa: E402

TARGET_SIZE_MB = {"district": 5.0, "regional": 1.5}
TARGET_SECONDS = {"district": 3.0}


def _run(zones, flows, folder: Path, label: str, repeat: int, **options) -> dict:
    seconds, size = [], 0
    for i in range(repeat):
        start = time.perf_counter()
        m = flow_map(zones, flows, **options)
        path = save_map(m, folder / f"{label}-{i}.html", offline=True)
        seconds.append(time.perf_counter() - start)
        size = path.stat().st_size
    return {"case": label, "seconds": statistics.median(seconds), "mb": size / 1e6}


def run(*, smoke: bool, repeat: int) -> list[dict]:
    n_districts, n_flows = (40, 1_000) if smoke else (224, 40_000)
    districts = syn.districts(n_districts)
    district_flows = syn.od_flows(districts, n_flows=n_flows)
    regions = syn.regions()
    regional_flows = syn.od_flows(regions)
    threshold = float(district_flows["flow"].quantile(0.98))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for top_n in (500, 5000):  # 5000 = flow_map's default max_flows
            results.append(
                _run(
                    districts,
                    district_flows,
                    folder,
                    f"district {n_flows:,} flows, top {top_n}",
                    repeat,
                    mode="top",
                    top_n=top_n,
                )
                | {"kind": "district"}
            )
        results.append(
            _run(
                districts,
                district_flows,
                folder,
                f"district {n_flows:,} flows, threshold {threshold:,.0f} (2 %)",
                repeat,
                mode="threshold",
                threshold=threshold,
            )
            | {"kind": "district"}
        )
        results.append(
            _run(
                regions,
                regional_flows,
                folder,
                f"regional {len(regional_flows)} flows, all, hubs + catchments",
                repeat,
                mode="threshold",
                threshold=0,
                hubs=syn.HUB_IDS,
                catchments=syn.catchments(regions),
            )
            | {"kind": "regional"}
        )
    return results


def _table(results: list[dict]) -> str:
    lines = [
        "| case | build + offline save (s) | HTML (MB) | target |",
        "|---|---|---|---|",
    ]
    for r in results:
        target = f"< {TARGET_SIZE_MB[r['kind']]} MB"
        if r["kind"] in TARGET_SECONDS:
            target += f", < {TARGET_SECONDS[r['kind']]} s"
        ok = r["mb"] < TARGET_SIZE_MB[r["kind"]] and r["seconds"] < TARGET_SECONDS.get(
            r["kind"], float("inf")
        )
        lines.append(
            f"| {r['case']} | {r['seconds']:.2f} | {r['mb']:.2f} | {target} "
            f"{'met' if ok else 'MISSED'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny problem, write nothing"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median)")
    args = parser.parse_args()
    results = run(smoke=args.smoke, repeat=1 if args.smoke else args.repeat)
    table = _table(results)
    print(table)
    if args.smoke:
        return
    report = HERE / "results" / "maps.md"
    report.parent.mkdir(exist_ok=True)
    report.write_text(
        "# Flow-map benchmark (issue 7, target 4)\n\n"
        f"Date: {dt.date.today().isoformat()}. Machine: {platform.machine()}, "
        f"{_cpu_model()}, "
        f"{os.cpu_count()} cores, shared with other jobs; "
        f"Python {platform.python_version()}, folium {folium.__version__}, "
        f"branca {branca.__version__}, geopandas {geopandas.__version__}.\n\n"
        f"Median of {args.repeat} runs of `flow_map` + `save_map(offline=True)` "
        "(Leaflet, "
        "jQuery and d3 inlined, about 0.4 MB of the size). Synthetic Voronoi zones and "
        "gravity flows from `tests/kz_synthetic.py`; 16-vertex arcs with arrowheads, "
        "coordinates rounded to 4 decimals, region outlines simplified at 0.005°.\n\n"
        f"{table}\n\n"
        "Drawing all 40,000 flows is refused by default (`max_flows=5000`): as one "
        "GeoJSON "
        "layer that is about 13 MB and an unreadable hairball; keep the full OD in the "
        "GeoPackage.\n",
        encoding="utf-8",
    )
    print(f"wrote {report}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
