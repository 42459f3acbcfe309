"""How close the PPML gravity fits are to this machine's memory bandwidth (issue 16, item 6).

On the synthetic problem of benchmarks/bench_gravity.py, for each zone count and
constraint, in one process: every pass of a kzspatial fit over the flows, counted and
timed by wrapping the in-process runner, with the bytes it must move at least (each
flow-shaped array it reads or writes, once, 8 bytes a cell); and the machine's
bandwidth, measured by NumPy copies (bytes read + written) and sums (bytes read) of a
512 MiB array and of one flow-shaped array. The passes' time over the time those bytes
need at the measured bandwidth says how far a fit is from being bound by memory
traffic. ``--peer`` times the fastest peer of benchmarks/results/gravity.md (spint for
the unconstrained model, pyfixest for the others) alternately with kzspatial.
Prints a Markdown section; ``--write`` appends it to benchmarks/results/gravity.md.

    python benchmarks/bench_gravity_bandwidth.py --zones 1000 3000 [--peer] [--write]
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
# block functions of kzspatial.core.gravity: the predictor reads the decay regressor
# and writes mu (its moments, when it sums them, reread both from cache); the moments
# read the weights and the regressor; the rescaling reads and writes mu; the products
# of the two-way solver read mu; the sandwich meat reads y, mu and the regressor; the
# fit sums y and mu; the peaks the regressor; the warm start's sample y and the
# regressor. The passes that touch only the self-pairs move nothing.
SWEEPS = {
    "_block_predictor": 2,
    "_block_moments": 2,
    "_block_rescale": 2,
    "_block_schur_product": 1,
    "_block_product": 1,
    "_block_transposed_product": 1,
    "_block_scores": 3,
    "_block_fit_sums": 2,
    "_block_peaks": 1,
    "_block_sample": 2,
    "_block_excluded": 0,
    "_block_fitted": 0,
}
PEERS = {"unconstrained": "spint"}  # the fastest peer; pyfixest for the others


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bandwidths(n_bytes: int, repeats: int = 5) -> tuple[float, float]:
    """Copy (read + write) and read bandwidth in GB/s on arrays of ``n_bytes``."""
    src = np.ones(n_bytes // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    copy = min(_time(lambda: np.copyto(dst, src)) for _ in range(repeats))
    read = min(_time(src.sum) for _ in range(repeats))
    return 2 * n_bytes / copy / 1e9, n_bytes / read / 1e9


def counted_fit(data, constraint):
    """One kzspatial fit with every pass over the flows timed, with its cell count."""
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
        fit, seconds = bg.kzspatial_fit(data, constraint)
    finally:
        for name, original in originals.items():
            setattr(runner, name, original)
    return fit, seconds, passes


def section(n, constraint, data, repeats, peer, bw) -> list[str]:
    """Measure one zone count and constraint; return its Markdown lines."""
    cells = n * n
    loads = [os.getloadavg()[0]]
    bg.kzspatial_fit(data, constraint)  # warm-up: imports, kernels from numba's cache
    times, peer_times = [], []
    for _ in range(repeats):  # alternated, so both meet the same machine load
        times.append(bg.kzspatial_fit(data, constraint)[1])
        if peer:
            peer_times.append(bg.RUNNERS[peer](data, constraint)[0])
        loads.append(os.getloadavg()[0])
    fit, seconds, passes = counted_fit(data, constraint)
    full = {
        name: [(s, size) for s, size in t if size == cells]
        for name, t in passes.items()
    }
    pass_s = sum(s for t in full.values() for s, _ in t)
    moved = sum(SWEEPS[name] * len(t) * cells * 8 for name, t in full.items())
    dram, flow = bw["dram"], bw[n]
    best = max(dram + flow)  # the highest bandwidth measured: the strictest bound
    bound = moved / (best * 1e9)
    kz = statistics.median(times)
    lines = [
        f"### {n:,} zones, {constraint}",
        "",
        f"Load average {min(loads):.2f}-{max(loads):.2f}. kzspatial median of "
        f"{repeats} fits: {kz:.3f} s ({', '.join(f'{s:.3f}' for s in times)})"
        + (
            f"; {peer} {statistics.median(peer_times):.3f} s "
            f"({', '.join(f'{s:.3f}' for s in peer_times)}): "
            f"**{statistics.median(peer_times) / kz:.1f}x**"
            if peer
            else ""
        )
        + f". The counted fit took {seconds:.3f} s, {fit.n_iter} Newton iterations on "
        "all zones after the warm start.",
        "",
        "| pass | on all zones | seconds | flow arrays moved at least | MB |",
        "|---|---|---|---|---|",
    ]
    for name, t in sorted(full.items(), key=lambda kv: -sum(s for s, _ in kv[1])):
        if t:
            lines.append(
                f"| {name} | {len(t)} | {sum(s for s, _ in t):.3f} | {SWEEPS[name]} "
                f"| {SWEEPS[name] * len(t) * cells * 8 / 1e6:,.0f} |"
            )
    lines += [
        "",
        f"Passes over all zones: {pass_s * 1e3:.0f} ms for {moved / 1e6:,.0f} MB, which "
        f"take {bound * 1e3:.0f} ms at {best:.1f} GB/s: **{pass_s / bound:.1f}x** the "
        f"bandwidth bound. Per Newton iteration ({fit.n_iter} on all zones): "
        f"{pass_s / fit.n_iter * 1e3:.0f} ms for {moved / fit.n_iter / 1e6:,.0f} MB "
        "(the passes outside the iterations shared out).",
        "",
    ]
    return lines


def main() -> None:
    """Measure and print (optionally append) the bandwidth section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, nargs="+", default=[1000])
    parser.add_argument(
        "--constraints", nargs="+", default=["unconstrained"], choices=bg.CONSTRAINTS
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    os.environ.update(bg.blas_env())  # read by the peers' BLAS at first use
    bw = {"dram": bandwidths(512 * 2**20)}
    for n in args.zones:
        bw[n] = bandwidths(n * n * 8)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=HERE,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [
        f"## Passes against the memory bandwidth ({dt.datetime.now():%Y-%m-%d %H:%M})",
        "",
        f"Commit {commit}, 2 shared cores, BLAS pinned to 1 thread. Bandwidth measured "
        "with NumPy, GB/s (copy: read + written; read: summed): 512 MiB arrays "
        f"{bw['dram'][0]:.1f} copy, {bw['dram'][1]:.1f} read; "
        + "; ".join(
            f"one {n:,}-zone flow array ({n * n * 8 / 1e6:.0f} MB) {bw[n][0]:.1f} copy, "
            f"{bw[n][1]:.1f} read"
            for n in args.zones
        )
        + ". The bound below uses the highest of these for each size.",
        "",
    ]
    for n in args.zones:
        data = bg.generate(n, 20240601 + n)
        for constraint in args.constraints:
            peer = PEERS.get(constraint, "pyfixest") if args.peer else None
            lines += section(n, constraint, data, args.repeats, peer, bw)
    text = "\n".join(lines)
    print(text)
    if args.write:
        with (HERE / "results" / "gravity.md").open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
