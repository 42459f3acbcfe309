"""The opt-in OpenStreetMap allocation through ``kzspatial run`` on the real data.

``RunOptions(settlements="osm")`` is what ``kzspatial run --settlements osm`` builds;
the data come through the project's loaders (the mirror under KZSPATIAL_DATA_MIRROR).
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio

from kzspatial.study.pipeline import RunOptions, run

pytestmark = [pytest.mark.data, pytest.mark.slow]

OSM = ("OpenStreetMap", "ODbL")


@pytest.fixture(scope="module")
def osm_run(tmp_path_factory):
    options = RunOptions(
        out_dir=tmp_path_factory.mktemp("osm") / "out",
        settlements="osm",
        cell_km=20.0,
        permutations=99,
        seed=7,
        products=frozenset({"gpkg", "rasters", "tables"}),
    )
    return run(options)


def test_every_rule_adds_up_to_the_national_population(osm_run):
    from kzspatial.datasets.population import load_population
    from kzspatial.datasets.regions import configuration_ids

    table = pd.read_csv(osm_run.paths["tables"] / "catchment_population.csv")
    (date,) = table["population_date"].unique()
    pop = load_population()
    official = pop[
        (pop["year"] == int(date[:4]))
        & pop["region_id"].isin(configuration_ids("2024"))
    ]["population"].sum()
    sums = table.groupby("rule")["population"].sum()
    assert "districts: calibrated Huff, leading hub" in sums.index
    assert "20 km grid: calibrated Huff, leading hub" in sums.index
    assert len(sums) >= 5
    assert np.all(np.abs(sums / official - 1) < 0.005), sums


def test_tables_and_geopackage_name_openstreetmap_and_the_odbl(osm_run):
    table = pd.read_csv(osm_run.paths["tables"] / "catchment_population.csv")
    placed = table[table["units"].isin(["cells", "districts"])]
    assert len(placed) >= 8
    for word in OSM:
        assert placed["source"].str.contains(word).all()
    # region rules use no points: their source is the official population alone
    assert (
        not table.loc[table["units"] == "regions", "source"]
        .str.contains("OpenStreetMap")
        .any()
    )
    grid = pd.read_csv(osm_run.paths["tables"] / "grid_population.csv")
    assert grid["points"].str.contains("OpenStreetMap").all()
    assert grid["method"].eq("settlement points").all()
    provenance = pyogrio.read_dataframe(osm_run.paths["gpkg"], layer="provenance")
    osm = provenance[provenance["licence"].str.startswith("ODbL")]
    assert len(osm) == 1 and "OSM" in osm["title"].iloc[0]
    districts = pyogrio.read_info(osm_run.paths["gpkg"], layer="districts")
    abstract = districts["layer_metadata"]["DESCRIPTION"]
    assert all(word in abstract for word in OSM)
    assert "not an official district count" in abstract


def test_points_outside_kazakhstan_were_clipped(osm_run):
    from kzspatial.datasets.fetch import fetch
    from kzspatial.datasets.places import load_osm_settlements

    outline = osm_run.data.outline.to_crs(4326).union_all()
    raw = gpd.read_file(fetch("osm_populated_places.geojson"), engine="pyogrio")
    outside = raw[~raw.within(outline)]
    # the data README's 330 are the points farther than 0.01 degree (about 1 km)
    # outside; 77 more lie just beyond the generalised border (coastal and border
    # villages on both sides of it); the loader clips at the outline itself
    assert (~raw.intersects(outline.buffer(0.01))).sum() == 330
    assert len(outside) > 330
    kept = load_osm_settlements(osm_run.data.outline)
    assert kept.within(outline).all()
    assert not set(kept["osm_id"]) & set(outside["osm_id"])
    tagged_outside = pd.to_numeric(outside["population"], errors="coerce").gt(0).sum()
    assert kept.attrs["dropped_outside"] == tagged_outside > 0
    # the allocation placed every region's population on points inside the country
    cells = osm_run.catchments.population_allocation
    assert cells["n_points"].sum() == len(kept)


def test_population_raster_states_the_osm_allocation(osm_run):
    with rasterio.open(osm_run.paths["raster_population"]) as src:
        tags = src.tags()
        description = src.descriptions[0]
        total = np.nansum(src.read(1, masked=False).astype(np.float64))
    for word in OSM:
        assert word in tags["population_points"]
        assert word in tags["population_method"]
        assert word in description
    assert "dasymetric" in tags["population_method"]
    official = osm_run.catchments.population_allocation["official_population"].sum()
    assert total == pytest.approx(official, rel=1e-5)  # float32 cells
