"""Great-circle distances against PROJ's geodesics (pyproj.Geod)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from kzspatial.core.distance import (
    EARTH_RADIUS_KM,
    great_circle_km,
    great_circle_matrix_km,
)

pyproj = pytest.importorskip("pyproj")


def _pairs(rng, n, lon_range, lat_range):
    lon = rng.uniform(*lon_range, size=(2, n))
    lat = rng.uniform(*lat_range, size=(2, n))
    return lon[0], lat[0], lon[1], lat[1]


def test_matches_geodesic_on_the_same_sphere():
    # Our function is a great circle on a sphere of radius EARTH_RADIUS_KM; PROJ's
    # geodesic on that sphere (a = b) is the same curve, computed independently.
    rng = np.random.default_rng(1)
    lon1, lat1, lon2, lat2 = _pairs(rng, 2000, (-180, 180), (-89, 89))
    # plus Kazakhstan-scale pairs, a very short hop and a meridian degree
    lon1 = np.r_[lon1, 71.43, 76.95, 0.0]
    lat1 = np.r_[lat1, 51.13, 43.24, 0.0]
    lon2 = np.r_[lon2, 76.95, 76.9501, 0.0]
    lat2 = np.r_[lat2, 43.24, 43.2401, 1.0]
    sphere = pyproj.Geod(a=EARTH_RADIUS_KM * 1000, b=EARTH_RADIUS_KM * 1000)
    _, _, metres = sphere.inv(lon1, lat1, lon2, lat2)
    assert_allclose(great_circle_km(lon1, lat1, lon2, lat2), metres / 1000, rtol=1e-9)


def test_within_half_a_percent_of_wgs84_over_kazakhstan():
    # A sphere of the mean radius is off the WGS84 ellipsoid by at most about 0.5 %
    # (flattening 1/298); over Kazakhstan's extent the error stays inside that bound.
    rng = np.random.default_rng(2)
    lon1, lat1, lon2, lat2 = _pairs(rng, 2000, (46.5, 87.3), (40.6, 55.4))
    _, _, metres = pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    relative = great_circle_km(lon1, lat1, lon2, lat2) / (metres / 1000) - 1
    assert np.max(np.abs(relative)) < 0.005


def test_matrix_is_the_pairwise_distance():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(46.5, 87.3, 12), rng.uniform(40.6, 55.4, 12)
    d = great_circle_matrix_km(lon, lat)
    expected = great_circle_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    assert_allclose(d, expected, rtol=1e-12, atol=0)
    assert_allclose(d, d.T, rtol=0, atol=0)
    assert np.all(np.diag(d) == 0)
