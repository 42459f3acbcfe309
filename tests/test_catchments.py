"""Tests of the numpy catchment core: flow shares, Huff, potential, population."""

from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from kzspatial._constants import ATOL, RTOL
from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.catchments import (
    CatchmentPopulation,
    FlowCatchments,
    HuffResult,
    catchment_population,
    flow_catchments,
    flow_shares,
    gravity_potential,
    huff_probabilities,
    threshold_zones,
)
from kzspatial.core.decay import decay

# float32 Huff is accurate to a few ulps of the log-utilities
F32_RTOL = 1e-5

IDS = ["a", "b", "c", "d"]
# Toy OD matrix, hubs b and c; diagonal = stayers and must be ignored.
TOY_F = np.array(
    [
        [50, 6, 2, 2],
        [1, 70, 3, 0],
        [4, 4, 90, 2],
        [1, 1, 0, 30],
    ],
    dtype=float,
)


@pytest.fixture
def toy() -> FlowCatchments:
    return flow_shares(TOY_F, IDS, ["b", "c"])


# --- flow shares ---------------------------------------------------------------------


def test_flow_shares_hand_computed(toy):
    # by hand: out-migrants = row sums without diagonal = 10, 4, 10, 2
    assert_allclose(toy.out_migrants, [10, 4, 10, 2])
    # a: 6/10 to b, 2/10 to c; b: 0 to itself, 3/4 to c; c: 4/10 to b; d: 1/2 to b
    assert_allclose(
        toy.shares, [[0.6, 0.2], [0.0, 0.75], [0.4, 0.0], [0.5, 0.0]], rtol=RTOL
    )
    assert_allclose(toy.other_share, [0.2, 0.25, 0.6, 0.5], rtol=RTOL)
    assert_array_equal(toy.dominant_index, [0, 1, 0, 0])
    assert_array_equal(toy.member, [[1, 1], [0, 1], [1, 0], [1, 0]])
    # hubs are their own cores; a and d go to b (share >= 0.15)
    assert_array_equal(toy.catchment_index, [0, 0, 1, 0])
    assert toy.hubs == ("b", "c") and toy.ids == tuple(IDS) and toy.year is None


def test_shares_sum_to_one_and_are_bounded():
    rng = np.random.default_rng(seed=0)
    F = rng.poisson(20.0, size=(30, 30)).astype(float)
    ids = [f"r{k:02d}" for k in range(30)]
    fc = flow_shares(F, ids, ["r00", "r07", "r19"])
    assert_allclose(fc.shares.sum(axis=1) + fc.other_share, 1.0, rtol=RTOL, atol=ATOL)
    assert np.all((fc.shares >= 0) & (fc.shares <= 1))
    assert np.all((fc.other_share >= 0) & (fc.other_share <= 1))


def test_sparse_input_matches_dense(toy):
    fc = flow_shares(sp.csr_array(TOY_F), IDS, ["b", "c"])
    assert_allclose(fc.shares, toy.shares)
    assert_array_equal(fc.catchment_index, toy.catchment_index)


def test_threshold_is_configurable():
    fc = flow_shares(TOY_F, IDS, ["b", "c"], threshold=0.55)
    assert_array_equal(fc.catchment_index, [0, 0, 1, -1])  # d's 0.5 < 0.55


def test_region_without_out_migrants_has_no_hub():
    F = TOY_F.copy()
    F[3, :3] = 0
    fc = flow_shares(F, IDS, ["b", "c"])
    assert np.isnan(fc.shares[3]).all() and np.isnan(fc.other_share[3])
    assert fc.dominant_index[3] == -1 and fc.catchment_index[3] == -1


def test_results_are_read_only(toy):
    with pytest.raises(ValueError, match="read-only"):
        toy.shares[0, 0] = 1.0


def test_flow_catchments_per_year():
    later = TOY_F.copy()
    later[3, 2] = 5  # d now sends 5/7 to c
    by_year = flow_catchments({2024: later, 2010: TOY_F}, IDS, ["b", "c"])
    assert list(by_year) == [2010, 2024]
    assert by_year[2010].year == 2010
    assert by_year[2010].catchment_index[3] == 0
    assert by_year[2024].catchment_index[3] == 1


@pytest.mark.parametrize(
    ("F", "ids", "hubs", "error", "match"),
    [
        (
            TOY_F,
            IDS,
            ["b", "Almaty"],
            AlignmentError,
            r"hubs \['Almaty'\] are not among",
        ),
        (TOY_F, IDS[:3], ["b"], AlignmentError, "4 rows but 3 ids"),
        (TOY_F[:3], IDS, ["b"], ValidationError, "must be square"),
        (
            np.where(np.eye(4, k=1) > 0, -1.0, TOY_F),
            IDS,
            ["b"],
            ValidationError,
            r"origins \['a', 'b', 'c'\] are missing, infinite or negative",
        ),
        (TOY_F, ["a", "a", "c", "d"], ["c"], AlignmentError, "not unique"),
    ],
    ids=["hub-outside-study-area", "ids-length", "not-square", "negative", "dup-ids"],
)
def test_flow_shares_errors(F, ids, hubs, error, match):
    with pytest.raises(error, match=match):
        flow_shares(F, ids, hubs)


def test_flow_catchments_error_names_year():
    bad = TOY_F.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValidationError, match=r"year 2015: flows from origins \['a'\]"):
        flow_catchments({2010: TOY_F, 2015: bad}, IDS, ["b"])


# --- Huff ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "attractiveness", "beta", "cost_func", "alpha", "expected"),
    [
        # 1/1 : 2/2 : 4/4 -> equal thirds
        ([[1, 2, 4]], [1, 2, 4], -1.0, "pow", 1.0, [[1 / 3, 1 / 3, 1 / 3]]),
        # 1 : 2/4 : 4/16 = 1 : 0.5 : 0.25 -> 4/7, 2/7, 1/7
        ([[1, 2, 4]], [1, 2, 4], -2.0, "pow", 1.0, [[4 / 7, 2 / 7, 1 / 7]]),
        # alpha=2: 1 : 4/4 : 16/16 -> thirds again
        ([[1, 2, 4]], [1, 2, 4], -2.0, "pow", 2.0, [[1 / 3, 1 / 3, 1 / 3]]),
        # f = 2**-d: 1*1 : 1*0.5 : 2*0.25 -> 0.5, 0.25, 0.25
        ([[0, 1, 2]], [1, 1, 2], -np.log(2), "exp", 1.0, [[0.5, 0.25, 0.25]]),
    ],
    ids=["pow-beta-1", "pow-beta-2", "alpha-2", "exp"],
)
def test_huff_hand_computed(cost, attractiveness, beta, cost_func, alpha, expected):
    result = huff_probabilities(
        cost, attractiveness, beta, cost_func, alpha=alpha, hubs=["x", "y", "z"]
    )
    assert isinstance(result, HuffResult)
    assert_allclose(result.probabilities, expected, rtol=F32_RTOL)
    assert result.hubs == ("x", "y", "z")


@pytest.mark.parametrize("cost_func", ["pow", "exp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_huff_matches_decay_formula_across_chunks(cost_func, dtype):
    rng = np.random.default_rng(seed=1)
    cost = rng.uniform(5.0, 3000.0, size=(100_000, 4))  # several chunks
    attractiveness = rng.uniform(1e5, 2e6, size=4)
    beta = -1.7 if cost_func == "pow" else -0.004
    weight = attractiveness * decay(cost, beta, cost_func)  # independent formula
    expected = weight / weight.sum(axis=1, keepdims=True)
    result = huff_probabilities(cost, attractiveness, beta, cost_func, dtype=dtype)
    assert result.probabilities.dtype == dtype
    assert_allclose(result.probabilities, expected, rtol=F32_RTOL, atol=1e-7)
    assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=F32_RTOL)
    assert_array_equal(result.dominant_index, expected.argmax(axis=1))
    assert_allclose(result.dominant_probability, expected.max(axis=1), rtol=F32_RTOL)


def test_huff_column_major_input_gives_same_result():
    rng = np.random.default_rng(seed=2)
    cost = rng.uniform(5.0, 500.0, size=(1000, 3))
    by_row = huff_probabilities(cost, [1, 2, 3], -2.0)
    by_col = huff_probabilities(np.asfortranarray(cost), [1, 2, 3], -2.0)
    assert_array_equal(by_row.probabilities, by_col.probabilities)
    assert by_row.probabilities.flags.f_contiguous  # one contiguous column per hub


def test_raising_attractiveness_grows_catchment_monotonically():
    rng = np.random.default_rng(seed=3)
    cost = rng.uniform(1.0, 1500.0, size=(20_000, 3))
    base = np.array([1.3e6, 2.2e6, 1.2e6])
    sizes, probability = [], []
    for factor in [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]:
        attractiveness = base * np.array([1.0, 1.0, factor])
        result = huff_probabilities(cost, attractiveness, -2.0)
        sizes.append(int((result.dominant_index == 2).sum()))
        probability.append(result.probabilities[:, 2].astype(float))
    assert all(a < b for a, b in pairwise(sizes)), sizes
    assert all(np.all(a <= b * (1 + F32_RTOL)) for a, b in pairwise(probability))


def test_location_at_hub_needs_min_cost_and_is_then_assigned_to_it():
    cost = np.array([[0.0, 700.0, 1200.0], [700.0, 0.0, 800.0]])
    with pytest.raises(
        ValidationError, match=r"'Astana' has zero costs.*pass min_cost"
    ):
        huff_probabilities(
            cost, [1.3e6, 2.2e6, 1.2e6], -2.0, hubs=["Astana", "Almaty", "S"]
        )
    result = huff_probabilities(cost, [1.3e6, 2.2e6, 1.2e6], -2.0, min_cost=5.0)
    assert_array_equal(result.dominant_index, [0, 1])


@pytest.mark.parametrize(
    ("attractiveness", "match"),
    [
        (
            [1.0, 0.0, 2.0],
            r"positive and finite; got 'Almaty'=0\.0; every hub needs A > 0",
        ),
        ([1.0, -3.0, 2.0], r"'Almaty'=-3\.0"),
        ([np.nan, 1.0, 2.0], r"'Astana'=nan"),
    ],
    ids=["zero", "negative", "nan"],
)
def test_huff_bad_attractiveness_names_hub(attractiveness, match):
    with pytest.raises(ValidationError, match=match):
        huff_probabilities(
            [[1.0, 2.0, 3.0]],
            attractiveness,
            -2.0,
            hubs=["Astana", "Almaty", "Shymkent"],
        )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"attractiveness": [1.0, 2.0]},
            AlignmentError,
            r"shape \(2,\), expected \(3,\)",
        ),
        ({"hubs": ["a", "b"]}, AlignmentError, "2 hub names for 3 hub columns"),
        ({"cost_to_hubs": [1.0, 2.0, 3.0]}, ValidationError, "must be 2-D"),
        (
            {"cost_to_hubs": [[1.0, np.nan, 3.0]]},
            ValidationError,
            "'hub 1' has missing",
        ),
        ({"cost_to_hubs": [[1.0, 2.0, -3.0]]}, ValidationError, "'hub 2' has negative"),
        ({"cost_func": "gauss"}, ValidationError, r"valid names are \['exp', 'pow'\]"),
        ({"beta": np.inf}, ValidationError, "beta must be finite"),
    ],
    ids=[
        "attractiveness-shape",
        "hub-names",
        "1d-cost",
        "nan-cost",
        "negative-cost",
        "cost-func",
        "beta",
    ],
)
def test_huff_input_errors(kwargs, error, match):
    args = {
        "cost_to_hubs": [[1.0, 2.0, 3.0]],
        "attractiveness": [1.0, 2.0, 3.0],
        "beta": -2.0,
    } | kwargs
    with pytest.raises(error, match=match):
        huff_probabilities(**args)


def test_huff_refuses_outputs_over_memory_budget():
    cost = np.ones((1000, 20))
    # 1000 x (20 + 1) x 4 B + 1000 x 8 B = 92,000 B
    with pytest.raises(
        ValidationError, match=r"1,000 locations x 20 hubs would need 89\.8 KiB"
    ):
        huff_probabilities(cost, np.ones(20), -2.0, max_memory_bytes=50_000)


def test_threshold_zones_levels():
    probabilities = np.array([[0.8, 0.2], [0.5, 0.5], [0.1, 0.9]])
    # hub 0: 0.8 reaches 0.25, 0.5, 0.75 -> 3; 0.5 reaches two; 0.1 none
    assert_array_equal(threshold_zones(probabilities), [[3, 0], [2, 2], [0, 3]])
    with pytest.raises(ValidationError, match="strictly increasing"):
        threshold_zones(probabilities, [0.5, 0.25])


# --- gravity potential ---------------------------------------------------------------


def test_gravity_potential_hand_computed():
    # 100 / 10**2 + 400 / 20**2 = 1 + 1 = 2 ; exp: 100 e^-1 + 400 e^-2
    potential = gravity_potential([[10.0, 20.0]], [100.0, 400.0], -2.0, "pow")
    assert_allclose(potential, [2.0], rtol=F32_RTOL)
    potential = gravity_potential([[10.0, 20.0]], [100.0, 400.0], -0.1, "exp")
    assert_allclose(potential, [100 * np.exp(-1) + 400 * np.exp(-2)], rtol=F32_RTOL)


def test_gravity_potential_widens_dtype_instead_of_overflowing():
    potential = gravity_potential([[1.0, 2.0]], [1e38, 3e38], -1.0)
    assert potential.dtype == np.float64
    assert_allclose(potential, [2.5e38], rtol=RTOL)


def test_gravity_potential_missing_mass_names_centre():
    with pytest.raises(
        ValidationError, match=r"masses must be positive and finite; got 'Taraz'=nan"
    ):
        gravity_potential([[1.0, 2.0]], [1.0, np.nan], -1.0, labels=["Oral", "Taraz"])


# --- population ----------------------------------------------------------------------


def test_population_totals_reconcile_with_inputs(toy):
    population = np.array([1.0e6, 2.2e6, 1.2e6, 0.4e6])
    result = catchment_population(toy.catchment_index, population, toy.hubs)
    assert isinstance(result, CatchmentPopulation)
    # b: a + b + d = 3.6e6 ; c: c = 1.2e6 ; nobody unassigned
    assert_allclose(result.population, [3.6e6, 1.2e6])
    assert result.unassigned == 0.0 and result.total == population.sum()
    assert_array_equal(result.n_units, [3, 1])
    strict = flow_shares(TOY_F, IDS, ["b", "c"], threshold=0.55)
    result = catchment_population(strict.catchment_index, population, strict.hubs)
    assert result.unassigned == 0.4e6 and result.n_unassigned == 1
    assert_allclose(
        result.population.sum() + result.unassigned, population.sum(), rtol=RTOL
    )


def test_missing_population_names_regions(toy):
    with pytest.raises(ValidationError, match=r"missing for 2 units: \['b', 'd'\]"):
        catchment_population(
            toy.catchment_index, [1.0, np.nan, 3.0, np.nan], toy.hubs, unit_ids=IDS
        )


@pytest.mark.parametrize(
    ("assignment", "population", "error", "match"),
    [
        ([0, 1], [1.0, 2.0, 3.0], AlignmentError, "give one population per"),
        ([0, 5], [1.0, 2.0], ValidationError, r"integers in -1\.\.1"),
        ([0, 1], [1.0, -2.0], ValidationError, r"negative for \['unit 1'\]"),
    ],
    ids=["length", "index-range", "negative"],
)
def test_population_errors(assignment, population, error, match):
    with pytest.raises(error, match=match):
        catchment_population(assignment, population, ["b", "c"])
