"""Benchmark of the flow explorer page (issue 15, target 3) in headless Chromium.

Targets: switching the year and filtering a region take under 200 ms at the regional
scale (20 zones, 380 flows a year) and under 1 s at the district scale (224 zones,
about 50,000 flows a year); the regional page holding every year is under 3 MB.

Synthetic Voronoi zones and gravity flows from ``tests/kz_synthetic.py``, with fitted
values and population. Pages are written by ``explorer_map`` + ``save_map`` (offline)
and opened from file:// with every http(s) request aborted. Each operation is timed
in the page from the call until two animation frames later (drawn and painted); the
first visit of each year is timed (nothing cached).

    PYTHONPATH=. python benchmarks/bench_explorer.py          # writes results/explorer.md
    PYTHONPATH=. python benchmarks/bench_explorer.py --smoke  # tiny, writes nothing
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
# The synthetic generators live with the tests; reuse them rather than keep a copy.
sys.path.insert(0, str(HERE.parent / "tests"))

import folium  # noqa: E402
import kz_synthetic as syn  # noqa: E402
import pandas as pd  # noqa: E402
from bench_maps import _cpu_model  # noqa: E402  (same machine line as the other benchmarks)
from playwright.sync_api import sync_playwright  # noqa: E402

from kzspatial.render.explorer import explorer_map  # noqa: E402
from kzspatial.render.maps import save_map  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
TARGET_MS = {"regional": 200.0, "district": 1000.0}
TARGET_REGIONAL_MB = 3.0

# Runs an explorer call, then waits two frames so the drawing has been painted.
TIMED = """async ([call, arg]) => {
  const ex = kzExplorer.instance;
  const t0 = performance.now();
  ex[call](arg);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - t0;
}"""


def _page_inputs(zones, years: tuple[int, ...]) -> dict:
    flows = syn.od_flows(zones, years=years)
    population = pd.concat(
        [
            pd.DataFrame(
                {
                    "year": y,
                    "region_id": zones["region_id"],
                    "population": zones["population"],
                }
            )
            for y in years
        ]
    )
    return {
        "od": flows[["year", "origin", "destination", "flow"]],
        "fitted": flows[["year", "origin", "destination", "fitted"]],
        "population": population,
    }


def _measure(browser, path: Path, n_years: int, n_zones: int, repeat: int) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("http*://**", lambda route: route.abort())
    start = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_selector(".kz-explorer")
    load = time.perf_counter() - start
    year_ms = [
        page.evaluate(TIMED, ["setYearIndex", index])
        for index in [*range(n_years - 2, -1, -1), n_years - 1]  # each year first
    ]
    step = max(1, n_zones // repeat)
    region_ms = [
        page.evaluate(TIMED, ["selectRegion", i]) for i in range(0, n_zones, step)
    ][:repeat]
    page.close()
    if errors:
        raise RuntimeError(f"{path.name}: JavaScript errors {errors}")
    return {
        "load_s": load,
        "year_ms": statistics.median(year_ms),
        "year_max_ms": max(year_ms),
        "region_ms": statistics.median(region_ms),
        "region_max_ms": max(region_ms),
    }


def run(*, smoke: bool, repeat: int) -> list[dict]:
    n_districts = 30 if smoke else 224
    cases = [
        ("regional", syn.regions(), tuple(range(2010, 2012 if smoke else 2025))),
        (
            "district",
            syn.districts(n_districts),
            (2022, 2023) if smoke else (2022, 2023, 2024),
        ),
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        for kind, zones, years in cases:
            data = _page_inputs(zones, years)
            start = time.perf_counter()
            m = explorer_map(
                zones,
                data["od"],
                population=data["population"],
                fitted=data["fitted"],
                hubs=syn.HUB_IDS if kind == "regional" else None,
            )
            path = save_map(m, Path(tmp) / f"{kind}.html")
            build = time.perf_counter() - start
            per_year = len(data["od"]) // len(years)
            results.append(
                {
                    "kind": kind,
                    "case": f"{kind}: {len(zones)} zones, {per_year:,} flows x "
                    f"{len(years)} years",
                    "build_s": build,
                    "mb": path.stat().st_size / 1e6,
                }
                | _measure(browser, path, len(years), len(zones), repeat)
            )
        browser.close()
    return results


def _table(results: list[dict]) -> str:
    lines = [
        "| case | HTML (MB) | build + save (s) | page load (s) | switch year, median / max (ms) "
        "| filter a region, median / max (ms) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        limit = TARGET_MS[r["kind"]]
        ok = r["year_max_ms"] < limit and r["region_max_ms"] < limit
        target = f"< {limit:.0f} ms"
        if r["kind"] == "regional":
            target += f", < {TARGET_REGIONAL_MB:.0f} MB"
            ok = ok and r["mb"] < TARGET_REGIONAL_MB
        lines.append(
            f"| {r['case']} | {r['mb']:.2f} | {r['build_s']:.2f} | {r['load_s']:.2f} | "
            f"{r['year_ms']:.0f} / {r['year_max_ms']:.0f} | "
            f"{r['region_ms']:.0f} / {r['region_max_ms']:.0f} | "
            f"{target} {'met' if ok else 'MISSED'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny problem, write nothing"
    )
    parser.add_argument(
        "--repeat", type=int, default=10, help="regions filtered per page"
    )
    args = parser.parse_args()
    results = run(smoke=args.smoke, repeat=3 if args.smoke else args.repeat)
    table = _table(results)
    print(table)
    if args.smoke:
        return
    report = HERE / "results" / "explorer.md"
    report.write_text(
        "# Flow-explorer benchmark (issue 15, target 3)\n\n"
        f"Date: {dt.date.today().isoformat()}. Machine: {platform.machine()}, "
        f"{_cpu_model()}, {os.cpu_count()} cores, shared with other jobs; "
        f"Python {platform.python_version()}, folium {folium.__version__}, "
        "Debian chromium (headless, through Playwright).\n\n"
        "One offline page per case holding every year (observed, fitted, population; "
        "Leaflet inlined), opened from file:// with the network blocked. Times are "
        "measured in the page from the call (`setYearIndex`, `selectRegion`) to two "
        "animation frames later, so they include recomputing the selection, "
        "redrawing the top 50 arcs, the choropleth, circles, legends and panel, and "
        "painting. Every year is timed on its first visit (nothing cached); "
        f"{args.repeat} regions are filtered per page. Page load is `goto` until the "
        "controls exist.\n\n"
        f"{table}\n",
        encoding="utf-8",
    )
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
