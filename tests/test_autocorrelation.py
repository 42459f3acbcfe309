"""Tests for kzspatial.core.moran (global, local and flow Moran's I).

Expected values come from (a) the analytic 3x3 lattice toy (STYLE.md section 21),
(b) esda / libpysal on identical inputs, and (c) invariants of the permutation
machinery. The analytic statistics must agree with esda to 1e-10, hence
``ESDA_RTOL`` instead of the looser project-wide RTOL.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.moran import (
    FlowMoranResult,
    LocalFlowMoranResult,
    LocalMoranResult,
    MoranBVResult,
    MoranResult,
    bivariate_morans_i,
    flow_morans_i,
    local_bivariate_morans,
    local_flow_morans,
    local_morans,
    morans_i,
    pseudo_p_value,
)
from kzspatial.core.moran._flow_system import QAPEvaluator, flow_system
from kzspatial.core.weights import SpatialWeights, build_knn

esda = pytest.importorskip("esda")
libpysal = pytest.importorskip("libpysal")
from kzspatial.geo.weights import to_libpysal_graph, to_libpysal_w  # noqa: E402

ESDA_RTOL = 1e-10  # the analytic statistics agree with esda to 1e-10
ESDA_ATOL = 1e-12


def lattice_rook(rows: int, cols: int) -> SpatialWeights:
    return SpatialWeights.from_libpysal(libpysal.weights.lat2W(rows, cols))


@pytest.fixture(scope="module")
def zones():
    """30 random zones over Kazakhstan's bounding box, knn(4) weights, attributes."""
    rng = np.random.default_rng(42)
    n = 30
    ids = [f"z{i:02d}" for i in range(n)]
    lon, lat = rng.uniform(50, 80, n), rng.uniform(41, 55, n)
    w = build_knn(ids, lon, lat, k=4)
    y = lon / 10 + rng.standard_normal(n)  # spatial trend plus noise
    x = lat / 10 + rng.standard_normal(n)
    return w, x, y


def esda_weights(w: SpatialWeights, kind: str):
    return to_libpysal_graph(w) if kind == "graph" else to_libpysal_w(w)


# ----------------------------------------------------------------- analytic toys
def test_lattice_3x3_analytic_values():
    w = lattice_rook(3, 3)
    result = morans_i(np.arange(1.0, 10.0), w, transformation="b", permutations=None)
    # STYLE.md section 21 (a), from esda/tests/test_moran.py::test_variance
    assert_allclose(result.VI_rand, 0.0596875, rtol=ESDA_RTOL)
    assert_allclose(result.VI_norm, 0.053125, rtol=ESDA_RTOL)
    assert result.EI == -1 / 8
    assert result.sim is None and result.p_sim is None


def assert_moran_result(result, reference, n):
    """Type, size and the analytic statistics against an esda object."""
    assert isinstance(result, MoranResult)
    assert result.n == n
    for name in (
        "I",
        "EI",
        "VI_norm",
        "VI_rand",
        "z_norm",
        "z_rand",
        "p_norm",
        "p_rand",
    ):
        assert_allclose(
            getattr(result, name),
            getattr(reference, name),
            rtol=ESDA_RTOL,
            atol=ESDA_ATOL,
            err_msg=name,
        )


# ----------------------------------------------------------------- global vs esda
@pytest.mark.parametrize("kind", ["w", "graph"], ids=["W", "Graph"])
@pytest.mark.parametrize("transformation", ["r", "b"])
def test_morans_i_matches_esda(zones, kind, transformation):
    w, _, y = zones
    ref = esda.Moran(
        y, esda_weights(w, kind), transformation=transformation, permutations=0
    )
    result = morans_i(y, w, transformation=transformation, permutations=None)
    assert_moran_result(result, ref, w.n)


def test_morans_i_permutation_inference(zones):
    w, _, y = zones
    a = morans_i(y, w, permutations=999, rng=7)
    b = morans_i(y, w, permutations=999, rng=7)
    c = morans_i(y, w, permutations=999, rng=8)
    assert a.seed == 7 and a.sim.shape == (999,)
    assert np.array_equal(a.sim, b.sim) and not np.array_equal(a.sim, c.sim)
    # the permutation distribution centres on E[I] with the randomisation variance
    assert abs(a.EI_sim - a.EI) < 4 * a.seI_rand / np.sqrt(999)
    assert 0.8 < a.VI_sim / a.VI_rand < 1.2
    assert a.p_sim_two_sided == two_sided_p(a.I, a.sim)
    # strong trend: the observed I is in the far upper tail
    assert a.p_sim <= 0.01 and a.z_sim > 3


def two_sided_p(observed, sim):
    """The former default p_sim: twice the smaller tail count (independent of kzspatial)."""
    sim = np.asarray(sim)
    tail = min((sim >= observed).sum(), (sim <= observed).sum())
    return min(1.0, 2.0 * (tail + 1.0) / (sim.size + 1.0))


def test_pseudo_p_directed_is_esdas_formula(zones):
    """On esda's own simulations, pseudo_p_value(..., "directed") is esda's p_sim."""
    w, x, y = zones
    np.random.seed(11)  # esda.Moran / Moran_BV have no seed argument
    for ref in (
        esda.Moran(y, esda_weights(w, "w"), permutations=199),
        esda.Moran_BV(x, y, esda_weights(w, "w"), permutations=199),
    ):
        assert pseudo_p_value(ref.I, ref.sim, "directed") == ref.p_sim
    local = esda.Moran_Local(y, esda_weights(w, "w"), permutations=199, seed=3)
    assert_allclose(pseudo_p_value(local.Is, local.sim, "directed"), local.p_sim)


@pytest.mark.parametrize("alternative", ["two-sided", "directed", "greater", "less"])
def test_p_sim_is_esdas_and_two_sided_kept(zones, alternative):
    """p_sim on the result's own simulations equals esda's p_sim on them."""
    w, x, y = zones
    calculate = esda.significance.calculate_significance
    # esda's p_sim is its "directed" significance; "greater"/"less" keep their tail
    esda_alt = {"greater": "greater", "less": "lesser"}.get(alternative, "directed")
    results = [
        morans_i(y, w, permutations=199, rng=1, alternative=alternative),
        bivariate_morans_i(x, y, w, permutations=199, rng=1, alternative=alternative),
    ]
    for r in results:
        assert r.alternative == alternative
        assert r.p_sim == calculate(r.I, r.sim, alternative=esda_alt)
        assert r.p_sim_two_sided == two_sided_p(r.I, r.sim)
    local = local_morans(y, w, permutations=199, rng=1, alternative=alternative)
    sims = local.sim.T  # (n, permutations), esda's orientation
    assert_allclose(local.p_sim, calculate(local.Is, sims, alternative=esda_alt))
    assert_allclose(
        local.p_sim_two_sided,
        [two_sided_p(i, s) for i, s in zip(local.Is, sims, strict=True)],
    )
    tested = local.p_sim_two_sided if alternative == "two-sided" else local.p_sim
    assert np.array_equal(local.significant, tested <= local.alpha)


@pytest.mark.parametrize("kind", ["w", "graph"], ids=["W", "Graph"])
def test_libpysal_weights_accepted(zones, small_flows, kind):
    w, x, y = zones
    lib = esda_weights(w, kind)
    assert morans_i(y, lib, permutations=None).I == morans_i(y, w, permutations=None).I
    a = local_morans(y, lib, permutations=99, rng=0)
    b = local_morans(y, w, permutations=99, rng=0)
    assert np.array_equal(a.Is, b.Is) and np.array_equal(a.p_sim, b.p_sim)
    assert a.ids == w.ids
    wf, F = small_flows
    lib_f = esda_weights(wf, kind)
    assert (
        flow_morans_i(F, lib_f, permutations=None).I
        == flow_morans_i(F, wf, permutations=None).I
    )


def test_seed_recorded_when_rng_is_none(zones):
    w, _, y = zones
    first = morans_i(y, w, permutations=99)
    again = morans_i(y, w, permutations=99, rng=first.seed)
    assert np.array_equal(first.sim, again.sim)
    from_generator = morans_i(y, w, permutations=99, rng=np.random.default_rng(1))
    assert from_generator.seed is None


def test_directed_p_sim_matches_esda_distribution(zones):
    w, _, y = zones
    y_noise = np.random.default_rng(3).standard_normal(w.n)  # p_sim well inside (0, 1)
    np.random.seed(0)  # esda.Moran has no seed argument
    ref = esda.Moran(y_noise, esda_weights(w, "w"), permutations=9999)
    result = morans_i(y_noise, w, permutations=9999, rng=0, alternative="directed")
    # both are Monte Carlo estimates of the same tail probability
    assert abs(result.p_sim - ref.p_sim) < 0.02
    assert_allclose(result.EI_sim, ref.EI_sim, atol=0.005)


def test_alternatives_of_analytic_p(zones):
    w, _, y = zones
    two = morans_i(y, w, permutations=None)
    greater = morans_i(y, w, permutations=None, alternative="greater")
    less = morans_i(y, w, permutations=None, alternative="less")
    assert_allclose(two.p_norm, 2 * greater.p_norm, rtol=ESDA_RTOL)
    assert_allclose(greater.p_norm + less.p_norm, 1.0, rtol=ESDA_RTOL)


def test_pseudo_p_value_definitions():
    sim = np.array([0.0, 1.0, 2.0, 4.0])
    assert pseudo_p_value(3.0, sim, "greater") == 2 / 5
    assert pseudo_p_value(3.0, sim, "less") == 4 / 5
    assert pseudo_p_value(3.0, sim, "two-sided") == 4 / 5
    assert pseudo_p_value(3.0, sim, "directed") == 2 / 5
    p = pseudo_p_value(np.array([3.0, -1.0]), np.column_stack([sim, sim]), "less")
    assert_allclose(p, [4 / 5, 1 / 5])
    with pytest.raises(ValidationError, match="alternative must be one of"):
        pseudo_p_value(1.0, sim, "both")


def test_ids_align_by_id(zones):
    w, _, y = zones
    order = np.random.default_rng(0).permutation(w.n)
    shuffled_ids = np.asarray(w.ids)[order]
    aligned = morans_i(y[order], w, ids=shuffled_ids, permutations=None)
    assert_allclose(aligned.I, morans_i(y, w, permutations=None).I, rtol=ESDA_RTOL)


def test_islands_policies():
    w = SpatialWeights.from_adjacency(
        {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c"], "e": []}
    )
    y = np.array([1.0, 2.0, 4.0, 3.0, 10.0])
    with pytest.raises(ValidationError, match=r"no neighbours: \['e'\]"):
        morans_i(y, w)
    dropped = morans_i(y, w, islands="drop", permutations=None)
    assert dropped.dropped_ids == ("e",) and dropped.n == 4
    assert_allclose(
        dropped.I, morans_i(y[:4], w.subset(list("abcd")), permutations=None).I
    )
    kept = morans_i(y, w, islands="keep", permutations=None)
    ref = esda.Moran(y, to_libpysal_w(w), permutations=0)
    assert_moran_result(kept, ref, 5)
    local = local_morans(y, w, islands="keep", permutations=99, rng=0)
    assert local.labels[-1] == "Island" and np.isnan(local.p_sim[-1])
    assert local.q[-1] == 0 and local.Is[-1] == 0


# ----------------------------------------------------------------- bivariate
def test_bivariate_matches_esda(zones):
    w, x, y = zones
    ref = esda.Moran_BV(x, y, esda_weights(w, "w"), permutations=0)
    result = bivariate_morans_i(x, y, w, permutations=199, rng=1)
    assert_allclose(result.I, ref.I, rtol=ESDA_RTOL)
    assert result.sim.shape == (199,)
    again = bivariate_morans_i(x, y, w, permutations=199, rng=1)
    assert np.array_equal(result.sim, again.sim)


# ----------------------------------------------------------------- local
@pytest.mark.parametrize("kind", ["w", "graph"], ids=["W", "Graph"])
def test_local_morans_matches_esda(zones, kind):
    w, _, y = zones
    ref = esda.Moran_Local(y, esda_weights(w, kind), permutations=9999, seed=1)
    result = local_morans(y, w, permutations=9999, rng=1, alternative="directed")
    assert isinstance(result, LocalMoranResult)
    assert result.ids == w.ids
    assert_allclose(result.Is, ref.Is, rtol=ESDA_RTOL, atol=ESDA_ATOL)
    assert np.array_equal(result.q, ref.q)
    # same conditional null, independent draws: Monte Carlo error only
    assert np.abs(result.p_sim - ref.p_sim).max() < 0.03
    assert_allclose(result.EI_sim, ref.EI_sim, atol=0.05)
    assert result.sim.shape == (9999, w.n)


def test_local_labels_and_fdr(zones):
    w, _, y = zones
    # "directed": significance on p_sim, which is what esda's labels use
    result = local_morans(
        y, w, permutations=999, rng=0, alpha=0.1, alternative="directed"
    )
    expected = esda.moran._get_cluster_labels(result, 0.1 + 1e-12)
    assert np.array_equal(result.labels, expected)
    fdr = local_morans(y, w, permutations=999, rng=0, fdr=0.1)
    # two-sided default: significance is decided on the two-sided pseudo p-values
    threshold = esda.fdr(fdr.p_sim_two_sided, 0.1)
    assert np.array_equal(fdr.significant, fdr.p_sim_two_sided <= threshold)
    assert fdr.significant.sum() <= result.significant.sum()


def test_local_bivariate_matches_esda(zones):
    w, x, y = zones
    ref = esda.Moran_Local_BV(x, y, esda_weights(w, "w"), permutations=9999, seed=2)
    result = local_bivariate_morans(
        x, y, w, permutations=9999, rng=2, alternative="directed"
    )
    assert_allclose(result.Is, ref.Is, rtol=ESDA_RTOL, atol=ESDA_ATOL)
    assert np.array_equal(result.q, ref.q)
    assert np.abs(result.p_sim - ref.p_sim).max() < 0.03


def test_local_reproducible(zones):
    w, _, y = zones
    a = local_morans(y, w, permutations=99, rng=5)
    b = local_morans(y, w, permutations=99, rng=5)
    assert np.array_equal(a.sim, b.sim) and np.array_equal(a.p_sim, b.p_sim)
    lean = local_morans(y, w, permutations=99, rng=5, keep_simulations=False)
    assert lean.sim is None and np.array_equal(lean.p_sim, a.p_sim)


# ----------------------------------------------------------------- flows
def identity_w(ref_w):
    return libpysal.weights.W(
        {i: [i] for i in ref_w.id_order}, id_order=ref_w.id_order, silence_warnings=True
    )


def explicit_flow_weights(w: SpatialWeights, kind: str, diagonal: str):
    """libpysal.weights.ODW for the kind, restricted to the included flows."""
    W = to_libpysal_w(w)
    eye = identity_w(W)
    origin, destination = {"od": (W, W), "origin": (W, eye), "destination": (eye, W)}[
        kind
    ]
    full = libpysal.weights.ODW(origin, destination)
    if diagonal == "include":
        return full, np.arange(w.n**2)
    keep = np.flatnonzero(~np.eye(w.n, dtype=bool).ravel())
    restricted = sparse.csr_matrix(full.sparse)[keep][:, keep]
    sub = libpysal.weights.WSP(restricted).to_W(silence_warnings=True)
    sub.transform = "r"
    return sub, keep


@pytest.fixture(scope="module")
def small_flows():
    rng = np.random.default_rng(11)
    n = 7
    ids = [f"r{i}" for i in range(n)]
    w = build_knn(ids, rng.uniform(50, 80, n), rng.uniform(41, 55, n), k=2)
    return w, rng.gamma(2.0, size=(n, n))


@pytest.mark.parametrize("kind", ["od", "origin", "destination"])
@pytest.mark.parametrize("diagonal", ["include", "exclude"])
def test_flow_moran_matches_odw_esda(small_flows, kind, diagonal):
    w, F = small_flows
    W_flow, keep = explicit_flow_weights(w, kind, diagonal)
    ref = esda.Moran(F.ravel()[keep], W_flow, permutations=0)
    result = flow_morans_i(F, w, kind=kind, diagonal=diagonal, permutations=None)
    assert isinstance(result, FlowMoranResult)
    assert_moran_result(result, ref, keep.size)
    assert_allclose(
        [result.s0, result.s1, result.s2],
        [W_flow.s0, W_flow.s1, W_flow.s2],
        rtol=ESDA_RTOL,
    )


def test_flow_moran_binary_transformation_matches_odw(small_flows):
    w, F = small_flows
    W = to_libpysal_w(w)
    ref = esda.Moran(
        F.ravel(),
        libpysal.weights.ODW(W, W, transform="b"),
        transformation="b",
        permutations=0,
    )
    result = flow_morans_i(
        F, w, diagonal="include", transformation="b", permutations=None
    )
    assert_moran_result(result, ref, w.n**2)


@pytest.mark.parametrize("kind", ["od", "origin", "destination"])
@pytest.mark.parametrize("transformation", ["r", "b", "o"])
@pytest.mark.parametrize("diagonal", ["include", "exclude"])
# 45 zones: one full block of the compiled kernel's rows and a partial one
@pytest.mark.parametrize("n", [9, 45])
def test_qap_evaluator_equals_permuted_field(kind, transformation, diagonal, n):
    rng = np.random.default_rng(5)
    ids = [f"z{i}" for i in range(n)]
    w = build_knn(ids, rng.uniform(50, 60, n), rng.uniform(40, 45, n), k=3)
    # non-binary zone weights exercise the general correction term
    w = SpatialWeights.from_sparse(w.sparse * rng.uniform(0.5, 2, (n, n)), ids)
    mask = np.ones((n, n), dtype=bool)
    if diagonal == "exclude":
        np.fill_diagonal(mask, False)
    system = flow_system(w, kind, transformation, mask)
    F = rng.standard_normal((n, n))
    Z = np.where(mask, F - F[mask].mean(), 0.0)
    perms = np.array([np.arange(n)] + [rng.permutation(n) for _ in range(4)])
    expected = [np.sum(Zp * system.lag(Zp)) for Zp in (Z[np.ix_(p, p)] for p in perms)]
    assert_allclose(QAPEvaluator(system, Z)(perms), expected, rtol=1e-12)


def test_flow_permutations_reproducible_and_recorded(small_flows):
    w, F = small_flows
    a = flow_morans_i(F, w, permutations=99, rng=3)
    b = flow_morans_i(F, w, permutations=99, rng=3)
    assert np.array_equal(a.sim, b.sim) and a.seed == 3
    assert "zone-label permutation" in a.null
    assert a.p_sim_two_sided == two_sided_p(a.I, a.sim)
    assert a.p_sim == esda.significance.calculate_significance(a.I, a.sim, "directed")
    # relabelling the zones of F does not change I (weights relabelled alongside)
    perm = np.random.default_rng(0).permutation(w.n)
    ids = list(np.asarray(w.ids)[perm])
    shuffled = flow_morans_i(F[np.ix_(perm, perm)], w, ids=ids, permutations=None)
    assert_allclose(shuffled.I, a.I, rtol=ESDA_RTOL)


def test_local_flow_moran_matches_esda(small_flows):
    w, F = small_flows
    W_flow, keep = explicit_flow_weights(w, "od", "exclude")
    ref = esda.Moran_Local(F.ravel()[keep], W_flow, permutations=9999, seed=0)
    result = local_flow_morans(F, w, permutations=9999, rng=0, alternative="directed")
    mask = ~np.eye(w.n, dtype=bool)
    assert_allclose(result.Is[mask], ref.Is, rtol=ESDA_RTOL, atol=ESDA_ATOL)
    assert np.array_equal(result.q[mask], ref.q)
    assert np.abs(result.p_sim[mask] - ref.p_sim).max() < 0.03
    assert np.isnan(result.Is[~mask]).all() and (result.labels[~mask] == "").all()


def test_flow_islands_from_enclave():
    # 'city' has one neighbour; with the diagonal excluded, origin-based weights leave
    # the flow city -> oblast without neighbouring flows
    w = SpatialWeights.from_adjacency(
        {
            "city": ["oblast"],
            "oblast": ["city", "east"],
            "east": ["oblast", "far"],
            "far": ["east"],
        }
    )
    F = np.arange(16.0).reshape(4, 4)
    with pytest.raises(ValidationError, match=r"city->oblast.*islands='keep'"):
        flow_morans_i(F, w, kind="origin")
    kept = flow_morans_i(F, w, kind="origin", islands="keep", permutations=None)
    assert kept.island_flows > 0
    with pytest.raises(ValidationError, match="'raise' or 'keep' for flows"):
        flow_morans_i(F, w, islands="drop")


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda w, y: morans_i(y[:-1], w), AlignmentError, "29 values"),
        (
            lambda w, y: morans_i(y, w, ids=[f"x{i}" for i in range(30)]),
            AlignmentError,
            "do not match the weights ids",
        ),
        (
            lambda w, y: morans_i(np.where(np.arange(30) == 3, np.nan, y), w),
            ValidationError,
            "1 NaN",
        ),
        (lambda w, y: morans_i(np.ones(30), w), ValidationError, "constant"),
        (
            lambda w, y: morans_i(y, w, permutations=0),
            ValidationError,
            "permutations must be positive",
        ),
        (
            lambda w, y: morans_i(y, w, permutations=-5),
            ValidationError,
            "permutations must be positive",
        ),
        (
            lambda w, y: morans_i(y, w, permutations=9.5),
            ValidationError,
            "positive integer",
        ),
        (
            lambda w, y: local_morans(y, w, permutations=None),
            ValidationError,
            "positive integer, got None",
        ),
        (
            lambda w, y: morans_i(y, w, alternative="up"),
            ValidationError,
            "alternative must be",
        ),
        (
            lambda w, y: morans_i(y, w, transformation="v"),
            ValidationError,
            "transformation must be",
        ),
        (lambda w, y: morans_i(y, w, rng="seed"), ValidationError, "rng must be"),
        (
            lambda w, y: morans_i(y, sparse.csr_array(np.eye(30))),
            ValidationError,
            "libpysal.graph.Graph or libpysal.weights.W",
        ),
        (lambda w, y: local_morans(y, w, alpha=5), ValidationError, "alpha must be"),
        (
            lambda w, y: bivariate_morans_i(y, np.ones(30), w),
            ValidationError,
            "y is constant",
        ),
        (
            lambda w, y: flow_morans_i(np.ones((29, 29)), w),
            AlignmentError,
            r"\(29, 29\)",
        ),
        (lambda w, y: flow_morans_i(np.ones((30, 30)), w), ValidationError, "constant"),
        (
            lambda w, y: flow_morans_i(np.full((30, 30), np.nan), w),
            ValidationError,
            "NaN",
        ),
        (
            lambda w, y: flow_morans_i(np.outer(y, y), w, kind="both"),
            ValidationError,
            "kind must be",
        ),
        (
            lambda w, y: flow_morans_i(np.outer(y, y), w, permutations=0),
            ValidationError,
            "permutations must be positive",
        ),
    ],
)
def test_errors(zones, call, error, match):
    w, _, y = zones
    with pytest.raises(error, match=match):
        call(w, y)


def test_fewer_than_three_units():
    w = SpatialWeights.from_adjacency({"a": ["b"], "b": ["a"]})
    with pytest.raises(ValidationError, match="needs at least 3"):
        morans_i([1.0, 2.0], w)
    with pytest.raises(ValidationError, match="at least 3 zones"):
        flow_morans_i(np.array([[0.0, 1.0], [2.0, 0.0]]), w)


def test_nan_diagonal_is_fine_when_excluded(small_flows):
    w, F = small_flows
    with_nan = F.copy()
    np.fill_diagonal(with_nan, np.nan)
    assert_allclose(
        flow_morans_i(with_nan, w, permutations=None).I,
        flow_morans_i(F, w, permutations=None).I,
        rtol=ESDA_RTOL,
    )


def test_flow_permutations_do_not_depend_on_threads():
    rng = np.random.default_rng(5)
    n = 120
    lon, lat = rng.uniform(50, 85, n), rng.uniform(41, 55, n)
    w = build_knn([f"z{i}" for i in range(n)], lon, lat, k=4)
    F = rng.poisson(10.0, (n, n)).astype(float)
    one = flow_morans_i(F, w, permutations=49, rng=3, n_jobs=1)
    two = flow_morans_i(F, w, permutations=49, rng=3, n_jobs=2)
    np.testing.assert_array_equal(one.sim, two.sim)
    assert one.p_sim == two.p_sim
    with pytest.raises(ValidationError, match="n_jobs must be a positive integer"):
        flow_morans_i(F, w, permutations=9, rng=3, n_jobs=0)


# ----------------------------------------------------------------- reading results
def test_global_repr_and_summary(zones, small_flows):
    w, x, y = zones
    r = morans_i(y, w, permutations=99, rng=0, alternative="greater")
    text = repr(r)
    assert text.startswith("MoranResult(I=") and len(text) < 300
    assert f"I={r.I:.3f}" in text and "alternative='greater'" in text
    assert "sim" not in text.replace("p_sim", "")  # arrays are not printed
    summary = r.summary()
    for row, var in (("normality", r.VI_norm), ("randomisation", r.VI_rand)):
        line = next(li for li in summary.splitlines() if li.startswith(row))
        assert f"{var:.4g}" in line
    assert "permutation (99)" in summary and f"{r.p_sim:.4g}" in summary
    bv = bivariate_morans_i(x, y, w, permutations=None)
    assert isinstance(bv, MoranBVResult) and "p_sim=None" in repr(bv)
    assert "normality" not in bv.summary()
    wf, F = small_flows
    flow = flow_morans_i(F, wf, permutations=9, rng=0)
    assert "kind='od'" in repr(flow) and "7 zones" in flow.summary()


def test_local_table_frame_and_summary(zones, small_flows):
    w, _, y = zones
    r = local_morans(y, w, permutations=99, rng=0)
    assert len(repr(r)) < 300 and "significant=" in repr(r)
    table = r.table()
    assert list(table)[:3] == ["id", "Is", "q"]
    assert np.array_equal(table["p_sim_two_sided"], r.p_sim_two_sided)
    frame = r.to_frame()
    assert list(frame.index) == list(w.ids) and frame.index.name == "id"
    assert_allclose(frame["Is"].to_numpy(), r.Is)
    summary = r.summary()
    for code, name in enumerate(("High-High", "Low-High", "Low-Low", "High-Low"), 1):
        line = next(li for li in summary.splitlines() if li.startswith(name))
        count, sig = line.split()[1:]
        assert int(count) == (r.q == code).sum()
        assert int(sig) == (r.significant & (r.q == code)).sum()
    wf, F = small_flows
    flows = local_flow_morans(F, wf, permutations=19, rng=0)
    assert isinstance(flows, LocalFlowMoranResult)
    frame = flows.to_frame()
    assert frame.index.names == ["origin", "destination"]
    assert len(frame) == wf.n * (wf.n - 1)  # the diagonal is excluded
    i, j = wf.ids.index(frame.index[0][0]), wf.ids.index(frame.index[0][1])
    assert frame["Is"].iloc[0] == flows.Is[i, j]
