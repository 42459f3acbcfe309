"""Inequality indices: analytic values, invariances, study-level tables."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kzspatial._constants import ATOL, RTOL
from kzspatial._errors import ValidationError
from kzspatial.core.inequality import gini, max_min_ratio, theil
from kzspatial.study.inequality import (
    check_ratio_claim,
    grp_inequality,
    push_pull_elasticities,
)


@pytest.mark.parametrize("index", [gini, theil], ids=["gini", "theil"])
def test_equal_values_give_zero(index):
    assert_allclose(index([5.0, 5.0, 5.0]), 0.0, atol=ATOL)
    assert_allclose(index([5.0, 5.0], weights=[1.0, 9.0]), 0.0, atol=ATOL)


def test_hand_computed_values():
    # x = (1, 3): sum_ij |xi - xj| = 4, 2 n^2 mean = 16 -> G = 0.25
    assert_allclose(gini([1.0, 3.0]), 0.25, rtol=RTOL)
    # T = 1/2 [0.5 ln 0.5 + 1.5 ln 1.5] with mean 2
    assert_allclose(
        theil([1.0, 3.0]), 0.5 * (0.5 * np.log(0.5) + 1.5 * np.log(1.5)), rtol=RTOL
    )
    # one unit holds everything: G = (n - 1) / n
    assert_allclose(gini([0.0, 0.0, 0.0, 1.0]), 0.75, rtol=RTOL)
    assert max_min_ratio([2.0, 3.0, 8.0]) == 4.0


@pytest.mark.parametrize("index", [gini, theil], ids=["gini", "theil"])
def test_integer_weights_equal_replication(index):
    x, w = np.array([1.0, 3.0, 7.0]), np.array([2, 1, 3])
    assert_allclose(index(x, weights=w), index(np.repeat(x, w)), rtol=RTOL)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: theil([1.0, 0.0]), "> 0"),
        (lambda: gini([1.0, np.nan]), "NaN"),
        (lambda: gini([1.0, 2.0], weights=[1.0]), "one weight per value"),
        (lambda: gini([]), "non-empty"),
        (lambda: gini([0.0, 0.0]), "undefined"),
    ],
)
def test_invalid_input(call, match):
    with pytest.raises(ValidationError, match=match):
        call()


def _grp_table():
    # two years in two border configurations with their own population
    grp = pd.DataFrame(
        {
            "region_id": ["KZ-11", "KZ-15", "KZ-11", "KZ-15"],
            "year": [2010, 2010, 2011, 2011],
            "configuration": "2010",
            "grp_per_capita_thousand_kzt": [100.0, 300.0, 100.0, 100.0],
        }
    )
    pop = pd.DataFrame(
        {
            "region_id": ["KZ-11", "KZ-15"],
            "year": [2010, 2010],
            "configuration": "2010",
            "population": [1.0, 3.0],
        }
    )
    return grp, pop


def test_grp_inequality_weights_and_missing_population():
    grp, pop = _grp_table()
    table = grp_inequality(grp, pop).set_index("year")
    assert_allclose(table.at[2010, "max_min_ratio"], 3.0)
    assert_allclose(table.at[2010, "gini"], gini([100.0, 300.0]))
    assert_allclose(table.at[2010, "gini_weighted"], gini([100.0, 300.0, 300, 300]))
    assert np.isnan(table.at[2011, "gini_weighted"])  # no population of 2011
    assert table.at[2010, "max_region"] == "Aktobe"
    claim = check_ratio_claim(table.reset_index(), low=1.5, high=2.0)
    assert claim["within_claim"].tolist() == [False, False]


def test_push_pull_elasticities_selects_zone_terms():
    table = pd.DataFrame(
        {
            "parameter": [
                "beta",
                "origin:log_grp_per_capita",
                "destination:unemployment",
            ],
            "estimate": [-1.0, 0.2, -0.3],
            "ci_low_two_way": [-1.2, -0.1, -0.5],
            "ci_high_two_way": [-0.8, 0.5, -0.1],
        }
    )
    out = push_pull_elasticities(table)
    assert out["side"].tolist() == ["push (origin)", "pull (destination)"]
    assert out["excludes_zero"].tolist() == [False, True]
    assert push_pull_elasticities(pd.DataFrame()).empty
