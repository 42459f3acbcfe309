"""The calibrated Huff model: MLE against independent fits, errors, real-data agreement."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from kzspatial._errors import AlignmentError, IdentificationError, ValidationError
from kzspatial.core.huff import (
    check_hub_choice_models,
    choice_loglik,
    fit_hub_choice,
)

HUBS = ["A", "B", "C"]


@pytest.fixture
def simulated(rng):
    """Multinomial choices of 40 origins among 3 hubs from known parameters."""
    n = 40
    cost = rng.uniform(20, 1500, size=(n, 3))
    beta, gamma = -1.3, np.array([0.0, -0.4, -1.5])
    util = gamma + beta * np.log(cost)
    p = np.exp(util - util.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    movers = rng.integers(200, 5000, size=n)
    counts = np.array([rng.multinomial(m, pi) for m, pi in zip(movers, p, strict=True)])
    return counts.astype(float), cost, beta, gamma


def test_mle_matches_poisson_glm_with_origin_effects(simulated):
    # the conditional logit on counts is a Poisson GLM with origin fixed effects:
    # same estimates and the same (model-based) standard errors
    sm = pytest.importorskip("statsmodels.api")
    counts, cost, _, _ = simulated
    fit = fit_hub_choice(counts, cost, HUBS)
    n, h = counts.shape
    origin = np.kron(np.eye(n), np.ones((h, 1)))
    hub = np.tile(np.eye(h)[:, 1:], (n, 1))
    X = np.column_stack([np.log(cost).ravel(), hub, origin])
    glm = sm.GLM(counts.ravel(), X, family=sm.families.Poisson()).fit(tol=1e-12)
    assert_allclose(fit.params, glm.params[:3], rtol=1e-6, atol=1e-8)
    assert_allclose(fit.se, glm.bse[:3], rtol=1e-5)


def test_mle_matches_scipy_on_the_same_likelihood(simulated):
    from scipy.optimize import minimize

    counts, cost, beta, gamma = simulated
    fit = fit_hub_choice(counts, cost, HUBS)

    def negll(theta):
        u = theta[0] * np.log(cost) + np.r_[0.0, theta[1:]]
        u = u - u.max(1, keepdims=True)
        logp = u - np.log(np.exp(u).sum(1, keepdims=True))
        return -(counts * logp).sum()

    ref = minimize(negll, np.zeros(3), method="BFGS", options={"gtol": 1e-6})
    assert_allclose(fit.params, ref.x, atol=2e-4)
    assert fit.loglik == pytest.approx(-ref.fun, rel=1e-9)
    # and it recovers the simulation parameters within 4 standard errors
    truth = np.r_[beta, gamma[1:]]
    assert np.all(np.abs(fit.params - truth) < 4 * fit.se)
    assert fit.dispersion == pytest.approx(
        1.0, abs=0.5
    )  # multinomial: no overdispersion


def test_predict_reproduces_fitted_probabilities_and_reference(simulated):
    counts, cost, _, _ = simulated
    fit = fit_hub_choice(counts, cost, HUBS, reference="B", min_cost=5.0)
    assert fit.attractiveness["B"] == 1.0
    p = fit.predict(cost).probabilities
    assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    assert fit.loglik == pytest.approx(choice_loglik(counts, p).sum(), rel=1e-10)
    # at the MLE the expected and observed choices of each hub agree (score = 0)
    assert_allclose((counts.sum(1)[:, None] * p).sum(0), counts.sum(0), rtol=1e-6)


def test_errors(simulated):
    counts, cost, _, _ = simulated
    with pytest.raises(AlignmentError, match="both must be"):
        fit_hub_choice(counts[:, :2], cost, HUBS)
    bad = counts.copy()
    bad[3, 1] = -1
    with pytest.raises(ValidationError, match="origin 3"):
        fit_hub_choice(bad, cost, HUBS)
    empty = counts.copy()
    empty[:, 2] = 0
    with pytest.raises(ValidationError, match=r"no mover chose hubs \['C'\]"):
        fit_hub_choice(empty, cost, HUBS)
    with pytest.raises(ValidationError, match="reference hub 'Z'"):
        fit_hub_choice(counts, cost, HUBS, reference="Z")
    with pytest.raises(ValidationError, match="min_cost"):
        fit_hub_choice(counts, np.where(cost > 500, cost, 0.0), HUBS)
    with pytest.raises(IdentificationError, match="singular"):
        fit_hub_choice(counts, np.ones_like(cost), HUBS)


def _poisson_glm_loglik(counts, hub_regressors):
    """Conditional-logit log-likelihood via a Poisson GLM with origin effects."""
    sm = pytest.importorskip("statsmodels.api")
    n, h = counts.shape
    origin = np.kron(np.eye(n), np.ones((h, 1)))
    X = np.column_stack([hub_regressors, origin])
    glm = sm.GLM(counts.ravel(), X, family=sm.families.Poisson()).fit(tol=1e-12)
    mu = glm.mu.reshape(n, h)
    return choice_loglik(counts, mu / mu.sum(1, keepdims=True)).sum()


def test_model_checks_match_independent_fits(simulated):
    # each extension is the same likelihood as a Poisson GLM with the expanded design
    counts, cost, _, _ = simulated
    n, h = counts.shape
    groups = np.where(np.arange(n) < 25, "east", "west")
    base, by_hub, by_group = check_hub_choice_models(
        counts, cost, HUBS, origin_groups=groups
    )
    assert base.model == "common decay" and np.isnan(base.p_value)
    assert base.loglik == pytest.approx(fit_hub_choice(counts, cost, HUBS).loglik)
    x = np.log(cost)
    hub = np.tile(np.eye(h)[:, 1:], (n, 1))
    per_hub = (x[:, :, None] * np.eye(h)).reshape(n * h, h)
    west = np.repeat(groups == "west", h)[:, None] * hub
    assert by_hub.loglik == pytest.approx(
        _poisson_glm_loglik(counts, np.column_stack([per_hub, hub])), rel=1e-9
    )
    assert by_group.loglik == pytest.approx(
        _poisson_glm_loglik(counts, np.column_stack([x.ravel(), hub, west])), rel=1e-9
    )
    assert (by_hub.df_extra, by_group.df_extra) == (2, 2)
    assert by_hub.df_resid == n * (h - 1) - 5
    # the data come from the common-decay model: multinomial (dispersion ~1)
    for check in (by_hub, by_group):
        assert check.loglik >= base.loglik
        assert 0.5 < check.dispersion < 1.5
        assert_allclose(check.probabilities.sum(1), 1.0)
        # the quasi-likelihood F test against scipy's F distribution
        f_stat = 2 * (check.loglik - base.loglik) / (check.df_extra * check.dispersion)
        assert check.f_stat == pytest.approx(f_stat, rel=1e-12)
        assert check.p_value == pytest.approx(
            stats.f.sf(f_stat, check.df_extra, check.df_resid), rel=1e-12, abs=1e-300
        )


def test_model_checks_detect_a_real_group_preference(rng):
    # origins of group "west" prefer hub C beyond distance: the F test must see it
    n = 40
    cost = rng.uniform(20, 1500, size=(n, 3))
    west = np.arange(n) % 2 == 1
    gamma = np.where(west[:, None], [0.0, -0.4, 0.8], [0.0, -0.4, -1.5])
    util = gamma - 1.3 * np.log(cost)
    p = np.exp(util - util.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    counts = np.array([rng.multinomial(800, pi) for pi in p], dtype=float)
    groups = np.where(west, "west", "east")
    _, by_hub, by_group = check_hub_choice_models(
        counts, cost, HUBS, origin_groups=groups
    )
    assert by_group.p_value < 1e-6
    assert by_group.dispersion == pytest.approx(1.0, abs=0.5)


def test_model_check_errors(simulated):
    counts, cost, _, _ = simulated
    with pytest.raises(AlignmentError, match="one group per origin"):
        check_hub_choice_models(counts, cost, HUBS, origin_groups=["a", "b"])
    with pytest.raises(ValidationError, match="at least two"):
        check_hub_choice_models(counts, cost, HUBS, origin_groups=["a"] * 40)


# --- the real data ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def suite():
    from kzspatial.study.catchment_suite import catchment_suite
    from kzspatial.study.inputs import load_study_data

    return catchment_suite(load_study_data(borders="2024"))


@pytest.mark.data
@pytest.mark.slow
def test_calibrated_leader_matches_clear_observed_leaders(suite):
    # the focus-year model (the one that draws the catchments), in-sample and fitted
    # on 2023, gets every clear leader right; the mass-only model does not
    table = suite.agreement
    clear = table[(table["year"] == 2024) & (table["observed_lead"] > 0.10)]
    by_model = clear.groupby("model")["agree"]
    assert by_model.size()["calibrated Huff"] >= 10
    assert by_model.all()["calibrated Huff"]
    assert by_model.all()["calibrated Huff, fitted on 2023"]
    assert not by_model.all()["mass-only Huff"]


@pytest.mark.data
@pytest.mark.slow
def test_model_checks_on_the_real_data(suite):
    # every OD year: the misses of the calibrated model are the agreement table's, and
    # the richer models are nested (never a lower likelihood) and tested
    from kzspatial.study.hub_choice import CLEAR_LEAD

    checks = suite.model_checks
    agreement = suite.agreement[suite.agreement["model"] == "calibrated Huff"]
    assert sorted(checks["year"].unique()) == sorted(agreement["year"].unique())
    for year, rows in checks.groupby("year"):
        base = rows.set_index("model").loc["common decay"]
        year_rows = agreement[agreement["year"] == year]
        clear = year_rows[year_rows["observed_lead"] > CLEAR_LEAD]
        missed = sorted(clear.loc[~clear["agree"], "region_id"])
        assert base["n_clear_leaders"] == len(clear)
        assert sorted(filter(None, base["clear_missed"].split(", "))) == missed
        assert base["loglik"] == pytest.approx(year_rows["loglik"].sum(), rel=1e-9)
        richer = rows[rows["model"] != "common decay"]
        assert len(richer) == 2
        assert (richer["loglik"] >= base["loglik"] - 1e-6).all()
        assert richer["p_value"].between(0, 1).all()
        assert (richer["dispersion"] > 1).all()  # movers cluster by region


@pytest.mark.data
@pytest.mark.slow
def test_every_rule_adds_up_to_the_national_population(suite):
    from kzspatial.datasets.population import load_population
    from kzspatial.datasets.regions import configuration_ids

    pop = load_population()
    for date, rows in suite.population.groupby("population_date"):
        year = int(date[:4])
        official = pop[
            (pop["year"] == year) & pop["region_id"].isin(configuration_ids("2024"))
        ]["population"].sum()
        assert official > 1.9e7
        sums = rows.groupby("rule")["population"].sum()
        assert len(sums) >= 5
        assert DISTRICT_RULE in sums.index
        assert np.all(np.abs(sums / official - 1) < 0.005), sums
    assert suite.population["hub"].str.contains("no hub|outside").any()
    assert suite.population["method"].str.len().gt(20).all()


DISTRICT_RULE = "districts: calibrated Huff, leading hub"


@pytest.mark.data
@pytest.mark.slow
def test_district_rule_is_an_allocation_with_explicit_rest_rows(suite):
    rows = suite.population[suite.population["rule"] == DISTRICT_RULE].set_index("hub")
    assert {"no hub", "outside every district"} <= set(rows.index)
    method = rows["method"].iloc[0]
    assert "allocated" in method and "not an official district count" in method
    assert rows["units"].eq("districts").all()
    # the district layer's column is the same allocation, hub by hub
    districts = suite.district_huff
    assert districts["population_allocated"].ge(0).all()
    by_hub = districts.groupby("dominant_hub")["population_allocated"].sum()
    for hub, value in by_hub.items():
        assert rows.loc[hub, "population"] == pytest.approx(value, rel=1e-12)
    total = (
        districts["population_allocated"].sum()
        + rows.loc["outside every district", "population"]
    )
    assert total == pytest.approx(rows["national_total"].iloc[0], rel=1e-9)
    # points between the district polygons are few: under 0.5 % of the population
    assert rows.loc["outside every district", "share_of_national"] < 0.005


@pytest.mark.data
@pytest.mark.slow
def test_sensitivity_has_all_three_centre_choices(suite):
    s = suite.sensitivity
    assert set(s["centres"]) == {"population", "admin", "representative"}
    beta = s[(s["parameter"] == "beta")].pivot(
        index="centres", columns="model", values="estimate"
    )
    assert beta.notna().all().all() and (beta < 0).all().all()
    assert s.loc[s["default"], "centres"].eq("population").all()
    assert set(suite.sensitivity_regions["centres"]) == set(s["centres"])
    for table in (suite.agreement, suite.population, suite.region_huff, suite.shares):
        assert table["centres"].eq("population").all()
