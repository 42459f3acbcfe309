"""Tests of the compiled sweeps behind the gravity passes (kzspatial.core.gravity._kernels).

Each pass is checked against its definition written out in NumPy here (einsum over the
full design, masks for the excluded cells), against kzspatial.core.metrics.fit_sums
(the tested reference of the fit sums) and against the rule of the separation check;
the SIMD sums against math.fsum and against the documented order of their additions.
Data come from the seeded simulator of test_gravity.
"""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_gravity import covariates, simulate

from kzspatial.core import metrics
from kzspatial.core.gravity import (
    _checks,
    _kernels,
    _separation,
    blocks,
    fit_gravity,
)

N = 23  # zones: odd, so that blocks and the SIMD tails are uneven


def design_of(constraint, n_years=1, **options):
    flows, cost, log_pop = simulate(N, seed=11, n_years=n_years)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    fit = fit_gravity(
        flows,
        cost,
        constraint=constraint,
        origin_vars=origin_vars,
        destination_vars=destination_vars,
        years=list(range(n_years)) if n_years > 1 else None,
        **options,
    )
    d = fit._design
    # the fitted flows as the engine holds them: 0 outside the model (NaN once handed
    # to the user)
    return d, np.where(d.modelled(), fit._solution.mu, 0.0)


def regressors(d):
    """Every regressor on every cell, shape (T, n, n, p): the design written out."""
    shape = d.y.shape
    columns = [*d.pair]
    columns += [
        np.broadcast_to(d.origin[:, :, None, k], shape)
        for k in range(d.origin.shape[2])
    ]
    columns += [
        np.broadcast_to(d.destination[:, None, :, k], shape)
        for k in range(d.destination.shape[2])
    ]
    return np.stack(columns, axis=3)


def reference_moments(d, w):
    x = regressors(d)
    return {
        "row_total": w.sum(axis=2),
        "col_total": w.sum(axis=1),
        "row": np.einsum("tij,tijk->tik", w, x),
        "col": np.einsum("tij,tijk->tjk", w, x),
        "gram": np.einsum("tij,tijk,tijl->kl", w, x, x),
        "total": np.einsum("tij,tijk->k", w, x),
    }


def assert_moments(moments, expected, rtol=1e-12):
    for name, value in expected.items():
        assert np.isfinite(value).all(), name
        assert_allclose(getattr(moments, name), value, rtol=rtol, atol=0, err_msg=name)


@pytest.mark.parametrize(
    ("constraint", "n_years"),
    [("unconstrained", 1), ("unconstrained", 2), ("production", 1), ("doubly", 2)],
)
def test_moments_equal_their_definition(constraint, n_years):
    d, mu = design_of(constraint, n_years)
    assert_moments(blocks._moments(d, mu), reference_moments(d, mu))


def test_moments_of_a_block_are_its_rows():
    d, mu = design_of("unconstrained", 2)
    rows = slice(5, 16)
    part = blocks._block_moments(d.block(rows), mu[:, rows])
    expected = reference_moments(d.block(rows), mu[:, rows])
    assert_moments(part, expected)


@pytest.mark.parametrize("n_years", [1, 2])
def test_residual_moments_in_one_sweep(n_years):
    d, mu = design_of("unconstrained", n_years)
    mu = 0.9 * mu  # off the optimum, where the scores cancel and sums are ~0
    resid = d.y - mu
    first, squares = blocks._block_residual_moments(d, mu)
    assert_moments(first, reference_moments(d, resid))
    assert_moments(squares, reference_moments(d, resid**2))


def reference_mu(d, theta, alpha, delta):
    kp, ko = d.n_pair, d.origin.shape[2]
    eta = sum(t * x for t, x in zip(theta[:kp], d.pair, strict=True))
    eta = eta + (alpha + d.origin @ theta[kp : kp + ko])[:, :, None]
    eta = eta + (delta + d.destination @ theta[kp + ko :])[:, None, :]
    return np.where(d.modelled(), np.exp(eta), 0.0)


@pytest.mark.parametrize("constraint", ["unconstrained", "doubly"])
def test_predictor_writes_exp_eta_and_its_moments(constraint):
    d, _ = design_of(constraint, 2, chunk_rows=6)
    rng = np.random.default_rng(3)
    theta = rng.normal(0, 0.3, d.n_theta)
    alpha, delta = rng.normal(0, 0.5, (2, *d.y.shape[:2]))
    expected = reference_mu(d, theta, alpha, delta)
    out = np.full(d.y.shape, np.nan)
    rows = blocks._predict(d, theta, alpha, delta, out, with_moments=False).rows
    assert_allclose(out, expected, rtol=1e-14, atol=0)
    assert_allclose(rows, expected.sum(axis=2), rtol=1e-13)
    # with the moments: those of the flows scaled by a factor per year
    predicted = blocks._predict(d, theta, alpha, delta, out, with_moments=True)
    factor = np.array([0.5, 3.0])
    assert_moments(
        predicted.moments(factor),
        reference_moments(d, expected * factor[:, None, None]),
        rtol=1e-13,
    )


@pytest.mark.parametrize("exclude_self", [True, False])
def test_predictor_is_zero_exactly_outside_the_model(exclude_self):
    d, _ = design_of("production", 2, chunk_rows=6)
    rng = np.random.default_rng(8)
    d = dataclasses.replace(
        d,
        exclude_self=exclude_self,
        active_origins=rng.uniform(size=d.active_origins.shape) > 0.3,
        active_destinations=rng.uniform(size=d.active_destinations.shape) > 0.3,
    )
    theta = rng.normal(0, 0.3, d.n_theta)
    # large effects: some excluded cells would overflow exp if they were computed
    alpha, delta = rng.normal(0, 400.0, (2, *d.y.shape[:2]))
    out = np.full(d.y.shape, np.nan)
    with np.errstate(over="ignore"):
        expected = reference_mu(d, theta, alpha, delta)
        rows = blocks._predict(d, theta, alpha, delta, out, with_moments=False).rows
    outside = ~d.modelled()
    assert outside.any() and np.all(out[outside] == 0.0)
    assert_allclose(out, expected, rtol=1e-14, atol=0)
    finite = np.isfinite(expected.sum(axis=2))
    assert_allclose(rows[finite], expected.sum(axis=2)[finite], rtol=1e-13)


@pytest.mark.parametrize("size", [0, 1, 5, 40])
def test_fit_sums_tally_counts_only_counts_in_range(size):
    rng = np.random.default_rng(9)
    y = rng.poisson(4.0, size=(6, 37)).astype(float)
    y[1, 3], y[2, 30], y[4, 0], y[5, 36] = np.nan, -1.0, 2.5, np.inf
    mu = rng.uniform(0.5, 8.0, size=y.shape)
    tally, totals = np.zeros(size, dtype=np.int64), np.zeros(4)
    counted = _kernels.fit_sums(y, mu, totals, tally)
    whole = np.isfinite(y) & (y >= 0) & (y == np.floor(y))
    inside = whole & (y < size)
    assert not counted  # the NaN, the negative, the fraction and the inf are missed
    assert tally.tolist() == [int((y[inside] == v).sum()) for v in range(size)]
    counts = np.abs(np.floor(np.where(np.isfinite(y), y, 0.0)))
    assert _kernels.fit_sums(counts, mu, np.zeros(4), np.zeros(99, dtype=np.int64))
    assert totals[1] == pytest.approx(mu.sum(), rel=1e-14)


def test_rescale_scales_and_sums():
    d, mu = design_of("doubly", 2, chunk_rows=5)
    rng = np.random.default_rng(4)
    row_factor, col_factor = rng.uniform(0.5, 2.0, (2, *mu.shape[:2]))
    for rows, cols in (
        (row_factor, col_factor),
        (row_factor, None),
        (None, col_factor),
    ):
        expected = mu.copy()
        if rows is not None:
            expected *= rows[:, :, None]
        if cols is not None:
            expected *= cols[:, None, :]
        for sum_rows, sum_cols in ((True, True), (False, True), (True, False)):
            scaled = mu.copy()
            margins = blocks._map_reduce(
                d,
                blocks._block_rescale,
                scaled,
                rows,
                col_factor=cols,
                sum_rows=sum_rows,
                sum_cols=sum_cols,
            )
            assert_allclose(scaled, expected, rtol=1e-15)
            for asked, got, axis in (
                (sum_rows, margins.rows, 2),
                (sum_cols, margins.cols, 1),
            ):
                if asked:
                    assert_allclose(got, expected.sum(axis=axis), rtol=1e-13)
                else:
                    assert got is None


@pytest.mark.parametrize(
    ("flows_of", "counts"),
    [
        (lambda y: y, "integer"),  # counted by value
        (lambda y: y * 0.37, "real"),  # fractional: the flows' own sums
        (lambda y: np.where(y > 0, y + 10.0**6, 0.0), "integer"),  # too large to count
    ],
    ids=["counts", "fractional", "large"],
)
def test_fit_sums_equal_the_metrics_reference(flows_of, counts):
    flows, cost, _ = simulate(N, seed=2, n_years=2)
    fit = fit_gravity(
        flows_of(flows), cost, constraint="doubly", years=[0, 1], counts=counts
    )
    d = fit._design
    mu = np.where(d.modelled(), fit._solution.mu, 0.0)
    sums = blocks._map_reduce(
        dataclasses.replace(d, chunk_rows=4), blocks._block_fit_sums, mu
    )
    expected = metrics.fit_sums(d.y, mu, with_log_mu=False)
    for name in (
        "y_total",
        "mu_total",
        "y_log_y",
        "log_factorials",
        "squared_residuals",
        "common",
    ):
        assert getattr(sums, name) == pytest.approx(
            getattr(expected, name), rel=1e-12
        ), name
    assert sums.y_log_mu is None and sums.y_log_ratio is None


def test_flow_summary_counts_the_problem_flows():
    rng = np.random.default_rng(5)
    y = rng.poisson(3.0, size=(2, 7, 9)).astype(float)
    y[0, 1, 2] = np.nan
    y[1, 3, 4] = np.inf
    y[1, 0, 0] = -2.0
    y[0, 6, 8] = -np.inf  # missing and negative
    y[1, 5, 1] = 2.5
    y[0, 2, 2] = -0.5  # negative and fractional
    rows, cols, positive_rows, positive_cols, bad = _checks._flow_summary(y)
    assert_allclose(positive_rows, (y > 0).sum(axis=2))
    assert_allclose(positive_cols, (y > 0).sum(axis=1))
    finite = np.isfinite(y)
    assert bad.tolist() == [
        int((~finite).sum()),
        int((y < 0).sum()),
        int((finite & (y != np.floor(y))).sum()) + int(np.isnan(y).sum()),
    ]
    clean = y.copy()
    clean[~finite] = 0.0
    ok = np.isfinite(y).all(axis=2)
    assert_allclose(rows[ok], y.sum(axis=2)[ok], rtol=1e-14)
    assert_allclose(
        cols[np.isfinite(y).all(axis=1)], y.sum(axis=1)[np.isfinite(y).all(axis=1)]
    )


@pytest.mark.parametrize("positive", [True, False])
@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_cost_checks_count_the_bad_modelled_costs(positive, diagonal):
    rng = np.random.default_rng(6)
    cost = rng.uniform(1, 9, size=(5, 8))
    cost[0, 5] = 0.0
    cost[1, 1] = np.nan
    cost[3, 0] = -1.0
    cost[4, 6] = np.inf
    cost[2, 4] = 0.0  # a self-pair when the block starts at zone 2
    bad = ~np.isfinite(cost) | (cost < 0) | (positive & (cost == 0))
    if diagonal >= 0:
        rows = np.arange(5)
        bad[rows, rows + diagonal] = False
    assert _kernels.cost_checks(cost, diagonal, positive) == int(bad.sum())


def reference_separates(x, y, modelled):
    """ppmlhdfe's simple rule on the modelled cells, written with masks."""
    positive, zero = modelled & (y > 0), modelled & (y == 0)
    if np.any(x[positive] != 0):
        return False
    on_zero = x[zero]
    return bool(
        np.any(on_zero != 0) and not (np.any(on_zero > 0) and np.any(on_zero < 0))
    )


def separation_design(y, pair, active, exclude_self, chunk_rows):
    """A design of the flows and one pair regressor, as the separation check sees it."""
    none = np.zeros((*y.shape[:2], 0))
    return blocks._Design(
        y=y,
        pair=(pair,),
        origin=none,
        destination=none,
        names=("beta",),
        origin_fe=True,
        destination_fe=True,
        exclude_self=exclude_self,
        active_origins=active["origin"],
        active_destinations=active["destination"],
        chunk_rows=chunk_rows,
    )


def reference_zones(cells, modelled):
    """Separated cells as whole zones, or None, written with whole masks."""
    rows = cells.any(axis=2) & ~(modelled & ~cells).any(axis=2)
    cols = cells.any(axis=1) & ~(modelled & ~cells).any(axis=1)
    if np.any(cells & ~(rows[:, :, None] | cols[:, None, :])):
        return None
    return {"origin": rows, "destination": cols}


@pytest.mark.parametrize("chunk_rows", [None, 1, 4])
@pytest.mark.parametrize("seed", range(12))
def test_separation_scan_follows_the_rule(seed, chunk_rows):
    rng = np.random.default_rng(seed)
    n_years, n = 2, 6
    y = rng.poisson(0.7, size=(n_years, n, n)).astype(float)
    active = {
        "origin": rng.uniform(size=(n_years, n)) > 0.2,
        "destination": rng.uniform(size=(n_years, n)) > 0.2,
    }
    exclude_self = bool(seed % 2)
    if exclude_self:
        y[:, np.arange(n), np.arange(n)] = 0.0  # as the checks leave them
    modelled = active["origin"][:, :, None] & active["destination"][:, None, :]
    if exclude_self:
        modelled &= ~np.eye(n, dtype=bool)
    # a pair regressor zero on the positive flows with a random sign pattern elsewhere
    pair = np.where(y > 0, 0.0, rng.choice([-1.0, 0.0, 0.0, 1.0, 2.0], size=y.shape))
    if seed % 3 == 0:
        pair[y > 0] = rng.normal(size=int((y > 0).sum()))
    d = separation_design(y, pair, active, exclude_self, chunk_rows)
    signs = _separation._flow_signs(d)
    for side, axis in (("origin", 2), ("destination", 1)):
        assert np.array_equal(signs.positive[side], (modelled & (y > 0)).any(axis=axis))
        assert np.array_equal(signs.zero[side], (modelled & (y == 0)).any(axis=axis))
    # with every zone active, the signs follow from the checks' counts
    everyone = {side: np.ones_like(on) for side, on in active.items()}
    counts = ((y > 0).sum(axis=2), (y > 0).sum(axis=1))
    whole = separation_design(y, pair, everyone, exclude_self, chunk_rows)
    swept = _separation._flow_signs(whole)
    counted = _separation._flow_signs(whole, counts)
    for kind in ("positive", "zero"):
        for side in ("origin", "destination"):
            assert np.array_equal(
                getattr(swept, kind)[side], getattr(counted, kind)[side]
            )
    assert _separation._separates(d, None, None, signs) == reference_separates(
        pair, y, modelled
    )
    cells = modelled & (y == 0) & (pair != 0)
    count, zones, listed = _separation._separated_cells(
        d, None, None, [f"Z{k}" for k in range(n)], [2020, 2021]
    )
    assert count == int(cells.sum())
    expected = reference_zones(cells, modelled)
    assert (zones is None) == (expected is None)
    if zones is not None:
        for side in ("origin", "destination"):
            assert np.array_equal(zones[side], expected[side])
    first = np.argwhere(cells)[: _checks._MAX_LISTED]
    assert listed.startswith(
        ", ".join(f"Z{i} ({2020 + t}) -> Z{j}" for t, i, j in first)
    )
    for side, broadcast in (
        ("origin", (slice(None), slice(None), None)),
        ("destination", (slice(None), None, slice(None))),
    ):
        values = rng.choice([-1.0, 0.0, 0.0, 1.0], size=(n_years, n))
        flows_shaped = np.broadcast_to(values[broadcast], y.shape)
        assert _separation._separates(d, values, side, signs) == reference_separates(
            flows_shaped, y, modelled
        )
        count, zones, _ = _separation._separated_cells(
            d, side, values, list(range(n)), None
        )
        cells = modelled & (y == 0) & (flows_shaped != 0)
        assert count == int(cells.sum())
        expected = reference_zones(cells, modelled)
        assert (zones is None) == (expected is None)


# ---------------------------------------------------------------- SIMD sums
@numba.njit
def simd_sums(a, b, c):
    return (
        _kernels._sum(a, a.size),
        _kernels._dot(a, b, a.size),
        _kernels._dot3(a, b, c, a.size),
    )


def fixed_order_sum(terms):
    """The documented order: lane j % 16 of four 4-lane vectors, then the tail."""
    terms = [float(t) for t in terms]
    main = len(terms) - len(terms) % 16
    lanes = [0.0] * 16
    for j in range(main):
        lanes[j % 16] += terms[j]
    vectors = [lanes[4 * k : 4 * k + 4] for k in range(4)]
    pairs = [[a + b for a, b in zip(vectors[0], vectors[1], strict=True)]]
    pairs.append([a + b for a, b in zip(vectors[2], vectors[3], strict=True)])
    vector = [a + b for a, b in zip(*pairs, strict=True)]
    total = (vector[0] + vector[1]) + (vector[2] + vector[3])
    for term in terms[main:]:
        total += term
    return total


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 33, 1000])
def test_simd_sums_add_in_the_documented_order(n, seed):
    rng = np.random.default_rng([n, seed])
    # magnitudes spread over 30 decades: any other order rounds differently
    a, b, c = (rng.normal(size=n) * 10.0 ** rng.integers(-15, 15, n) for _ in range(3))
    got = simd_sums(a, b, c)
    assert got[0] == fixed_order_sum(a)
    assert got[1] == fixed_order_sum(a * b)
    assert got[2] == fixed_order_sum(a * b * c)
    for value, terms in zip(got, (a, a * b, a * b * c), strict=True):
        bound = 4 * np.finfo(float).eps * max(n, 1) * np.abs(terms).sum()
        assert abs(value - math.fsum(terms)) <= bound


def test_simd_sums_of_strided_arrays():
    rng = np.random.default_rng(8)
    a, b, c = rng.normal(size=(3, 101))
    got = simd_sums(a[::2], b[::2], c[::2])
    for value, terms in zip(
        got, (a[::2], a[::2] * b[::2], a[::2] * b[::2] * c[::2]), strict=True
    ):
        assert value == pytest.approx(math.fsum(terms), rel=1e-13, abs=1e-13)


def test_fits_are_reproducible_to_the_bit():
    flows, cost, log_pop = simulate(40, seed=9)
    first, second = (
        fit_gravity(
            flows,
            cost,
            constraint="unconstrained",
            origin_vars={"log_pop": log_pop},
            destination_vars={"log_pop": log_pop},
            chunk_rows=7,
        )
        for _ in range(2)
    )
    assert first.params == second.params
    assert first.bse_robust == second.bse_robust
    assert np.array_equal(first.fitted, second.fitted, equal_nan=True)
