"""Tests for kzspatial.core.weights: constructors, builders, transforms, summary."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

from kzspatial._constants import ATOL, RTOL
from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.distance import great_circle_matrix_km
from kzspatial.core.weights import (
    SpatialWeights,
    as_spatial_weights,
    build_distance_band,
    build_inverse_distance,
    build_knn,
)
from kzspatial.core.weights._base import _resolve_islands

libpysal = pytest.importorskip("libpysal")


def lattice_rook(rows: int, cols: int) -> SpatialWeights:
    """Binary rook weights on a rows x cols lattice, ids 'r{row}c{col}'."""
    ids = [f"r{r}c{c}" for r in range(rows) for c in range(cols)]
    neighbours = {}
    for r in range(rows):
        for c in range(cols):
            cand = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
            neighbours[f"r{r}c{c}"] = [
                f"r{a}c{b}" for a, b in cand if 0 <= a < rows and 0 <= b < cols
            ]
    return SpatialWeights.from_adjacency(neighbours, ids=ids)


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    n = 25
    ids = [f"z{i:02d}" for i in range(n)]
    return ids, rng.uniform(50, 80, n), rng.uniform(41, 55, n)


def test_lattice_matches_libpysal_and_sums():
    w = lattice_rook(3, 3)
    ref = libpysal.weights.lat2W(3, 3)
    assert_allclose(w.sparse.toarray(), ref.sparse.toarray())
    # s0, s1, s2 of the binary 3x3 rook lattice from libpysal
    assert (w.s0, w.s1, w.s2) == (ref.s0, ref.s1, ref.s2)
    wr = w.transform("r")
    ref.transform = "r"
    assert_allclose(
        [wr.s0, wr.s1, wr.s2], [ref.s0, ref.s1, ref.s2], rtol=RTOL, atol=ATOL
    )
    assert wr.transformation == "r" and w.transformation == "o"


@pytest.mark.parametrize("kind", ["w", "graph"], ids=["W", "Graph"])
def test_from_libpysal(kind):
    ref = libpysal.weights.lat2W(2, 3)  # ids 0..5, rook lattice
    graph = libpysal.graph.Graph.from_W(ref).transform("r")
    ref.transform = "r"
    obj = graph if kind == "graph" else ref
    w = SpatialWeights.from_libpysal(obj)
    assert w.ids == tuple(str(i) for i in ref.id_order)
    assert w.transformation == "r"
    assert_allclose(w.sparse.toarray(), ref.sparse.toarray())


def test_from_libpysal_graph_isolate_is_island():
    graph = libpysal.graph.Graph.from_sparse(
        sparse.csr_array(np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 0]])),
        ids=["a", "b", "c"],
    )
    assert SpatialWeights.from_libpysal(graph).islands == ("c",)


def test_as_spatial_weights_duck_types():
    w = lattice_rook(2, 2)
    assert as_spatial_weights(w) is w
    W = libpysal.weights.lat2W(2, 2)
    assert_allclose(as_spatial_weights(W).sparse.toarray(), W.sparse.toarray())
    with pytest.raises(ValidationError, match="libpysal.weights.W"):
        as_spatial_weights(w.sparse)


def test_from_adjacency_edges_and_weights():
    w = SpatialWeights.from_adjacency(
        (["a", "b"], ["b", "a"]), weights=[2.0, 3.0], ids=["a", "b", "c"]
    )
    assert_allclose(w.sparse.toarray(), [[0, 2, 0], [3, 0, 0], [0, 0, 0]])
    assert w.islands == ("c",)


def test_from_sparse_dense_input():
    w = SpatialWeights.from_sparse(np.array([[0, 1], [1, 0]]), ["x", "y"])
    assert isinstance(w.sparse, sparse.csr_array)
    assert w.cardinalities.tolist() == [1, 1]


def test_frozen_and_immutable():
    w = lattice_rook(2, 2)
    with pytest.raises(AttributeError):
        w.ids = ("a",)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        w.sparse.data[0] = 5.0
    wr = w.transform("r")
    assert_allclose(w.sparse.sum(), 8.0)  # the original is unchanged
    assert_allclose(wr.sparse.sum(axis=1), 1.0)


def test_lag():
    w = lattice_rook(1, 3).transform("r")
    assert_allclose(w.lag([1.0, 2.0, 3.0]), [2.0, 2.0, 2.0])


def test_summary_islands_one_neighbour_components():
    w = SpatialWeights.from_adjacency(
        {"city": ["oblast"], "oblast": ["city", "next"], "next": ["oblast"], "far": []}
    )
    s = w.summary()
    assert s.islands == ("far",)
    assert s.one_neighbor == ("city", "next")
    assert s.n_components == 2 and s.component_sizes == (3, 1)
    assert w.component_labels[0] == w.component_labels[1] != w.component_labels[3]
    assert "islands: far" in str(s)


def test_knn_matches_bruteforce(points):
    ids, lon, lat = points
    w = build_knn(ids, lon, lat, k=4)
    d = great_circle_matrix_km(lon, lat)
    np.fill_diagonal(d, np.inf)
    expected = np.argsort(d, axis=1)[:, :4]
    for i in range(len(ids)):
        assert set(w.sparse[[i]].indices) == set(expected[i])
    assert set(w.cardinalities.tolist()) == {4}


def test_distance_band_and_inverse_distance(points):
    ids, lon, lat = points
    d = great_circle_matrix_km(lon, lat)
    band = build_distance_band(ids, lon, lat, threshold_km=600)
    expected = (d <= 600) & ~np.eye(len(ids), dtype=bool)
    assert_allclose(band.sparse.toarray(), expected.astype(float))
    inv = build_inverse_distance(ids, lon, lat, power=2)
    off = ~np.eye(len(ids), dtype=bool)
    ref = np.zeros_like(d)
    ref[off] = d[off] ** -2.0
    assert_allclose(inv.sparse.toarray(), ref, rtol=RTOL, atol=0)
    capped = build_inverse_distance(ids, lon, lat, threshold_km=600)
    ref = np.zeros_like(d)
    ref[expected] = 1 / d[expected]
    assert_allclose(capped.sparse.toarray(), ref, rtol=RTOL, atol=0)


def test_resolve_islands_policies():
    w = SpatialWeights.from_adjacency({"a": ["b"], "b": ["a"], "c": []})
    with pytest.raises(
        ValidationError, match=r"no neighbours: \['c'\].*islands='drop'"
    ):
        _resolve_islands(w, "raise")
    kept, dropped = _resolve_islands(w, "drop")
    assert kept.ids == ("a", "b") and dropped == ("c",)
    same, none = _resolve_islands(w, "keep")
    assert same is w and none == ()
    with pytest.raises(ValidationError, match="islands must be one of"):
        _resolve_islands(w, "ignore")


def test_drop_repeats_for_stranded_units():
    # A chain u -> x -> y -> z into the island z: each removal strands the next unit,
    # so "drop" removes z, then y, then x, then u (one per round). v also points to z
    # but keeps its link to a, and the pair a <-> b never loses a neighbour.
    w = SpatialWeights.from_adjacency(
        {
            "x": ["y"],
            "y": ["z"],
            "z": [],
            "u": ["x"],
            "v": ["a", "z"],
            "a": ["b"],
            "b": ["a"],
        }
    )
    kept, dropped = _resolve_islands(w, "drop")
    assert dropped == ("z", "y", "x", "u")
    assert kept.ids == ("v", "a", "b")
    # the surviving links, v -> a, a -> b, b -> a, and no other
    assert_allclose(kept.sparse.toarray(), [[0, 1, 0], [0, 0, 1], [0, 1, 0]])
    assert not kept.islands


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: SpatialWeights.from_sparse(np.ones((2, 3)), ["a", "b"]),
            ValidationError,
            "shape",
        ),
        (
            lambda: SpatialWeights.from_sparse(-np.eye(2), ["a", "b"]),
            ValidationError,
            "non-negative",
        ),
        (
            lambda: SpatialWeights.from_sparse(np.eye(2), ["a", "a"]),
            ValidationError,
            "duplicates",
        ),
        (
            lambda: SpatialWeights.from_sparse(np.eye(2), [1, 2]),
            ValidationError,
            "must be strings",
        ),
        (
            lambda: SpatialWeights.from_sparse(np.full((2, 2), np.nan), ["a", "b"]),
            ValidationError,
            "NaN",
        ),
        (
            lambda: SpatialWeights.from_adjacency({"a": ["zz"]}),
            AlignmentError,
            "not among",
        ),
        (
            lambda: SpatialWeights.from_adjacency(
                {"a": ["b"], "b": []}, weights={"a": [1, 2], "b": []}
            ),
            ValidationError,
            "1 neighbours but 2 weights",
        ),
        (lambda: lattice_rook(2, 2).lag([1.0, 2.0]), AlignmentError, "4 units"),
        (lambda: lattice_rook(2, 2).transform("x"), ValidationError, "'r' or 'b'"),
        (lambda: build_knn(["a", "b"], [0, 1], [0, 0], k=2), ValidationError, "k must"),
        (
            lambda: build_knn(["a", "b"], [0, 1, 2], [0, 0, 0], k=1),
            AlignmentError,
            "one coordinate pair",
        ),
        (
            lambda: build_knn(["a", "b"], [0, np.nan], [0, 0], k=1),
            ValidationError,
            "NaN",
        ),
        (
            lambda: build_distance_band(["a", "b"], [0, 1], [0, 95], 10),
            ValidationError,
            "EPSG:4326",
        ),
        (
            lambda: build_distance_band(["a", "b"], [0, 1], [0, 0], -1),
            ValidationError,
            "threshold_km must be positive",
        ),
        (
            lambda: build_inverse_distance(["a", "b"], [0, 0], [0, 0]),
            ValidationError,
            "share a location",
        ),
        (
            lambda: build_inverse_distance(["a", "b"], [0, 1], [0, 0], power=0),
            ValidationError,
            "power must be positive",
        ),
        (lambda: SpatialWeights.from_libpysal(object()), ValidationError, "libpysal"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_knn_ties_are_broken_by_id_whatever_the_order():
    # four points 1 degree from the centre along the equator and the meridian: equal
    # great-circle distances (computed along different arcs, so equal only up to
    # rounding); k=2 takes the two smallest ids, in any input order
    ids = ["centre", "d", "b", "c", "a"]
    lon = [0.0, 1.0, -1.0, 0.0, 0.0]
    lat = [0.0, 0.0, 0.0, 1.0, -1.0]
    rng = np.random.default_rng(11)
    for _ in range(5):
        order = rng.permutation(len(ids))
        w = build_knn(
            [ids[i] for i in order],
            np.take(lon, order),
            np.take(lat, order),
            k=2,
        )
        row = w.ids.index("centre")
        assert {w.ids[j] for j in w.sparse[[row]].indices} == {"a", "b"}
