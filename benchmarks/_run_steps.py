"""Run ``kzspatial run`` in this process with each pipeline step timed (for bench_run.py).

Wraps the step functions that :mod:`kzspatial.study.pipeline` calls (data load, analyses,
product writers) with timers, runs the CLI with the arguments given, and prints one JSON
line ``{"step": [wall seconds, CPU seconds], ...}`` on stderr prefixed with ``STEPS``
(CPU: user + system of the process, and of the processes it started and waited for;
the main process's ``total in process`` thus counts its workers). The import of the
package and the CLI start-up are timed as ``imports``. Steps that the pipeline's forked
worker processes run are timed there too (each timing is appended to a file that all
processes share) and reported as ``<step> [worker]``; they overlap the main process's
steps, so only the main process's steps add up to its total.

With ``KZSPATIAL_TIMELINE=1`` it also prints when each step started and ended (seconds
from the start, by process id). With ``KZSPATIAL_PROFILE=<folder>`` every process (the main one and each forked worker)
is profiled with :mod:`cProfile` and writes ``<folder>/<pid>.prof`` (read them with
``python -m pstats``).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time

_START = time.perf_counter()

from kzspatial import cli  # noqa: E402
from kzspatial.study import pipeline  # noqa: E402

#: step label -> the name of the function in kzspatial.study.pipeline it times
STEPS = {
    "data load": "load_study_data",
    "gravity": "gravity_suite",
    "panel": "panel_suite",
    "moran": "autocorrelation_suite",
    "flow moran": "flow_autocorrelation",
    "catchments": "catchment_suite",
    "study": "study_suite",
    "map inputs": "map_inputs",
    "maps": "write_maps",
    "explorer": "write_explorer",
    "gpkg": "write_geopackage_products",
    "exports": "write_exports",
    "rasters": "write_rasters",
    "report figures": "_report_figures",
    "catchment figure": "_catchment_figures",
    "autocorrelation report": "_report",
    "study report": "write_study",
    "tables": "_write_tables",
}
MAIN = os.getpid()
#: every process appends "label seconds pid" lines here (O_APPEND: whole lines)
LOG = tempfile.NamedTemporaryFile(prefix="kzspatial-steps-", delete=False).name


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (a pool's)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(label: str, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start, cpu = time.perf_counter(), _cpu()
        try:
            return func(*args, **kwargs)
        finally:
            wall, cpu = time.perf_counter() - start, _cpu() - cpu
            begin = start - _START
            line = f"{label}\t{wall}\t{cpu}\t{os.getpid()}\t{begin}\n"
            with open(LOG, "a") as log:
                log.write(line)

    return wrapper


def _times(imports: tuple, total: tuple) -> dict[str, list[float]]:
    """Wall and CPU seconds by step, workers' steps marked; the main process's last."""
    times = {"imports": list(imports)}
    with open(LOG) as log:
        for line in log:
            label, wall, cpu, pid, begin = line.rstrip("\n").split("\t")
            if os.environ.get("KZSPATIAL_TIMELINE"):  # when each step ran, by process
                end = float(begin) + float(wall)
                print(
                    f"TIMELINE {pid} {label}: {float(begin):.2f}-{end:.2f} s",
                    file=sys.stderr,
                )
            key = label if int(pid) == MAIN else f"{label} [worker]"
            old = times.get(key, [0.0, 0.0])
            times[key] = [old[0] + float(wall), old[1] + float(cpu)]
    os.unlink(LOG)
    times["total in process"] = list(total)
    return times


def _profiled(func, folder: str):
    """``func`` run under cProfile, its statistics dumped to ``folder/<pid>.prof``."""
    import cProfile

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        profile = cProfile.Profile()
        try:
            return profile.runcall(func, *args, **kwargs)
        finally:
            profile.dump_stats(os.path.join(folder, f"{os.getpid()}.prof"))

    return wrapper


def main() -> None:
    """Time the steps of one ``kzspatial run`` with the arguments of ``sys.argv``."""
    imports = (time.perf_counter() - _START, _cpu())
    for label, name in STEPS.items():
        setattr(pipeline, name, _timed(label, getattr(pipeline, name)))
    sys.argv = ["kzspatial", *sys.argv[1:]]
    folder = os.environ.get("KZSPATIAL_PROFILE")
    entry = cli.main
    if folder:  # every process profiled: the workers' bodies and the main one
        from kzspatial.render import _workers

        os.makedirs(folder, exist_ok=True)
        _workers._child = _profiled(_workers._child, folder)
        close = _workers.Forked.close

        def close_after_profile(job):  # let the child write its profile first
            if job._process is not None:
                job._process.join(timeout=60)
            close(job)

        _workers.Forked.close = close_after_profile
        entry = _profiled(cli.main, folder)
    try:
        entry()
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        if os.getpid() == MAIN:
            times = _times(imports, (time.perf_counter() - _START, _cpu()))
            print("STEPS " + json.dumps(times), file=sys.stderr)


if __name__ == "__main__":
    main()
