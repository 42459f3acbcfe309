"""Tests of the grid/geometry adapter of catchments, on a synthetic country outline."""

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from kz_synthetic import (
    CENTRE_POPULATION,
    CENTRES_LONLAT,
    HUBS,
    centre_points,
    kz_like_outline,
)
from numpy.testing import assert_allclose, assert_array_equal

from kzspatial._constants import RTOL
from kzspatial._errors import AlignmentError, CRSError, ValidationError
from kzspatial.core.catchments import flow_shares
from kzspatial.core.distance import great_circle_km
from kzspatial.geo.grids import (
    KZ_AEA,
    distances_to_hubs_km,
    dominance_polygons,
    flow_catchment_polygons,
    grid_huff,
    hub_class_raster,
    national_grid,
    points_to_cells,
    polygon_huff,
    population_to_cells,
    threshold_polygons,
    to_raster,
)
from kzspatial.geo.population import dasymetric_population

CELL_M = 25_000.0
HUB_POPULATION = {h: CENTRE_POPULATION[h] for h in HUBS}


@pytest.fixture(scope="module")
def outline():
    return kz_like_outline()


@pytest.fixture(scope="module")
def grid(outline):
    return national_grid(outline, CELL_M)


@pytest.fixture(scope="module")
def huff(grid):
    return grid_huff(grid, centre_points(), HUB_POPULATION, -2.0, "pow")


def test_kz_aea_is_the_named_equal_area_crs():
    assert KZ_AEA.name == "KZ Albers Equal Area (kzspatial)"
    operation = KZ_AEA.coordinate_operation
    assert operation.method_name == "Albers Equal Area"
    params = {p.name: p.value for p in operation.params}
    assert params["Longitude of false origin"] == 67
    assert params["Latitude of 1st standard parallel"] == 45


def test_grid_covers_outline_with_equal_area_cells(grid, outline):
    t = grid.transform
    assert t.a == CELL_M and t.e == -CELL_M
    assert t.c % CELL_M == 0 and t.f % CELL_M == 0  # snapped origin
    assert grid.inside.shape == grid.shape and grid.crs.equals(KZ_AEA)
    true_area = outline.to_crs(KZ_AEA).area.iloc[0] / 1e6
    # centre-in-polygon cells: total area within 2 % of the polygon at 25 km
    assert grid.n_cells * grid.cell_area_km2 == pytest.approx(true_area, rel=0.02)
    x, y = grid.centres_xy
    assert x.shape == (grid.n_cells,)
    inside = shapely.contains_xy(outline.to_crs(KZ_AEA).geometry.iloc[0], x, y)
    assert inside.all()


def test_distances_match_haversine(grid):
    hubs = centre_points()
    distance = distances_to_hubs_km(grid, hubs)
    lon, lat = grid.centres_lonlat
    expected = great_circle_km(lon[:, None], lat[:, None], hubs.x.values, hubs.y.values)
    assert distance.shape == (grid.n_cells, 3) and distance.dtype == np.float32
    assert_allclose(distance, expected, rtol=1e-5, atol=1e-3)  # metre-level


@pytest.mark.parametrize("cell_size_m", [5_000.0, 25_000.0], ids=["5km", "25km"])
def test_cell_at_hub_is_assigned_to_it(outline, cell_size_m):
    grid = national_grid(outline, cell_size_m)
    result = grid_huff(grid, centre_points(), HUB_POPULATION, -2.0, "pow")
    lon, lat = zip(*(CENTRES_LONLAT[h] for h in HUBS), strict=True)
    cells = points_to_cells(grid, lon, lat)
    assert (cells >= 0).all()
    assert_array_equal(result.dominant_index[cells], [0, 1, 2])


def test_raising_attractiveness_grows_grid_catchment(grid):
    sizes = []
    for factor in [0.5, 1.0, 2.0, 4.0]:
        attractiveness = HUB_POPULATION | {
            "Shymkent": HUB_POPULATION["Shymkent"] * factor
        }
        result = grid_huff(grid, centre_points(), attractiveness, -2.0)
        sizes.append(int((result.dominant_index == 2).sum()))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes


def test_hub_outside_study_area_is_refused(grid):
    hubs = gpd.GeoSeries.from_xy(
        [71.43, 30.52], [51.13, 50.45], index=["Astana", "Kyiv"], crs=4326
    )
    with pytest.raises(
        ValidationError, match=r"outside the study area: 'Kyiv' at lon=30\.5200"
    ):
        grid_huff(grid, hubs, [1.0, 1.0], -2.0)


def test_swapped_lonlat_hub_is_refused(grid):
    hubs = gpd.GeoSeries.from_xy([51.13], [71.43], index=["Astana"], crs=4326)
    with pytest.raises(ValidationError, match="lon/lat order"):
        distances_to_hubs_km(grid, hubs)


def test_grid_too_big_states_the_size(outline):
    with pytest.raises(
        ValidationError,
        match=r"a 10 m grid of 164,243 x 296,178 = [\d,]+ cells would need 1\.5 TiB",
    ):
        national_grid(outline, 10.0)


def test_huff_over_budget_states_the_size(grid):
    with pytest.raises(ValidationError, match=r"cells x 3 hubs would need [\d.]+ KiB"):
        grid_huff(grid, centre_points(), HUB_POPULATION, -2.0, max_memory_bytes=10_000)


@pytest.mark.parametrize(
    ("attractiveness", "error", "match"),
    [
        (
            {"Astana": 1.0, "Almaty": 0.0, "Shymkent": 1.0},
            ValidationError,
            r"'Almaty'=0\.0",
        ),
        (
            {"Astana": 1.0, "Almaty": 2.0},
            AlignmentError,
            r"no attractiveness for hubs \['Shymkent'\]",
        ),
    ],
    ids=["zero", "missing"],
)
def test_grid_huff_attractiveness_errors(grid, attractiveness, error, match):
    with pytest.raises(error, match=match):
        grid_huff(grid, centre_points(), attractiveness, -2.0)


def test_crs_errors(outline):
    with pytest.raises(CRSError, match="outline has no CRS"):
        national_grid(outline.set_crs(None, allow_override=True), CELL_M)
    with pytest.raises(CRSError, match="must be projected"):
        national_grid(outline, CELL_M, crs="EPSG:4326")


def test_to_raster_places_cells(grid, huff):
    raster = to_raster(grid, huff.probabilities[:, 0], fill=np.nan)
    assert raster.shape == grid.shape
    assert np.isnan(raster[~grid.inside]).all()
    assert_array_equal(raster[grid.inside], huff.probabilities[:, 0])
    classes = hub_class_raster(grid, huff.dominant_index)
    assert classes.dtype == np.uint8 and set(np.unique(classes)) == {0, 1, 2, 3}
    with pytest.raises(AlignmentError, match="inside cells"):
        to_raster(grid, np.ones(3), fill=0)


@pytest.fixture(scope="module")
def settlements(grid):
    """Points in every 7th cell, plus one outside the country."""
    lon, lat = grid.centres_lonlat
    pick = np.arange(0, grid.n_cells, 7)
    population = (pick % 1000 + 1).astype(float)
    return (
        np.append(lon[pick], 40.0),
        np.append(lat[pick], 50.0),
        np.append(population, 12345.0),
    )


def test_population_reconciles_through_cells_and_polygons(grid, huff, settlements):
    lon, lat, population = settlements
    cell_population, placed = population_to_cells(grid, lon, lat, population)
    assert placed.unassigned == 12345.0 and placed.n_unassigned == 1
    assert placed.total == population.sum()
    assert_allclose(
        cell_population.sum() + placed.unassigned, population.sum(), rtol=RTOL
    )
    polygons = dominance_polygons(
        grid, huff, cell_population=cell_population, year=2023
    )
    assert_allclose(polygons["population"].sum(), cell_population.sum(), rtol=RTOL)


def test_missing_settlement_population_names_point(grid):
    with pytest.raises(ValidationError, match=r"missing for 1 units: \['Aral'\]"):
        population_to_cells(
            grid,
            [61.7, 63.6],
            [46.8, 53.2],
            [np.nan, 1.0],
            point_ids=["Aral", "Kostanay"],
        )


def test_dominance_polygons_ready_for_geopackage(grid, huff, tmp_path):
    polygons = dominance_polygons(grid, huff, year=2023)
    assert list(polygons.columns) == [
        "hub",
        "rule",
        "year",
        "population",
        "area_km2",
        "geometry",
    ]
    assert list(polygons["hub"]) == list(HUBS)
    assert polygons.crs.equals(KZ_AEA) and polygons.is_valid.all()
    assert (polygons["rule"] == "huff_dominant").all() and (
        polygons["year"] == 2023
    ).all()
    # equal-area cells: polygon areas are cell counts x cell area
    counts = np.bincount(huff.dominant_index, minlength=3)
    assert_allclose(polygons["area_km2"], counts * grid.cell_area_km2, rtol=RTOL)
    # each hub lies in its own polygon
    for hub, geometry in zip(
        polygons["hub"], polygons.to_crs(4326).geometry, strict=True
    ):
        assert geometry.covers(shapely.Point(CENTRES_LONLAT[hub]))
    path = tmp_path / "catchments.gpkg"
    pyogrio.write_dataframe(polygons.to_crs(4326), path, layer="catchments")
    back = pyogrio.read_dataframe(path, layer="catchments")
    assert list(back["hub"]) == list(HUBS) and back["year"].tolist() == [2023] * 3


def test_threshold_polygons_are_nested(grid, huff):
    zones = threshold_polygons(grid, huff, [0.5, 0.75])
    assert set(zones["rule"]) == {"huff_p>=0.5", "huff_p>=0.75"}
    area = zones.set_index(["hub", "rule"])["area_km2"]
    for hub in HUBS:
        assert area[(hub, "huff_p>=0.75")] <= area[(hub, "huff_p>=0.5")]


@pytest.fixture(scope="module")
def districts(outline):
    """The outline cut into 2x2-degree boxes, as stand-in districts."""
    country = outline.geometry.iloc[0]
    boxes = [
        shapely.box(x, y, x + 2, y + 2)
        for x in range(46, 88, 2)
        for y in range(40, 56, 2)
    ]
    pieces = [country.intersection(b) for b in boxes]
    pieces = [p for p in pieces if p.area > 0.05]
    return gpd.GeoDataFrame(
        geometry=pieces, index=[f"D{k:03d}" for k in range(len(pieces))], crs=4326
    )


def test_polygon_huff_on_districts(districts):
    frame = polygon_huff(districts, centre_points(), HUB_POPULATION, -2.0)
    assert list(frame.index) == list(districts.index)
    columns = [f"p_{h}" for h in HUBS]
    assert_allclose(frame[columns].sum(axis=1), 1.0, rtol=RTOL)
    for hub in HUBS:
        home = districts.index[districts.covers(shapely.Point(CENTRES_LONLAT[hub]))][0]
        assert frame.loc[home, "dominant_hub"] == hub
    hubs = gpd.GeoSeries.from_xy([20.0], [50.0], index=["Warsaw"], crs=4326)
    with pytest.raises(ValidationError, match=r"'Warsaw' at lon=20\.0000"):
        polygon_huff(districts, hubs, [1.0], -2.0)


def test_flow_catchment_polygons(districts):
    regions = districts.iloc[:5]
    ids = list(regions.index)
    flows = np.array(
        [
            [0, 5, 1, 1, 0],
            [2, 0, 2, 0, 0],
            [6, 1, 0, 0, 0],
            [0, 0, 0, 0, 9],
            [1, 1, 1, 1, 0],
        ]
    )
    fc = flow_shares(flows, ids, [ids[0], ids[4]], year=2020)
    population = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    polygons = flow_catchment_polygons(regions, fc, population=population)
    # catchments: D0 <- {D0, D1, D2, D4? no: D4 is hub 2}; D4 <- {D3, D4}
    assert_array_equal(fc.catchment_index, [0, 0, 0, 1, 1])
    assert_allclose(polygons["population"], [60.0, 90.0])
    area = regions.to_crs(KZ_AEA).area / 1e6
    assert_allclose(polygons["area_km2"].sum(), area.sum(), rtol=RTOL)
    assert (polygons["rule"] == "flow_share>=0.15").all() and (
        polygons["year"] == 2020
    ).all()


def test_dasymetric_population_sums_to_official_totals(grid, districts, settlements):
    lon, lat, point_pop = settlements
    regions = districts.reset_index(names="region_id")
    # one region keeps no settlement point: its population is spread over its cells
    empty = regions.geometry.iloc[0]
    points = gpd.GeoDataFrame(
        {"population": point_pop}, geometry=gpd.points_from_xy(lon, lat), crs=4326
    )
    points = points[~points.within(empty)]
    official = {r: 1000.0 * (k + 1) for k, r in enumerate(regions["region_id"])}
    cells, allocation = dasymetric_population(grid, regions, official, points)
    assert cells.sum() == pytest.approx(sum(official.values()), rel=1e-12)
    assert (cells >= 0).all()
    by_region = allocation.set_index("region_id")
    assert by_region.loc[regions["region_id"].iloc[0], "method"] == "uniform over cells"
    assert (by_region["n_points"] > 0).sum() > len(regions) // 2
    # within a region, cells share the population in proportion to their points
    rid = by_region.index[by_region["n_points"] > 3][0]
    mine = points[points.within(regions.set_index("region_id").geometry[rid])]
    cell = points_to_cells(grid, mine.geometry.x, mine.geometry.y)
    expect = official[rid] * mine["population"].to_numpy() / mine["population"].sum()
    assert_allclose(cells[cell], expect, rtol=1e-9)


def test_dasymetric_population_errors(grid, districts, settlements):
    lon, lat, point_pop = settlements
    regions = districts.reset_index(names="region_id")
    points = gpd.GeoDataFrame(
        {"population": point_pop}, geometry=gpd.points_from_xy(lon, lat), crs=4326
    )
    official = dict.fromkeys(regions["region_id"], 10.0)
    official.pop("D001")
    with pytest.raises(ValidationError, match=r"regions \['D001'\]"):
        dasymetric_population(grid, regions, official, points)
    with pytest.raises(CRSError, match="points has no CRS"):
        dasymetric_population(
            grid, regions, official, points.set_crs(None, allow_override=True)
        )
