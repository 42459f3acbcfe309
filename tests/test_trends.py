"""National and regional trends: constructed cases and the real OD file."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from kzspatial._constants import RTOL
from kzspatial.datasets.regions import configuration_ids, parent_in
from kzspatial.study.trends import (
    PART_YEAR_UNSTATED,
    group_rates,
    national_trends,
    year_periods,
)


def _od(year, pairs):
    return pd.DataFrame(
        [{"year": year, "origin": o, "destination": d, "flow": f} for o, d, f in pairs]
    )


def test_national_shares_and_concepts():
    od = _od(
        2024, [("KZ-11", "KZ-71", 30), ("KZ-11", "KZ-15", 60), ("KZ-15", "KZ-79", 10)]
    )
    monthly = pd.DataFrame(
        {
            "year": 2024,
            "month": [1, 2],
            "region_id": ["KZ-71", "KZ-15"],
            "arrivals": [50, 150],
        }
    )
    row = national_trends(od, monthly=monthly).iloc[0]
    assert row["moves_between_regions"] == 100
    assert_allclose(row["share_to_astana"], 0.3, rtol=RTOL)
    assert_allclose(row["share_to_three_cities"], 0.4, rtol=RTOL)
    assert row["moves_within_republic"] == 200
    assert row["moves_within_regions"] == 100
    assert_allclose(row["arrivals_share_three_cities"], 0.25, rtol=RTOL)
    assert row["period"] == "part year (Jan-Feb)"  # months come from the monthly rows
    assert np.isnan(row["urban_share"])


def test_part_year_months_are_never_invented():
    assert year_periods([2025])[2025] == (PART_YEAR_UNSTATED, "")
    assert year_periods([2024])[2024][0] == "full year"


def test_group_rates_never_prorate():
    # population of 1 January 2010 in the 2010 borders: Karaganda with Ulytau is one unit
    ids20 = configuration_ids("2024")
    ids10 = configuration_ids("2010")
    population = pd.DataFrame(
        {
            "region_id": ids10,
            "year": 2010,
            "configuration": "2010",
            "population": 1000.0,
        }
    )
    od = _od(
        2010, [("KZ-35", "KZ-62", 5), ("KZ-35", "KZ-11", 7), ("KZ-11", "KZ-62", 2)]
    )
    today = group_rates(od, population, {r: r for r in ids20}).set_index("unit")
    assert np.isnan(today.at["KZ-35", "net_rate"])  # split later: no population
    assert today.at["KZ-35", "net_migration"] == -12  # counts need no population
    assert_allclose(today.at["KZ-11", "net_rate"], 1000 * (7 - 2) / 1000)
    old = group_rates(od, population, {r: parent_in(r, "2010") for r in ids20})
    karaganda = old.set_index("unit").loc[parent_in("KZ-35", "2010")]
    # the flow Karaganda -> Ulytau becomes internal; 2 in, 7 out
    assert karaganda["net_migration"] == -5
    assert_allclose(karaganda["net_rate"], -5.0)


@pytest.mark.data
@pytest.mark.parametrize("year", [2010, 2024])
def test_three_city_share_against_the_raw_file(year):
    from kzspatial.datasets.fetch import fetch
    from kzspatial.datasets.migration import load_od_flows

    raw = pd.read_csv(fetch("od_interregional.csv"))
    part = raw[raw["Year"] == year]
    cities = ["Astana_city", "Almaty_city", "Shymkent_city"]
    expected = part.loc[part["region_immigr"].isin(cities), "N"].sum() / part["N"].sum()
    row = national_trends(load_od_flows([year])).iloc[0]
    assert row["moves_between_regions"] == part["N"].sum()
    assert_allclose(row["share_to_three_cities"], expected, rtol=RTOL)


@pytest.mark.data
def test_urban_share_and_monthly_on_the_data():
    from kzspatial.datasets.fetch import fetch
    from kzspatial.datasets.migration import load_monthly_migration, load_od_flows
    from kzspatial.datasets.population import load_population

    table = national_trends(
        load_od_flows([2024]),
        monthly=load_monthly_migration(annual=False),
        population=load_population(),
    ).set_index("year")
    raw = pd.read_csv(fetch("monthly_2024.csv"))
    assert table.at[2024, "moves_within_republic"] == raw["arrivals"].sum()
    assert table.at[2024, "months"] == "Jan-Dec"
    assert np.isnan(
        table.at[2024, "urban_share"]
    )  # the workbook ends at 1 January 2023
    assert 0.5 < table.at[2022, "urban_share"] < 0.7
