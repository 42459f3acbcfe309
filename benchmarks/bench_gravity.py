"""Benchmark PPML gravity fits: kzspatial against pyfixest, spint and statsmodels.

Synthetic flows with known parameters (power decay beta = -1.5, origin and destination
log-population elasticities 0.8 and 0.6, mean flow 20 per pair) are generated once per
size with a seeded generator and saved; every fit then runs in a fresh subprocess that
loads them, so each tool's peak resident memory (``ru_maxrss``, including the loaded
input) is measured separately. Times cover the fit call only, from each tool's natural
input (matrices for kzspatial, a long DataFrame for pyfixest, long vectors for spint
and statsmodels); medians over the repeats are reported.

The tools are alternated (repeat 1 of every tool, then repeat 2, ...), so that all of
them meet the same load on a shared machine, and the 1-minute load average before each
fit is recorded.

Usage::

    python benchmarks/bench_gravity.py --smoke          # 20 zones, 1 run in-process, prints only
    nice python benchmarks/bench_gravity.py             # full run, writes results/gravity.md
    python benchmarks/bench_gravity.py --sizes 1000 3000 --append --title "..."
                                                        # a dated section added to it
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
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

import numpy as np

CONSTRAINTS = ("doubly", "production", "attraction", "unconstrained")
TOOLS = ("kzspatial", "pyfixest", "spint", "statsmodels")
TRUE = {"beta": -1.5, "origin:log_pop": 0.8, "destination:log_pop": 0.6}
# statsmodels needs dense dummy columns for the fixed effects: only small sizes fit
STATSMODELS_MAX_ZONES = {
    "unconstrained": 1000,
    "production": 224,
    "attraction": 224,
    "doubly": 224,
}
HERE = Path(__file__).resolve().parent
SLOW_SECONDS = 60.0  # a first run longer than this is not repeated


def generate(n: int, seed: int) -> dict[str, np.ndarray]:
    """Gravity flows between ``n`` zones scattered over a 2,000 km square."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 5.0
    log_pop = rng.normal(11, 1, size=n)
    eta = (
        TRUE["origin:log_pop"] * log_pop[:, None]
        + TRUE["destination:log_pop"] * log_pop[None, :]
        + TRUE["beta"] * np.log(km)
    )
    np.fill_diagonal(eta, -np.inf)
    mu = np.exp(eta - eta.max())
    mu *= 20.0 / mu[~np.eye(n, dtype=bool)].mean()
    flows = rng.poisson(mu).astype(np.float64)
    return {"flows": flows, "km": km, "log_pop": log_pop}


def covariate_sides(constraint: str) -> tuple[bool, bool]:
    """Which zone covariates a model identifies: (origin, destination)."""
    return constraint in ("unconstrained", "attraction"), constraint in (
        "unconstrained",
        "production",
    )


# ------------------------------------------------------------------------ workers
def kzspatial_fit(data, constraint):
    """The kzspatial fit and its duration in seconds."""
    from kzspatial.core.gravity import fit_gravity

    use_o, use_d = covariate_sides(constraint)
    pop = {"log_pop": data["log_pop"]}
    start = time.perf_counter()
    fit = fit_gravity(
        data["flows"],
        data["km"],
        constraint=constraint,
        origin_vars=pop if use_o else None,
        destination_vars=pop if use_d else None,
    )
    return fit, time.perf_counter() - start


def run_kzspatial(data, constraint):
    fit, elapsed = kzspatial_fit(data, constraint)
    return elapsed, {k: v for k, v in fit.params.items() if k in TRUE}


def long_format(data):
    n = data["flows"].shape[0]
    origin, destination = np.nonzero(~np.eye(n, dtype=bool))
    return (
        origin,
        destination,
        data["flows"][origin, destination],
        data["km"][origin, destination],
    )


def run_pyfixest(data, constraint):
    import pandas as pd
    import pyfixest as pf

    origin, destination, flow, km = long_format(data)
    frame = pd.DataFrame(
        {
            "flow": flow,
            "log_d": np.log(km),
            "o": origin,
            "d": destination,
            "o_pop": data["log_pop"][origin],
            "d_pop": data["log_pop"][destination],
        }
    )
    use_o, use_d = covariate_sides(constraint)
    rhs = " + ".join(["log_d"] + ["o_pop"] * use_o + ["d_pop"] * use_d)
    fe = {
        "unconstrained": "",
        "production": " | o",
        "attraction": " | d",
        "doubly": " | o + d",
    }
    start = time.perf_counter()
    fit = pf.fepois(f"flow ~ {rhs}{fe[constraint]}", data=frame, vcov="hetero")
    elapsed = time.perf_counter() - start
    names = {"log_d": "beta", "o_pop": "origin:log_pop", "d_pop": "destination:log_pop"}
    return elapsed, {names[k]: float(v) for k, v in fit.coef().items() if k in names}


def run_spint(data, constraint):
    from spint.gravity import Attraction, Doubly, Gravity, Production

    origin, destination, flow, km = long_format(data)
    flow = flow.astype(np.int64)  # spint insists on an integer dtype
    # spint takes masses and logs them itself
    o_pop, d_pop = np.exp(data["log_pop"][origin]), np.exp(data["log_pop"][destination])
    start = time.perf_counter()
    if constraint == "doubly":
        fit = Doubly(flow, origin, destination, km, "pow")
        params = {"beta": fit.params[-1]}
    elif constraint == "production":
        fit = Production(flow, origin, d_pop[:, None], km, "pow")
        params = {"destination:log_pop": fit.params[-2], "beta": fit.params[-1]}
    elif constraint == "attraction":
        fit = Attraction(flow, destination, o_pop[:, None], km, "pow")
        params = {"origin:log_pop": fit.params[-2], "beta": fit.params[-1]}
    else:
        fit = Gravity(flow, o_pop[:, None], d_pop[:, None], km, "pow")
        params = {
            "origin:log_pop": fit.params[1],
            "destination:log_pop": fit.params[2],
            "beta": fit.params[3],
        }
    elapsed = time.perf_counter() - start
    return elapsed, {k: float(v) for k, v in params.items()}


def run_statsmodels(data, constraint):
    import statsmodels.api as sm

    n = data["flows"].shape[0]
    origin, destination, flow, km = long_format(data)
    use_o, use_d = covariate_sides(constraint)
    columns = [np.log(km)]
    names = ["beta"]
    if constraint == "unconstrained":
        columns.append(np.ones(flow.size))
        names.append("intercept")
    if use_o:
        columns.append(data["log_pop"][origin])
        names.append("origin:log_pop")
    if use_d:
        columns.append(data["log_pop"][destination])
        names.append("destination:log_pop")
    if constraint in ("production", "doubly"):
        columns.append(np.eye(n)[origin])
    if constraint == "attraction":
        columns.append(np.eye(n)[destination])
    if constraint == "doubly":
        columns.append(np.eye(n)[destination][:, 1:])
    X = np.column_stack(columns)
    start = time.perf_counter()
    fit = sm.GLM(flow, X, family=sm.families.Poisson()).fit(tol=1e-10)
    elapsed = time.perf_counter() - start
    return elapsed, {
        name: float(fit.params[k]) for k, name in enumerate(names) if name in TRUE
    }


RUNNERS = {
    "kzspatial": run_kzspatial,
    "pyfixest": run_pyfixest,
    "spint": run_spint,
    "statsmodels": run_statsmodels,
}


def warm_up(tool: str, constraint: str) -> None:
    """One tiny fit first, so imports and first-call compilation are not timed."""
    RUNNERS[tool](generate(12, 0), constraint)


def worker(tool: str, constraint: str, path: str) -> None:
    """Fit once and print timing, peak memory and estimates as JSON."""
    with np.load(path) as archive:
        data = {key: archive[key] for key in archive.files}
    warm_up(tool, constraint)
    elapsed, params = RUNNERS[tool](data, constraint)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps({"seconds": elapsed, "peak_gb": peak_kib / 2**20, "params": params})
    )


# ------------------------------------------------------------------------- driver
def measure_in_process(tool, constraint, data):
    """Smoke mode: one fit in this process (no memory figure)."""
    warm_up(tool, constraint)
    elapsed, params = RUNNERS[tool](data, constraint)
    return {"seconds": elapsed, "peak_gb": float("nan"), "params": params}


def measure_once(tool, constraint, path):
    """One fit in a fresh subprocess: its record, or ``{"error": ...}``."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", tool, constraint, path],
        capture_output=True,
        text=True,
        env={**os.environ, **blas_env(), "PYTHONWARNINGS": "ignore"},
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(tools, constraint, path, repeats):
    """Fit every tool ``repeats`` times, alternating them; medians and load averages."""
    runs = {tool: [] for tool in tools}
    failed = {}
    for _ in range(repeats):
        for tool in tools:
            done = runs[tool]
            if tool in failed or (done and done[0]["seconds"] > SLOW_SECONDS):
                continue  # one run of a slow peer ranks it; keeps the machine free
            load = os.getloadavg()[0]
            record = measure_once(tool, constraint, path)
            if "error" in record:
                failed[tool] = record
                continue
            done.append({**record, "load": load})
    results = dict(failed)
    for tool, done in runs.items():
        if tool in failed or not done:
            continue
        results[tool] = {
            "runs": len(done),
            "seconds": statistics.median(r["seconds"] for r in done),
            "peak_gb": statistics.median(r["peak_gb"] for r in done),
            "params": done[0]["params"],
            "loads": [r["load"] for r in done],
        }
    return results


BLAS_THREADS = 1


def blas_env() -> dict[str, str]:
    """Pin BLAS threads for every tool alike (see the note in the results file)."""
    return {
        name: str(BLAS_THREADS)
        for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
    }


def max_rel_diff(params, reference):
    common = set(params) & set(reference)
    return max(abs(params[k] - reference[k]) / abs(reference[k]) for k in common)


def commit() -> str:
    """Commit of the measured kzspatial: $KZSPATIAL_COMMIT, else this checkout's HEAD."""
    if os.environ.get("KZSPATIAL_COMMIT"):
        return os.environ["KZSPATIAL_COMMIT"]
    done = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def versions():
    names = ["numpy", "scipy", "pandas", "pyfixest", "spint", "statsmodels"]
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="20 zones, 1 run, print only"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 224, 1000, 3000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--constraints", nargs="+", default=list(CONSTRAINTS))
    parser.add_argument("--tools", nargs="+", default=list(TOOLS))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "gravity.md")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the tables to --output as a dated section instead of replacing it",
    )
    parser.add_argument("--title", default="", help="heading of the appended section")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--worker",
        nargs=3,
        metavar=("TOOL", "CONSTRAINT", "NPZ"),
        help=argparse.SUPPRESS,
    )
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    sizes, repeats = ([20], 1) if args.smoke else (args.sizes, args.repeats)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = os.path.join(tmp, f"flows_{n}.npz")
            data = generate(n, args.seed + n)
            np.savez(path, **data)
            for constraint in args.constraints:
                tools = [
                    tool
                    for tool in args.tools
                    if tool != "statsmodels" or n <= STATSMODELS_MAX_ZONES[constraint]
                ]
                if args.smoke:
                    results = {
                        tool: measure_in_process(tool, constraint, data)
                        for tool in tools
                    }
                else:
                    results = measure(tools, constraint, path, repeats)
                for tool, result in results.items():
                    print(n, constraint, tool, result, flush=True)
                rows.append((n, constraint, results))

    if args.append:
        text = render(rows, repeats, section=args.title or "Run")
        print(text)
        with args.output.open("a") as fh:
            fh.write("\n" + text)
        return
    table = render(rows, repeats)
    print(table)
    if not args.smoke:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table)


def render(rows, repeats, section=None) -> str:
    """Markdown report: machine, versions, one table row per (size, constraint, tool).

    ``section`` makes it a dated ``##`` section of that title (appended to the file)
    instead of the whole document.
    """
    uname = platform.uname()
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    now = datetime.datetime.now()
    head = (
        ["# Gravity (PPML) benchmark", ""]
        if section is None
        else [f"## {section} ({now:%Y-%m-%d %H:%M})", ""]
    )
    sub = "##" if section is None else "###"
    lines = [
        *head,
        f"- date: {now:%Y-%m-%d %H:%M}",
        f"- machine: {uname.system} {uname.release} {uname.machine}, "
        f"{os.cpu_count()} CPUs, {memory_gb:.0f} GiB RAM (shared with other jobs during the run)",
        f"- python {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- kzspatial commit {commit()}",
        f"- medians of {repeats} runs (a single run where the first took over "
        f"{SLOW_SECONDS:.0f} s), each in a fresh subprocess after a warm-up fit on 12 zones; "
        "peak = ru_maxrss of that process including its input data; time = the fit call only",
        "- data: synthetic, power decay beta = -1.5, log-population elasticities 0.8 (origin) "
        "and 0.6 (destination), Poisson flows with mean 20, self-flows excluded; "
        "production models estimate the destination elasticity, attraction the origin one, "
        "unconstrained both plus an intercept",
        f"- BLAS pinned to {BLAS_THREADS} thread(s) for every tool (OPENBLAS/MKL/OMP_NUM_THREADS): "
        "on this shared machine a busy-waiting multi-threaded OpenBLAS slowed small dense "
        "solves up to 70x; pyfixest's Rust demeaner keeps its own threads",
        "- pyfixest: `fepois` with its defaults (iwls_tol 1e-8); spint: GLM framework; "
        "statsmodels: `GLM(Poisson)` with dense dummies, only where that fits in memory",
        "- rel. diff = largest relative difference of the shared estimates from kzspatial's; "
        "speed-up = tool time / kzspatial time; load = 1-minute load average before each "
        "fit (median, range), the tools alternated run by run",
        "",
        "| zones | flows | constraint | tool | median s | peak GB | rel. diff vs kzspatial "
        "| kzspatial speed-up | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for n, constraint, results in rows:
        kz = results.get("kzspatial", {})
        peers = []
        for tool, res in results.items():
            if "error" in res:
                lines.append(
                    f"| {n} | {n * (n - 1):,} | {constraint} | {tool} | failed: "
                    f"{res['error']} | | | | |"
                )
                continue
            diff = speedup = ""
            if tool != "kzspatial" and "params" in kz:
                diff = f"{max_rel_diff(res['params'], kz['params']):.1e}"
                speedup = f"{res['seconds'] / kz['seconds']:.1f}x"
                peers.append(res["seconds"])
            runs = (
                "" if res.get("runs", repeats) == repeats else f" ({res['runs']} run)"
            )
            lines.append(
                f"| {n} | {n * (n - 1):,} | {constraint} | {tool} | {res['seconds']:.3f}{runs} "
                f"| {res['peak_gb']:.2f} | {diff} | {speedup} | {_loads(res)} |"
            )
        if peers and "seconds" in kz:
            summary.append(
                f"| {n} | {constraint} | {kz['seconds']:.3f} | {min(peers):.3f} "
                f"| {min(peers) / kz['seconds']:.1f}x | {kz['peak_gb']:.2f} |"
            )
    lines += [
        "",
        f"{sub} kzspatial against the fastest peer",
        "",
        "| zones | constraint | kzspatial s | fastest peer s | ratio | kzspatial peak GB |",
        "|---|---|---|---|---|---|",
        *summary,
        "",
    ]
    if section is None:
        lines += scaling_notes(rows, memory_gb)
    return "\n".join(lines)


def _loads(result) -> str:
    """Median (min-max) of the load averages a tool's runs met; '' in smoke mode."""
    loads = result.get("loads")
    if not loads:
        return ""
    return f"{statistics.median(loads):.2f} ({min(loads):.2f}-{max(loads):.2f})"


def scaling_notes(rows, memory_gb) -> list[str]:
    """How far one machine goes, extrapolated from the largest doubly-constrained fit."""
    measured = [
        (n, res["kzspatial"])
        for n, constraint, res in rows
        if constraint == "doubly" and "seconds" in res.get("kzspatial", {})
    ]
    if not measured or not np.isfinite(
        max(measured, key=lambda item: item[0])[1]["peak_gb"]
    ):
        return []
    n, kz = max(measured, key=lambda item: item[0])
    pairs = n * (n - 1)
    bytes_per_pair = kz["peak_gb"] * 2**30 / pairs
    max_pairs = 0.8 * memory_gb * 2**30 / bytes_per_pair
    return [
        "## How far one machine goes, and chunking",
        "",
        f"The {n:,}-zone doubly-constrained fit peaked at {kz['peak_gb']:.2f} GB including its "
        f"input, about {bytes_per_pair:.0f} bytes per pair: the core keeps four float64 arrays "
        "of the flow shape (flows, decay regressor, fitted flows, one scratch array) and the "
        "standard errors briefly two more. Memory and time per Newton iteration grow with the "
        f"number of pairs, so 80 % of this machine's {memory_gb:.0f} GiB holds about "
        f"{max_pairs / 1e6:,.0f} million pairs, i.e. about {np.sqrt(max_pairs):,.0f} zones for "
        f"one year, fitted in roughly {kz['seconds'] * max_pairs / pairs:,.0f} s by linear "
        "extrapolation (more if the conjugate-gradient iterations of the doubly model grow).",
        "",
        "Every pass over the flows is a map over blocks of origin rows plus a reduction "
        "(row-indexed statistics concatenated, column sums, Gram entries, `M^T u` products "
        "and totals summed), and `fit_gravity(chunk_rows=k)` runs it block by block: "
        "the workspace then shrinks from whole flow arrays to blocks, and only n-vectors "
        "and p x p matrices leave a block. A `dask.array` chunked by rows needs exactly "
        "`map_blocks` plus those reductions; that version is not written yet. "
        "`benchmarks/bench_gravity_chunks.py` measures the chunked fit: "
        "[gravity_chunks.md](gravity_chunks.md).",
        "",
    ]


if __name__ == "__main__":
    main()
