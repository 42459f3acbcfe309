"""Tests of kzspatial.core.baselines on hand-computed toys and simulated flows (seeded)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.baselines import (
    BaselineFit,
    compare_models,
    intervening_opportunities,
    radiation,
)
from kzspatial.core.gravity import fit_gravity

# three zones on a line at 0, 1 and 3 km
LINE_COST = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
LINE_POP = np.array([1.0, 2.0, 3.0])


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 500, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 5.0
    pop = rng.lognormal(10, 1, n)
    mu = pop[:, None] * pop[None, :] * km**-1.5
    np.fill_diagonal(mu, 0.0)
    return rng.poisson(40 * mu / mu.mean()).astype(float), km, pop


def test_radiation_on_a_line():
    # by hand: origin 0 has s_01 = 0 and s_02 = m_1 = 2, so p_01 = 1*2/(1*3) = 2/3 and
    # p_02 = 1*3/(3*6) = 1/6; they sum to 1 - m_0/M = 5/6, giving shares 0.8 and 0.2.
    # origin 2 (at 3 km): zone 1 is closer, p_21 = 3*2/(3*5) = 2/5, p_20 = 3*1/(5*6) = 1/10
    fit = radiation([10.0, 0.0, 5.0], LINE_POP, LINE_COST)
    assert isinstance(fit, BaselineFit) and fit.params == {}
    assert_allclose(fit.fitted[0, 1:], [8.0, 2.0])
    assert_allclose(fit.fitted[2, :2], [5.0 * 0.1 / 0.5, 5.0 * 0.4 / 0.5])
    assert np.isnan(np.diagonal(fit.fitted)).all()


def test_radiation_ties_do_not_intervene():
    cost = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    fit = radiation([6.0, 6.0, 6.0], [1.0, 1.0, 1.0], cost)
    assert_allclose(fit.fitted[0, 1:], [3.0, 3.0])  # equal distances and masses


def test_radiation_keeps_outflows():
    flows, km, pop = simulate(30, seed=0)
    fit = radiation(flows.sum(axis=1), pop, km)
    assert_allclose(np.nansum(fit.fitted, axis=1), flows.sum(axis=1), rtol=1e-12)


def test_intervening_opportunities_limits_and_fit():
    flows, km, pop = simulate(30, seed=1)
    outflows = flows.sum(axis=1)
    # L -> 0: destinations chosen in proportion to their opportunities
    tiny = intervening_opportunities(flows, pop, km, L=1e-12 / pop.sum())
    expected = outflows[:, None] * pop[None, :] / (pop.sum() - pop)[:, None]
    np.fill_diagonal(expected, np.nan)
    assert_allclose(tiny.fitted, expected, rtol=1e-6)
    # L large: everything goes to the nearest zone
    huge = intervening_opportunities(flows, pop, km, L=1e3 / pop.min())
    nearest = np.argmin(np.where(np.eye(30) > 0, np.inf, km), axis=1)
    assert_allclose(huge.fitted[np.arange(30), nearest], outflows, rtol=1e-9)
    # the fitted L is a likelihood maximum
    fit = intervening_opportunities(flows, pop, km)
    assert_allclose(np.nansum(fit.fitted, axis=1), outflows, rtol=1e-12)
    deviance = compare_models(flows, {"fit": fit})[0]["deviance"]
    for factor in (0.9, 1.1):
        other = intervening_opportunities(flows, pop, km, L=fit.params["L"] * factor)
        assert compare_models(flows, {"other": other})[0]["deviance"] > deviance


def test_compare_models_scores_all_on_the_same_cells():
    flows, km, pop = simulate(25, seed=2)
    gravity = fit_gravity(
        flows, km, constraint="production", destination_vars={"log_pop": np.log(pop)}
    )
    rows = compare_models(
        flows,
        {
            "gravity": gravity,
            "radiation": radiation(flows.sum(axis=1), pop, km),
            "io": intervening_opportunities(flows, pop, km),
            "observed": flows,
        },
    )
    assert [row["model"] for row in rows] == ["gravity", "radiation", "io", "observed"]
    by_name = {row["model"]: row for row in rows}
    assert_allclose(by_name["gravity"]["deviance"], gravity.deviance, rtol=1e-10)
    assert_allclose(by_name["gravity"]["aic"], gravity.aic, rtol=1e-10)
    assert_allclose(by_name["gravity"]["ssi"], gravity.ssi, rtol=1e-12)
    assert_allclose(by_name["gravity"]["pseudo_r2"], gravity.pseudo_r2, rtol=1e-10)
    assert by_name["observed"]["deviance"] == 0 and by_name["observed"]["ssi"] == 1
    assert by_name["observed"]["aic"] is None
    assert by_name["gravity"]["deviance"] < by_name["radiation"]["deviance"]
    assert all(row["n_cells"] == 25 * 24 for row in rows)


def test_bad_input():
    with pytest.raises(
        AlignmentError, match=r"expected outflows \(n,\), population \(n,\)"
    ):
        radiation([1.0, 2.0], LINE_POP, LINE_COST)
    with pytest.raises(
        ValidationError, match=r"population must be finite and > 0; zones \[1\]"
    ):
        radiation([1.0, 2.0, 3.0], [1.0, 0.0, 2.0], LINE_COST)
    with pytest.raises(ValidationError, match="L must be > 0"):
        intervening_opportunities(np.ones((3, 3)), LINE_POP, LINE_COST, L=-1.0)
    with pytest.raises(ValidationError, match="flows must be finite and >= 0"):
        intervening_opportunities(-np.ones((3, 3)), LINE_POP, LINE_COST)
    with pytest.raises(AlignmentError, match="model 'x' predicts shape"):
        compare_models(np.ones((3, 3)), {"x": np.ones((2, 2))})
    with pytest.raises(ValidationError, match="models is empty"):
        compare_models(np.ones((3, 3)), {})
