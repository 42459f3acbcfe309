"""Gravity models on the real 2024 matrix against statsmodels' Poisson GLM (marker data)."""

import numpy as np
import pytest

from kzspatial.core.distance import great_circle_matrix_km
from kzspatial.core.flows import to_matrix
from kzspatial.core.gravity import fit_gravity
from kzspatial.datasets.migration import load_od_flows
from kzspatial.datasets.regions import configuration_ids

pytestmark = pytest.mark.data
sm = pytest.importorskip("statsmodels.api")


@pytest.fixture(scope="module")
def od_2024():
    from kzspatial.datasets.boundaries import load_admin_centres

    ids = configuration_ids()
    od = load_od_flows(years=[2024])
    F = to_matrix(od.origin.tolist(), od.destination.tolist(), od.flow, ids)
    centres = load_admin_centres().set_index("region_id").loc[list(ids)]
    D = great_circle_matrix_km(centres.geometry.x, centres.geometry.y)
    return F, D, ids


def _dummies(index, n):
    X = np.zeros((index.size, n))
    X[np.arange(index.size), index] = 1.0
    return X


@pytest.mark.parametrize("cost_func", ["pow", "exp"])
@pytest.mark.parametrize(
    "constraint", ["doubly", "production", "attraction", "unconstrained"]
)
def test_matches_statsmodels_on_real_2024(od_2024, constraint, cost_func):
    F, D, ids = od_2024
    n = len(ids)
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    y = F[i, j]
    g = np.log(D[i, j]) if cost_func == "pow" else D[i, j]
    log_out, log_in = np.log(F.sum(1) - np.diag(F)), np.log(F.sum(0) - np.diag(F))
    kw = {}
    cols = [np.ones_like(y), g]
    if constraint in ("production", "doubly"):
        cols += list(_dummies(i, n)[:, 1:].T)
    else:
        cols.append(log_out[i])
        kw["origin_vars"] = {"log_out": log_out}
    if constraint in ("attraction", "doubly"):
        cols += list(_dummies(j, n)[:, 1:].T)
    else:
        cols.append(log_in[j])
        kw["destination_vars"] = {"log_in": log_in}
    ref = sm.GLM(y, np.column_stack(cols), family=sm.families.Poisson()).fit(tol=1e-13)
    fit = fit_gravity(F, D, constraint=constraint, cost_func=cost_func, ids=ids, **kw)
    assert fit.params["beta"] == pytest.approx(ref.params[1], rel=1e-6)
    assert fit.deviance == pytest.approx(ref.deviance, rel=1e-8)
    mu = fit.fitted[i, j]
    np.testing.assert_allclose(mu, ref.fittedvalues, rtol=1e-6)
    if constraint in ("production", "doubly"):
        np.testing.assert_allclose(np.nansum(fit.fitted, 1), F.sum(1), rtol=1e-9)
    if constraint in ("attraction", "doubly"):
        np.testing.assert_allclose(np.nansum(fit.fitted, 0), F.sum(0), rtol=1e-9)
