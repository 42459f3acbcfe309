"""The study's Pearson, Spearman and trend tests equal scipy.stats bit for bit."""

import numpy as np
import pytest
from scipy import stats

from kzspatial.study._stats import pearson, spearman, trend


def _samples():
    rng = np.random.default_rng(20261201)
    for n in (3, 4, 7, 17, 20, 200):
        x = rng.lognormal(10, 0.6, n)
        yield np.log(x), 3 * rng.standard_normal(n) - 0.01 * x
    years = np.arange(2010.0, 2025.0)
    yield years, 0.3 + 0.002 * (years - 2010) + rng.normal(0, 0.01, years.size)
    yield years, -years  # a perfect fit
    ties = rng.integers(0, 4, 30).astype(float)
    yield ties, ties + rng.integers(0, 3, 30)


@pytest.mark.parametrize("k", range(9))
def test_tests_are_scipys_to_the_last_bit(k):
    x, y = list(_samples())[k]
    r, p = pearson(x, y)
    expected = stats.pearsonr(x, y)
    assert (r, p) == (float(expected.statistic), float(expected.pvalue))
    rho, p = spearman(x, y)
    expected = stats.spearmanr(x, y)
    assert (rho, p) == (float(expected.statistic), float(expected.pvalue))
    slope, p = trend(x, y)
    expected = stats.linregress(x, y)
    assert (slope, p) == (float(expected.slope), float(expected.pvalue))


def test_undefined_tests_are_nan():
    for func in (pearson, spearman, trend):
        assert np.isnan(func([1.0, 2.0], [3.0, 1.0])).all()
        assert np.isnan(func([1.0, 1.0, 1.0], [3.0, 1.0, 2.0])).all()
    # a constant measure: no trend, as linregress says
    expected = stats.linregress([2010.0, 2011.0, 2012.0], [0.5, 0.5, 0.5])
    slope, p = trend([2010.0, 2011.0, 2012.0], [0.5, 0.5, 0.5])
    assert slope == expected.slope == 0.0 and np.isnan(p) and np.isnan(expected.pvalue)


def test_inputs_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="1-d of one length"):
        pearson([1.0, 2.0, 3.0], [1.0, 2.0])
