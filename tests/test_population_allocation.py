"""Dasymetric allocation summed by polygon (districts), on a fixture built in code."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose

from kzspatial._errors import CRSError, ValidationError
from kzspatial.geo.population import dasymetric_polygon_population


@pytest.fixture
def fixture():
    """Three regions, three district polygons, five settlement points.

    R1 = [60, 62] x [48, 50] holds districts A (west half) and B (north-east quarter);
    its south-east quarter is in no district. R2 = [62, 64] x [48, 50] has no
    settlement point; district C is its western half. R3 = [64, 65] x [48, 50] has
    no point and no district.
    """
    box = shapely.box
    regions = gpd.GeoDataFrame(
        {"region_id": ["R1", "R2", "R3"]},
        geometry=[box(60, 48, 62, 50), box(62, 48, 64, 50), box(64, 48, 65, 50)],
        crs=4326,
    )
    districts = gpd.GeoDataFrame(
        geometry=[box(60, 48, 61, 50), box(61, 49, 62, 50), box(62, 48, 63, 50)],
        index=pd.Index(["A", "B", "C"], name="district_id"),
        crs=4326,
    )
    points = gpd.GeoDataFrame(
        {"population": [1.0, 3.0, 4.0, 2.0, 5.0, 0.0]},
        geometry=gpd.points_from_xy(
            # A, A, B, outside every district (R1's SE quarter), on the A|B edge,
            # and a point without population in C (ignored)
            [60.5, 60.2, 61.5, 61.5, 61.0, 62.5],
            [49.0, 48.3, 49.5, 48.5, 49.5, 49.0],
        ),
        crs=4326,
    )
    official = {"R1": 1500.0, "R2": 600.0, "R3": 70.0}
    # densified edges: halves of a region have equal area also after projecting
    regions["geometry"] = shapely.segmentize(regions.geometry.to_numpy(), 0.01)
    districts["geometry"] = shapely.segmentize(districts.geometry.to_numpy(), 0.01)
    return districts, regions, official, points


def test_points_and_empty_regions_go_to_their_polygons(fixture):
    districts, regions, official, points = fixture
    population, outside = dasymetric_polygon_population(
        districts, regions, official, points
    )
    assert population.name == "population_allocated"
    assert list(population.index) == ["A", "B", "C"]
    # R1's 1500 split by the point weights 1, 3 | 4 | 2 | 5 (on the A|B edge: A)
    weight = 1500.0 / 15.0
    assert population["A"] == pytest.approx((1 + 3 + 5) * weight, rel=1e-12)
    assert population["B"] == pytest.approx(4 * weight, rel=1e-12)
    # R2 has no point: spread over its area, C covers its western half
    assert population["C"] == pytest.approx(300.0, rel=1e-4)
    # outside: R1's point in no district, R2's eastern half, all of R3
    assert outside == pytest.approx(2 * weight + 300.0 + 70.0, rel=1e-4)
    assert population.sum() + outside == pytest.approx(2170.0, rel=1e-12)


def test_polygons_in_another_crs_and_as_a_series(fixture):
    districts, regions, official, points = fixture
    reference, outside = dasymetric_polygon_population(
        districts, regions, official, points
    )
    projected = districts.geometry.to_crs(3857)
    population, outside_3857 = dasymetric_polygon_population(
        projected, regions, official, points
    )
    assert_allclose(population, reference, rtol=1e-6)
    assert outside_3857 == pytest.approx(outside, rel=1e-6)


def test_errors_name_the_region_and_the_missing_crs(fixture):
    districts, regions, official, points = fixture
    with pytest.raises(ValidationError, match=r"regions \['R3'\]"):
        dasymetric_polygon_population(
            districts, regions, {"R1": 1.0, "R2": 2.0}, points
        )
    with pytest.raises(ValidationError, match=r"regions \['R2'\]"):
        dasymetric_polygon_population(
            districts, regions, {**official, "R2": np.nan}, points
        )
    with pytest.raises(CRSError, match="polygons has no CRS"):
        dasymetric_polygon_population(
            districts.set_crs(None, allow_override=True), regions, official, points
        )
