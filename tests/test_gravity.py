"""Tests of kzspatial.core.gravity.

Expected values come from (a) invariants of the constrained models (fitted margins equal
observed margins), (b) independent fits of the same likelihood with dummy variables by
statsmodels' Poisson GLM and with absorbed effects by pyfixest's fepois, and (c)
simulations with known parameters. All data are generated here from seeded generators.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kzspatial._errors import AlignmentError, IdentificationError, ValidationError
from kzspatial.core.gravity import (
    CONSTRAINTS,
    GravityFit,
    fit_gravity,
    poisson_deviance,
    srmse,
    ssi,
)

# agreement of two converged maximum-likelihood fits; tighter than _constants.RTOL on
# purpose (coefficients must agree to 1e-8 relative)
COEF_RTOL = 1e-8
SE_RTOL = 1e-7

COVARIATES = {  # which zone covariates each model can identify
    "unconstrained": ("origin", "destination"),
    "production": ("destination",),
    "attraction": ("origin",),
    "doubly": (),
}


def simulate(n, *, seed=0, n_years=1, beta=-1.5, cost_func="pow", scale=30.0):
    """Gravity flows with known parameters on zones scattered over 1,000 km."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 10.0
    log_pop = rng.normal(11, 1, size=(n_years, n))
    regressor = np.log(km) if cost_func == "pow" else km / 100
    eta = 0.8 * log_pop[:, :, None] + 0.6 * log_pop[:, None, :] + beta * regressor
    eta += np.log(scale) - np.log(np.exp(eta).mean())
    flows = rng.poisson(np.exp(eta)).astype(float)
    cost = km if cost_func == "pow" else km / 100
    if n_years == 1:
        return flows[0], cost, log_pop[0]
    return flows, cost, log_pop


def covariates(constraint, log_pop):
    sides = COVARIATES[constraint]
    return (
        {"log_pop": log_pop} if "origin" in sides else None,
        {"log_pop": log_pop} if "destination" in sides else None,
    )


def dummy_design(constraint, cost_func, cost, log_pop, n):
    """Long-format design of the same model with dense dummies, for statsmodels."""
    origin, destination = np.nonzero(~np.eye(n, dtype=bool))
    regressor = np.log(cost) if cost_func == "pow" else cost
    columns = [regressor[origin, destination]]
    if constraint == "unconstrained":
        columns.append(np.ones(origin.size))
    if "origin" in COVARIATES[constraint]:
        columns.append(log_pop[origin])
    if "destination" in COVARIATES[constraint]:
        columns.append(log_pop[destination])
    if constraint in ("production", "doubly"):
        columns.append(np.eye(n)[origin])
    if constraint == "attraction":
        columns.append(np.eye(n)[destination])
    if constraint == "doubly":
        columns.append(np.eye(n)[destination][:, 1:])
    return np.column_stack(columns), origin, destination


def names_in_dummy_order(constraint):
    names = ["beta"] + (["intercept"] if constraint == "unconstrained" else [])
    sides = COVARIATES[constraint]
    return names + [f"{side}:log_pop" for side in sides]


@pytest.fixture(scope="module")
def sm():
    return pytest.importorskip("statsmodels.api")


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """Pin BLAS to one thread: on a shared 2-core machine a busy-waiting multi-threaded
    OpenBLAS made the small statsmodels reference fits up to 70 times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ------------------------------------------------------------------ cross-checks
@pytest.mark.parametrize("cost_func", ["pow", "exp"])
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_matches_statsmodels_glm(sm, constraint, cost_func):
    n = 22
    flows, cost, log_pop = simulate(n, seed=1, cost_func=cost_func)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        cost_func=cost_func,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
    )
    X, origin, destination = dummy_design(constraint, cost_func, cost, log_pop, n)
    y = flows[origin, destination]
    glm = sm.GLM(y, X, family=sm.families.Poisson())
    ref = glm.fit(tol=1e-14)
    ref_hc0 = glm.fit(tol=1e-14, cov_type="HC0")
    names = names_in_dummy_order(constraint)
    k = len(names)
    assert isinstance(fit, GravityFit) and fit.converged
    assert_allclose(
        [fit.params[name] for name in names], ref.params[:k], rtol=COEF_RTOL
    )
    assert_allclose(
        [fit.bse_robust[name] for name in names], ref_hc0.bse[:k], rtol=SE_RTOL
    )
    for scheme, groups in (("origin", origin), ("destination", destination)):
        ref_cl = glm.fit(
            tol=1e-14,
            cov_type="cluster",
            cov_kwds={"groups": groups, "use_correction": False},
        )
        assert_allclose(  # kzspatial applies G / (G - 1), statsmodels here nothing
            [fit.bse_cluster[scheme][name] for name in names],
            ref_cl.bse[:k] * np.sqrt(n / (n - 1)),
            rtol=SE_RTOL,
        )
    assert_allclose(fit.deviance, ref.deviance, rtol=1e-10)
    assert_allclose(fit.null_deviance, ref.null_deviance, rtol=1e-10)
    assert_allclose(fit.llf, ref.llf, rtol=1e-10)
    assert_allclose(fit.aic, ref.aic, rtol=1e-10)
    assert fit.n_params == np.linalg.matrix_rank(X)
    assert_allclose(fit.fitted[origin, destination], ref.fittedvalues, rtol=1e-8)
    assert_allclose(
        fit.pearson_resid[origin, destination], ref.resid_pearson, rtol=1e-6, atol=1e-9
    )
    assert_allclose(
        fit.deviance_resid[origin, destination],
        ref.resid_deviance,
        rtol=1e-6,
        atol=1e-9,
    )
    assert np.isnan(np.diagonal(fit.fitted)).all()


def test_two_way_cluster_matches_statsmodels(sm):
    n = 20
    flows, cost, log_pop = simulate(n, seed=2)
    fit = fit_gravity(
        flows, cost, constraint="production", destination_vars={"log_pop": log_pop}
    )
    X, origin, destination = dummy_design("production", "pow", cost, log_pop, n)
    glm = sm.GLM(flows[origin, destination], X, family=sm.families.Poisson())

    def cov(groups):
        res = glm.fit(
            tol=1e-14,
            cov_type="cluster",
            cov_kwds={"groups": groups, "use_correction": False},
        )
        return res.cov_params()[:2, :2]

    cov_o, cov_d = cov(origin), cov(destination)
    cov_both = cov(np.column_stack([origin, destination]))
    cov_pair = cov_o + cov_d - cov_both  # CGM: both = o + d - (o x d)
    n_pairs = origin.size
    expected = (
        n / (n - 1) * cov_o + n / (n - 1) * cov_d - n_pairs / (n_pairs - 1) * cov_pair
    )
    assert_allclose(fit.cov_cluster["two-way"], expected, rtol=SE_RTOL)


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_matches_pyfixest(constraint):
    pf = pytest.importorskip("pyfixest")
    pd = pytest.importorskip("pandas")
    n = 25
    flows, cost, log_pop = simulate(n, seed=3)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
    )
    origin, destination = np.nonzero(~np.eye(n, dtype=bool))
    data = pd.DataFrame(
        {
            "flow": flows[origin, destination],
            "log_d": np.log(cost[origin, destination]),
            "o": origin,
            "d": destination,
            "o_pop": log_pop[origin],
            "d_pop": log_pop[destination],
        }
    )
    rhs = " + ".join(
        ["log_d"]
        + (["o_pop"] if origin_vars else [])
        + (["d_pop"] if destination_vars else [])
    )
    fe = {
        "unconstrained": "",
        "production": " | o",
        "attraction": " | d",
        "doubly": " | o + d",
    }
    ref = pf.fepois(
        f"flow ~ {rhs}{fe[constraint]}",
        data=data,
        vcov={"CRV1": "o+d"},
        ssc=pf.ssc(k_adj=False, G_adj=True, G_df="conventional"),
        iwls_tol=1e-12,
        fixef_tol=1e-12,
    )
    mapping = {
        "log_d": "beta",
        "o_pop": "origin:log_pop",
        "d_pop": "destination:log_pop",
        "Intercept": "intercept",
    }
    for term, value in ref.coef().items():
        assert_allclose(fit.params[mapping[term]], value, rtol=COEF_RTOL)
    for term, value in ref.se().items():
        assert_allclose(fit.bse_cluster["two-way"][mapping[term]], value, rtol=1e-6)


# ------------------------------------------------------------------- invariants
@pytest.mark.parametrize("cost_func", ["pow", "exp"])
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_margins(constraint, cost_func):
    flows, cost, log_pop = simulate(30, seed=4, cost_func=cost_func)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    inputs = (flows.copy(), cost.copy(), log_pop.copy())
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        cost_func=cost_func,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
    )
    for before, after in zip(inputs, (flows, cost, log_pop), strict=True):
        assert_allclose(after, before)  # inputs are not modified
    observed = flows - np.diag(np.diagonal(flows))
    rows, cols = np.nansum(fit.fitted, axis=1), np.nansum(fit.fitted, axis=0)
    assert_allclose(
        rows.sum(), observed.sum(), rtol=1e-12
    )  # every model has a constant
    if constraint in ("production", "doubly"):
        assert_allclose(rows, observed.sum(axis=1), rtol=1e-12)
    if constraint in ("attraction", "doubly"):
        assert_allclose(cols, observed.sum(axis=0), rtol=1e-12)


def test_metrics_of_a_perfect_fit():
    y = np.array([[np.nan, 3.0], [5.0, np.nan]])
    assert ssi(y, y) == 1.0
    assert srmse(y, y) == 0.0
    assert poisson_deviance(y, y) == 0.0
    with pytest.raises(AlignmentError, match="differ in shape"):
        ssi(y, y[0])


def test_reported_metrics_agree_with_the_functions():
    flows, cost, _ = simulate(20, seed=5)
    fit = fit_gravity(flows, cost)
    observed = np.where(np.isnan(fit.fitted), np.nan, flows)
    assert_allclose(fit.srmse, srmse(observed, fit.fitted), rtol=1e-12)
    assert_allclose(fit.ssi, ssi(observed, fit.fitted), rtol=1e-12)
    assert_allclose(fit.deviance, poisson_deviance(observed, fit.fitted), rtol=1e-9)
    assert_allclose(fit.pseudo_r2, 1 - fit.deviance / fit.null_deviance)


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_recovers_known_parameters(constraint):
    flows, cost, log_pop = simulate(60, seed=6, beta=-1.2, scale=20.0)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
    )
    truth = {"beta": -1.2, "origin:log_pop": 0.8, "destination:log_pop": 0.6}
    for name, value in truth.items():
        if name in fit.params:
            assert abs(fit.params[name] - value) < 3 * fit.bse_robust[name], name
    low, high = fit.conf_int(0.001)["beta"]
    assert low < -1.2 < high


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_warm_start_does_not_change_the_estimate(constraint, monkeypatch):
    from kzspatial.core.gravity import engine

    flows, cost, log_pop = simulate(
        2 * engine._WARM_START_ZONES + 20, seed=21, scale=5.0
    )
    origin_vars, destination_vars = covariates(constraint, log_pop)
    kwargs = {
        "constraint": constraint,
        "origin_vars": origin_vars,
        "destination_vars": destination_vars,
    }
    warm = fit_gravity(flows, cost, **kwargs)
    monkeypatch.setattr(engine, "_WARM_START_ZONES", 10**6)
    cold = fit_gravity(flows, cost, **kwargs)
    assert warm.n_iter < cold.n_iter
    for name, value in cold.params.items():
        assert_allclose(warm.params[name], value, rtol=1e-9)
        assert_allclose(warm.bse_robust[name], cold.bse_robust[name], rtol=1e-7)


# ---------------------------------------------------------------------- panels
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_panel_matches_statsmodels(sm, constraint):
    n, n_years = 15, 3
    flows, cost, log_pop = simulate(n, seed=7, n_years=n_years, scale=100.0)
    origin_vars, destination_vars = covariates(
        constraint, log_pop
    )  # year-specific values
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        years=[2022, 2023, 2024],
        origin_vars=origin_vars,
        destination_vars=destination_vars,
    )
    t, origin, destination = np.nonzero(~np.eye(n, dtype=bool)[None].repeat(n_years, 0))
    origin_year = np.eye(n * n_years)[t * n + origin]
    destination_year = np.eye(n * n_years)[t * n + destination]
    columns = [np.log(cost)[origin, destination]]
    if constraint == "unconstrained":
        columns += [np.ones(t.size), np.eye(n_years)[t][:, 1:]]
    if origin_vars:
        columns.append(log_pop[t, origin])
    if destination_vars:
        columns.append(log_pop[t, destination])
    if constraint in ("production", "doubly"):
        columns.append(origin_year)
    if constraint == "attraction":
        columns.append(destination_year)
    if constraint == "doubly":  # one destination-year dummy per year is redundant
        columns.append(destination_year[:, np.arange(n * n_years) % n != 0])
    ref = sm.GLM(
        flows[t, origin, destination],
        np.column_stack(columns),
        family=sm.families.Poisson(),
    ).fit(tol=1e-14)
    names = list(fit.params)
    assert_allclose(
        [fit.params[name] for name in names], ref.params[: len(names)], rtol=COEF_RTOL
    )
    assert_allclose(fit.deviance, ref.deviance, rtol=1e-10)
    assert_allclose(fit.aic, ref.aic, rtol=1e-10)
    assert fit.fitted.shape == flows.shape
    assert_allclose(fit.predict(), fit.fitted, rtol=1e-10)
    observed_rows = flows.sum(axis=2) - np.diagonal(flows, axis1=1, axis2=2)
    if constraint in ("production", "doubly"):
        assert_allclose(np.nansum(fit.fitted, axis=2), observed_rows, rtol=1e-12)
        assert fit.origin_effects.shape == (n_years, n)
    if constraint == "unconstrained":
        assert "year[2024]" in fit.params


# --------------------------------------------------------------------- predict
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_predict_reproduces_fitted(constraint):
    flows, cost, log_pop = simulate(20, seed=8)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
    )
    assert_allclose(fit.predict(), fit.fitted, rtol=1e-10)
    assert_allclose(
        fit.predict(
            cost=cost, origin_vars=origin_vars, destination_vars=destination_vars
        ),
        fit.fitted,
        rtol=1e-10,
    )


def test_predict_new_cost():
    n = 20
    flows, cost, log_pop = simulate(n, seed=9)
    new_cost = cost * np.linspace(1, 2, n)[None, :]
    observed = flows - np.diag(np.diagonal(flows))

    fit = fit_gravity(
        flows,
        cost,
        constraint="unconstrained",
        origin_vars={"log_pop": log_pop},
        destination_vars={"log_pop": log_pop},
    )
    # power decay: mu scales by (new/old)^beta, nothing else moves
    assert_allclose(
        fit.predict(cost=new_cost),
        fit.fitted * (new_cost / cost) ** fit.params["beta"],
        rtol=1e-10,
    )
    with pytest.raises(ValidationError, match="no origin constraint"):
        fit.predict(origin_totals=observed.sum(axis=1))

    # production: O_i K_ij / sum_j K_ij with the new kernel
    fit = fit_gravity(
        flows, cost, constraint="production", destination_vars={"log_pop": log_pop}
    )
    new_pop = 1.5 * log_pop
    prediction = fit.predict(cost=new_cost, destination_vars={"log_pop": new_pop})
    kernel = new_cost ** fit.params["beta"] * np.exp(
        fit.params["destination:log_pop"] * new_pop
    )
    np.fill_diagonal(kernel, 0)
    expected = (
        observed.sum(axis=1)[:, None] * kernel / kernel.sum(axis=1, keepdims=True)
    )
    np.fill_diagonal(expected, np.nan)
    assert_allclose(prediction, expected, rtol=1e-10)
    totals = observed.sum(axis=1) * 2.0
    assert_allclose(
        np.nansum(fit.predict(origin_totals=totals), axis=1), totals, rtol=1e-12
    )

    # doubly: both margins kept, and prediction / kernel = A_i B_j (additive in logs)
    fit = fit_gravity(flows, cost, constraint="doubly")
    prediction = fit.predict(cost=new_cost)
    assert_allclose(np.nansum(prediction, axis=1), observed.sum(axis=1), rtol=1e-10)
    assert_allclose(np.nansum(prediction, axis=0), observed.sum(axis=0), rtol=1e-10)
    log_ratio = np.log(prediction / new_cost ** fit.params["beta"])
    others = np.arange(2, n)
    interaction = (
        log_ratio[0, others][:, None]
        + log_ratio[1, others][None, :]
        - log_ratio[0, others][None, :]
        - log_ratio[1, others][:, None]
    )
    assert_allclose(interaction, 0.0, atol=1e-9)


def test_predict_bad_input():
    flows, cost, log_pop = simulate(12, seed=10)
    fit = fit_gravity(flows, cost, constraint="doubly")
    with pytest.raises(ValidationError, match="equal sums"):
        fit.predict(origin_totals=np.ones(12), destination_totals=2 * np.ones(12))
    with pytest.raises(AlignmentError, match="cost has shape"):
        fit.predict(cost=cost[:5, :5])
    fit = fit_gravity(
        flows, cost, constraint="production", destination_vars={"log_pop": log_pop}
    )
    with pytest.raises(
        ValidationError, match="'income' is not in the production model"
    ):
        fit.predict(destination_vars={"income": log_pop})
    with pytest.raises(ValidationError, match="origin covariate 'log_pop' is not in"):
        fit.predict(origin_vars={"log_pop": log_pop})


# --------------------------------------------------------------------- results
@pytest.fixture(scope="module")
def attraction_fit():
    flows, cost, log_pop = simulate(20, seed=11)
    return fit_gravity(
        flows, cost, constraint="attraction", origin_vars={"log_pop": log_pop}
    )


def test_table_and_conf_int(attraction_fit):
    fit = attraction_fit
    table = fit.table(cov="two-way")
    assert list(table) == [
        "index",
        "coef",
        "std_err",
        "z",
        "p_value",
        "ci_low",
        "ci_high",
    ]
    assert table["index"].tolist() == list(fit.param_names)
    assert_allclose(table["coef"], [fit.params[k] for k in fit.param_names])
    assert_allclose(
        table["std_err"], [fit.bse_cluster["two-way"][k] for k in fit.param_names]
    )
    assert_allclose(table["z"], table["coef"] / table["std_err"])
    # two-sided normal p-value written with the complementary error function
    assert_allclose(
        table["p_value"], [math.erfc(abs(z) / math.sqrt(2)) for z in table["z"]]
    )
    # 1.959963984540054: the 0.975 quantile of the standard normal
    assert_allclose(
        table["ci_high"] - table["coef"], 1.959963984540054 * table["std_err"]
    )
    assert_allclose(
        table["coef"] - table["ci_low"], 1.959963984540054 * table["std_err"]
    )
    with pytest.raises(ValidationError, match="unknown cov 'hc3'"):
        fit.conf_int(cov="hc3")
    with pytest.raises(ValidationError, match="unknown cov 'hc3'"):
        fit.summary(cov="hc3")
    with pytest.raises(ValidationError, match=r"alpha must lie in \(0, 1\)"):
        fit.conf_int(1.5)


@pytest.mark.parametrize("cov", ["robust", "origin", "two-way"])
def test_summary_is_a_text_table_of_the_estimates(attraction_fit, cov):
    fit = attraction_fit
    bse = fit.bse_robust if cov == "robust" else fit.bse_cluster[cov]
    text = fit.summary(cov=cov, alpha=0.1)
    assert isinstance(text, str)
    lines = text.splitlines()
    assert "[0.05" in text and "0.95]" in text
    label = {
        "robust": "robust (HC0)",
        "origin": "CRV1 by origin",
        "two-way": "CRV1 two-way",
    }
    assert label[cov] in text
    low, high = zip(*fit.conf_int(0.1, cov=cov).values(), strict=True)
    for k, name in enumerate(fit.param_names):
        (row,) = [line for line in lines if line.split()[:1] == [name]]
        coef, se, z, p, ci_low, ci_high = map(float, row.split()[1:])
        # printed to five significant digits (z and p to three decimals)
        assert coef == pytest.approx(fit.params[name], rel=1e-4)
        assert se == pytest.approx(bse[name], rel=1e-4)
        assert z == pytest.approx(fit.params[name] / bse[name], abs=1e-3)
        assert (ci_low, ci_high) == pytest.approx((low[k], high[k]), rel=1e-4)
    for label, value in [
        ("Deviance:", fit.deviance),
        ("AIC:", fit.aic),
        ("SSI:", fit.ssi),
        ("Flows (cells):", fit.n_obs),
    ]:
        (line,) = [line for line in lines if label in line]
        after = line.split(label, 1)[1].split()[0]
        assert float(after) == pytest.approx(value, rel=1e-4), label


def test_repr_is_short(attraction_fit):
    fit = attraction_fit
    text = repr(fit)
    assert len(text) < 300
    assert text.startswith("GravityFit(constraint='attraction', cost_func='pow'")
    assert "n_zones=20" in text and f"n_flows={fit.n_obs}" in text
    assert f"beta={fit.params['beta']:.4g}" in text
    assert "array" not in text and "converged=True" in text


def test_to_frame_holds_the_table(attraction_fit):
    pytest.importorskip("pandas")
    fit = attraction_fit
    frame = fit.to_frame(cov="origin", alpha=0.1)
    table = fit.table(cov="origin", alpha=0.1)
    assert frame.index.tolist() == table["index"].tolist()
    assert frame.index.name == "parameter"
    assert list(frame.columns) == [key for key in table if key != "index"]
    for column in frame.columns:
        assert_allclose(frame[column].to_numpy(), table[column], rtol=0, atol=0)


def test_exp_decay_keeps_self_flows():
    flows, cost, _ = simulate(15, seed=12, cost_func="exp")
    np.fill_diagonal(cost, 0.0)
    fit = fit_gravity(flows, cost, cost_func="exp", self_flows="keep")
    assert np.isfinite(fit.fitted).all()
    assert_allclose(fit.fitted.sum(axis=1), flows.sum(axis=1), rtol=1e-12)


def test_real_counts_and_sparse_input():
    sparse = pytest.importorskip("scipy.sparse")
    flows, cost, _ = simulate(15, seed=13)
    fit_int = fit_gravity(sparse.csr_array(flows), cost)
    fit_real = fit_gravity(flows / 3.0, cost, counts="real")
    assert_allclose(fit_real.params["beta"], fit_int.params["beta"], rtol=1e-9)


# ---------------------------------------------------------------- error paths
def test_bad_flows_are_reported_together():
    flows, cost, _ = simulate(8, seed=14)
    flows[0, 1] = -1
    flows[2, 3] = 2.5
    cost[4, 5] = np.nan
    ids = [f"R{i:02d}" for i in range(8)]
    with pytest.raises(ValidationError) as excinfo:
        fit_gravity(flows, cost, ids=ids)
    message = str(excinfo.value)
    assert "negative for 1 pairs: R00 -> R01" in message
    assert "not integer counts for 1 pairs: R02 -> R03; pass counts='real'" in message
    assert (
        "cost is missing, negative or zero for 1 modelled pairs: R04 -> R05" in message
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"constraint": "gravity"}, ValidationError, "unknown constraint 'gravity'"),
        (
            {"cost_func": "gauss"},
            ValidationError,
            r"unknown cost_func 'gauss'; valid are \['pow', 'exp'\]",
        ),
        ({"self_flows": "zero"}, ValidationError, "unknown self_flows"),
        ({"ids": list("abc")}, AlignmentError, "ids has 3 labels for 8 zones"),
        ({"ids": list("aabcdefg")}, ValidationError, "ids contains duplicates"),
        ({"years": [2023]}, ValidationError, "years labels the first axis"),
        (
            {"origin_vars": [1.0] * 8},
            ValidationError,
            "origin_vars must map covariate names",
        ),
        (
            {"constraint": "unconstrained", "origin_vars": {"pop": np.ones(5)}},
            AlignmentError,
            r"origin_vars\['pop'\] has shape \(5,\); expected \(8,\)",
        ),
        (
            {"constraint": "production", "origin_vars": {"pop": np.arange(8.0)}},
            IdentificationError,
            r"origin covariates \['pop'\] are absorbed by the origin fixed effects",
        ),
        (
            {"constraint": "doubly", "destination_vars": {"gdp": np.arange(8.0)}},
            IdentificationError,
            r"destination covariates \['gdp'\] are absorbed",
        ),
    ],
    ids=[
        "constraint",
        "cost_func",
        "self_flows",
        "ids-length",
        "ids-duplicate",
        "years-2d",
        "vars-not-mapping",
        "vars-shape",
        "absorbed-origin",
        "absorbed-destination",
    ],
)
def test_bad_options(kwargs, error, match):
    flows, cost, _ = simulate(8, seed=15)
    with pytest.raises(error, match=match):
        fit_gravity(flows, cost, **kwargs)


def test_shape_mismatch_and_missing_covariates():
    flows, cost, log_pop = simulate(8, seed=16)
    with pytest.raises(
        AlignmentError, match=r"cost has shape \(7, 7\), expected \(8, 8\)"
    ):
        fit_gravity(flows, cost[:7, :7])
    with pytest.raises(ValidationError, match="must be a square"):
        fit_gravity(flows[:, :7], cost)
    log_pop[[2, 5]] = np.nan
    with pytest.raises(
        ValidationError, match=r"missing \(NaN or infinite\) for zones c, f"
    ):
        fit_gravity(
            flows,
            cost,
            constraint="attraction",
            ids=list("abcdefgh"),
            origin_vars={"log_pop": log_pop},
        )
    flows[1, 2] = np.nan
    with pytest.raises(ValidationError, match="flows are missing"):
        fit_gravity(flows, cost)


def test_zero_cost_with_power_decay():
    flows, cost, _ = simulate(6, seed=17)
    cost[1, 3] = 0.0
    with pytest.raises(
        ValidationError, match=r"zero for 1 modelled pairs: 1 -> 3.*cost_func='exp'"
    ):
        fit_gravity(flows, cost)
    with pytest.raises(ValidationError, match="zero for 6 modelled pairs: 0 -> 0"):
        fit_gravity(flows, np.where(np.eye(6) > 0, 0.0, cost + 1), self_flows="keep")


def test_empty_zones_raise_or_drop(sm):
    n = 15
    flows, cost, _ = simulate(n, seed=18)
    flows[3, :] = 0  # zone 3 sends nothing
    ids = [f"Z{i}" for i in range(n)]
    with pytest.raises(
        IdentificationError,
        match=r"origin zones Z3 have no modelled flows.*empty_zones='drop'",
    ):
        fit_gravity(flows, cost, ids=ids)
    fit = fit_gravity(flows, cost, ids=ids, empty_zones="drop")
    assert fit.dropped == {"origin": ["Z3"], "destination": []}
    assert np.isnan(fit.fitted[3]).all() and np.isnan(fit.origin_effects[3])
    # the same model without zone 3 as an origin
    origin, destination = np.nonzero(~np.eye(n, dtype=bool))
    keep = origin != 3
    origin, destination = origin[keep], destination[keep]
    X = np.column_stack(
        [
            np.log(cost[origin, destination]),
            np.eye(n)[origin][:, [i for i in range(n) if i != 3]],
            np.eye(n)[destination][:, 1:],
        ]
    )
    ref = sm.GLM(flows[origin, destination], X, family=sm.families.Poisson()).fit(
        tol=1e-14
    )
    assert_allclose(fit.params["beta"], ref.params[0], rtol=COEF_RTOL)
    assert_allclose(fit.aic, ref.aic, rtol=1e-10)
    # unconstrained models have no origin effects to diverge
    assert fit_gravity(flows, cost, constraint="unconstrained").dropped["origin"] == []


def test_collinear_covariates():
    flows, cost, log_pop = simulate(10, seed=19)
    with pytest.raises(
        IdentificationError, match=r"\['destination:const'\] do not vary"
    ):
        fit_gravity(
            flows,
            cost,
            constraint="production",
            destination_vars={"const": np.full(10, 3.0)},
        )
    with pytest.raises(
        IdentificationError, match=r"\['origin:a', 'origin:b'\] are collinear"
    ):
        fit_gravity(
            flows,
            cost,
            constraint="attraction",
            origin_vars={"a": log_pop, "b": 2 * log_pop + 1},
        )
    with pytest.raises(IdentificationError, match="are collinear"):
        fit_gravity(
            flows, cost, constraint="unconstrained", origin_vars={"c": np.full(10, 2.0)}
        )


def test_all_zero_flows():
    _, cost, _ = simulate(6, seed=20)
    with pytest.raises(ValidationError, match="all modelled flows are zero"):
        fit_gravity(np.zeros((6, 6)), cost)
