"""kzspatial.distributed on LocalClusters of 1, 2 and 4 workers equals the in-memory path.

The in-memory gravity fit is checked against statsmodels, pyfixest and spint in
test_gravity.py; here the Dask fit (the same block functions run as tasks, reduced on
the cluster) must reproduce it to 1e-10: coefficients, every standard error, fitted
values, residuals, predictions and metrics, for every constraint, one year and a panel
with covariates, from Dask arrays and from a Dask DataFrame of pairs.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from kzspatial._errors import (  # noqa: E402
    AlignmentError,
    IdentificationError,
    ValidationError,
)
from kzspatial.core.gravity import fit_gravity  # noqa: E402
from kzspatial.distributed import fit_gravity as dask_fit_gravity  # noqa: E402

N_ZONES = 37
CHUNK = 13  # rows per block: 3 uneven blocks
RTOL = 1e-10


@pytest.fixture(scope="module")
def clusters():
    """A LocalCluster of the asked number of workers; two workers run in processes
    (blocks pickled between them), the others in threads. One at a time: ``compute()``
    of a result goes to the current (last made) client, which must be its own."""
    current: dict[int, distributed.Client] = {}

    def close() -> None:
        for c in current.values():
            cluster = c.cluster
            c.close()
            cluster.close()
        current.clear()

    def client(workers: int) -> distributed.Client:
        if workers not in current:
            close()
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=workers == 2,
                dashboard_address=":0",
            )
            current[workers] = distributed.Client(cluster)
        return current[workers]

    yield client
    close()


@pytest.fixture
def client(clusters):
    return clusters(2)


def synthetic(n_years: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 100, size=(N_ZONES, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 1.0
    pop = rng.normal(3, 0.5, size=(n_years, N_ZONES))
    mu = np.exp(pop[:, :, None] * 0.8 + pop[:, None, :] * 0.5 - 1.3 * np.log(km))
    flows = rng.poisson(mu * 40 / mu.mean()).astype(float)
    return (flows if n_years > 1 else flows[0]), km, pop


def options(constraint: str, pop: np.ndarray, n_years: int) -> dict:
    values = pop if n_years > 1 else pop[0]
    opts: dict = {"constraint": constraint}
    if constraint in ("unconstrained", "attraction"):
        opts["origin_vars"] = {"pop": values}
    if constraint in ("unconstrained", "production"):
        opts["destination_vars"] = {"pop": values}
    if n_years > 1:
        opts["years"] = [2020 + t for t in range(n_years)]
    return opts


def assert_same_fit(lazy, whole):
    names = whole.param_names
    assert lazy.param_names == names
    assert lazy.n_iter == whole.n_iter and lazy.converged
    for attr in ("params", "bse_robust"):
        assert_allclose(
            [getattr(lazy, attr)[k] for k in names],
            [getattr(whole, attr)[k] for k in names],
            rtol=RTOL,
        )
    for scheme, bse in whole.bse_cluster.items():
        assert_allclose(
            [lazy.bse_cluster[scheme][k] for k in names],
            [bse[k] for k in names],
            rtol=RTOL,
        )
    for metric in (
        "deviance",
        "null_deviance",
        "llf",
        "aic",
        "pseudo_r2",
        "srmse",
        "ssi",
    ):
        assert getattr(lazy, metric) == pytest.approx(getattr(whole, metric), rel=RTOL)
    assert isinstance(lazy.fitted, da.Array)
    assert_allclose(lazy.fitted.compute(), whole.fitted, rtol=RTOL, atol=0)
    # residuals near zero lose relative precision (a difference of close numbers)
    for resid in ("pearson_resid", "deviance_resid"):
        assert_allclose(
            getattr(lazy, resid).compute(), getattr(whole, resid), rtol=1e-9, atol=1e-9
        )
    for effects in ("origin_effects", "destination_effects"):
        if getattr(whole, effects) is not None:
            assert_allclose(getattr(lazy, effects), getattr(whole, effects), atol=1e-9)


# every constraint, and every worker count for the doubly-constrained model; grouped
# by worker count (one cluster at a time)
ONE_YEAR = [
    ("unconstrained", 1),
    ("doubly", 1),
    ("production", 2),
    ("doubly", 2),
    ("attraction", 4),
    ("doubly", 4),
]


@pytest.mark.parametrize(("constraint", "workers"), ONE_YEAR)
def test_one_year_equals_in_memory(clusters, constraint, workers):
    client = clusters(workers)
    flows, km, pop = synthetic(1)
    opts = options(constraint, pop, 1)
    whole = fit_gravity(flows, km, chunk_rows=CHUNK, **opts)
    lazy = dask_fit_gravity(
        da.from_array(flows, chunks=(CHUNK, -1)), km, client=client, **opts
    )
    assert_same_fit(lazy, whole)
    assert_allclose(lazy.predict().compute(), whole.predict(), rtol=1e-9)


@pytest.mark.parametrize(
    ("constraint", "workers"), [("unconstrained", 4), ("attraction", 1), ("doubly", 2)]
)
def test_panel_with_covariates_equals_in_memory(clusters, constraint, workers):
    client = clusters(workers)
    flows, km, pop = synthetic(3)
    opts = options(constraint, pop, 3)
    whole = fit_gravity(flows, km, chunk_rows=CHUNK, **opts)
    # other chunks on input: rechunked to blocks of CHUNK rows
    lazy = dask_fit_gravity(
        da.from_array(flows, chunks=(1, 5, 11)),
        da.from_array(km),
        client=client,
        chunk_rows=CHUNK,
        **opts,
    )
    assert_same_fit(lazy, whole)
    new_km = km * 1.1
    assert_allclose(
        lazy.predict(cost=da.from_array(new_km)).compute(),
        whole.predict(cost=new_km),
        rtol=1e-9,
    )


def pairs_table(flows, km, labels, years=None):
    """A long table of every pair, rows shuffled, labels as strings."""
    stacked = flows if flows.ndim == 3 else flows[None]
    t, i, j = np.indices(stacked.shape).reshape(3, -1)
    table = pd.DataFrame(
        {
            "from": np.asarray(labels)[i],
            "to": np.asarray(labels)[j],
            "migrants": stacked.ravel(),
            "km": np.broadcast_to(km, stacked.shape).ravel(),
        }
    )
    if years is not None:
        table["yr"] = np.asarray(years)[t]
    return table.sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_dataframe_of_pairs_equals_in_memory(client, tmp_path):
    flows, km, pop = synthetic(2)
    labels = [f"z{k:02d}" for k in range(N_ZONES)][::-1]  # not sorted: order given
    opts = options("production", pop, 2)
    whole = fit_gravity(flows, km, ids=labels, chunk_rows=CHUNK, **opts)
    table = dd.from_pandas(pairs_table(flows, km, labels, opts["years"]), npartitions=4)
    lazy = dask_fit_gravity(
        table,
        "km",
        client=client,
        ids=labels,
        chunk_rows=CHUNK,
        columns={
            "origin": "from",
            "destination": "to",
            "flow": "migrants",
            "year": "yr",
        },
        **opts,
    )
    assert lazy.ids == whole.ids and lazy.years == whole.years
    assert_same_fit(lazy, whole)
    # written without collecting, read back as a long table
    lazy.to_parquet(str(tmp_path / "fit"))
    back = pd.read_parquet(tmp_path / "fit")
    assert len(back) == flows.size
    cells = (
        back["year"].map({y: k for k, y in enumerate(opts["years"])}).to_numpy(),
        back["origin"].map({z: k for k, z in enumerate(labels)}).to_numpy(),
        back["destination"].map({z: k for k, z in enumerate(labels)}).to_numpy(),
    )
    assert_allclose(back["fitted"].to_numpy(), whole.fitted[cells], rtol=RTOL)
    assert_allclose(
        back["pearson_resid"].to_numpy(), whole.pearson_resid[cells], rtol=1e-9
    )


def test_problems_of_every_block_reported_together(client):
    flows, km, _ = synthetic(1)
    flows[1, 2] = -1.0  # first block
    flows[30, 3] = np.nan  # third block
    km[20, 5] = -2.0  # second block
    with pytest.raises(ValidationError) as caught:
        dask_fit_gravity(da.from_array(flows, chunks=(CHUNK, -1)), km, client=client)
    message = str(caught.value)
    assert "1 -> 2" in message and "30 -> 3" in message and "20 -> 5" in message


def test_missing_pairs_of_a_table_are_reported(client):
    flows, km, _ = synthetic(1)
    table = pairs_table(flows, km, list(range(N_ZONES)))
    table = table[~((table["from"] == 4) & (table["to"] == 9))]
    frame = dd.from_pandas(table, npartitions=2)
    with pytest.raises(ValidationError, match="cost is missing.*4 -> 9"):
        dask_fit_gravity(
            frame,
            "km",
            client=client,
            columns={"origin": "from", "destination": "to", "flow": "migrants"},
        )


def test_integer_zone_numbers_equal_the_same_table_with_text_labels(client):
    # zones numbered 0..n-1 take positions by arithmetic, other labels by lookup
    flows, km, _ = synthetic(1)
    columns = {"origin": "from", "destination": "to", "flow": "migrants"}
    numbers = pairs_table(flows, km, list(range(N_ZONES)))
    texts = numbers.assign(
        **{k: numbers[k].map(lambda z: f"z{z:02d}") for k in ("from", "to")}
    )
    fits = [
        dask_fit_gravity(
            dd.from_pandas(table, npartitions=3),
            "km",
            client=client,
            chunk_rows=CHUNK,
            columns=columns,
        )
        for table in (numbers, texts)
    ]
    assert fits[0].ids == tuple(range(N_ZONES))
    assert fits[1].ids == tuple(f"z{z:02d}" for z in range(N_ZONES))
    whole = fit_gravity(flows, km, chunk_rows=CHUNK)
    for fit in fits:
        assert_same_fit(fit, whole)


@pytest.mark.parametrize("where", ["same partition", "other partition"])
def test_pairs_listed_twice_are_reported(client, where):
    flows, km, _ = synthetic(1)
    table = pairs_table(flows, km, list(range(N_ZONES))).sort_values(["from", "to"])
    twice = table[(table["from"] == 5) & (table["to"] == 8)]
    # sorted by origin, two partitions: origin 5 is in the first one
    table = pd.concat(
        [twice, table] if where == "same partition" else [table, twice]
    ).reset_index(drop=True)
    frame = dd.from_pandas(table, npartitions=2, sort=False)
    with pytest.raises(ValidationError, match="more than once.*aggregate"):
        dask_fit_gravity(
            frame,
            "km",
            client=client,
            chunk_rows=CHUNK,
            columns={"origin": "from", "destination": "to", "flow": "migrants"},
        )


def test_zone_numbers_outside_the_given_ids_are_reported(client):
    flows, km, _ = synthetic(1)
    table = pairs_table(flows, km, list(range(N_ZONES)))
    with pytest.raises(AlignmentError, match="zone labels not among.*36"):
        dask_fit_gravity(
            dd.from_pandas(table, npartitions=2),
            "km",
            client=client,
            ids=range(N_ZONES - 1),
            columns={"origin": "from", "destination": "to", "flow": "migrants"},
        )


def _flow_block_bytes(dask_worker, n):
    """Bytes of the flow-shaped blocks of ``n`` zones a worker holds."""
    return sum(
        value.nbytes
        for value in dask_worker.data.values()
        if isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[2] == n
    )


def test_workers_keep_flows_regressor_and_fitted_flows_only():
    # the checked regressor is replaced by its copy with the excluded cells zeroed:
    # after the fit, three flow-shaped arrays stay on the cluster, not four (a cluster
    # of its own, which no other test has left blocks on)
    flows, km, _ = synthetic(1)
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as own,
    ):
        fit = dask_fit_gravity(
            da.from_array(flows, chunks=(CHUNK, -1)), km, client=own, chunk_rows=CHUNK
        )
        held = own.run(_flow_block_bytes, n=N_ZONES)
        assert sum(held.values()) == 3 * flows.nbytes
        del fit


def separated_data():
    """A production model whose destination dummy of zone 4 separates its inflows."""
    rng = np.random.default_rng(5)
    n = 12
    xy = rng.uniform(0, 1000, size=(n, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) + 10.0
    attract = rng.normal(0, 0.5, size=n)
    flows = rng.poisson(40 * km**-0.8 * np.exp(attract)[None, :] * 50).astype(float)
    flows[:, 4] = 0  # no inflows into zone 4
    dummy = (np.arange(n) == 4).astype(float)
    options = {
        "constraint": "production",
        "destination_vars": {"attract": attract, "d": dummy},
        "ids": [f"Z{i}" for i in range(n)],
        "chunk_rows": 5,
    }
    return flows, km, options


def test_separation_is_dropped_on_the_cluster_as_in_memory(client):
    flows, km, options = separated_data()
    with pytest.warns(UserWarning, match=r"separation: left out destination Z4, "):
        whole = fit_gravity(flows, km, **options)
    with pytest.warns(UserWarning, match=r"separation: left out destination Z4, "):
        lazy = dask_fit_gravity(
            da.from_array(flows, chunks=(5, -1)), km, client=client, **options
        )
    assert lazy.dropped == whole.dropped
    assert lazy.dropped["separation"] == ["destination Z4", "covariate destination:d"]
    assert_same_fit(lazy, whole)


@pytest.mark.parametrize("case", ["covariate", "decay"])
def test_separation_raises_on_the_cluster_as_in_memory(client, case):
    flows, km, options = separated_data()
    if case == "decay":
        # separated pairs that are not whole zones: only (0, 4) and (1, 4), by the cost
        flows[:, 4] = 1.0
        flows[0, 4] = flows[1, 4] = 0
        km = np.ones_like(km)
        km[0, 4] = km[1, 4] = np.e
        options = {**options, "destination_vars": None}
    options["separation"] = "raise"
    with pytest.raises(IdentificationError) as in_memory:
        fit_gravity(flows, km, **options)
    with pytest.raises(IdentificationError) as on_cluster:
        dask_fit_gravity(
            da.from_array(flows, chunks=(5, -1)), km, client=client, **options
        )
    assert str(on_cluster.value) == str(in_memory.value)
    assert "separated by" in str(on_cluster.value)


def test_core_points_dask_collections_to_the_distributed_layer():
    flows, km, _ = synthetic(1)
    with pytest.raises(ValidationError, match=r"kzspatial\.distributed\.fit_gravity"):
        fit_gravity(da.from_array(flows), km)


def test_core_does_not_import_dask():
    probe = (
        "import sys, kzspatial, kzspatial.core.gravity; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ flow Moran's I
def moran_problem(n_zones: int = 60):
    from kzspatial.core.weights import build_knn

    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(50, 80, n_zones), rng.uniform(40, 55, n_zones)
    ids = [f"z{k}" for k in range(n_zones)]
    return rng.normal(size=(n_zones, n_zones)), build_knn(ids, lon, lat, k=4)


def test_flow_moran_identical_for_any_worker_count(clusters):
    from kzspatial.core.moran import flow as flow_module
    from kzspatial.core.moran import flow_morans_i
    from kzspatial.distributed import flow_morans_i as dask_flow_morans_i

    F, w = moran_problem()
    # small batches, so that a run has many tasks to spread over the workers
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flow_module, "BATCH_ELEMENTS", 60 * 37)
        here = flow_morans_i(F, w, permutations=499, rng=42, n_jobs=2)
        runs = [
            dask_flow_morans_i(F, w, permutations=499, rng=42, client=clusters(k))
            for k in (2, 4, 1)  # the cluster of the tests before first
        ]
        batches = flow_module.qap_batches(None, 42, 60, 499)
    assert len(batches) == 14  # 13 batches of 37 permutations and one of 18
    for run in runs:
        np.testing.assert_array_equal(run.sim, here.sim)
        assert (run.I, run.p_sim, run.p_sim_two_sided) == (
            here.I,
            here.p_sim,
            here.p_sim_two_sided,
        )
    # another seed gives another null distribution: the comparison can fail
    other = dask_flow_morans_i(F, w, permutations=499, rng=43, client=clusters(2))
    assert not np.array_equal(other.sim, here.sim)


def test_flow_moran_batches_follow_one_seed_sequence():
    """Batch k draws from child k of SeedSequence(seed), independently of the others."""
    from kzspatial.core.moran import flow as flow_module

    batches = flow_module.qap_batches(None, 7, 1000, 9000)
    counts = [count for count, _ in batches]
    assert sum(counts) == 9000 and len(set(counts[:-1])) == 1
    children = np.random.SeedSequence(7).spawn(len(batches))
    for (_, seq), child in zip(batches, children, strict=True):
        assert seq.entropy == child.entropy and seq.spawn_key == child.spawn_key
