"""Tests of kzspatial.render.maps: arcs, flow selection, HTML content, offline writing."""

import re
import time

import folium
import kz_synthetic as syn
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from kzspatial._errors import AlignmentError, CRSError, OverwriteError, ValidationError
from kzspatial.render.maps import flow_arcs, flow_lines, flow_map, save_map

ASTANA, ALMATY = (71.43, 51.13), (76.89, 43.24)


@pytest.fixture(scope="module")
def regions():
    return syn.regions()


@pytest.fixture(scope="module")
def flows(regions):
    return syn.od_flows(regions)


def _children(element):
    for child in element._children.values():
        yield child
        yield from _children(child)


def _flow_features(m):
    """Feature properties of the map's flow layer (the GeoJSON holding "route")."""
    layers = [
        c
        for c in _children(m)
        if isinstance(c, folium.GeoJson)
        and c.data["features"]
        and "route" in c.data["features"][0]["properties"]
    ]
    assert len(layers) == 1
    return [f["properties"] for f in layers[0].data["features"]]


def _html(m):
    return re.sub(r"\s+", "", m.get_root().render())


def _names(regions):
    return dict(zip(regions["region_id"], regions["name_en"], strict=True))


def _route(row, names):
    return f"{names[row['origin']]} → {names[row['destination']]}"


# ---------------------------------------------------------------------------- flow_arcs


def _side(arc, start, end):
    """Sign of chord × (mid vertex - start): negative means right of A→B."""
    mid = arc[len(arc) // 2]
    chord = np.subtract(end, start)
    offset = np.subtract(mid, start)
    return np.sign(chord[0] * offset[1] - chord[1] * offset[0])


def test_flow_arcs_shapes_and_endpoints():
    arcs = flow_arcs([ASTANA, ALMATY], [ALMATY, ASTANA], n_vertices=12)
    assert arcs.arcs.shape == (2, 12, 2)
    assert arcs.arrowheads.shape == (2, 3, 2)
    np.testing.assert_allclose(arcs.arcs[0, 0], ASTANA, atol=1e-9)
    np.testing.assert_allclose(arcs.arcs[0, -1], ALMATY, atol=1e-9)
    # the chevron's tip is the destination
    np.testing.assert_allclose(arcs.arrowheads[:, 1], [ALMATY, ASTANA], atol=1e-9)


def test_flow_arcs_bend_to_the_right_so_opposite_flows_separate():
    arcs = flow_arcs([ASTANA, ALMATY], [ALMATY, ASTANA]).arcs
    there, back = arcs
    assert _side(there, ASTANA, ALMATY) == -1  # right of travel
    assert _side(back, ALMATY, ASTANA) == -1
    # seen along the same chord A→B, the two arcs lie on opposite sides
    assert _side(there, ASTANA, ALMATY) == -_side(back, ASTANA, ALMATY)


def test_flow_arcs_zero_bend_is_straight_in_web_mercator():
    arc = flow_arcs([ASTANA], [ALMATY], bend=0.0, n_vertices=5).arcs[0]
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(
        arc[:, 0], arc[:, 1]
    )
    line = shapely.LineString([(x[0], y[0]), (x[-1], y[-1])])
    assert (
        max(line.distance(shapely.Point(p)) for p in zip(x, y, strict=True)) < 1.0
    )  # metres


def test_flow_arcs_arrowhead_wings_are_symmetric_in_web_mercator():
    heads = flow_arcs([ASTANA], [ALMATY]).arrowheads[0]
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(
        heads[:, 0], heads[:, 1]
    )
    left, tip, right = np.column_stack([x, y])
    assert np.linalg.norm(left - tip) == pytest.approx(
        np.linalg.norm(right - tip), rel=1e-6
    )


@pytest.mark.parametrize(
    ("origins", "destinations", "options", "match"),
    [
        ([ASTANA], [ASTANA], {}, "origin equals destination"),
        ([ASTANA, ALMATY], [ALMATY], {}, "differ in shape"),
        ([[1, 2, 3]], [[1, 2, 3]], {}, r"shape \(n_flows, 2\)"),
        ([(71.0, 89.0)], [ALMATY], {}, "out of range"),
        ([(np.nan, 50.0)], [ALMATY], {}, "NaN"),
        ([ASTANA], [ALMATY], {"n_vertices": 2}, "n_vertices"),
        ([ASTANA], [ALMATY], {"head_angle": 95}, "head_angle"),
    ],
    ids=[
        "self-flow",
        "mismatch",
        "bad-shape",
        "latitude",
        "nan",
        "vertices",
        "head-angle",
    ],
)
def test_flow_arcs_errors(origins, destinations, options, match):
    with pytest.raises(ValidationError, match=match):
        flow_arcs(origins, destinations, **options)


# ---------------------------------------------------------------------------- flow_line


def test_flow_lines_are_curved_linestrings_in_4326(regions, flows):
    with_self = pd.concat(
        [
            flows,
            pd.DataFrame(
                {
                    "year": [2023],
                    "origin": ["KZ-71"],
                    "destination": ["KZ-71"],
                    "flow": [5],
                }
            ),
        ]
    )
    lines = flow_lines(regions, with_self, n_vertices=16)
    assert len(lines) == len(flows)  # the self-flow has no arc
    assert lines.crs.to_epsg() == 4326
    assert set(lines.geom_type) == {"LineString"}
    assert shapely.get_num_coordinates(lines.geometry.iloc[0]) == 16
    assert list(lines.columns[:-1]) == list(flows.columns)


# ---------------------------------------------------------------------------- selection


def test_top_mode_draws_the_largest_flows_largest_last(regions, flows):
    features = _flow_features(flow_map(regions, flows, mode="top", top_n=25))
    names = _names(regions)
    expected = flows.sort_values("flow", ascending=False).head(25)
    assert {f["route"] for f in features} == {
        _route(r, names) for _, r in expected.iterrows()
    }
    sizes = [f["persons"] for f in features]
    assert sizes == sorted(sizes)  # ascending: the largest is drawn last, on top
    assert {"fitted", "residual"} <= set(features[0])


def test_threshold_mode_keeps_flows_at_or_above_threshold(regions, flows):
    threshold = float(flows["flow"].quantile(0.9))
    features = _flow_features(
        flow_map(regions, flows, mode="threshold", threshold=threshold)
    )
    assert len(features) == int((flows["flow"] >= threshold).sum())
    assert min(f["persons"] for f in features) >= threshold


def test_net_mode_draws_net_flows_from_sender_to_receiver(regions, flows):
    features = _flow_features(flow_map(regions, flows, mode="net", top_n=15))
    matrix = flows.pivot(index="origin", columns="destination", values="flow").fillna(0)
    net = (matrix - matrix.T).stack()
    names = _names(regions)
    expected = net[net > 0].sort_values(ascending=False).head(15)
    assert {f["route"] for f in features} == {
        f"{names[o]} → {names[d]}" for o, d in expected.index
    }
    for feature in features:
        assert feature["net"] == pytest.approx(feature["persons"] - feature["reverse"])
        assert feature["net"] > 0


def test_residual_mode_ranks_by_absolute_residual(regions, flows):
    features = _flow_features(flow_map(regions, flows, mode="residual", top_n=20))
    expected = flows.loc[
        flows["residual"].abs().sort_values(ascending=False).index[:20]
    ]
    names = _names(regions)
    assert {f["route"] for f in features} == {
        _route(r, names) for _, r in expected.iterrows()
    }
    assert all(np.sign(f["residual"]) == f["_sign"] for f in features)


def test_residual_mode_computes_residual_from_fitted(regions, flows):
    features = _flow_features(
        flow_map(regions, flows.drop(columns="residual"), mode="residual", top_n=5)
    )
    assert all(
        f["residual"] == pytest.approx(f["persons"] - f["fitted"], abs=0.1)
        for f in features
    )


def test_year_selects_one_year(regions):
    two_years = syn.od_flows(regions, years=(2022, 2023))
    features = _flow_features(flow_map(regions, two_years, year=2022, top_n=10))
    top = two_years[two_years["year"] == 2022].nlargest(10, "flow")
    assert sorted(f["persons"] for f in features) == sorted(top["flow"].astype(float))


# ---------------------------------------------------------------------------- HTML cont


def test_map_layers_legend_and_single_flow_layer(regions, flows):
    m = flow_map(
        regions,
        flows,
        top_n=40,
        hubs=syn.HUB_IDS,
        catchments=syn.catchments(regions),
        title="Migration 2023",
    )
    html = _html(m)
    assert html.count("L.geoJson(") == 3  # regions, catchments, flows: one layer each
    assert "L.polyline(" not in html
    assert html.count('"route":') == 40
    assert html.count("L.circleMarker(") == 3
    assert "L.control.layers(" in html
    assert "Netmigration(persons)" in html  # colormap caption
    assert "Migration2023" in html and "Width\\u221d\\u221apersons" in html
    assert '"className":"kz-flow"' in html


def test_map_rounds_coordinates(regions, flows):
    html = _html(flow_map(regions, flows, top_n=10))
    coordinates = re.findall(r"\[(-?\d+\.\d+),(-?\d+\.\d+)\]", html)
    assert len(coordinates) > 100
    assert all(len(c.split(".")[1]) <= 4 for pair in coordinates for c in pair)


def test_tiles_are_optional_and_configurable(regions, flows):
    assert "tile.openstreetmap.org" not in _html(flow_map(regions, flows, top_n=5))
    assert "tile.openstreetmap.org" in _html(
        flow_map(regions, flows, top_n=5, tiles="OpenStreetMap")
    )
    custom = flow_map(
        regions,
        flows,
        top_n=5,
        tiles="https://t.example/{z}/{x}/{y}.png",
        attribution="Example",
    )
    assert "t.example" in _html(custom)


def test_hubs_from_points_and_existing_map(regions, flows):
    hub_points = regions[regions["region_id"].isin(syn.HUB_IDS)].copy()
    hub_points["geometry"] = hub_points.representative_point()
    base = folium.Map(tiles=None)
    m = flow_map(regions, flows, top_n=5, hubs=hub_points, m=base)
    assert m is base
    assert _html(m).count("L.circleMarker(") == 3


def test_net_migration_from_column(regions, flows):
    given = regions.assign(nm=np.linspace(-500, 900, len(regions)))
    html = _html(flow_map(given, flows, top_n=5, net_migration_col="nm"))
    assert '"net_migration":900.0' in html


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"mode": "biggest"}, ValidationError, "mode must be one of"),
        ({"mode": "threshold"}, ValidationError, "needs threshold="),
        (
            {"mode": "top", "threshold": 10},
            ValidationError,
            "only used with mode='threshold'",
        ),
        ({"top_n": 0}, ValidationError, "top_n must be a positive integer"),
        (
            {"mode": "threshold", "threshold": 0, "max_flows": 100},
            ValidationError,
            "more than max_flows=100",
        ),
        ({"value_col": "persons"}, ValidationError, r"lacks column\(s\) \['persons'\]"),
        ({"name_col": "name_xx"}, ValidationError, "regions_gdf lacks column"),
        (
            {"tiles": "https://t.example/{z}/{x}/{y}.png"},
            ValidationError,
            "attribution",
        ),
        ({"year": 1999}, ValidationError, "no flows for year=1999"),
        ({"hubs": ["KZ-00"]}, AlignmentError, r"hub id\(s\) \['KZ-00'\]"),
        ({"hubs": "KZ-71"}, ValidationError, "sequence of region ids"),
    ],
    ids=[
        "mode",
        "no-threshold",
        "threshold-in-top",
        "top-n",
        "max-flows",
        "value-col",
        "name-col",
        "tiles-attribution",
        "year",
        "hub-id",
        "hub-str",
    ],
)
def test_flow_map_option_errors(regions, flows, options, error, match):
    with pytest.raises(error, match=match):
        flow_map(regions, flows, **options)


def test_flow_map_data_errors(regions, flows):
    bad = flows.copy()
    bad.loc[0, "flow"] = -3
    bad.loc[1, "origin"] = "KZ-00"
    with pytest.raises(ValidationError, match="negative 'flow'"):
        flow_map(regions, bad)
    with pytest.raises(AlignmentError, match=r"not in regions_gdf: \['KZ-00'\]"):
        flow_map(regions, flows.replace({"origin": {"KZ-10": "KZ-00"}}))
    with pytest.raises(ValidationError, match="duplicate origin-destination"):
        flow_map(regions, pd.concat([flows, flows.head(1)]))
    with pytest.raises(ValidationError, match="pass year="):
        flow_map(regions, syn.od_flows(regions, years=(2022, 2023)))
    with pytest.raises(ValidationError, match="needs a 'residual' or 'fitted'"):
        flow_map(regions, flows.drop(columns=["residual", "fitted"]), mode="residual")
    with pytest.raises(CRSError, match="no CRS"):
        flow_map(regions.set_crs(None, allow_override=True), flows)
    with pytest.raises(ValidationError, match="duplicate 'region_id'"):
        flow_map(pd.concat([regions, regions.head(1)]), flows)


# ---------------------------------------------------------------------------- save_map


def test_offline_html_is_self_contained_and_small(regions, flows, tmp_path):
    m = flow_map(
        regions,
        flows,
        mode="threshold",
        threshold=0,
        hubs=syn.HUB_IDS,
        catchments=syn.catchments(regions),
    )
    path = save_map(m, tmp_path / "regional.html")
    html = path.read_text(encoding="utf-8")
    stripped = re.sub(r"\s+", "", html)
    assert stripped.count('"route":') == len(flows)  # all 380 flows
    assert not re.search(r"<script[^>]*src=", html)
    assert not re.search(r"<link[^>]*href=\"https?:", html)
    assert "Leaflet1.9.3" in stripped and "jQueryv3.7.1" in stripped
    assert "bootstrap" not in html and "fontawesome" not in html
    assert "typeofL==='undefined'" in stripped  # fallback message
    assert path.stat().st_size < 1.5e6
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_online_html_keeps_cdn_links(regions, flows, tmp_path):
    html = save_map(
        flow_map(regions, flows, top_n=5), tmp_path / "m.html", offline=False
    ).read_text(encoding="utf-8")
    assert (
        '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">'
        in html
    )
    assert "typeof L === 'undefined'" in html


def test_offline_refuses_unvendored_assets(regions, flows, tmp_path):
    m = flow_map(regions, flows, top_n=5)
    folium.Marker([48.0, 68.0], icon=folium.Icon(icon="home")).add_to(m)
    with pytest.raises(ValidationError, match=r"cannot inline .* offline=False"):
        save_map(m, tmp_path / "m.html")
    assert not list(tmp_path.iterdir())


def test_save_map_refuses_to_overwrite(regions, flows, tmp_path):
    path = tmp_path / "sub" / "m.html"
    save_map(flow_map(regions, flows, top_n=5), path)
    before = path.read_bytes()
    with pytest.raises(OverwriteError, match="overwrite=True"):
        save_map(flow_map(regions, flows, top_n=6), path)
    assert path.read_bytes() == before
    save_map(flow_map(regions, flows, top_n=6), path, overwrite=True)
    assert path.read_bytes() != before


def test_district_map_from_40k_flows_is_small_and_fast(tmp_path):
    districts = syn.districts(224)
    od = syn.od_flows(districts, n_flows=40_000)
    start = time.perf_counter()
    m = flow_map(districts, od, mode="top", top_n=1000, name_col="name_en")
    path = save_map(m, tmp_path / "districts.html")
    elapsed = time.perf_counter() - start
    assert path.stat().st_size < 5e6
    assert (
        elapsed < 3.0 * 2
    )  # target 3 s (benchmarks/bench_maps.py); slack for shared CI
