"""What keeps ``kzspatial run`` fast without changing its outputs (issue 16, item 7)."""

from __future__ import annotations

import pytest


@pytest.mark.data
def test_study_data_keeps_the_loaders_attrs_off_the_frames():
    from kzspatial.datasets.population import load_population
    from kzspatial.study.inputs import load_study_data

    data = load_study_data((2023, 2024))
    # nothing for pandas to deep-copy into every derived frame and column
    for frame in (data.population, data.grp, data.unemployment):
        assert frame.attrs == {}
    # ... and nothing lost: the loader's attrs are kept beside the frames
    assert data.loader_attrs["population"] == load_population().attrs
    assert data.loader_attrs["grp"]["source"]["key"] == "grp_per_capita.xlsx"
    assert data.loader_attrs["unemployment"]["national_check"]
    assert data.population.columns.tolist() == load_population().columns.tolist()
