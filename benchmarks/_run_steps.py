"""Run ``kzspatial run`` in this process with each pipeline step timed (for bench_run.py).

Wraps the step functions that :mod:`kzspatial.study.pipeline` calls (data load, analyses,
product writers) with timers, runs the CLI with the arguments given, and prints one JSON
line ``{"step": seconds, ...}`` on stderr prefixed with ``STEPS``. The import of the
package and the CLI start-up are timed as ``imports``.
"""

from __future__ import annotations

import functools
import json
import sys
import time

_START = time.perf_counter()

from kzspatial import cli  # noqa: E402
from kzspatial.study import pipeline  # noqa: E402

#: step label -> the name of the function in kzspatial.study.pipeline it times
STEPS = {
    "data load": "load_study_data",
    "gravity": "gravity_suite",
    "panel": "panel_suite",
    "moran": "moran_suite",
    "catchments": "catchment_suite",
    "study": "study_suite",
    "map inputs": "map_inputs",
    "maps": "write_maps",
    "explorer": "write_explorer",
    "gpkg": "write_geopackage_products",
    "exports": "write_exports",
    "rasters": "write_rasters",
    "autocorrelation report": "_report",
    "study report": "write_study",
    "tables": "_write_tables",
}
TIMES: dict[str, float] = {"imports": time.perf_counter() - _START}


def _timed(label: str, func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            TIMES[label] = TIMES.get(label, 0.0) + time.perf_counter() - start

    return wrapper


def main() -> None:
    """Time the steps of one ``kzspatial run`` with the arguments of ``sys.argv``."""
    for label, name in STEPS.items():
        setattr(pipeline, name, _timed(label, getattr(pipeline, name)))
    sys.argv = ["kzspatial", *sys.argv[1:]]
    try:
        cli.main()
    except SystemExit as exc:
        if exc.code:
            raise
    finally:
        TIMES["total in process"] = time.perf_counter() - _START
        print("STEPS " + json.dumps(TIMES), file=sys.stderr)


if __name__ == "__main__":
    main()
