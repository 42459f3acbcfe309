"""Time and peak memory of a doubly-constrained PPML fit, in one block or in row blocks.

The synthetic flows of :func:`bench_gravity.generate` are saved once; every fit runs in
a fresh subprocess (BLAS pinned to one thread) that loads them, fits once on 12 zones to
warm up, records its peak resident memory (``ru_maxrss``) so far, fits the full problem
and records the peak again. ``none`` is the default (blocks of about 2**18 flows since
the automatic block size; one block before that): the keyword is not passed then, so
the script also measures code from before the keyword existed (point ``PYTHONPATH`` at
it). ``all`` is one block of all rows. Runs of the configurations are interleaved, and
medians are reported.

Usage::

    python benchmarks/bench_gravity_chunks.py --smoke
    python benchmarks/bench_gravity_chunks.py --zones 3000 --chunk-rows none all 375 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from bench_gravity import blas_env, generate


def worker(path: str, chunk_rows: int | None) -> None:
    """Fit once and print seconds, peak memory before and after the fit, and beta."""
    from kzspatial.core.gravity import fit_gravity

    keywords = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    small = generate(12, 0)
    fit_gravity(small["flows"], small["km"], constraint="doubly", **keywords)
    with np.load(path) as archive:
        flows, km = archive["flows"], archive["km"]
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    fit = fit_gravity(flows, km, constraint="doubly", **keywords)
    elapsed = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "input_mib": before_kib / 1024,
                "peak_mib": peak_kib / 1024,
                "beta": fit.params["beta"],
                "se": fit.bse_robust["beta"],
            }
        )
    )


def parse_chunk_rows(text: str) -> int | str | None:
    text = text.lower()
    return None if text == "none" else text if text == "all" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="60 zones, 1 run each")
    parser.add_argument("--zones", type=int, default=1000)
    parser.add_argument(
        "--chunk-rows", type=parse_chunk_rows, nargs="+", default=[None, "all"]
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], parse_chunk_rows(args.worker[1]))
        return
    zones, repeats = (60, 1) if args.smoke else (args.zones, args.repeats)
    chunk_rows = [zones if rows == "all" else rows for rows in args.chunk_rows]

    runs: dict[int | None, list[dict]] = {rows: [] for rows in chunk_rows}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"flows_{zones}.npz")
        data = generate(zones, args.seed + zones)
        np.savez(path, flows=data["flows"], km=data["km"])
        for _ in range(repeats):
            for rows in chunk_rows:
                done = subprocess.run(
                    [sys.executable, __file__, "--worker", path, str(rows)],
                    capture_output=True,
                    text=True,
                    env={**os.environ, **blas_env(), "PYTHONWARNINGS": "ignore"},
                    check=True,
                )
                runs[rows].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(rows, runs[rows][-1], file=sys.stderr, flush=True)

    print(
        "| zones | chunk_rows | blocks | median s (min-max) | peak MiB before fit "
        "| peak MiB | beta |"
    )
    print("|---|---|---|---|---|---|---|")
    from kzspatial.core.gravity import blocks

    # the default's block size; code from before it existed used one block
    auto_cells = getattr(blocks, "_AUTO_BLOCK_CELLS", zones * zones)
    for rows, results in runs.items():
        seconds = [r["seconds"] for r in results]
        used = max(1, auto_cells // zones) if rows is None else rows
        blocks = -(-zones // used)
        print(
            f"| {zones:,} | {rows} | {blocks} | {statistics.median(seconds):.3f} "
            f"({min(seconds):.3f}-{max(seconds):.3f}) "
            f"| {statistics.median(r['input_mib'] for r in results):.0f} "
            f"| {statistics.median(r['peak_mib'] for r in results):.0f} "
            f"| {results[0]['beta']:.12f} |"
        )


if __name__ == "__main__":
    main()
