import numpy as np
import pandas as pd
import pytest

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.flows import (
    aggregate_matrix,
    in_flows,
    net_migration,
    out_flows,
    pairs_from_matrix,
    to_matrix,
)
from kzspatial.datasets.crosswalk import (
    aggregate_flows,
    aggregate_regions,
    join_regional,
)
from kzspatial.datasets.regions import configuration_ids


def random_od(rng, years=(2023, 2024)):
    ids = configuration_ids("2024")
    frames = []
    for y in years:
        F = rng.integers(0, 1000, size=(20, 20))
        np.fill_diagonal(F, 0)
        o, d, v = pairs_from_matrix(F, ids)
        frames.append(
            pd.DataFrame(
                {"year": y, "origin": o, "destination": d, "flow": v.astype(np.int64)}
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out.attrs["configuration"] = "2024"
    return out


def test_matrix_round_trip_and_margins(rng):
    ids = ["a", "b", "c"]
    F = rng.integers(0, 50, (3, 3)).astype(float)
    np.fill_diagonal(F, 0)
    o, d, v = pairs_from_matrix(F, ids)
    np.testing.assert_array_equal(to_matrix(o, d, v, ids), F)
    np.testing.assert_allclose(out_flows(F), F.sum(1))
    np.testing.assert_allclose(in_flows(F), F.sum(0))
    assert net_migration(F).sum() == pytest.approx(0)


def test_to_matrix_errors():
    with pytest.raises(AlignmentError, match="not in ids"):
        to_matrix(["a"], ["z"], [1], ["a", "b"])
    with pytest.raises(ValidationError, match="duplicated.*a->b"):
        to_matrix(["a", "a"], ["b", "b"], [1, 2], ["a", "b"])


@pytest.mark.parametrize("to", ["2018", "2010"])
def test_aggregate_flows_preserves_total_minus_internal(rng, to):
    od = random_od(rng)
    flows, internal = aggregate_flows(od, to)
    assert flows.flow.sum() + internal.flow.sum() == od.flow.sum()
    n = len(configuration_ids(to))
    assert flows.groupby("year").size().eq(n * (n - 1)).all()
    assert (flows.origin != flows.destination).all()
    # the flows that became internal are exactly the ones between merged parts
    y = od[od.year == 2024].set_index(["origin", "destination"]).flow
    abai_east = y["KZ-10", "KZ-63"] + y["KZ-63", "KZ-10"]
    got = internal.set_index(["year", "region_id"]).flow[2024, "KZ-63-2018"]
    assert got == abai_east
    if to == "2010":
        assert set(internal.region_id) >= {"KZ-51"}


def test_aggregate_matrix_nets_consistent(rng):
    ids = list(configuration_ids("2024"))
    F = rng.random((20, 20))
    np.fill_diagonal(F, 0)
    parent = {"KZ-10": "KZ-63-2018", "KZ-63": "KZ-63-2018"}
    new_ids = [i for i in ids if i not in parent] + ["KZ-63-2018"]
    G, _ = aggregate_matrix(F, ids, parent, new_ids)
    net = dict(zip(ids, net_migration(F), strict=True))
    net_g = dict(zip(new_ids, net_migration(G), strict=True))
    assert net_g["KZ-63-2018"] == pytest.approx(net["KZ-10"] + net["KZ-63"])


def test_aggregate_regions_sums_only_given_columns():
    ids = configuration_ids("2024")
    table = pd.DataFrame(
        {"region_id": ids, "year": 2023, "population": np.arange(20) + 1.0}
    )
    out = aggregate_regions(table, "2010", sum_columns=["population"])
    assert len(out) == 16
    assert out.population.sum() == table.population.sum()
    assert (out.configuration == "2010").all()


def test_join_refuses_mixed_borders():
    new = pd.DataFrame(
        {"region_id": ["KZ-10"], "year": [2021], "x": [1], "configuration": "2024"}
    )
    old = pd.DataFrame(
        {"region_id": ["KZ-63-2018"], "year": [2021], "y": [2], "configuration": "2018"}
    )
    with pytest.raises(
        AlignmentError, match="2024 borders to one in the 2018.*crosswalk"
    ):
        join_regional(new, old)
    with pytest.raises(AlignmentError, match="single border configuration"):
        join_regional(new.drop(columns="configuration"), old)
    same = old.rename(columns={"y": "z"})
    assert join_regional(old, same)["z"].tolist() == [2]


def test_aggregate_regions_from_2018_borders():
    ids = configuration_ids("2018")
    table = pd.DataFrame(
        {"region_id": ids, "year": 2020, "population": 1.0, "configuration": "2018"}
    )
    out = aggregate_regions(table, "2010", sum_columns=["population"])
    assert len(out) == 16
    assert out.set_index("region_id").population["KZ-51"] == 2.0
    with pytest.raises(AlignmentError, match="cannot be split"):
        aggregate_regions(out, "2024", sum_columns=["population"])
