"""Real-data benchmark: the 20-region 2024 OD matrix (380 flows), kzspatial vs peers.

Same fits as in the synthetic benchmarks, on the real data through kzspatial's loaders:
doubly-constrained PPML (power decay, distances between administrative centres) against
pyfixest ``fepois``, spint ``Doubly`` and statsmodels' Poisson GLM; flow Moran's I with
999 permutations (od weights, 4 nearest neighbours) against libpysal ``ODW`` +
``esda.Moran``. Medians of 5 in-process runs after one warm-up. Writes
benchmarks/results/real_data.md. Needs KZSPATIAL_DATA_MIRROR or network.

    python benchmarks/bench_real.py [--smoke]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).with_name("results") / "real_data.md"


def _median_time(fn, repeat: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    repeat = 1 if args.smoke else 5
    permutations = 99 if args.smoke else 999

    import pandas as pd

    from kzspatial import fit_gravity, flow_morans_i, load_admin_centres, load_od_flows
    from kzspatial.core.distance import great_circle_matrix_km
    from kzspatial.core.flows import to_matrix
    from kzspatial.core.weights import build_knn
    from kzspatial.datasets.regions import configuration_ids

    ids = list(configuration_ids())
    od = load_od_flows(years=[2024])
    F = to_matrix(od.origin.tolist(), od.destination.tolist(), od.flow, ids)
    centres = load_admin_centres().set_index("region_id").loc[ids]
    lon, lat = centres.geometry.x.to_numpy(), centres.geometry.y.to_numpy()
    D = great_circle_matrix_km(lon, lat)
    i, j = np.nonzero(~np.eye(len(ids), dtype=bool))
    long = pd.DataFrame(
        {
            "flow": F[i, j],
            "log_d": np.log(D[i, j]),
            "o": np.array(ids)[i],
            "d": np.array(ids)[j],
        }
    )
    rows = []
    t, fit = _median_time(
        lambda: fit_gravity(F, D, constraint="doubly", ids=ids), repeat
    )
    beta = fit.params["beta"]
    rows.append(("doubly PPML", "kzspatial", t, 0.0))
    try:
        import pyfixest as pf

        t, res = _median_time(
            lambda: pf.fepois("flow ~ log_d | o + d", data=long), repeat
        )
        rows.append(
            ("doubly PPML", "pyfixest fepois", t, abs(res.coef()["log_d"] / beta - 1))
        )
    except ImportError:
        pass
    try:
        import statsmodels.api as sm

        X = np.column_stack(
            [
                np.ones(i.size),
                long.log_d,
                *(np.eye(len(ids))[i][:, 1:].T),
                *(np.eye(len(ids))[j][:, 1:].T),
            ]
        )
        t, res = _median_time(
            lambda: sm.GLM(long.flow, X, family=sm.families.Poisson()).fit(), repeat
        )
        rows.append(
            ("doubly PPML", "statsmodels GLM", t, abs(res.params.iloc[1] / beta - 1))
        )
    except ImportError:
        pass
    try:
        from spint.gravity import Doubly

        t, res = _median_time(
            lambda: Doubly(
                long.flow.to_numpy().astype(int),
                long.o.to_numpy(),
                long.d.to_numpy(),
                D[i, j],
                "pow",
            ),
            repeat,
        )
        rows.append(("doubly PPML", "spint Doubly", t, abs(res.params[-1] / beta - 1)))
    except ImportError:
        pass

    w = build_knn(ids, lon, lat, k=4)
    Z = np.where(np.eye(len(ids), dtype=bool), 0.0, F)
    t, mine = _median_time(
        lambda: flow_morans_i(
            Z, w, kind="od", permutations=permutations, rng=0, diagonal="include"
        ),
        repeat,
    )
    rows.append((f"flow Moran, {permutations} perms", "kzspatial", t, 0.0))
    try:
        import esda
        from libpysal.weights import ODW

        from kzspatial.geo.weights import to_libpysal_w

        wl = to_libpysal_w(w)
        odw = ODW(wl, wl, transform="r")

        def peer():
            np.random.seed(0)
            return esda.Moran(Z.ravel(), odw, permutations=permutations)

        t, res = _median_time(peer, repeat)
        rows.append(
            (
                f"flow Moran, {permutations} perms",
                "libpysal ODW + esda",
                t,
                abs(res.I / mine.I - 1),
            )
        )
    except ImportError:
        pass

    base = {task: t for task, tool, t, _ in rows if tool == "kzspatial"}
    lines = [
        "# Real-data benchmark: 20 regions, 2024 (380 flows)",
        "",
        f"Date: {dt.date.today()}. Machine: {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}. Medians of {repeat} in-process "
        "runs after a warm-up. rel. diff: |estimate / kzspatial's - 1| (decay beta "
        "for PPML, I for flow Moran).",
        "",
        "| task | tool | median s | rel. diff | peer time / kzspatial time |",
        "|---|---|---|---|---|",
    ]
    for task, tool, t, diff in rows:
        ratio = "" if tool == "kzspatial" else f"{t / base[task]:.1f}x"
        lines.append(f"| {task} | {tool} | {t:.4f} | {diff:.1e} | {ratio} |")
    lines.append("")
    if not args.smoke:
        RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
