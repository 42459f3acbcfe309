"""The example scenarios on the real data (BNS flows 2023-2024 through the loaders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kzspatial.core.scenario import ZoneState, simulate_scenario
from kzspatial.datasets.regions import resolve
from kzspatial.study.scenario_file import load_scenario
from kzspatial.study.scenarios import fit_scenario_model, run_scenario

pytestmark = pytest.mark.data

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"


@pytest.fixture(scope="module")
def data():
    from kzspatial.study.inputs import load_study_data

    return load_study_data((2023, 2024), borders="2024")


def test_north_grp_follows_elasticity_with_honest_intervals(data):
    scenario = load_scenario(EXAMPLES / "north_grp.toml")
    assert scenario.model == "production"
    model = fit_scenario_model(data, scenario.model)
    result = run_scenario(scenario, model=model)
    north = [resolve(r) for r in ("North Kazakhstan", "Kostanay", "Pavlodar", "Akmola")]
    gamma = model.fit.params["destination:log_grp_per_capita"]
    nets = result.nets.set_index("region_id")

    # production-constrained: every origin keeps its observed 2024 out-migrants
    observed = data.matrix(2024)
    assert_allclose(nets["out_scenario"], observed.sum(axis=1) - np.diag(observed))
    assert_allclose(nets["net_observed"], observed.sum(axis=0) - observed.sum(axis=1))
    assert_allclose(nets["net_change"].sum(), 0, atol=1e-6)

    # the direction follows the sign of the fitted pull elasticity
    assert (np.sign(nets.loc[north, "net_change"]) == np.sign(gamma)).all()
    others = nets.drop(north)
    assert (np.sign(others["net_change"]) == -np.sign(gamma)).all()

    # the interval contains the point estimate ...
    assert (nets["net_change_low"] <= nets["net_change"]).all()
    assert (nets["net_change"] <= nets["net_change_high"]).all()

    # ... and widens when the standard errors do (states rebuilt here from the fit)
    fit = model.fit
    base = model.covariates[2024]
    rows = [model.ids.index(r) for r in north]
    shocked = {k: v.copy() for k, v in base.items()}
    shocked["log_grp_per_capita"][rows] += np.log(1.2)
    states = (
        ZoneState(model.distance_km, base, base),
        ZoneState(model.distance_km, base, shocked),
    )
    params = {k: fit.params[k] for k in fit.param_names}
    cov = fit.cov_cluster["two-way"]
    kwargs = {
        "constraint": "production",
        "origin_totals": nets["out_baseline"].to_numpy(),
        "draws": scenario.draws,
        "level": scenario.level,
        "rng": scenario.seed,
    }
    same = simulate_scenario(params, cov, *states, **kwargs)
    assert_allclose(same.net_change, result.forecast.net_change, rtol=1e-10)
    assert_allclose(same.net_change_low, result.forecast.net_change_low, rtol=1e-10)
    wide = simulate_scenario(params, 4 * cov, *states, **kwargs)
    width = same.net_change_high - same.net_change_low
    assert np.all(wide.net_change_high - wide.net_change_low > width)

    section = result.report_section()
    assert "out-migrants" in section["note"]
    assert len(section["table"]) == len(model.ids)


def test_rail_link_and_hub_example(data):
    scenario = load_scenario(EXAMPLES / "rail_link_astana_hub.toml")
    result = run_scenario(scenario, data=data)
    flows = result.flows.set_index(["origin", "destination"])
    for pair in (("KZ-55", "KZ-71"), ("KZ-71", "KZ-55")):
        assert flows.loc[pair, "change"] > 0
        assert flows.loc[pair, "change_low"] <= flows.loc[pair, "change"]
    nets = result.nets.set_index("region_id")
    ratio = nets.loc["KZ-71", "in_scenario"] / nets.loc["KZ-71", "in_baseline"]
    # unconstrained: Astana's in-flow grows by the 10 % hub change plus the link
    assert ratio > 1.1
