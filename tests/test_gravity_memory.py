"""How a gravity fit holds its inputs and workspace.

The fit reads ``float64`` flows without copying them (a read-only view; a copy only
when non-zero self-pairs are to be dropped) and allocates its two flow-sized arrays
(the decay regressor and the fitted flows) through ``blocks._flow_workspace``. The
invariants here: the caller's arrays are never written, the fit does not depend on
how its inputs or workspace were held, and dropped self-pairs do not matter.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from kzspatial.core.decay import decay_regressor
from kzspatial.core.gravity import CONSTRAINTS, blocks, fit_gravity
from kzspatial.core.gravity import _checks as checks

SIDES = {  # zone covariates each model identifies
    "unconstrained": (True, True),
    "production": (False, True),
    "attraction": (True, False),
    "doubly": (False, False),
}


def gravity_data(n, *, n_years=1, seed=3):
    """Seeded Poisson flows with power decay; self-flows positive (later zeroed)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 10.0
    log_pop = rng.normal(11, 1, size=n)
    eta = 0.8 * log_pop[:, None] + 0.6 * log_pop[None, :] - 1.5 * np.log(km)
    mean = np.exp(eta - eta.max())
    mean *= 20.0 / mean.mean()
    flows = rng.poisson(mean, size=(n_years, n, n)).astype(np.float64)
    return (flows if n_years > 1 else flows[0]), km, log_pop


def fit(flows, cost, log_pop, constraint, **kwargs):
    use_o, use_d = SIDES[constraint]
    pop = {"log_pop": log_pop}
    return fit_gravity(
        flows,
        cost,
        constraint=constraint,
        origin_vars=pop if use_o else None,
        destination_vars=pop if use_d else None,
        **kwargs,
    )


def assert_same_fit(a, b):
    """Bit-identical estimates, standard errors, fitted flows and metrics."""
    assert a.params == b.params
    assert a.bse_robust == b.bse_robust
    assert a.bse_cluster == b.bse_cluster
    assert (a.deviance, a.llf, a.srmse) == (b.deviance, b.llf, b.srmse)
    assert_array_equal(a.fitted, b.fitted)


def without_self_flows(flows):
    out = np.array(flows)
    out[..., np.arange(out.shape[-1]), np.arange(out.shape[-1])] = 0.0
    return out


@pytest.mark.parametrize("constraint", CONSTRAINTS)
@pytest.mark.parametrize("n_years", [1, 2])
def test_inputs_are_not_written_and_self_pairs_do_not_matter(constraint, n_years):
    flows, km, log_pop = gravity_data(30, n_years=n_years)
    assert np.diagonal(flows, axis1=-2, axis2=-1).any()  # the copy path is taken
    zero_diagonal = without_self_flows(flows)
    kept = flows.copy(), zero_diagonal.copy(), km.copy()
    with_self = fit(flows, km, log_pop, constraint)
    no_copy = fit(zero_diagonal, km, log_pop, constraint)
    # a list is read into a new array: the reference path that owns its copy
    from_list = fit(zero_diagonal.tolist(), km.tolist(), log_pop, constraint)
    for before, after in zip(kept, (flows, zero_diagonal, km), strict=True):
        assert_array_equal(after, before)
        assert after.flags.writeable
    assert_same_fit(with_self, no_copy)
    assert_same_fit(no_copy, from_list)


def test_read_only_inputs_are_accepted():
    flows, km, log_pop = gravity_data(25)
    reference = fit(flows.copy(), km.copy(), log_pop, "doubly")
    for arr in (flows, km):
        arr.flags.writeable = False
    assert_same_fit(fit(flows, km, log_pop, "doubly"), reference)
    # kept self-flows: the read-only flows are used as they are
    kept = fit(flows, km, log_pop, "production", self_flows="keep")
    assert kept.n_obs == flows.size


def test_fortran_ordered_and_integer_flows_give_the_same_fit():
    flows, km, log_pop = gravity_data(25)
    reference = fit(flows, km, log_pop, "attraction")
    assert_same_fit(fit(np.asfortranarray(flows), km, log_pop, "attraction"), reference)
    assert_same_fit(fit(flows.astype(np.int64), km, log_pop, "attraction"), reference)


def test_fit_keeps_its_own_self_pair_copy():
    """The zeroed copy, not the caller's array, is what the fit's residuals use."""
    flows, km, log_pop = gravity_data(20)
    result = fit(flows, km, log_pop, "doubly")
    design_y = result._design.y[0]
    assert not np.shares_memory(design_y, flows)
    assert_array_equal(np.diagonal(design_y), 0.0)
    assert not design_y.flags.writeable
    resid, fitted = result.pearson_resid, result.fitted
    off = ~np.eye(20, dtype=bool)
    assert_allclose(resid[off], ((flows - fitted) / np.sqrt(fitted))[off], rtol=1e-12)
    assert np.isnan(np.diagonal(resid)).all()


def test_zero_self_pairs_are_read_in_place():
    flows, km, log_pop = gravity_data(20)
    flows = without_self_flows(flows)
    result = fit(flows, km, log_pop, "production")
    assert np.shares_memory(result._design.y, flows)
    assert not result._design.y.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        result._design.y[0, 0, 1] = 1.0


@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_mapped_workspace_gives_the_same_fit_as_numpy_arrays(constraint, monkeypatch):
    # 740 zones: 4.4 MB per flow-sized array, above the threshold of mapped workspace
    flows, km, log_pop = gravity_data(740, seed=5)
    mapped = fit(flows, km, log_pop, constraint)
    assert not mapped._solution.mu.flags.owndata  # mapped, not numpy's
    regressor = mapped._design.pair[0]
    assert not regressor.flags.owndata and regressor.flags.c_contiguous
    monkeypatch.setattr(blocks, "_flow_workspace", np.empty)
    monkeypatch.setattr(checks, "_flow_workspace", np.empty)
    plain = fit(flows, km, log_pop, constraint)
    assert plain._design.pair[0].flags.owndata and plain._solution.mu.flags.owndata
    assert_same_fit(mapped, plain)
    assert_array_equal(pickle.loads(pickle.dumps(mapped.fitted)), mapped.fitted)


def test_flow_workspace_shapes_and_threshold():
    small = blocks._flow_workspace((1, 100, 100))
    assert small.shape == (1, 100, 100) and small.flags.owndata
    large = blocks._flow_workspace((2, 600, 600))  # 5.8 MB
    assert large.shape == (2, 600, 600) and large.dtype == np.float64
    assert large.flags.c_contiguous and large.flags.writeable
    large[...] = 2.5  # every page is usable
    assert large.sum() == 2.5 * large.size


@pytest.mark.parametrize("cost_func", ["pow", "exp"])
def test_decay_regressor_writes_into_out(cost_func):
    cost = np.array([[1.0, 2.0], [4.0, 8.0]])
    expected = decay_regressor(cost_func)(cost.copy())
    out = np.full_like(cost, np.nan)
    written = decay_regressor(cost_func)(cost, out=out)
    assert written is out
    assert_array_equal(out, np.log(cost) if cost_func == "pow" else cost)
    assert_array_equal(out, expected)
