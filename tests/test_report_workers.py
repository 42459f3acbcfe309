"""The report's figures drawn in forked workers equal those drawn in this process."""

from __future__ import annotations

import kz_synthetic as syn
import numpy as np
import pytest

from kzspatial._errors import ValidationError


def _entries():
    from kzspatial import local_morans, morans_i
    from kzspatial.geo.weights import weights_from_geodataframe
    from kzspatial.study.moran_suite import MoranEntry

    regions = syn.regions()
    w = weights_from_geodataframe(regions, "queen", id_col="region_id")
    entries = []
    for seed in range(3):
        y = np.random.default_rng(seed).normal(size=len(w.ids))
        entries.append(
            MoranEntry(
                variable=f"v{seed}",
                label=f"Variable {seed}",
                weights_name="queen",
                year=2024,
                ids=w.ids,
                names=w.ids,
                y=y,
                weights=w,
                global_=morans_i(y, w, permutations=99, rng=seed),
                local=local_morans(y, w, permutations=99, rng=seed),
                cluster_labels=tuple(
                    ("HH", "LL", "ns")[i % 3] for i in range(len(w.ids))
                ),
                fdr=None,
            )
        )
    return entries, regions


def test_forked_figures_equal_in_process_figures(monkeypatch):
    from kzspatial.render.report import _draw_all

    entries, regions = _entries()
    monkeypatch.setenv("KZSPATIAL_WORKERS", "1")
    here = _draw_all(entries, regions)
    monkeypatch.setenv("KZSPATIAL_WORKERS", "2")
    forked = _draw_all(entries, regions)
    assert len(here) == 3 and all(len(f) == 3 for f in here)
    assert forked == here  # byte for byte, in entry order


@pytest.mark.parametrize("value", ["0", "two", "-1", ""])
def test_bad_worker_count_is_refused(monkeypatch, value):
    from kzspatial.render.report import _draw_all

    monkeypatch.setenv("KZSPATIAL_WORKERS", value)
    with pytest.raises(ValidationError, match="KZSPATIAL_WORKERS"):
        _draw_all([], None)
