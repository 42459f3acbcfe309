"""Tests for the weights adapters in kzspatial.geo.weights, on shapely-box fixtures.

The fixture mimics the two topological traps of the real regions: a city enclave
whose ring is digitised with other vertices than the hole it fills (one neighbour),
and two regions that touch at a single vertex (Queen links them, Rook does not).
"""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from numpy.testing import assert_allclose
from shapely.geometry import Polygon, box

from kzspatial._errors import CRSError, ValidationError
from kzspatial.core.weights import SpatialWeights, build_knn
from kzspatial.geo.weights import (
    build_contiguity,
    to_libpysal_graph,
    to_libpysal_w,
    weights_from_geodataframe,
)


@pytest.fixture
def regions():
    hole = box(1, 1, 2, 2)
    oblast = Polygon(box(0, 0, 4, 4).exterior.coords, [hole.exterior.coords[::-1]])
    city = shapely.segmentize(hole, 0.25)  # same ring, extra vertices
    east = box(4, 0, 6, 4)
    corner = box(-2, 4, 0, 6)  # touches 'oblast' at (0, 4) only
    return gpd.GeoDataFrame(
        {"code": ["oblast", "east", "city", "corner"]},
        geometry=[oblast, east, city, corner],
        crs="EPSG:4326",
    )


def neighbours(w, uid):
    i = w.ids.index(uid)
    return {w.ids[j] for j in w.sparse[[i]].indices}


def test_queen_links_enclave_and_vertex_touch(regions):
    w = build_contiguity(regions, id_col="code")
    assert w.ids == ("oblast", "east", "city", "corner")
    assert neighbours(w, "city") == {"oblast"}
    assert neighbours(w, "corner") == {"oblast"}
    assert neighbours(w, "oblast") == {"east", "city", "corner"}
    assert w.is_symmetric and not w.islands
    assert w.summary().one_neighbor == ("east", "city", "corner")


def test_rook_drops_vertex_only_touch(regions):
    w = build_contiguity(regions, id_col="code", rook=True)
    assert neighbours(w, "city") == {"oblast"}
    assert w.islands == ("corner",)
    assert w.summary().n_components == 2


def test_contiguity_matches_libpysal_strict(regions):
    libpysal = pytest.importorskip("libpysal")
    for rook in (False, True):
        ref = libpysal.graph.Graph.build_contiguity(
            regions.set_index("code"), rook=rook, strict=True
        )
        ours = build_contiguity(regions, id_col="code", rook=rook)
        assert_allclose(ours.sparse.toarray(), ref.sparse.toarray())


def test_knn_from_geodataframe_uses_lonlat(regions):
    projected = regions.to_crs(3857)
    w = weights_from_geodataframe(projected, "knn", id_col="code", k=2)
    points = regions.geometry.representative_point()
    ref = build_knn(list(regions["code"]), points.x, points.y, k=2)
    assert_allclose(w.sparse.toarray(), ref.sparse.toarray())


def test_distance_kinds(regions):
    band = weights_from_geodataframe(
        regions, "distance_band", id_col="code", threshold_km=400
    )
    inverse = weights_from_geodataframe(
        regions, "inverse_distance", id_col="code", power=2
    )
    assert band.transformation == inverse.transformation == "o"
    assert np.all(inverse.sparse.data > 0) and inverse.sparse.nnz == 12
    queen = weights_from_geodataframe(regions, "queen", id_col="code")
    assert queen.sparse.nnz == 6


@pytest.mark.parametrize(
    ("change", "kind", "kwargs", "error", "match"),
    [
        (
            lambda g: g.set_crs(None, allow_override=True),
            "knn",
            {"k": 1},
            CRSError,
            "no CRS",
        ),
        (lambda g: g, "delaunay", {}, ValidationError, "kind must be one of"),
        (lambda g: g, "knn", {"neighbours": 2}, ValidationError, "bad options"),
        (
            lambda g: g,
            "queen",
            {"k": 2},
            ValidationError,
            "contiguity takes no options",
        ),
        (
            lambda g: g.assign(code=range(4)),
            "queen",
            {},
            ValidationError,
            "string region codes",
        ),
        (
            lambda g: g,
            "queen",
            {"id": 1},
            ValidationError,
            "contiguity takes no options",
        ),
        (
            lambda g: g.rename(columns={"code": "kato"}),
            "queen",
            {},
            ValidationError,
            "id column 'code' not found",
        ),
        (
            lambda g: g.assign(code=["a", "a", "b", "c"]),
            "rook",
            {},
            ValidationError,
            "duplicates",
        ),
    ],
)
def test_errors(regions, change, kind, kwargs, error, match):
    with pytest.raises(error, match=match):
        weights_from_geodataframe(change(regions), kind, id_col="code", **kwargs)


@pytest.mark.parametrize(
    "convert", [to_libpysal_w, to_libpysal_graph], ids=["W", "Graph"]
)
def test_libpysal_round_trip(convert):
    pytest.importorskip("libpysal")
    rng = np.random.default_rng(0)
    ids = ["b", "a", "c", "d"]  # not sorted: the order must survive
    dense = rng.uniform(0.5, 2.0, (4, 4)) * (rng.uniform(size=(4, 4)) < 0.6)
    np.fill_diagonal(dense, 0.0)
    dense[3] = 0.0  # an island
    w = SpatialWeights.from_sparse(dense, ids)
    obj = convert(w)
    order = obj.unique_ids if convert is to_libpysal_graph else obj.id_order
    assert list(order) == ids
    assert_allclose(obj.sparse.toarray(), dense)
    back = SpatialWeights.from_libpysal(obj)
    assert back.ids == w.ids and back.islands == ("d",)
    assert_allclose(back.sparse.toarray(), w.sparse.toarray())


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:32642", "EPSG:3395"])
@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_knn_does_not_depend_on_the_input_crs(crs, k):
    """The synthetic 20 regions: the same links from any CRS (3 of 80 differed for k=4
    when representative points were taken in the source CRS)."""
    import kz_synthetic as syn

    regions = syn.regions()
    reference = weights_from_geodataframe(regions, "knn", id_col="region_id", k=k)
    projected = weights_from_geodataframe(
        regions.to_crs(crs), "knn", id_col="region_id", k=k
    )
    assert projected.ids == reference.ids
    assert (projected.sparse != reference.sparse).nnz == 0
