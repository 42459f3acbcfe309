"""How close the unconstrained PPML fit at 1,000 zones is to this machine's memory bandwidth.

Issue 16, item 6. On one synthetic problem (benchmarks/bench_gravity.py's generator,
1,000 zones), in one process: the kzspatial fit against spint, the fastest peer for the
unconstrained model there; every pass of the fit over the flows counted and timed by
wrapping the in-process runner; the bytes each pass must move at least (each flow-shaped
array it reads or writes, once, 8 bytes a cell); and the machine's bandwidth measured
by numpy copies (read + write) of a 512 MiB array and of one 8 MB flow-shaped array.
Prints a Markdown section; ``--write`` appends it to benchmarks/results/gravity.md.

    python benchmarks/bench_gravity_bandwidth.py [--write]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_gravity as bg  # noqa: E402

from kzspatial.core.gravity import blocks  # noqa: E402

# Flow-shaped arrays (n x n cells) each pass reads or writes at least once, from the
# block functions in kzspatial.core.gravity.blocks: moments read the weights and the
# decay regressor; the predictor reads the regressor and writes mu; the rescaling
# reads and writes mu; the fit sums read y and mu; the sandwich meat reads y, mu and
# the regressor. Passes not listed count 2.
SWEEPS = {
    "_block_moments": 2,
    "_block_predictor": 2,
    "_block_rescale": 2,
    "_block_fit_sums": 2,
    "_block_scores": 3,
}


def bandwidth(n_bytes: int, repeats: int = 5) -> float:
    """Copy bandwidth in GB/s (bytes read + bytes written) for arrays of ``n_bytes``."""
    src = np.ones(n_bytes // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_time(lambda: np.copyto(dst, src)) for _ in range(repeats))
    return 2 * n_bytes / best / 1e9


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def counted_fit(data) -> tuple[float, dict[str, list[tuple[float, int]]]]:
    """One kzspatial fit with every pass over the flows timed, with its cell count.

    The warm start on a subset of zones makes passes over fewer cells.
    """
    passes: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
    runner = blocks._LocalRunner
    originals = {name: getattr(runner, name) for name in ("map_reduce", "map_blocks")}

    def wrap(original):
        def timed(self, d, fn, *args, **kwargs):
            start = time.perf_counter()
            try:
                return original(self, d, fn, *args, **kwargs)
            finally:
                passes[fn.__name__].append((time.perf_counter() - start, d.y.size))

        return timed

    for name, original in originals.items():
        setattr(runner, name, wrap(original))
    try:
        seconds, _ = bg.run_kzspatial(data, "unconstrained")
    finally:
        for name, original in originals.items():
            setattr(runner, name, original)
    return seconds, passes


def main() -> None:
    """Measure and print (optionally append) the bandwidth section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    n = args.zones
    data = bg.generate(n, 20240601)
    cells = n * n
    load = os.getloadavg()[0]
    bg.run_kzspatial(data, "unconstrained")  # warm-up: imports, numba caches
    bg.run_spint(data, "unconstrained")
    kz, sp = [], []
    for _ in range(args.repeats):  # alternated, so both see the same machine load
        kz.append(bg.run_kzspatial(data, "unconstrained")[0])
        sp.append(bg.run_spint(data, "unconstrained")[0])
    fit_s, passes = counted_fit(data)
    dram = bandwidth(512 * 2**20)
    block = bandwidth(cells * 8)
    exp_s = min(_time(lambda: np.exp(-data["km"] / 1e3)) for _ in range(5))
    min_bytes = sum(
        SWEEPS.get(name, 2) * size * 8 for name, t in passes.items() for _, size in t
    )
    pass_s = sum(s for t in passes.values() for s, _ in t)
    full = [s for s, size in passes.get("_block_moments", []) if size == cells]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=HERE,
        capture_output=True,
        text=True,
    ).stdout.strip()
    kz_med, sp_med = statistics.median(kz), statistics.median(sp)
    lines = [
        f"## Unconstrained fit at {n:,} zones against the memory bandwidth (issue 16, item 6)",
        "",
        f"Date: {dt.datetime.now():%Y-%m-%d %H:%M}, commit {commit}, load average "
        f"{load:.2f} (2 shared cores). One process, fits alternated, median of "
        f"{args.repeats}: kzspatial {kz_med:.3f} s ({', '.join(f'{s:.3f}' for s in kz)}), "
        f"spint {sp_med:.3f} s ({', '.join(f'{s:.3f}' for s in sp)}): "
        f"**{sp_med / kz_med:.1f}x** the fastest peer.",
        "",
        "Passes over the flows in one fit (timed by wrapping the in-process runner; "
        f"this fit took {fit_s:.3f} s, {pass_s:.3f} s of it in the passes):",
        "",
        "| pass | count (on all zones) | seconds | flow arrays moved at least |",
        "|---|---|---|---|",
    ]
    for name, t in sorted(passes.items(), key=lambda kv: -sum(s for s, _ in kv[1])):
        on_all = sum(size == cells for _, size in t)
        lines.append(
            f"| {name} | {len(t)} ({on_all}) | {sum(s for s, _ in t):.3f} | "
            f"{SWEEPS.get(name, 2)} |"
        )
    bound_dram = min_bytes / (dram * 1e9)
    bound_block = min_bytes / (block * 1e9)
    lines += [
        "",
        f"Bytes moved at least: {min_bytes / 1e6:.0f} MB per fit "
        f"({len(full)} Newton iterations on all zones after the warm start, each "
        "one moments, one predictor and one rescaling pass: "
        f"{6 * cells * 8 / 1e6:.0f} MB per iteration). Measured copy "
        f"bandwidth (read + write): {dram:.1f} GB/s on 512 MiB arrays (memory), "
        f"{block:.1f} GB/s on {cells * 8 / 1e6:.0f} MB arrays (one flow array). "
        f"Time those bytes need: {bound_dram * 1e3:.0f} ms at the memory bandwidth, "
        f"{bound_block * 1e3:.0f} ms at the 8 MB bandwidth; the passes took "
        f"{pass_s * 1e3:.0f} ms: **{pass_s / bound_dram:.1f}x** the memory-bandwidth "
        f"bound (**{pass_s / bound_block:.1f}x** the 8 MB one). One `np.exp` over the "
        f"{cells:,} cells alone takes {exp_s * 1e3:.1f} ms, the compute floor of each "
        "predictor pass.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        with (HERE / "results" / "gravity.md").open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
