"""Doubly-constrained PPML in memory and on a Dask LocalCluster, flows from Parquet.

For each zone count, seeded synthetic gravity flows (the model of ``bench_gravity.py``:
power decay -1.5, origin and destination populations) are generated block by block of
origin rows and written as partitioned Parquet (one file per block: origin,
destination, flow, cost) into a temporary folder. Then, each in a fresh subprocess
with BLAS pinned to one thread:

- ``memory``: ``pd.read_parquet`` into two dense arrays, ``kzspatial.fit_gravity``;
  time of the fit, peak RSS (``ru_maxrss``) of the process;
- ``dask``: ``dd.read_parquet`` and ``kzspatial.distributed.fit_gravity`` on a
  ``LocalCluster`` (``--workers`` processes of one thread, ``--memory-limit`` each);
  time from the lazy table to the result, peak RSS of the client process (which also
  runs the scheduler) and of every worker, sampled every 0.25 s with psutil, and the
  bytes the workers spilled to disk. A run that exceeds ``--cap-minutes`` is stopped
  and reported with what was measured until then.

Usage::

    python benchmarks/bench_distributed.py --smoke
    python benchmarks/bench_distributed.py --zones 1000 3000 10000 --memory-limit 6GiB
    python benchmarks/bench_distributed.py --zones 30000 --no-memory --cap-minutes 80 \
        --memory-limit 9.5GiB --memory-target 0.8 --data /big/disk/kz-bench

``--data`` keeps the Parquet of each zone count in that folder (``flows-<n>``), with
the stderr of each measurement (``stderr-<n>-<path>.txt``: a line per pass of the Dask
fit, Dask's logs), and reuses the Parquet in later runs (the 30,000-zone table takes ~10 minutes to write); without it
the table is written to a temporary folder and removed. ``--memory-target`` is the
fraction of ``--memory-limit`` at which a worker starts spilling to disk (Dask's
default 0.6; the ``spill`` and ``pause`` thresholds follow it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_gravity import TRUE, blas_env

SEED = 20261201
FILE_CELLS = 1 << 22  # pairs per Parquet file (one block of origin rows)


def zone_data(n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Coordinates, log populations and the flow scale of ``n`` zones (seeded)."""
    rng = np.random.default_rng(np.random.SeedSequence([SEED, n]))
    xy = rng.uniform(0, 2000, size=(n, 2))
    log_pop = rng.normal(11, 1, size=n)
    # scale so that the mean flow is about 20, from a seeded subset of 300 zones
    sub = np.unique(np.linspace(0, n - 1, min(n, 300)).round().astype(int))
    eta = block_eta(xy, log_pop, sub, sub)
    np.fill_diagonal(eta, -np.inf)
    scale = 20.0 / np.exp(eta[np.isfinite(eta)]).mean()
    return xy, log_pop, float(scale)


def block_eta(xy, log_pop, rows, cols):
    km = np.hypot(*(xy[rows, None, :] - xy[None, cols, :]).transpose(2, 0, 1)) + 5.0
    return (
        TRUE["origin:log_pop"] * log_pop[rows, None]
        + TRUE["destination:log_pop"] * log_pop[None, cols]
        + TRUE["beta"] * np.log(km)
    )


def write_parquet(n: int, folder: Path) -> int:
    """Write the flows of ``n`` zones as one Parquet file per block of origin rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    xy, log_pop, scale = zone_data(n)
    rows = max(1, FILE_CELLS // n)
    starts = range(0, n, rows)
    seeds = np.random.SeedSequence([SEED, n, 1]).spawn(len(starts))
    cols = np.arange(n)
    for k, (start, seed) in enumerate(zip(starts, seeds, strict=True)):
        span = np.arange(start, min(start + rows, n))
        km = np.hypot(*(xy[span, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 5.0
        mu = scale * np.exp(block_eta(xy, log_pop, span, cols))
        mu[np.arange(span.size), span] = 0.0
        flows = np.random.default_rng(seed).poisson(mu).astype(np.float64)
        table = pa.table(
            {
                "origin": np.repeat(span, n).astype(np.int32),
                "destination": np.tile(cols, span.size).astype(np.int32),
                "flow": flows.ravel(),
                "cost": km.ravel(),
            }
        )
        pq.write_table(table, folder / f"part-{k:05d}.parquet")
    return len(starts)


# ------------------------------------------------------------------------ workers
def run_memory(folder: str, n: int) -> dict:
    import pandas as pd

    from kzspatial.core.gravity import fit_gravity

    start = time.perf_counter()
    table = pd.read_parquet(folder)
    flows = np.zeros((n, n))
    km = np.ones((n, n))
    o, d = table["origin"].to_numpy(), table["destination"].to_numpy()
    flows[o, d] = table["flow"].to_numpy()
    km[o, d] = table["cost"].to_numpy()
    del table, o, d
    read = time.perf_counter() - start
    start = time.perf_counter()
    fit = fit_gravity(flows, km, constraint="doubly")
    elapsed = time.perf_counter() - start
    return {
        "read_s": read,
        "fit_s": elapsed,
        "client_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "beta": fit.params["beta"],
        "se": fit.bse_robust["beta"],
        "n_iter": fit.n_iter,
    }


def _spilled(dask_worker) -> int:
    """Bytes a worker has written to its spill directory so far."""
    return dask_worker.data.cumulative_metrics.get(("disk-write", "bytes"), 0)


class Sampler(threading.Thread):
    """Peak RSS of this process and of the given worker processes, sampled.

    With a client, the bytes spilled so far are read every 10 s too, so that a run
    stopped by the cap leaves them behind.
    """

    def __init__(self, pids: list[int], log: Path, client=None) -> None:
        super().__init__(daemon=True)
        import psutil

        self.client = client
        self.spilled = 0

        self.procs = {
            "client": psutil.Process(),
            **{str(p): psutil.Process(p) for p in pids},
        }
        self.peak = dict.fromkeys(self.procs, 0)
        self.log = log
        self.done = threading.Event()

    def run(self) -> None:
        start = last = time.perf_counter()
        while not self.done.wait(0.25):
            if self.client is not None and time.perf_counter() - last > 10:
                last = time.perf_counter()
                with contextlib.suppress(Exception):  # a worker restarting
                    self.spilled = sum(self.client.run(_spilled).values())
            for name, proc in self.procs.items():
                try:
                    self.peak[name] = max(self.peak[name], proc.memory_info().rss)
                except Exception:  # a worker restarted or ended
                    continue
            # written as it goes: a run stopped by the cap leaves its peaks behind
            self.log.write_text(
                json.dumps(
                    {
                        "elapsed_s": time.perf_counter() - start,
                        "peak": self.peak,
                        "spilled": self.spilled,
                    }
                )
            )


def run_dask(
    folder: str, workers: int, memory_limit: str, log: str, target: float
) -> dict:
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from kzspatial.distributed import _runner, fit_gravity

    timed = _runner.DaskRunner.map_reduce
    begin = time.perf_counter()

    def map_reduce(self, d, block_stats, *by_origin, **shared):
        # progress on stderr: one line per pass over the flows
        start = time.perf_counter()
        result = timed(self, d, block_stats, *by_origin, **shared)
        print(
            f"[{time.perf_counter() - begin:7.1f} s] {block_stats.__name__} "
            f"{time.perf_counter() - start:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        return result

    _runner.DaskRunner.map_reduce = map_reduce

    dask.config.set(
        {
            "distributed.worker.memory.target": target,
            "distributed.worker.memory.spill": min(target + 0.05, 0.9),
            "distributed.worker.memory.pause": min(target + 0.12, 0.95),
            # blocks of random-looking float64 compress poorly: spill them as they are
            "distributed.worker.memory.spill-compression": False,
        }
    )
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        memory_limit=memory_limit,
        dashboard_address=":0",
        local_directory=str(Path(folder).parent / "dask-spill"),
    )
    with Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        sampler = Sampler(pids, Path(log), client)
        sampler.start()
        start = time.perf_counter()
        fit = fit_gravity(dd.read_parquet(folder), "cost", client=client)
        elapsed = time.perf_counter() - start
        sampler.done.set()
        sampler.join()
        spilled = client.run(_spilled)
        blocks = fit._design.chunk_rows
    cluster.close()
    peaks = sampler.peak
    return {
        "fit_s": elapsed,
        "client_peak_mib": peaks.pop("client") / 2**20,
        "worker_peak_mib": [v / 2**20 for v in peaks.values()],
        "spilled_mib": sum(spilled.values()) / 2**20,
        "chunk_rows": blocks,
        "beta": fit.params["beta"],
        "se": fit.bse_robust["beta"],
        "n_iter": fit.n_iter,
    }


# ------------------------------------------------------------------------ driver
def in_subprocess(args: list[str], cap_s: float, log: Path) -> dict:
    """Run one measurement in a fresh process; its stderr (progress, logs) goes to
    ``log``, and the line of the exception that ended a failed run to the result."""
    env = {**os.environ, **blas_env()}
    with log.open("w") as stderr:
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                timeout=cap_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"stopped after the cap of {cap_s / 60:.0f} min"}
    if done.returncode:
        lines = log.read_text().strip().splitlines() or ["failed"]
        raised = [x for x in lines if x and not x[0].isspace() and "Error" in x]
        return {"error": (raised or lines)[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(n: int, path: str, result: dict) -> str:
    if "error" in result:
        return f"| {n:,} | {path} | {result['error']} |"
    workers = result.get("worker_peak_mib")
    return (
        f"| {n:,} | {path} | {result['fit_s']:.1f} | {result['client_peak_mib']:,.0f} | "
        f"{'-' if workers is None else ', '.join(f'{w:,.0f}' for w in workers)} | "
        f"{result.get('spilled_mib', 0):,.0f} | {result['n_iter']} | "
        f"{result['beta']:.10f} | {result['se']:.6e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="60 zones, 2 workers")
    parser.add_argument("--zones", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="6GiB")
    parser.add_argument(
        "--memory-max", type=int, default=3000, help="largest in-memory run"
    )
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--cap-minutes", type=float, default=25.0)
    parser.add_argument(
        "--memory-target",
        type=float,
        default=0.6,
        help="fraction of the memory limit where workers start spilling",
    )
    parser.add_argument(
        "--data", type=Path, help="keep and reuse the Parquet tables in this folder"
    )
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, folder, *rest = args.worker
        if kind == "memory":
            result = run_memory(folder, int(rest[0]))
        else:
            result = run_dask(folder, int(rest[0]), rest[1], rest[2], float(rest[3]))
        print(json.dumps(result))
        return
    zones = [60] if args.smoke else args.zones
    cap_s = 120.0 if args.smoke else args.cap_minutes * 60
    print(
        "| zones | path | fit s | client peak MiB | worker peak MiB | spilled MiB "
        "| Newton it. | beta | robust SE |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in zones:
        tmp = Path(tempfile.mkdtemp(prefix="kz-bench-dask-", dir=args.data))
        try:
            folder = (args.data or tmp) / f"flows-{n}"
            kept = args.data is not None and (folder / "_complete").exists()
            start = time.perf_counter()
            if not kept:
                shutil.rmtree(folder, ignore_errors=True)  # an interrupted write
                folder.mkdir()
                write_parquet(n, folder)
                (folder / "_complete").touch()
            files = sorted(folder.glob("*.parquet"))
            size = sum(f.stat().st_size for f in files) / 2**20
            how = (
                "reused" if kept else f"written in {time.perf_counter() - start:.0f} s"
            )
            print(
                f"<!-- {n:,} zones: {len(files)} Parquet files, {size:,.0f} MiB, "
                f"{how} -->",
                flush=True,
            )
            if not args.no_memory and n <= args.memory_max:
                print(
                    row(
                        n,
                        "in memory",
                        in_subprocess(
                            ["memory", str(folder), str(n)],
                            cap_s,
                            (args.data or tmp) / f"stderr-{n}-memory.txt",
                        ),
                    ),
                    flush=True,
                )
            log = tmp / "sampler.json"
            result = in_subprocess(
                [
                    "dask",
                    str(folder),
                    str(args.workers),
                    args.memory_limit,
                    str(log),
                    str(args.memory_target),
                ],
                cap_s,
                (args.data or tmp) / f"stderr-{n}-dask.txt",
            )
            if "error" in result and log.exists():
                seen = json.loads(log.read_text())
                peaks = ", ".join(f"{v / 2**20:,.0f}" for v in seen["peak"].values())
                result["error"] += (
                    f"; peak RSS until then (client, workers) MiB: {peaks}; "
                    f"spilled until then: {seen['spilled'] / 2**20:,.0f} MiB"
                )
            print(
                row(
                    n,
                    f"dask, {args.workers} workers x {args.memory_limit}, spilling "
                    f"from {args.memory_target:.0%}",
                    result,
                ),
                flush=True,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
