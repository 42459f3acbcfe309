"""Tests of the row-block (chunked) passes of kzspatial.core.gravity.

A fit whose passes run over blocks of origin rows must equal the one-block fit to
rounding, and the statistics of blocks, combined, must equal those of all rows: that is
the property a Dask version (``map_blocks`` plus a reduction) relies on. Data are
generated here by the seeded simulator of ``test_gravity``.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_gravity import covariates, simulate

from kzspatial._errors import ValidationError
from kzspatial.core import gravity
from kzspatial.core.gravity import CONSTRAINTS, blocks, fit_gravity

N_ZONES = 30
RTOL = 1e-10  # one-block and chunked fits differ only by the order of additions


def blocks_of(n, rows):
    """(first row, rows) of the blocks that ``chunk_rows=rows`` should visit."""
    return [(start, min(rows, n - start)) for start in range(0, n, rows)]


def panel(constraint, n_years):
    flows, cost, log_pop = simulate(N_ZONES, seed=5, n_years=n_years)
    origin_vars, destination_vars = covariates(constraint, log_pop)
    return (
        flows,
        cost,
        {
            "constraint": constraint,
            "origin_vars": origin_vars,
            "destination_vars": destination_vars,
            "years": [2023, 2024] if n_years == 2 else None,
        },
    )


@pytest.fixture
def passes(monkeypatch):
    """Record, for every pass over the flows, the function and the blocks it visited."""
    seen = []
    original = blocks._map_reduce

    def recording(d, block_stats, *by_origin, **shared):
        seen.append(
            (
                block_stats.__name__,
                [(block.first_row, block.y.shape[1]) for _, block in d.blocks],
            )
        )
        return original(d, block_stats, *by_origin, **shared)

    # every module of the package that runs passes imported the function by name
    for info in pkgutil.iter_modules(gravity.__path__):
        module = importlib.import_module(f"{gravity.__name__}.{info.name}")
        if getattr(module, "_map_reduce", None) is original:
            monkeypatch.setattr(module, "_map_reduce", recording)
    return seen


def assert_same_fit(chunked, whole):
    names = whole.param_names
    assert chunked.param_names == names
    assert_allclose(
        [chunked.params[k] for k in names], [whole.params[k] for k in names], rtol=RTOL
    )
    assert_allclose(
        [chunked.bse_robust[k] for k in names],
        [whole.bse_robust[k] for k in names],
        rtol=RTOL,
    )
    for scheme, bse in whole.bse_cluster.items():
        assert_allclose(
            [chunked.bse_cluster[scheme][k] for k in names],
            [bse[k] for k in names],
            rtol=RTOL,
        )
    assert_allclose(chunked.fitted, whole.fitted, rtol=RTOL, atol=0)
    for effects in ("origin_effects", "destination_effects"):
        if getattr(whole, effects) is not None:
            assert_allclose(
                getattr(chunked, effects), getattr(whole, effects), rtol=0, atol=RTOL
            )
    for metric in ("deviance", "llf", "srmse", "ssi"):
        assert getattr(chunked, metric) == pytest.approx(
            getattr(whole, metric), rel=RTOL
        )


@pytest.mark.parametrize("chunk_rows", [7, 1])
@pytest.mark.parametrize("n_years", [1, 2])
@pytest.mark.parametrize("constraint", CONSTRAINTS)
def test_chunked_fit_equals_one_block(passes, constraint, n_years, chunk_rows):
    flows, cost, options = panel(constraint, n_years)
    whole = fit_gravity(flows, cost, **options)
    assert passes and all(
        blocks == [(0, N_ZONES)] for _, blocks in passes
    )  # the default is one block at this size
    passes.clear()
    chunked = fit_gravity(flows, cost, chunk_rows=chunk_rows, **options)
    # every pass over the flows ran over the uneven blocks, none over all rows at once
    assert {blocks == blocks_of(N_ZONES, chunk_rows) for _, blocks in passes} == {True}
    expected = {
        "_block_moments",
        "_block_predictor",
        "_block_rescale",
        "_block_scores",
        "_block_fit_sums",
        "_block_pair_codes",  # the separation check of the decay regressor
    }
    if constraint == "doubly":
        expected |= {
            "_block_peaks",
            "_block_product",
            "_block_transposed_product",
            "_block_schur_product",
        }
    assert {name for name, _ in passes} == expected
    assert chunked.converged and chunked.n_iter == whole.n_iter
    assert_same_fit(chunked, whole)
    assert_allclose(chunked.predict(), whole.fitted, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("constraint", "n_years"), [("unconstrained", 2), ("doubly", 2), ("attraction", 1)]
)
def test_block_moments_combine_to_the_whole(constraint, n_years):
    """The property a Dask reduction relies on: block statistics, combined, are the
    statistics of all rows; row-indexed ones are the block's rows of the whole."""
    flows, cost, options = panel(constraint, n_years)
    fit = fit_gravity(flows, cost, **options)
    design, mu = fit._design, fit._solution.mu
    whole = blocks._moments(design, mu, np.empty(design.block_shape))
    spans = [slice(0, 7), slice(7, 19), slice(19, N_ZONES)]
    parts = [
        blocks._block_moments(
            design.block(rows), mu[:, rows], scratch=np.empty(design.block_shape)
        )
        for rows in spans
    ]
    for rows, part in zip(spans, parts, strict=True):
        assert_allclose(part.row_total, whole.row_total[:, rows], rtol=1e-14)
        assert_allclose(part.row, whole.row[:, rows], rtol=1e-14)
        assert not np.allclose(part.col_total, whole.col_total)  # a partial sum
    combined = blocks._combine(parts)
    for field in ("row_total", "col_total", "row", "col", "gram", "total"):
        assert_allclose(
            getattr(combined, field), getattr(whole, field), rtol=1e-12, atol=0
        )


def test_block_products_combine_to_the_whole():
    """``M v``, ``M^T u`` and the Schur product of the two-way solver, by blocks."""
    flows, cost, options = panel("doubly", 2)
    fit = fit_gravity(flows, cost, chunk_rows=7, **options)
    design, mu = fit._design, fit._solution.mu
    rng = np.random.default_rng(1)
    v, u = rng.normal(size=(2, *mu.shape[:2], 3))
    inv_r = rng.uniform(0.5, 2.0, size=(*mu.shape[:2], 1))
    assert len(design.blocks) == 5
    assert_allclose(
        blocks._map_reduce(design, blocks._block_product, mu, v=v).values,
        np.einsum("tij,tjk->tik", mu, v),
        rtol=1e-12,
    )
    assert_allclose(
        blocks._map_reduce(design, blocks._block_transposed_product, mu, u),
        np.einsum("tij,tik->tjk", mu, u),
        rtol=1e-12,
    )
    assert_allclose(
        blocks._map_reduce(design, blocks._block_schur_product, mu, inv_r, v=v),
        np.einsum("tij,tik->tjk", mu, inv_r * np.einsum("tij,tjk->tik", mu, v)),
        rtol=1e-12,
    )


def test_blocks_exclude_their_own_self_pairs():
    """A block's diagonal cells sit at columns offset by its first row."""
    flows, cost, options = panel("doubly", 2)
    design = fit_gravity(flows, cost, chunk_rows=7, **options)._design
    whole = design.modelled()
    assert not whole[:, np.arange(N_ZONES), np.arange(N_ZONES)].any()
    for rows, block in design.blocks:
        assert_allclose(block.modelled(), whole[:, rows])
        assert block.n_modelled() == whole[:, rows].sum()


def test_default_blocks_follow_the_cell_budget(passes):
    n = 600  # above 512 zones the default splits the rows
    flows, cost, _ = simulate(n, seed=1)

    def full_passes():  # the 200-zone warm start makes passes of its own
        return [blocks for _, blocks in passes if sum(r for _, r in blocks) == n]

    default = fit_gravity(flows, cost, constraint="doubly")
    rows = blocks._AUTO_BLOCK_CELLS // n
    assert len(blocks_of(n, rows)) > 1
    assert full_passes() and all(b == blocks_of(n, rows) for b in full_passes())
    passes.clear()
    one_block = fit_gravity(flows, cost, constraint="doubly", chunk_rows=n)
    assert full_passes() and all(b == [(0, n)] for b in full_passes())
    assert_same_fit(default, one_block)


@pytest.mark.parametrize("chunk_rows", [0, -3, 2.5, True, "7", np.float64(7)])
def test_bad_chunk_rows(chunk_rows):
    flows, cost, _ = simulate(N_ZONES, seed=5)
    with pytest.raises(ValidationError, match="chunk_rows must be a positive integer"):
        fit_gravity(flows, cost, chunk_rows=chunk_rows)


def test_chunk_rows_accepts_numpy_integers_and_more_rows_than_zones():
    flows, cost, _ = simulate(N_ZONES, seed=5)
    whole = fit_gravity(flows, cost)
    for chunk_rows in (np.int64(8), N_ZONES, 1000):
        fit = fit_gravity(flows, cost, chunk_rows=chunk_rows)
        assert fit.params["beta"] == pytest.approx(whole.params["beta"], rel=RTOL)
    assert len(fit._design.blocks) == 1
