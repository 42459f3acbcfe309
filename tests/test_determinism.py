"""Same inputs and seed, same bytes: maps, GeoPackage, and the reports' date.

Maps are rendered in two separate interpreters with different hash seeds (so neither
folium's random ids nor set ordering can agree by chance).
"""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import kz_synthetic as syn
import pandas as pd
import pyogrio
import pytest

from kzspatial._errors import ValidationError
from kzspatial.render.gpkg import write_geopackage
from kzspatial.render.maps import flow_map, save_map

# 1 700 000 000 s after the epoch is 2023-11-14 22:13:20 UTC
EPOCH, DATE = "1700000000", ("2023-11-14", "22:13:20")
TESTS = Path(__file__).parent

_MAP = """
import sys
sys.path.insert(0, sys.argv[2])
import kz_synthetic as syn
from kzspatial.render.maps import flow_map, save_map

regions = syn.regions()
flows = syn.od_flows(regions)
hubs = regions[regions["region_id"].isin(syn.HUB_IDS)].copy()
hubs["geometry"] = hubs.representative_point()
m = flow_map(regions, flows, top_n=8, hubs=hubs, title="Flows")
save_map(m, sys.argv[1], offline=sys.argv[3] == "offline")
"""


@pytest.mark.parametrize("offline", ["offline", "cdn"])
def test_same_map_same_bytes_in_two_interpreters(tmp_path, offline):
    script = tmp_path / "map.py"
    script.write_text(_MAP)
    pages = []
    for hash_seed in ("1", "2"):
        page = tmp_path / f"map{hash_seed}.html"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, script, page, TESTS, offline], env=env, check=True
        )
        pages.append(page.read_bytes())
    assert pages[0] == pages[1]
    # the page has folium's element variables, each with a distinct 32-digit id
    names = set(
        re.findall(rb"\b(?:map|geo_json|circle_marker)_([0-9a-f]{32})\b", pages[0])
    )
    assert len(names) >= 3


def test_saving_keeps_the_maps_own_ids(tmp_path):
    regions = syn.regions()
    m = flow_map(regions, syn.od_flows(regions), top_n=5)
    before = {id(e): e._id for e in _tree(m.get_root())}
    save_map(m, tmp_path / "a.html")
    after = {id(e): e._id for e in _tree(m.get_root())}
    assert {k: after[k] for k in before} == before  # rendering may add header links
    # ids in the file are unique per element, not the map's random ones
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert m.get_name() not in html
    assert "map_" in html


def _tree(element):
    yield element
    for child in element._children.values():
        yield from _tree(child)


def test_two_maps_with_different_content_differ(tmp_path):
    regions = syn.regions()
    flows = syn.od_flows(regions)
    save_map(flow_map(regions, flows, top_n=5), tmp_path / "a.html")
    save_map(flow_map(regions, flows, top_n=6), tmp_path / "b.html")
    save_map(flow_map(regions, flows, top_n=5), tmp_path / "c.html")
    a, b, c = ((tmp_path / f"{x}.html").read_bytes() for x in "abc")
    assert a == c and a != b


def _gpkg_times(path):
    with sqlite3.connect(path) as con:
        times = [r[0] for r in con.execute("SELECT last_change FROM gpkg_contents")]
        times += [r[0] for r in con.execute("SELECT update_time FROM layer_styles")]
        times += [
            r[0] for r in con.execute("SELECT timestamp FROM gpkg_metadata_reference")
        ]
    con.close()
    return times


def test_geopackage_timestamps_from_source_date_epoch(tmp_path, monkeypatch):
    regions = syn.regions()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    write_geopackage(tmp_path / "a.gpkg", {"regions": regions}, provenance={"s": "t"})
    write_geopackage(tmp_path / "b.gpkg", {"regions": regions}, provenance={"s": "t"})
    times = _gpkg_times(tmp_path / "a.gpkg")
    assert len(times) >= 3
    assert set(times) == {f"{DATE[0]}T{DATE[1]}.000Z"}
    assert (tmp_path / "a.gpkg").read_bytes() == (tmp_path / "b.gpkg").read_bytes()
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None  # restored
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    write_geopackage(tmp_path / "c.gpkg", {"regions": regions})
    assert all(
        t.startswith(pd.Timestamp.now(tz="UTC").strftime("%Y-"))
        for t in _gpkg_times(tmp_path / "c.gpkg")
    )


def test_bad_source_date_epoch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(
        ValidationError, match="SOURCE_DATE_EPOCH='yesterday' is not a whole"
    ):
        write_geopackage(tmp_path / "a.gpkg", {"regions": syn.regions()})


def test_autocorrelation_report_date_from_source_date_epoch(tmp_path, monkeypatch):
    from kzspatial.render.report import write_autocorrelation_report

    regions = syn.regions()
    entry = syn.moran_entry(regions)
    w = entry.weights
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    written = write_autocorrelation_report(
        tmp_path / "r.html",
        entries=[entry],
        by_year=pd.DataFrame(
            columns=["year", "variable", "label", "weights", "I", "p_sim"]
        ),
        regions=regions,
        weights={"queen": w},
        provenance=[],
        seed=1,
        permutations=99,
    )
    html = written["html"].read_text(encoding="utf-8")
    assert f"{DATE[0]} {DATE[1][:5]} UTC" in html


def test_forked_report_figures_equal_in_process_figures(monkeypatch):
    from kzspatial.render.report_figures import draw_entry_figures

    regions = syn.regions()
    kinds = ("HH", "LL", "not significant")
    labels = tuple(kinds[i % 3] for i in range(len(regions)))
    entries = [
        syn.moran_entry(regions, seed=seed, labels=labels, variable=f"net_rate{seed}")
        for seed in range(3)
    ]
    monkeypatch.setenv("KZSPATIAL_WORKERS", "1")
    here = draw_entry_figures(entries, regions)
    monkeypatch.setenv("KZSPATIAL_WORKERS", "2")
    forked = draw_entry_figures(entries, regions)
    assert len(here) == 3 and all(len(f) == 3 for f in here)
    assert forked == here  # byte for byte, in entry order


@pytest.mark.parametrize("value", ["0", "two", "-1", ""])
def test_bad_report_worker_count_is_refused(monkeypatch, value):
    from kzspatial.render.report_figures import draw_entry_figures

    monkeypatch.setenv("KZSPATIAL_WORKERS", value)
    with pytest.raises(ValidationError, match="KZSPATIAL_WORKERS"):
        draw_entry_figures([], None)
