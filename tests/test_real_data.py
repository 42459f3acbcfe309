"""Integration tests on the real data through the public loaders (marker ``data``)."""

import numpy as np
import pytest

from kzspatial._errors import ValidationError
from kzspatial.datasets.regions import HUB_IDS, configuration_ids

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def regions():
    from kzspatial.datasets.boundaries import load_boundaries

    return load_boundaries("adm1", "2024")


def test_regions_2024(regions):
    from kzspatial.datasets.boundaries import to_equal_area

    assert sorted(regions.region_id) == sorted(configuration_ids("2024"))
    area_km2 = to_equal_area(regions).area.sum() / 1e6
    assert area_km2 == pytest.approx(2.72e6, rel=0.01)
    assert regions.is_valid.all() and to_equal_area(regions).is_valid.all()


@pytest.mark.parametrize(
    ("level", "vintage", "n"),
    [("adm1", "2018", 17), ("adm2", "2024", 224), ("adm2", "2018", 216)],
)
def test_other_layers(level, vintage, n):
    from kzspatial.datasets.boundaries import load_boundaries, to_equal_area

    gdf = load_boundaries(level, vintage)
    assert len(gdf) == n
    assert to_equal_area(gdf).is_valid.all()
    if level == "adm1":
        assert set(gdf.region_id) == set(configuration_ids(vintage))


def test_akmola_2018_slivers_removed():
    from kzspatial.datasets.boundaries import load_boundaries

    raw = (
        load_boundaries("adm1", "2018", min_part_km2=0).set_index("region_id").geometry
    )
    clean = load_boundaries("adm1", "2018").set_index("region_id").geometry
    assert raw["KZ-11"].intersects(raw["KZ-61"]) or raw["KZ-11"].intersects(
        raw["KZ-79"]
    )
    assert not clean["KZ-11"].intersects(clean["KZ-61"])


def test_city_neighbours_are_their_oblasts(regions):
    import libpysal

    graph = libpysal.graph.Graph.build_contiguity(
        regions.set_index("region_id"), rook=False
    )
    expected = {"KZ-71": ["KZ-11"], "KZ-75": ["KZ-19"], "KZ-79": ["KZ-61"]}
    for hub in HUB_IDS:
        assert list(graph[hub].index) == expected[hub]


def test_od_flows_years_and_pairs():
    from kzspatial.datasets.migration import DEFAULT_OD_YEARS, load_od_flows

    od = load_od_flows()
    assert set(od.year) == set(DEFAULT_OD_YEARS)
    assert od.groupby("year").size().eq(380).all()
    assert 2022 not in set(od.year)
    with pytest.raises(ValidationError, match="2022 is excluded.*include_2022=True"):
        load_od_flows(years=[2022])
    with pytest.warns(UserWarning, match="contradict"):
        od22 = load_od_flows(years=[2022], include_2022=True)
    assert "excluded" in od22.attrs["year_status"][2022]


def test_monthly_file_counts_more_than_od():
    from kzspatial.core.flows import in_flows, to_matrix
    from kzspatial.datasets.migration import load_monthly_migration, load_od_flows

    od = load_od_flows(years=[2024])
    F = to_matrix(
        od.origin.tolist(), od.destination.tolist(), od.flow, configuration_ids()
    )
    monthly = load_monthly_migration(years=[2024]).set_index("region_id")
    arrivals = monthly.arrivals.reindex(configuration_ids()).to_numpy()
    # all moves within the republic include within-region moves
    assert np.all(arrivals >= in_flows(F))


def test_data_check_verdicts_come_from_the_data():
    from kzspatial.datasets.datacheck import check_od_nets, summarise_check
    from kzspatial.datasets.migration import load_monthly_migration, load_od_flows

    with pytest.warns(UserWarning):
        od = load_od_flows(years=[2022, 2023, 2024], include_2022=True)
    summary = summarise_check(check_od_nets(od, load_monthly_migration())).set_index(
        "year"
    )
    assert summary.loc[2024, "verdict"] == "agrees"
    assert summary.loc[2024, "max_abs_difference"] <= 5
    assert summary.loc[2023, "regions_differ"] == 2
    assert summary.loc[2023, "verdict"].startswith("differs for 2 regions")
    assert summary.loc[2022, "verdict"] == "contradicts"


def test_admin_centres():
    from kzspatial.datasets.boundaries import load_admin_centres

    centres = load_admin_centres()
    assert sorted(centres.region_id) == sorted(configuration_ids())


def test_kzspatial_contiguity_on_real_polygons(regions):
    """Aktobe and Mangystau share a three-vertex boundary whose coordinates differ by
    ~1e-14 degrees: libpysal's exact-vertex matching links neither way, kzspatial's
    relation-based contiguity links them (they are neighbours on the ground)."""
    from kzspatial.datasets.boundaries import load_boundaries
    from kzspatial.geo.weights import build_contiguity

    queen = build_contiguity(regions, id_col="region_id")
    k = queen.ids.index("KZ-15")
    neighbours = {queen.ids[j] for j in queen.sparse[[k], :].nonzero()[1]}
    assert "KZ-47" in neighbours
    assert set(queen.summary().one_neighbor) >= set(HUB_IDS)
    assert not queen.islands and queen.n_components == 1
    # the 2018 Akmola slivers would link Akmola to Turkistan and Almaty city
    w18 = build_contiguity(load_boundaries("adm1", "2018"), id_col="region_id")
    k = w18.ids.index("KZ-11")
    akmola = {w18.ids[j] for j in w18.sparse[[k], :].nonzero()[1]}
    assert not akmola & {"KZ-61", "KZ-75"}


def test_osm_settlements_opt_in_clipped():
    from kzspatial.datasets.boundaries import load_boundaries
    from kzspatial.datasets.places import load_osm_settlements

    outline = load_boundaries("adm0", "2018")
    points = load_osm_settlements(outline)
    assert points.attrs["licence"] == "ODbL 1.0"
    assert points.attrs["dropped_outside"] > 0
    assert (
        len(points)
        == points.attrs["points_with_population"] - points.attrs["dropped_outside"]
    )
    assert points.within(outline.union_all()).all()
    assert (points.population > 0).all()


def test_hub_catalogue_agrees_with_the_region_catalogue():
    from kzspatial.datasets.regions import HUB_COLOURS, HUB_NAMES, HUBS, get_region

    for hub in HUBS:
        # the region catalogue names each hub "<name> city" and calls it a city
        assert get_region(hub.id).name_en == f"{hub.name} city"
        assert HUB_NAMES[hub.id] == hub.name and HUB_COLOURS[hub.name] == hub.colour
    assert len({h.colour for h in HUBS}) == len(HUBS)
