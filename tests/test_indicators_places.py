import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from kzspatial._errors import CRSError, ValidationError
from kzspatial.core.flows import pairs_from_matrix
from kzspatial.datasets.indicators import regional_indicators
from kzspatial.datasets.places import population_weighted_centres, spherical_mean
from kzspatial.datasets.regions import configuration_ids


def od_for(years, rng):
    ids = configuration_ids("2024")
    rows = []
    for y in years:
        F = rng.integers(0, 100, (20, 20))
        np.fill_diagonal(F, 0)
        o, d, v = pairs_from_matrix(F, ids)
        rows.append(
            pd.DataFrame(
                {"year": y, "origin": o, "destination": d, "flow": v.astype(np.int64)}
            )
        )
    out = pd.concat(rows, ignore_index=True)
    out.attrs["configuration"] = "2024"
    return out


def population(year, conf, value=1000.0):
    ids = configuration_ids(conf)
    return pd.DataFrame(
        {
            "region_id": ids,
            "year": year,
            "configuration": conf,
            "population": value,
            "urban_share": 50.0,
        }
    )


def test_rates_follow_population_borders(rng):
    od = od_for([2015, 2024], rng)
    pop = pd.concat([population(2015, "2010"), population(2023, "2024", 2000.0)])
    out = regional_indicators(od, pop)
    first = out[out.year == 2015]
    assert len(first) == 16 and set(first.configuration) == {"2010"}
    last = out[out.year == 2024]
    assert len(last) == 20 and set(last.population_date) == {"2023-01-01"}
    # nets sum to zero in every configuration; rates are per 1,000 residents
    assert out.groupby("year").net_migration.sum().abs().max() == pytest.approx(0)
    np.testing.assert_allclose(last.net_rate, last.net_migration / 2000.0 * 1000)
    # merged units lose the flows between their parts
    od15 = od[od.year == 2015]
    inner = od15[
        (od15.origin.isin(["KZ-61", "KZ-79"]))
        & od15.destination.isin(["KZ-61", "KZ-79"])
    ].flow.sum()
    south = first.set_index("region_id").loc["KZ-51"]
    out_61_79 = od15[od15.origin.isin(["KZ-61", "KZ-79"])].flow.sum()
    assert south.out_migration == out_61_79 - inner


def test_covariates_only_in_matching_borders(rng):
    od = od_for([2021], rng)
    pop = population(2021, "2018")
    grp_old = population(2021, "2018").rename(columns={"population": "grp_per_capita"})
    grp_new = population(2021, "2024").rename(columns={"population": "grp_per_capita"})
    assert regional_indicators(od, pop, grp=grp_old).grp_per_capita.notna().all()
    assert regional_indicators(od, pop, grp=grp_new).grp_per_capita.isna().all()


def test_no_population_before_year(rng):
    with pytest.raises(ValidationError, match="no population figures"):
        regional_indicators(od_for([2010], rng), population(2023, "2024"))


def test_spherical_mean_symmetry():
    lon, lat = spherical_mean([10, 20], [0, 0], [1, 1])
    assert lon == pytest.approx(15) and lat == pytest.approx(0, abs=1e-12)
    lon, lat = spherical_mean([10, 20], [0, 0], [1, 0])
    assert lon == pytest.approx(10)


def test_population_weighted_centres():
    regions = gpd.GeoDataFrame(
        {"region_id": ["a", "b"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=4326,
    )
    points = gpd.GeoDataFrame(
        {"population": [100.0, 300.0]},
        geometry=gpd.points_from_xy([0.2, 0.6], [0.5, 0.5]),
        crs=4326,
    )
    with pytest.raises(ValidationError, match="region b contains no settlement"):
        population_weighted_centres(regions, points)
    fallback = gpd.GeoDataFrame(
        {"region_id": ["b"]}, geometry=gpd.points_from_xy([1.5], [0.5]), crs=4326
    )
    out = population_weighted_centres(regions, points, fallback=fallback)
    assert out.geometry.x.iloc[0] == pytest.approx(0.5, abs=1e-4)  # (0.2*1+0.6*3)/4
    assert out.method.iloc[1].startswith("fallback")
    with pytest.raises(CRSError):
        population_weighted_centres(regions.set_crs(None, allow_override=True), points)
