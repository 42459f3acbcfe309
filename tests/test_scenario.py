"""Scenarios on a synthetic gravity system generated in code (hermetic).

The system has the 20 regions of the 2024 borders, a 2023-2024 panel and the study's
covariates, with flows drawn from an unconstrained Poisson gravity model of known
coefficients. Expected values come from :meth:`GravityFit.predict` (an independent
code path), from the model's constraints (margins) and from the sign of the fitted
elasticities.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
from numpy.testing import assert_allclose

from kzspatial._errors import RegionNameError, ValidationError
from kzspatial.core.gravity import fit_gravity
from kzspatial.core.scenario import (
    HELD_FIXED,
    ZoneState,
    predict_flows,
    simulate_scenario,
    simulate_scenario_from_fit,
)
from kzspatial.datasets.regions import configuration_ids
from kzspatial.study.scenario_file import (
    IDENTIFIED_SIDES,
    load_scenario,
    scenario_from_dict,
)
from kzspatial.study.scenarios import ScenarioModel, run_scenario

IDS = configuration_ids("2024")
N = len(IDS)
YEARS = (2023, 2024)
NORTH = ["North Kazakhstan", "Kostanay", "Pavlodar", "Akmola"]
NORTH_IDS = ["KZ-59", "KZ-39", "KZ-55", "KZ-11"]


def _system(grp_pull: float, seed: int = 0):
    """Flows, distances and covariates of a two-year panel; ``grp_pull`` is the true
    destination elasticity of GRP per capita."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1500, size=(N, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 50
    covs = []
    for _year in YEARS:
        covs.append(
            {
                "log_population": np.log(rng.uniform(2e5, 2.5e6, N)),
                "log_grp_per_capita": np.log(rng.uniform(1500, 20000, N)),
                "unemployment": rng.uniform(4.3, 5.2, N),
            }
        )
    flows = []
    for t, c in enumerate(covs):
        eta = (
            -14.0
            + 0.3 * t
            + 0.9 * c["log_population"][:, None]
            + 1.2 * c["log_population"][None, :]
            - 0.2 * c["log_grp_per_capita"][:, None]
            + grp_pull * c["log_grp_per_capita"][None, :]
            - 1.0 * np.log(km)
        )
        f = rng.poisson(np.exp(eta)).astype(float)
        np.fill_diagonal(f, 0)
        flows.append(f)
    stacked = {k: np.stack([c[k] for c in covs]) for k in covs[0]}
    return np.stack(flows), km, covs, stacked


def _model(constraint: str, grp_pull: float = 0.6, seed: int = 0) -> ScenarioModel:
    flows, km, covs, stacked = _system(grp_pull, seed)
    sides = IDENTIFIED_SIDES[constraint]
    fit = fit_gravity(
        flows,
        km,
        constraint=constraint,
        ids=IDS,
        years=YEARS,
        origin_vars=stacked if "origin" in sides else None,
        destination_vars=stacked if "destination" in sides else None,
    )
    return ScenarioModel(
        fit=fit,
        distance_km=km,
        covariates=dict(zip(YEARS, covs, strict=True)),
        covariate_years={
            y: {"population": y, "grp_per_capita": y - 1, "unemployment": y - 1}
            for y in YEARS
        },
        observed=dict(zip(YEARS, flows, strict=True)),
        ids=IDS,
    )


@pytest.fixture(scope="module")
def models() -> dict[str, ScenarioModel]:
    return {c: _model(c) for c in HELD_FIXED}


def _doc(model: str, **changes) -> dict:
    return {"scenario": {"name": "test", "model": model, "draws": 400}, **changes}


GRP_NORTH = {
    "shock": [{"variable": "grp_per_capita", "regions": NORTH, "change": "+20%"}]
}
LINK = {"link": [{"between": ["Pavlodar", "Astana"], "distance": "-30%"}]}
HUB = {"hub": [{"region": "Astana", "attractiveness": "+10%"}]}


def _states(model: ScenarioModel, year: int = 2024):
    """A scenario state changing cost, every covariate side and a hub at once."""
    base = model.covariates[year]
    shocked = dict(base, log_grp_per_capita=base["log_grp_per_capita"] + np.log(1.2))
    cost = model.distance_km.copy()
    cost[3, 7] = cost[7, 3] = 0.7 * cost[3, 7]
    return ZoneState(model.distance_km, base, base), (cost, shocked)


# ------------------------------------------------------------------ core predictions


@pytest.mark.parametrize("constraint", list(HELD_FIXED))
def test_predictions_match_gravity_predict(models, constraint):
    model = models[constraint]
    fit = model.fit
    baseline, (cost, shocked) = _states(model)
    sides = IDENTIFIED_SIDES[constraint]
    scenario = ZoneState(
        cost,
        shocked if "origin" in sides else baseline.origin_vars,
        shocked if "destination" in sides else baseline.destination_vars,
    )
    forecast = simulate_scenario_from_fit(fit, baseline, scenario, year=2024, rng=0)
    assert_allclose(forecast.baseline, fit.fitted[1], rtol=1e-9)
    new = {"log_grp_per_capita": np.stack([shocked["log_grp_per_capita"]] * 2)}
    reference = fit.predict(
        cost=cost,
        origin_vars=new if "origin" in sides else None,
        destination_vars=new if "destination" in sides else None,
    )[1]
    assert_allclose(forecast.scenario, reference, rtol=1e-9)
    # the one-shot predictor agrees with the simulation's point estimate
    totals = {
        "origin_totals": np.nansum(fit.fitted[1], axis=1),
        "destination_totals": np.nansum(fit.fitted[1], axis=0),
    }
    point = predict_flows(
        fit.params,
        scenario,
        constraint=constraint,
        year_label=2024,
        **totals,
    )
    assert_allclose(point, forecast.scenario, rtol=1e-12)


@pytest.mark.parametrize("grp_pull", [0.6, -0.6], ids=["pull+", "pull-"])
@pytest.mark.parametrize("constraint", ["production", "unconstrained"])
def test_direction_follows_fitted_elasticity(constraint, grp_pull):
    model = _model(constraint, grp_pull=grp_pull, seed=1)
    scenario = scenario_from_dict(_doc(constraint, **GRP_NORTH))
    result = run_scenario(scenario, model=model)
    gamma = model.fit.params["destination:log_grp_per_capita"]
    assert np.sign(gamma) == np.sign(grp_pull)  # the fit recovers the true sign
    nets = result.nets.set_index("region_id")
    inflow_change = nets["in_scenario"] - nets["in_baseline"]
    assert (np.sign(inflow_change.loc[NORTH_IDS]) == np.sign(gamma)).all()
    if constraint == "production":  # redistribution: the others lose what north gains
        others = inflow_change.drop(NORTH_IDS)
        assert (np.sign(others) == -np.sign(gamma)).all()
        assert_allclose(inflow_change.sum(), 0, atol=1e-6)


@pytest.mark.parametrize("constraint", ["production", "unconstrained"])
def test_interval_contains_point_and_widens_with_covariance(models, constraint):
    model = models[constraint]
    fit = model.fit
    baseline, (cost, shocked) = _states(model)
    scenario = ZoneState(cost, baseline.origin_vars, shocked)
    cov = fit.cov_cluster["origin"]
    params = {k: fit.params[k] for k in fit.param_names}
    totals = {
        "origin_totals": np.nansum(fit.fitted[1], axis=1),
        "destination_totals": np.nansum(fit.fitted[1], axis=0),
    }
    common = {"constraint": constraint, "year_label": 2024, "draws": 500, **totals}
    narrow = simulate_scenario(params, cov, baseline, scenario, rng=3, **common)
    wide = simulate_scenario(params, 4 * cov, baseline, scenario, rng=3, **common)
    off = ~np.isnan(narrow.change)
    for f in (narrow, wide):
        assert np.all(f.change_low[off] <= f.change[off] + 1e-9)
        assert np.all(f.change[off] <= f.change_high[off] + 1e-9)
        assert np.all(f.scenario_low[off] <= f.scenario[off])
        assert np.all(f.scenario[off] <= f.scenario_high[off])
        assert np.all(f.net_change_low <= f.net_change + 1e-9)
        assert np.all(f.net_change <= f.net_change_high + 1e-9)
    moved = np.abs(narrow.net_change) > 1
    width = narrow.net_change_high - narrow.net_change_low
    wider = wide.net_change_high - wide.net_change_low
    assert moved.sum() > 5
    assert np.all(wider[moved] > width[moved])
    # a zero covariance leaves no uncertainty
    exact = simulate_scenario(params, 0 * cov, baseline, scenario, rng=3, **common)
    assert_allclose(exact.net_change_low, exact.net_change, atol=1e-6)
    assert_allclose(exact.net_change_high, exact.net_change, atol=1e-6)


def test_production_keeps_origin_totals_exactly(models):
    model = models["production"]
    scenario = scenario_from_dict(_doc("production", **GRP_NORTH, **LINK, **HUB))
    result = run_scenario(scenario, model=model)
    observed_out = model.observed[2024].sum(axis=1)
    nets = result.nets
    assert_allclose(nets["out_scenario"], observed_out, rtol=1e-12)
    assert_allclose(nets["out_baseline"], observed_out, rtol=1e-12)
    assert result.forecast.total_change_low == pytest.approx(0, abs=1e-6)
    assert result.forecast.total_change_high == pytest.approx(0, abs=1e-6)
    assert "out-migrants" in result.note
    assert "Only the destination side of grp_per_capita" in result.note


def test_attraction_keeps_destination_totals(models):
    model = models["attraction"]
    doc = _doc("attraction", **LINK)
    doc["shock"] = [{"variable": "unemployment", "regions": ["Turkistan"], "add": 0.2}]
    result = run_scenario(scenario_from_dict(doc), model=model)
    observed_in = model.observed[2024].sum(axis=0)
    assert_allclose(result.nets["in_scenario"], observed_in, rtol=1e-12)
    gamma = model.fit.params["origin:unemployment"]
    out = result.nets.set_index("name")
    change = out.loc["Turkistan", "out_scenario"] - out.loc["Turkistan", "out_baseline"]
    assert np.sign(change) == np.sign(gamma)


def test_doubly_keeps_both_margins_and_link_redistributes(models):
    model = models["doubly"]
    result = run_scenario(scenario_from_dict(_doc("doubly", **LINK)), model=model)
    obs = model.observed[2024]
    nets = result.nets
    assert_allclose(nets["out_scenario"], obs.sum(axis=1), rtol=1e-10)
    assert_allclose(nets["in_scenario"], obs.sum(axis=0), rtol=1e-10)
    assert_allclose(nets["net_change"], 0, atol=1e-6)
    assert_allclose(nets["net_change_low"], 0, atol=1e-6)
    flows = result.flows.set_index(["origin", "destination"])
    # beta < 0: a shorter link carries more in both directions
    assert model.fit.params["beta"] < 0
    assert flows.loc[("KZ-55", "KZ-71"), "change"] > 0
    assert flows.loc[("KZ-71", "KZ-55"), "change"] > 0
    assert flows["change"].min() < 0  # ... taken from other pairs


def test_unconstrained_hub_multiplies_inflows(models):
    result = run_scenario(
        scenario_from_dict(_doc("unconstrained", **HUB)), model=models["unconstrained"]
    )
    nets = result.nets.set_index("name")
    ratio = nets["in_scenario"] / nets["in_baseline"]
    assert ratio["Astana city"] == pytest.approx(1.1, rel=1e-12)
    assert_allclose(ratio.drop("Astana city"), 1.0, rtol=1e-12)


def test_result_outputs(models, tmp_path):
    model = models["production"]
    result = run_scenario(
        scenario_from_dict(_doc("production", **GRP_NORTH)), model=model
    )
    section = result.report_section()
    assert set(section) == {"title", "note", "table"}
    assert len(section["table"]) == N
    assert set(result.tables()) == {
        "scenario_flows",
        "scenario_nets",
        "scenario_coefficients",
    }
    assert len(result.flows) == N * (N - 1)
    regions = gpd.GeoDataFrame(
        {"region_id": list(IDS)},
        geometry=gpd.points_from_xy(np.arange(N), np.zeros(N)),
        crs=4326,
    )
    layer = result.regions_layer(regions)
    assert list(layer["region_id"]) == list(IDS)
    assert_allclose(layer["net_change"], result.forecast.net_change)
    assert "Akmola" in result.summary()


def test_extrapolation_is_named(models):
    doc = _doc("production")
    doc["shock"] = [{"variable": "unemployment", "regions": ["Kostanay"], "add": -2.0}]
    result = run_scenario(scenario_from_dict(doc), model=models["production"])
    assert result.extrapolated and "unemployment of Kostanay" in result.extrapolated[0]
    assert "extrapolates" in result.note


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("doc", "error", "match"),
    [
        (
            _doc(
                "production",
                shock=[
                    {
                        "variable": "grp_per_capita",
                        "regions": ["Atlantis"],
                        "change": "+5%",
                    }
                ],
            ),
            RegionNameError,
            r"\[\[shock\]\] #1: unknown region name 'Atlantis'",
        ),
        (
            _doc(
                "production",
                shock=[{"variable": "wages", "regions": ["Kostanay"], "change": "+5%"}],
            ),
            ValidationError,
            r"unknown variable 'wages'; use one of \['grp_per_capita'",
        ),
        (
            _doc("gravity", **LINK),
            ValidationError,
            r"unknown model 'gravity'; write model",
        ),
        (
            _doc(
                "production",
                shock=[
                    {
                        "variable": "grp_per_capita",
                        "regions": ["Kostanay"],
                        "change": "-120%",
                    }
                ],
            ),
            ValidationError,
            r"change = '-120%' would make the value zero or negative",
        ),
        (
            _doc(
                "production",
                shock=[
                    {
                        "variable": "grp_per_capita",
                        "regions": ["Kostanay"],
                        "change": 20,
                    }
                ],
            ),
            ValidationError,
            r'is not a percentage; write e.g. change = "\+20%"',
        ),
        (
            _doc(
                "production", link=[{"between": ["Pavlodar", "Astana"], "cost_km": -5}]
            ),
            ValidationError,
            r"cost_km must be a positive distance in km, got -5",
        ),
        (
            _doc(
                "production",
                link=[{"between": ["Pavlodar", "Pavlodar"], "distance": "-5%"}],
            ),
            ValidationError,
            r"names the same region twice",
        ),
        (
            _doc("doubly", **GRP_NORTH),
            ValidationError,
            r"doubly-constrained model absorbs every zone covariate",
        ),
        (
            _doc("production", shock=[{**GRP_NORTH["shock"][0], "side": "origin"}]),
            ValidationError,
            r"origin-side effect of grp_per_capita is absorbed by the origin constraint",
        ),
        (
            _doc("attraction", **HUB),
            ValidationError,
            r"absorbed by the destination constraint",
        ),
        (_doc("production"), ValidationError, r"changes nothing; add a \[\[shock\]\]"),
        (
            _doc(
                "production",
                link=[{"between": ["Pavlodar", "Astana"], "distnce": "-5%"}],
            ),
            ValidationError,
            r"unknown key\(s\) \['distnce'\]",
        ),
        (
            _doc(
                "production",
                shock=[
                    GRP_NORTH["shock"][0],
                    {**GRP_NORTH["shock"][0], "change": "+5%"},
                ],
            ),
            ValidationError,
            r"\[\[shock\]\] #2: grp_per_capita of KZ-\d+ \(origin side\) is already changed by \[\[shock\]\] #1",
        ),
        (
            {"scenario": {"model": "production", "year": 2019}, **LINK},
            ValidationError,
            r"year = 2019 is not a year of the study's push-pull panel",
        ),
    ],
    ids=[
        "region",
        "variable",
        "model",
        "change-below-100",
        "change-not-percent",
        "negative-cost",
        "same-region",
        "doubly-absorbs",
        "production-origin-side",
        "attraction-hub",
        "no-change",
        "unknown-key",
        "duplicate",
        "year",
    ],
)
def test_validation_errors(doc, error, match):
    with pytest.raises(error, match=match):
        scenario_from_dict(doc, source="s.toml")


def test_all_problems_reported_at_once_with_file_name(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        '[scenario]\nmodel = "prod"\n\n[[hub]]\nregion = "Astanaa"\nattractiveness = "10"\n',
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match=r"3 problems") as info:
        load_scenario(path)
    message = str(info.value)
    assert "bad.toml: [scenario]: unknown model 'prod'" in message
    assert "bad.toml: [[hub]] #1: unknown region name 'Astanaa'" in message
    assert "closest known spellings" in message
    assert "attractiveness = '10' is not a percentage" in message


def test_file_errors(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[scenario\nmodel =", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"broken.toml: not a valid TOML file"):
        load_scenario(path)
    with pytest.raises(ValidationError, match=r"does not exist"):
        load_scenario(tmp_path / "missing.toml")


def test_shocked_value_out_of_range(models):
    doc = _doc("production")
    doc["shock"] = [{"variable": "unemployment", "regions": ["Kostanay"], "add": -10.0}]
    scenario = scenario_from_dict(doc, source="u.toml")
    with pytest.raises(
        ValidationError,
        match=r"u.toml: \[\[shock\]\] #1: unemployment of Kostanay would be -\d\.\d+ % .*outside \[0, 100\]",
    ):
        run_scenario(scenario, model=models["production"])


def test_model_mismatch_and_core_checks(models):
    scenario = scenario_from_dict(_doc("unconstrained", **HUB))
    with pytest.raises(
        ValidationError, match=r"production-constrained but the scenario asks"
    ):
        run_scenario(scenario, model=models["production"])
    fit = models["production"].fit
    baseline, (cost, _) = _states(models["production"])
    with pytest.raises(ValidationError, match=r"year 2019 is not a year of the fit"):
        simulate_scenario_from_fit(fit, baseline, baseline, year=2019)
    with pytest.raises(ValidationError, match=r"needs origin_totals"):
        predict_flows(fit.params, baseline, constraint="production")
    with pytest.raises(ValidationError, match=r"draws must be an integer >= 2"):
        simulate_scenario(
            fit.params,
            fit.cov_robust,
            baseline,
            baseline,
            constraint="production",
            origin_totals=np.ones(N),
            draws=1,
        )
    no_var = dataclasses.replace(baseline, destination_vars={})
    with pytest.raises(
        ValidationError, match=r"no destination variable 'log_population'"
    ):
        predict_flows(
            fit.params, no_var, constraint="production", origin_totals=np.ones(N)
        )
