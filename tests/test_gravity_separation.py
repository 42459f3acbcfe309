"""Separation in PPML gravity fits: found before fitting, dropped with a warning or raised.

The reference for a fit after dropping is the same model fitted on the data without
the separated zone and covariate, which has no separation; the separated fit must equal
it. Before this check, the issue's case returned a coefficient of -100 (SE 0.48).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kzspatial._errors import IdentificationError, ValidationError
from kzspatial.core.gravity import fit_gravity


def gravity_data(n=12, seed=5):
    """Poisson flows of a production-constrained model; zone 4 receives nothing."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1000, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 10.0
    attract = rng.normal(0, 0.5, size=n)
    mu = 40 * km**-0.8 * np.exp(attract)[None, :] * 50
    flows = rng.poisson(mu).astype(float)
    flows[:, 4] = 0  # no inflows into zone 4
    return flows, km, attract


def test_destination_dummy_of_a_zone_without_inflows_is_dropped():
    flows, km, attract = gravity_data()
    n = len(flows)
    ids = [f"Z{i}" for i in range(n)]
    dummy = (np.arange(n) == 4).astype(float)
    with pytest.warns(UserWarning, match=r"separation: left out destination Z4, "):
        fit = fit_gravity(
            flows,
            km,
            constraint="production",
            destination_vars={"attract": attract, "d": dummy},
            ids=ids,
        )
    assert fit.dropped["separation"] == ["destination Z4", "covariate destination:d"]
    assert "destination:d" not in fit.params
    assert np.isnan(fit.fitted[:, 4]).all()
    # the same model on the data without zone 4 as a destination, and without d
    reference = _fit_without_destination(flows, km, attract, 4)
    for name in ("beta", "destination:attract"):
        assert_allclose(fit.params[name], reference.params[name], rtol=1e-8)
        assert_allclose(fit.bse_robust[name], reference.bse_robust[name], rtol=1e-6)
    assert fit.n_obs == reference.n_obs
    assert fit.converged and abs(fit.params["beta"]) < 5


def _fit_without_destination(flows, km, attract, zone):
    """Production model with ``zone`` removed as a destination, by a GLM on the pairs.

    The zone stays an origin; its own flows are fitted as in the full model.
    """
    statsmodels = pytest.importorskip("statsmodels.api")
    n = len(flows)
    origin, destination = np.nonzero(~np.eye(n, dtype=bool))
    keep = destination != zone
    origin, destination = origin[keep], destination[keep]
    X = np.column_stack(
        [
            np.log(km[origin, destination]),
            attract[destination],
            (origin[:, None] == np.arange(n)[None, :]).astype(float),
        ]
    )
    glm = statsmodels.GLM(
        flows[origin, destination], X, family=statsmodels.families.Poisson()
    ).fit(tol=1e-12, cov_type="HC0")

    return SimpleNamespace(
        params={"beta": glm.params[0], "destination:attract": glm.params[1]},
        bse_robust={"beta": glm.bse[0], "destination:attract": glm.bse[1]},
        n_obs=len(origin),
    )


def test_separation_raise_lists_the_zone():
    flows, km, attract = gravity_data()
    dummy = (np.arange(len(flows)) == 4).astype(float)
    with pytest.raises(
        IdentificationError,
        match=r"11 zero flows are separated by destination:d: 0 -> 4, 1 -> 4.*"
        r"separation='drop'",
    ):
        fit_gravity(
            flows,
            km,
            constraint="production",
            destination_vars={"d": dummy},
            separation="raise",
        )


def test_separated_pairs_that_are_not_whole_zones_raise():
    flows, km, _ = gravity_data()
    flows[:, 4] = 1.0  # zone 4 receives again
    flows[0, 4] = flows[1, 4] = 0  # but not from zones 0 and 1
    # a covariate positive only on (0, 4) and (1, 4): an origin dummy of 0 and 1 times
    # a destination dummy of 4 is not a zone covariate, so build it as the decay cost
    cost = km.copy()
    cost[:] = 1.0
    cost[0, 4] = cost[1, 4] = np.e  # log cost 1 there, 0 elsewhere
    with pytest.raises(
        IdentificationError,
        match=r"2 zero flows are separated by beta \(decay\): 0 -> 4, 1 -> 4; .*"
        r"not whole zones",
    ):
        fit_gravity(flows, cost, constraint="production")


def test_unknown_separation_policy():
    flows, km, _ = gravity_data()
    with pytest.raises(ValidationError, match=r"unknown separation 'ignore'"):
        fit_gravity(flows, km, separation="ignore")


@pytest.mark.parametrize("constraint", ["unconstrained", "production", "doubly"])
def test_no_separation_no_warning_and_no_change(constraint):
    flows, km, attract = gravity_data()
    flows[:, 4] = np.arange(len(flows)) + 1.0  # zone 4 receives: no separation
    kwargs = {"destination_vars": {"a": attract}} if constraint != "doubly" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_gravity(flows, km, constraint=constraint, **kwargs)
        again = fit_gravity(
            flows, km, constraint=constraint, separation="raise", **kwargs
        )
    assert "separation" not in fit.dropped
    assert fit.params == again.params
