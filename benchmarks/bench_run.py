"""End-to-end benchmark of `kzspatial run` on the default data (issue 7, target 5).

Runs the installed `kzspatial run` command in fresh subprocesses with a warm data cache
(the first, cache-filling run is not timed), so start-up and imports are included, and
writes benchmarks/results/run.md. Needs KZSPATIAL_DATA_MIRROR or network for the warm-up.

    python benchmarks/bench_run.py            # 3 timed runs
    python benchmarks/bench_run.py --smoke    # 1 timed run, small permutation count
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "run.md"


def _kzspatial() -> list[str]:
    exe = shutil.which("kzspatial")
    return [exe] if exe else [sys.executable, "-m", "kzspatial"]


def _one(out: Path, extra: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    subprocess.run(
        [*_kzspatial(), "-q", "run", "--out", str(out), *extra],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    extra = ["--permutations", "99"] if args.smoke else []
    repeat = 1 if args.smoke else 3
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        os.environ.setdefault("KZSPATIAL_CACHE", str(cache))
        _one(Path(tmp) / "warmup", extra)  # fills the cache; not timed
        runs = [_one(Path(tmp) / f"run{k}", extra) for k in range(repeat)]
    median = statistics.median(s for s, _ in runs)
    peak = max(m for _, m in runs)
    lines = [
        "# End-to-end `kzspatial run` (issue 7, target 5)",
        "",
        f"Date: {dt.date.today()}. Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Default data (20 regions, 6 OD years), "
        "warm data cache, fresh process per run (start-up and imports included), "
        f"{'99 permutations (smoke)' if args.smoke else 'default options (999 permutations, 5 km grid)'}.",
        "",
        "| runs | median (s) | all runs (s) | peak RSS of a run (MB) | target |",
        "|---|---|---|---|---|",
        f"| {repeat} | {median:.1f} | {', '.join(f'{s:.1f}' for s, _ in runs)} | "
        f"{peak:.0f} | < 60 s: {'met' if median < 60 else 'missed'} |",
        "",
    ]
    if not args.smoke:
        RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
