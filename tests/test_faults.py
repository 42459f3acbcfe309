"""The fault corpus: what a hostile or careless user does, and what kzspatial promises.

Every case is generated in code and parametrised; each expects a specific error type
and a fragment of its message, or a documented repair. The classes (their sizes are in
the README's "Reliability" section, checked by :func:`test_readme_counts`):

- ``CLI_CASES``: bad options of every command, run in-process with typer's CliRunner;
  each must exit with code 2 and a message naming the option, before any data are
  loaded (the loader is replaced by one that fails the test) and within a second.
- ``OD_FILE_CASES``: corrupt or hostile OD CSV files for ``read_od_csv``.
- ``API_CASES``: bad arguments of the public functions (flows, weights, run options).
- ``SUPPLY_CASES``: broken data supply: corrupt mirror copy, missing file, read-only or
  full cache (the OS errors injected at the copy into the cache).
- ``NAME_CASES``: bad, hostile and former region names.
- ``REPAIR_CASES``: faults that kzspatial repairs, as documented.

Plus hypothesis property tests of the OD parser (valid tables round-trip, invalid ones
raise ValidationError, never a raw numpy/pandas error).
"""

from __future__ import annotations

import errno
import math
import re
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon
from typer.testing import CliRunner

from kzspatial._errors import (
    AlignmentError,
    DataFetchError,
    RegionNameError,
    ValidationError,
)
from kzspatial.core.flows import in_flows, net_migration, out_flows, to_matrix
from kzspatial.datasets.migration import read_od_csv
from kzspatial.datasets.regions import configuration_ids, resolve
from kzspatial.geo.weights import weights_from_geodataframe

ROOT = Path(__file__).resolve().parent.parent
IDS20 = configuration_ids("2024")

# ------------------------------------------------------------------------------------
# CLI: bad options of every command
# ------------------------------------------------------------------------------------
_COMMANDS = {
    "run": ["run"],
    "gravity": ["gravity"],
    "moran": ["moran"],
    "catchments": ["catchments"],
    "map": ["map"],
    "export": ["export"],
    "report": ["report", "autocorrelation"],
}
_OPTION_OF = {  # which commands take which option
    "--borders": ("run", "gravity", "moran", "map", "export"),
    "--permutations": ("run", "moran", "export", "report"),
    "--seed": ("run", "moran", "export", "report"),
    "--cell-km": ("run", "catchments"),
    "--settlements": ("run", "catchments"),
    "--tiles": ("run", "map"),
    "--maps": ("run", "map"),
}
_FILE = "@existing-file"  # replaced by a path of an existing file


def _cli_cases() -> list[tuple[str, list[str], str]]:
    cases = []
    for name, head in _COMMANDS.items():
        for args, fragment in (
            (["--year", "2019"], "years=2019 (--year): not in the OD file"),
            (["--year", "2022"], "--include-2022"),
            (["--focus-year", "2019"], "focus_year=2019 (--focus-year): not in the"),
            (["--year", "2024", "--focus-year", "2023"], "add it with --year 2023"),
            (["--out", _FILE], "(--out): names an existing file"),
            (["--out", _FILE + "/sub"], "is a file, so no folder can be made"),
            (["--year", "2024.7"], "Invalid value for '--year'"),
        ):
            cases.append((name, head + args, fragment))
    bad = {
        "--borders": [("1999", "choose one of 2024, 2018, 2010")],
        "--permutations": [
            ("0", "permutations=0 (--permutations): must be at least 1"),
            ("-5", "must be at least 1"),
            ("10000000", "would take about"),
        ],
        "--seed": [("-1", "seed=-1 (--seed): must be at least 0")],
        "--cell-km": [
            ("0", "cell_km=0.0 (--cell-km): the grid cell side must be more than 0 km"),
            ("-1", "more than 0 km"),
            ("nan", "more than 0 km"),
            ("inf", "more than 0 km"),
            ("1000", "at most 150 km"),
            ("0.1", "catchment grid (272,800,000 cells"),
        ],
        "--settlements": [("foo", "choose one of geonames, osm")],
        "--tiles": [
            ("NoSuchProvider", "unknown tile provider"),
            (
                "https://t.example.org/{z}/{x}/{y}.png",
                "(--attribution): tiles from a URL",
            ),
            ("https://t.example.org/{x}/{y}.png", "lacks {z}"),
            ("ftp://t.example.org/{z}/{x}/{y}.png", "needs https://"),
        ],
        "--maps": [(_FILE, "(--maps): names an existing file")],
    }
    for option, values in bad.items():
        for name in _OPTION_OF[option]:
            for value, fragment in values:
                cases.append((name, _COMMANDS[name] + [option, value], fragment))
    for args, fragment in (
        (["--mode", "bogus"], "map_mode='bogus' (--mode): choose one of top"),
        (["--mode", "threshold"], "give it, e.g. --threshold 1000"),
        (["--top-n", "0"], "top_n=0 (--top-n): must be at least 1"),
        (["--top-n", "-3"], "must be at least 1"),
        (["--mode", "threshold", "--threshold", "-5"], "persons >= 0"),
        (["--mode", "threshold", "--threshold", "nan"], "persons >= 0"),
        (["--mode", "threshold", "--threshold", "inf"], "persons >= 0"),
    ):
        cases.append(("map", ["map", *args], fragment))
    for value in ("-1", "-100"):
        cases.append(("data check", ["data", "check", "--tolerance", value], ">= 0"))
    return cases


CLI_CASES = _cli_cases()


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if a command loads any data."""

    def refuse(*args, **kwargs):
        raise AssertionError("data were loaded before the options were checked")

    monkeypatch.setattr("kzspatial.study.pipeline.load_study_data", refuse)
    monkeypatch.setattr("kzspatial.datasets.migration.load_od_flows", refuse)
    monkeypatch.setattr("kzspatial.datasets.fetch.fetch", refuse)


@pytest.mark.parametrize(
    ("command", "args", "fragment"),
    CLI_CASES,
    ids=[" ".join(a) for _, a, _ in CLI_CASES],
)
def test_cli_refuses_before_work(command, args, fragment, tmp_path, no_data):
    from kzspatial.cli import app

    existing = tmp_path / "a-file.txt"
    existing.write_text("not a folder")
    args = [a.replace(_FILE, str(existing)) for a in args]
    if "--out" not in args and command != "data check":
        args += ["--out", str(tmp_path / "out")]
    start = time.perf_counter()
    result = CliRunner().invoke(app, args)
    seconds = time.perf_counter() - start
    assert result.exit_code == 2, result.output
    assert fragment in result.output, result.output
    assert "Traceback" not in result.output
    assert seconds < 1.0


def test_large_run_allowed_with_override():
    """--allow-large lifts the cost limit (the options are accepted)."""
    from kzspatial.study.pipeline import RunOptions

    with pytest.raises(ValidationError, match="pass --allow-large"):
        RunOptions(permutations=10_000_000)
    assert RunOptions(permutations=10_000_000, allow_large=True).permutations


def test_cost_estimate_tracks_measured_cost():
    """The estimate of the Moran step scales with the permutations, as the measured
    per-permutation cost does: 10x the permutations is 10x the estimate; and a small
    local Moran run takes no more than 5x its per-unit estimate on this machine."""
    from kzspatial.core.moran import local_morans
    from kzspatial.core.weights import build_knn
    from kzspatial.study.budget import _LOCAL, estimate_cost

    one = estimate_cost(permutations=1000, zones=20, years=6, cell_km=None)[0]
    ten = estimate_cost(permutations=10000, zones=20, years=6, cell_km=None)[0]
    assert ten.seconds == pytest.approx(10 * one.seconds)
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(20)]
    w = build_knn(ids, rng.uniform(50, 85, 20), rng.uniform(41, 55, 20), k=4)
    start = time.perf_counter()
    local_morans(rng.normal(size=20), w, permutations=2000, rng=1)
    seconds = time.perf_counter() - start
    assert seconds < 5 * 2000 * 20 * _LOCAL[0]


# ------------------------------------------------------------------------------------
# OD files
# ------------------------------------------------------------------------------------
_HEAD = "origin,destination,flow,year\n"
OD_FILE_CASES: list[tuple[str, bytes, str]] = [
    ("count 1e300", b"KZ-71,KZ-75,1e300,2024", "outside the range of a 64-bit"),
    ("count -1e300", b"KZ-71,KZ-75,-1e300,2024", "is negative"),
    ("count 9.3e18", b"KZ-71,KZ-75,9.3e18,2024", "outside the range of a 64-bit"),
    ("count inf", b"KZ-71,KZ-75,inf,2024", "is infinite"),
    ("count nan", b"KZ-71,KZ-75,nan,2024", "is not a number"),
    ("count empty", b"KZ-71,KZ-75,,2024", "is not a number"),
    ("count text", b"KZ-71,KZ-75,many,2024", "is not a number"),
    ("count negative", b"KZ-71,KZ-75,-4,2024", "is negative"),
    ("count fraction", b"KZ-71,KZ-75,2.5,2024", "not a whole number of persons"),
    ("year 2024.7", b"KZ-71,KZ-75,10,2024.7", "year '2024.7' is not a whole year"),
    ("year text", b"KZ-71,KZ-75,10,last", "is not a number"),
    ("year 1e300", b"KZ-71,KZ-75,10,1e300", "is not a whole year"),
    ("year empty", b"KZ-71,KZ-75,10,", "is not a number"),
    ("extra field", b"KZ-71,KZ-75,10,2024,5", "5 fields, the header has 4"),
    ("missing field", b"KZ-71,KZ-75,10", "3 fields, the header has 4"),
    ("open quote", b'"KZ-71,KZ-75,10,2024', "is not valid CSV"),
    ("unknown region", b"Atlantis,KZ-75,10,2024", "unknown region name 'Atlantis'"),
    ("empty region", b",KZ-75,10,2024", "empty region name"),
    ("former region", b"Semipalatinsk,KZ-75,10,2024", "merged into East Kazakhstan"),
    ("self-flow", b"KZ-71,Astana,10,2024", "self-flow"),
    ("duplicate pair", b"KZ-71,KZ-75,10,2024\nKZ-71,KZ-75,11,2024", "more than once"),
    ("script name", b"<script>alert(1)</script>,KZ-75,1,2024", "unknown region name"),
]
OD_FILE_CASES += [
    ("empty file", None, "the file is empty"),
    ("header only", b"", "has a header but no rows"),
    ("latin-1", "Алматы,KZ-75,1,2024".encode("cp1251"), "is not valid UTF-8"),
    ("repeated column", b"origin,origin,flow,year\n1,2,3,4", "occur more than once"),
    ("no flow column", b"origin,destination,N2,year\nKZ-71,KZ-75,1,2024", "no flow"),
]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [c[1:] for c in OD_FILE_CASES],
    ids=[c[0] for c in OD_FILE_CASES],
)
def test_od_file_faults(tmp_path, body, fragment):
    path = tmp_path / "od.csv"
    if body is None:
        path.write_bytes(b"")
    elif body.startswith(b"origin,") and b"\n" in body:
        path.write_bytes(body + b"\n")
    else:
        path.write_bytes(_HEAD.encode() + body + (b"\n" if body else b""))
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        read_od_csv(path)


# ------------------------------------------------------------------------------------
# API arguments
# ------------------------------------------------------------------------------------
def _bowtie_regions():
    bow = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    ok = Polygon([(2, 0), (3, 0), (3, 1)])
    return gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[bow, ok], crs=4326)


def _run_options(**kw):
    from kzspatial.study.pipeline import RunOptions

    return RunOptions(**kw)


API_CASES = [
    (
        "to_matrix lengths",
        lambda: to_matrix(["a"], ["b", "a"], [1], ["a", "b"]),
        AlignmentError,
        "one entry per pair; got 1, 2 and 1",
    ),
    (
        "to_matrix NaN",
        lambda: to_matrix(["a"], ["b"], [np.nan], ["a", "b"]),
        ValidationError,
        "missing or infinite",
    ),
    (
        "to_matrix inf",
        lambda: to_matrix(["a"], ["b"], [np.inf], ["a", "b"]),
        ValidationError,
        "missing or infinite",
    ),
    (
        "to_matrix negative",
        lambda: to_matrix(["a"], ["b"], [-3], ["a", "b"]),
        ValidationError,
        "are negative",
    ),
    (
        "to_matrix text",
        lambda: to_matrix(["a"], ["b"], ["x"], ["a", "b"]),
        ValidationError,
        "must be numbers",
    ),
    (
        "to_matrix 2-d values",
        lambda: to_matrix(["a"], ["b"], [[1, 2]], ["a", "b"]),
        ValidationError,
        "must be 1-d",
    ),
    (
        "to_matrix repeated ids",
        lambda: to_matrix(["a"], ["b"], [1], ["a", "b", "a"]),
        ValidationError,
        "ids repeat",
    ),
    (
        "to_matrix unknown id",
        lambda: to_matrix(["a"], ["z"], [1], ["a", "b"]),
        AlignmentError,
        "not in ids",
    ),
    (
        "net_migration 3x4",
        lambda: net_migration(np.ones((3, 4))),
        ValidationError,
        "must be square",
    ),
    (
        "in_flows 1-d",
        lambda: in_flows(np.ones(4)),
        ValidationError,
        "must be square",
    ),
    (
        "out_flows text",
        lambda: out_flows([["a", "b"], ["c", "d"]]),
        ValidationError,
        "must hold numbers",
    ),
    (
        "weights empty GeoDataFrame",
        lambda: weights_from_geodataframe(
            _bowtie_regions().iloc[:0], "queen", id_col="id"
        ),
        ValidationError,
        "has no rows",
    ),
    (
        "weights self-intersecting polygon",
        lambda: weights_from_geodataframe(_bowtie_regions(), "queen", id_col="id"),
        ValidationError,
        "region 'a': Self-intersection",
    ),
    (
        "weights self-intersecting (knn)",
        lambda: weights_from_geodataframe(_bowtie_regions(), "knn", id_col="id", k=1),
        ValidationError,
        "make_valid()",
    ),
    (
        "read_od_csv year=2024.7",
        lambda: read_od_csv(ROOT / "pyproject.toml", year=2024.7),
        ValidationError,
        "year must be a whole year",
    ),
    (
        "read_od_csv counts",
        lambda: read_od_csv(ROOT / "pyproject.toml", counts="some"),
        ValidationError,
        "counts must be 'integer' or 'real'",
    ),
    (
        "load_od_flows years 2024.7",
        lambda: __import__(
            "kzspatial.datasets.migration", fromlist=["x"]
        ).load_od_flows(years=[2024.7]),
        ValidationError,
        "years must be whole years",
    ),
    (
        "load_od_flows 2022",
        lambda: __import__(
            "kzspatial.datasets.migration", fromlist=["x"]
        ).load_od_flows(years=[2022]),
        ValidationError,
        "--include-2022",
    ),
    (
        "RunOptions years float",
        lambda: _run_options(years=(2024.7,)),
        ValidationError,
        "years are whole numbers",
    ),
    (
        "RunOptions permutations float",
        lambda: _run_options(permutations=99.5),
        ValidationError,
        "permutations=99.5 (--permutations): must be a whole number",
    ),
    (
        "RunOptions permutations bool",
        lambda: _run_options(permutations=True),
        ValidationError,
        "must be a whole number",
    ),
    (
        "RunOptions seed text",
        lambda: _run_options(seed="12345"),
        ValidationError,
        "seed='12345' (--seed): must be a whole number",
    ),
    (
        "RunOptions cell_km text",
        lambda: _run_options(cell_km="5"),
        ValidationError,
        "must be a number of km",
    ),
    (
        "RunOptions tiles empty",
        lambda: _run_options(tiles=""),
        ValidationError,
        "give a provider name or a URL template",
    ),
    (
        "RunOptions several problems",
        lambda: _run_options(seed=-1, top_n=0),
        ValidationError,
        "invalid options: seed=-1",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [c[1:] for c in API_CASES],
    ids=[c[0] for c in API_CASES],
)
def test_api_faults(call, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        call()


# ------------------------------------------------------------------------------------
# Data supply
# ------------------------------------------------------------------------------------
@pytest.fixture
def temp_mirror(tmp_path, monkeypatch):
    """An empty mirror and cache; returns (mirror, entry of the OD file)."""
    from kzspatial.datasets.fetch import registry

    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    monkeypatch.setenv("KZSPATIAL_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("KZSPATIAL_CACHE", str(cache))
    return mirror, registry()["od_interregional.csv"]


def _put(mirror, entry, data: bytes):
    target = mirror / entry.relative_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _failing_copy(code):
    def copy(src, dst, *a, **k):
        raise OSError(code, {errno.EROFS: "Read-only file system"}.get(code, "x"), dst)

    return copy


SUPPLY_CASES = [
    ("corrupt mirror copy", b"Year,region_emmigr\n2024,x\n", None, "checksum mismatch"),
    ("missing mirror file", None, None, "could not fetch"),
    ("read-only cache", b"x", errno.EROFS, "read-only file system"),
    ("full cache", b"x", errno.ENOSPC, "the disk holding the cache is full"),
    ("cache not writable", b"x", errno.EACCES, "the cache folder is not writable"),
    ("quota exceeded", b"x", errno.EDQUOT, "quota of the cache is exceeded"),
]


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [c[1:] for c in SUPPLY_CASES],
    ids=[c[0] for c in SUPPLY_CASES],
)
def test_supply_faults(temp_mirror, monkeypatch, data, code, fragment):
    from kzspatial.datasets.fetch import fetch

    mirror, entry = temp_mirror
    if data is not None:
        _put(mirror, entry, data)
    if code is not None:
        monkeypatch.setattr(
            "kzspatial.datasets.fetch.shutil.copyfile", _failing_copy(code)
        )
    with pytest.raises(DataFetchError, match=re.escape(fragment)) as info:
        fetch(entry.key)
    if code is not None:  # the cache is named, the source is not blamed
        assert "is not at fault" in str(info.value)


# ------------------------------------------------------------------------------------
# Region names
# ------------------------------------------------------------------------------------
NAME_CASES = [
    ("", "empty region name"),
    ("   ", "empty region name"),
    ("---", "empty region name"),
    (None, "missing region name"),
    (float("nan"), "missing region name"),
    (3.5, "region names are text"),
    (b"Almaty", "region names are text"),
    (True, "region names are text"),
    ("A" * 100_000, "is not a region name"),
    ("<script>alert(1)</script>", "unknown region name"),
    ("'; DROP TABLE regions; --", "unknown region name"),
    ("${7*7}", "unknown region name"),
    ("../../etc/passwd", "unknown region name"),
    ("\u202eytamlA", "unknown region name"),  # right-to-left override
    ("Karganda", "unknown region name"),  # a typo is never guessed
    ("Semipalatinsk", "merged into East Kazakhstan in 1997"),
    ("Kokchetav oblast", "divided between North Kazakhstan (KZ-59) and Akmola"),
    ("Талды-Курганская область", "merged into Almaty Region in 1997"),
    ("Turgai", "divided between Kostanay (KZ-39) and Akmola (KZ-11)"),
    ("Dzhezkazgan", "merged into Karaganda in 1997"),
    ("Shevchenko", "the centre of Mangystau Region"),
    ("Leninsk", "former name of Baikonur"),
    ("SKO", "'SKO' is ambiguous"),
    ("South Kazakhstan", "exists only before June 2018"),
    ("ЮКО", "exists only before June 2018"),
    ("Chimkent oblast", "exists only before June 2018"),
]


@pytest.mark.parametrize(
    ("name", "fragment"), NAME_CASES, ids=[repr(n)[:30] for n, _ in NAME_CASES]
)
def test_name_faults(name, fragment):
    start = time.perf_counter()
    with pytest.raises(RegionNameError, match=re.escape(fragment)):
        resolve(name)
    assert time.perf_counter() - start < 0.5


# ------------------------------------------------------------------------------------
# Documented repairs
# ------------------------------------------------------------------------------------
def _od_round(tmp_path, body: bytes) -> pd.DataFrame:
    path = tmp_path / "od.csv"
    path.write_bytes(body)
    return read_od_csv(path)


REPAIR_CASES = [
    (
        "thousands separated by spaces",
        b"origin,destination,flow,year\nKZ-71,KZ-75, 1 000 ,2024\n",
        1000,
    ),
    (
        "UTF-8 byte-order mark (Excel)",
        b"\xef\xbb\xbforigin,destination,flow,year\nKZ-71,KZ-75,7,2024\n",
        7,
    ),
    (
        "blank lines",
        b"origin,destination,flow,year\n\nKZ-71,KZ-75,5,2024\n\n",
        5,
    ),
    (
        "Windows line ends",
        b"origin,destination,flow,year\r\nKZ-71,KZ-75,3,2024\r\n",
        3,
    ),
    (
        "Kazakh in Russian letters",
        "origin,destination,flow,year\nКараганды облысы,ВКО,4,2024\n".encode(),
        4,
    ),
    (
        "zero-width space in a name",
        "origin,destination,flow,year\nAlm\u200baty,KZ-75,6,2024\n".encode(),
        6,
    ),
    (
        "count written 12.0",
        b"origin,destination,flow,year\nKZ-71,KZ-75,12.0,2024\n",
        12,
    ),
]


@pytest.mark.parametrize(
    ("body", "flow"), [c[1:] for c in REPAIR_CASES], ids=[c[0] for c in REPAIR_CASES]
)
def test_repairs(tmp_path, body, flow):
    out = _od_round(tmp_path, body)
    assert out["flow"].tolist() == [flow]
    assert out["flow"].dtype == np.int64


def test_corrupt_cache_copy_is_replaced(temp_mirror):
    """A cached file failing its checksum is fetched again, never used."""
    from kzspatial.datasets.fetch import cache_dir, fetch

    mirror, entry = temp_mirror
    source = Path(__import__("os").environ["KZSPATIAL_CACHE"])
    real = Path("/work/shared/data/mirror") / entry.relative_path
    if not real.is_file():
        pytest.skip("the real mirror is not available")
    _put(mirror, entry, real.read_bytes())
    cached = cache_dir() / entry.relative_path
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"tampered")
    assert fetch(entry.key).read_bytes() == real.read_bytes()
    assert source == cache_dir()


# ------------------------------------------------------------------------------------
# Property tests of the OD parser
# ------------------------------------------------------------------------------------
_pairs = st.lists(
    st.tuples(st.sampled_from(IDS20), st.sampled_from(IDS20)).filter(
        lambda p: p[0] != p[1]
    ),
    min_size=1,
    max_size=12,
    unique=True,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=_pairs,
    counts=st.lists(st.integers(0, 2**53), min_size=12, max_size=12),
    year=st.integers(1990, 2030),
)
def test_valid_tables_round_trip(tmp_path_factory, pairs, counts, year):
    path = tmp_path_factory.mktemp("od") / "od.csv"
    rows = [(o, d, c) for (o, d), c in zip(pairs, counts, strict=False)]
    text = _HEAD + "".join(f"{o},{d},{c},{year}\n" for o, d, c in rows)
    path.write_text(text, encoding="utf-8")
    out = read_od_csv(path)
    expected = sorted((year, o, d, c) for o, d, c in rows)
    assert list(out.itertuples(index=False, name=None)) == expected


_cell = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        ["1e300", "-1", "2.5", "nan", "inf", "", " ", '"', "1,2", "KZ-71", "x\x00y"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(_cell, min_size=1, max_size=5), min_size=1, max_size=6))
def test_invalid_tables_raise_validation_error(tmp_path_factory, rows):
    """Any table: parsed (and then valid), or ValidationError; never another error."""
    path = tmp_path_factory.mktemp("od") / "od.csv"
    path.write_text(_HEAD + "\n".join(",".join(r) for r in rows) + "\n")
    try:
        out = read_od_csv(path)
    except ValidationError:
        return
    assert (out["flow"] >= 0).all()
    assert out["flow"].dtype == np.int64
    assert set(out["origin"]) | set(out["destination"]) <= set(IDS20)
    assert all(1 <= y < 10_000 for y in out["year"])


@settings(max_examples=60, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_count_is_exact_or_refused(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("od") / "od.csv"
    path.write_text(_HEAD + f"KZ-71,KZ-75,{value!r},2024\n")
    ok = math.isfinite(value) and value >= 0 and value.is_integer() and value < 2**63
    if ok:
        assert read_od_csv(path)["flow"].tolist() == [int(value)]
    else:
        with pytest.raises(ValidationError):
            read_od_csv(path)


# ------------------------------------------------------------------------------------
# The README's numbers
# ------------------------------------------------------------------------------------
def test_readme_counts():
    """The "Reliability" section of the README states the size of every class."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    sizes = {
        "CLI_CASES": len(CLI_CASES),
        "OD_FILE_CASES": len(OD_FILE_CASES),
        "API_CASES": len(API_CASES),
        "SUPPLY_CASES": len(SUPPLY_CASES),
        "NAME_CASES": len(NAME_CASES),
        "REPAIR_CASES": len(REPAIR_CASES),
    }
    for name, size in sizes.items():
        assert re.search(rf"\|\s*{size}\s*\|[^\n]*`{name}`", section), (name, size)
    assert sum(sizes.values()) >= 120


@pytest.mark.data
def test_part_year_warns_and_is_recorded():
    """2025 is a part year; the source states no months, so none are invented."""
    from kzspatial.datasets.migration import load_od_flows

    with pytest.warns(UserWarning, match="2025 is a part year: the source does not"):
        flows = load_od_flows([2024, 2025])
    assert flows.attrs["year_status"][2025].startswith("part year: the source does")


@pytest.mark.data
def test_grid_cost_uses_the_real_area():
    """The grid estimate's country area is the outline's, in the grid's CRS."""
    from kzspatial.datasets.boundaries import load_boundaries
    from kzspatial.geo.grids import KZ_AEA
    from kzspatial.study.budget import KZ_AREA_KM2

    outline = load_boundaries("adm0", "2018").to_crs(KZ_AEA)
    assert outline.geometry.union_all().area / 1e6 == pytest.approx(
        KZ_AREA_KM2, rel=0.01
    )
