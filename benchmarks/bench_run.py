"""End-to-end benchmark of `kzspatial run` on the default data, with the breakdown by step.

Runs `kzspatial run` in fresh subprocesses (through benchmarks/_run_steps.py, which times
each pipeline step: data load, analyses, every product writer) with a warm data cache
(the first, cache-filling run is not timed), so start-up and imports are included.
Records the wall and CPU time, the per-step medians, the peak RSS and the 1-minute load average
before each run (the machine is shared), and appends a section to
benchmarks/results/run.md. Needs KZSPATIAL_DATA_MIRROR or network for the warm-up.

    python benchmarks/bench_run.py --label before   # 3 timed runs, section "before"
    python benchmarks/bench_run.py --smoke          # 1 timed run, 99 permutations, no file
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "run.md"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _one(out: Path, extra: list[str]) -> dict:
    load = os.getloadavg()[0]
    # a warm run as installed: Python's bytecode cache written and read (the session's
    # PYTHONDONTWRITEBYTECODE would recompile kzspatial's modules on every run)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "_run_steps.py"),
            "-q",
            "run",
            "--out",
            str(out),
            *extra,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    line = next(x for x in proc.stderr.splitlines() if x.startswith("STEPS "))
    return {
        "seconds": seconds,
        "cpu": cpu,
        "load": load,
        "steps": json.loads(line.removeprefix("STEPS ")),
        "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=HERE,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def _section(label: str, runs: list[dict], smoke: bool) -> list[str]:
    median = statistics.median(r["seconds"] for r in runs)
    steps = list(runs[0]["steps"])
    loads = ", ".join(f"{r['load']:.2f}" for r in runs)
    walls = ", ".join(f"{r['seconds']:.1f}" for r in runs)
    cpus = ", ".join(f"{r['cpu']:.1f}" for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    lines = [
        f"## {label}",
        "",
        f"Date: {dt.datetime.now():%Y-%m-%d %H:%M}. Commit {_commit()}. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}. Default data (20 regions, 6 OD years), "
        "warm data cache, fresh process per run (start-up and imports included), "
        + ("99 permutations (smoke)." if smoke else "default options.")
        + f" Load average (1 min) before each run: "
        f"{loads}.",
        "",
        "| runs | median wall (s) | all runs (s) | median CPU (s) | all runs CPU (s) "
        "| peak RSS of a run (MB) | target < 8 s |",
        "|---|---|---|---|---|---|---|",
        f"| {len(runs)} | {median:.1f} | {walls} | {cpu:.1f} | {cpus} | "
        f"{max(r['peak_mb'] for r in runs):.0f} | "
        f"{'met' if median < 8 else 'missed'} |",
        "",
        "CPU: user + system seconds of the run's processes (workers included); per "
        "step, of the process running it (and of a pool it waits for). Steps marked "
        "[worker] run in a forked process, overlapping the main process's steps; "
        "the main process's CPU total includes its workers'.",
        "",
        "| step | median wall (s) | median CPU (s) | all runs wall (s) |",
        "|---|---|---|---|",
    ]
    for step in steps:
        walls = [r["steps"].get(step, [0.0, 0.0])[0] for r in runs]
        cpus = [r["steps"].get(step, [0.0, 0.0])[1] for r in runs]
        lines.append(
            f"| {step} | {statistics.median(walls):.2f} | "
            f"{statistics.median(cpus):.2f} | "
            f"{', '.join(f'{v:.2f}' for v in walls)} |"
        )
    return [*lines, ""]


def main() -> None:
    """Time `kzspatial run` and append the breakdown to benchmarks/results/run.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--label", default="measurement")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    extra = ["--permutations", "99"] if args.smoke else []
    repeat = 1 if args.smoke else args.repeat
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("KZSPATIAL_CACHE", str(Path(tmp) / "cache"))
        _one(Path(tmp) / "warmup", extra)  # fills the caches; not timed
        runs = [_one(Path(tmp) / f"run{k}", extra) for k in range(repeat)]
    lines = _section(args.label, runs, args.smoke)
    if not args.smoke:
        with RESULTS.open("a") as file:
            file.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
