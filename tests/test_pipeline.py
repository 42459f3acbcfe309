"""`kzspatial run` end to end on the real data (marker ``data``): every product exists,
opens, and says what it should; overwriting is refused and interruptions are harmless."""

import base64
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from conftest import validate_gpkg_command

from kzspatial._errors import OverwriteError
from kzspatial.datasets.regions import HUB_COLOURS
from kzspatial.study.pipeline import RunOptions, run

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    options = RunOptions(out_dir=root / "out", permutations=99, seed=7, cell_km=20.0)
    return run(options), options


def test_every_product_written(result):
    res, options = result
    assert options.maps_folder == options.out_dir / "maps"
    names = set(res.paths)
    assert {
        "gpkg",
        "report",
        "report_files",
        "tables",
        "map_2024",
        "map_residuals",
        "raster_dominant_hub",
        "qml_dominant_hub",
        "raster_potential",
        "explorer",
        "study",
        "study_files",
        "flowmap",
        "kepler",
        "excel",
    } <= names
    for path in res.paths.values():
        assert path.exists(), path
    assert not list(options.out_dir.rglob(".kzspatial-staging-*"))


def test_geopackage_layers_styles_and_validity(result):
    res, _ = result
    gpkg = res.paths["gpkg"]
    layers = {name for name, _geom in pyogrio.list_layers(gpkg)}
    assert {
        "regions",
        "regions_kz_aea",
        "districts",
        "cities",
        "od_flows",
        "catchments",
        "moran_global",
        "gravity_params",
        "data_check",
        "provenance",
    } <= layers
    regions = pyogrio.read_dataframe(gpkg, layer="regions")
    assert len(regions) == 20
    assert {
        "name_en",
        "name_kk",
        "name_ru",
        "net_migration",
        "net_rate",
        "lisa_net_rate_cluster",
        "huff_p_astana",
    } <= set(regions.columns)
    assert regions["net_migration"].sum() == pytest.approx(0, abs=1e-6)
    flows = pyogrio.read_dataframe(gpkg, layer="od_flows")
    assert len(flows) == 380
    matrix = pyogrio.read_dataframe(gpkg, layer="od_matrix")
    assert len(matrix) == 380 * len(res.data.years)
    with sqlite3.connect(gpkg) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
        styled = {r[0] for r in con.execute("SELECT f_table_name FROM layer_styles")}
    assert {"regions", "od_flows", "catchments"} <= styled
    check = subprocess.run(
        [*validate_gpkg_command(), "--extra", str(gpkg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_report_is_self_contained(result):
    res, _ = result
    html = res.paths["report"].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert html.count("data:image/png;base64,") >= 9
    assert "With only 20 regions" in html and "seed: 7" in html
    assert "Robustness of the verdict" in html and "I of the flows" in html
    figures = res.paths["report_files"]
    assert len(list(figures.glob("*.png"))) >= 9
    assert (figures / "moran_global.csv").exists()
    # the leading-hub grid under the catchment-changes table, also as PNG
    png = (figures / "catchment_changes.png").read_bytes()
    at = html.index("Catchments: leading hub in the first and last OD year")
    assert html.index(base64.b64encode(png).decode()) > at


def test_rasters_read_back(result):
    res, _ = result
    with rasterio.open(res.paths["raster_dominant_hub"]) as src:
        assert "KZ Albers Equal Area" in src.crs.to_wkt()
        assert src.nodata == 0
        palette = src.colormap(1)
        band = src.read(1)
        assert set(np.unique(band)) <= {0, 1, 2, 3}
    # class k + 1 is the k-th hub, in the colour the pipeline assigns it
    hubs = res.catchments.grid_huff.hubs
    assert [palette[k + 1] for k in range(len(hubs))] == [HUB_COLOURS[h] for h in hubs]
    with rasterio.open(res.paths["raster_huff_astana"]) as src:
        p = src.read(1)
        assert np.isnan(src.nodata)
        assert np.nanmax(p) <= 1 and np.nanmin(p) >= 0


def test_maps_offline_and_small(result):
    res, _ = result
    html = res.paths["map_2024"].read_text(encoding="utf-8")
    assert not re.search(r"""<script[^>]+src=["']https?://""", html)
    assert res.paths["map_2024"].stat().st_size < 1.5e6


def test_refuses_to_overwrite_and_survives_interruption(result, monkeypatch):
    res, options = result
    with pytest.raises(OverwriteError, match="--overwrite"):
        run(options)
    before = res.paths["gpkg"].read_bytes()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    import kzspatial.study.pipeline as pipeline

    monkeypatch.setattr(pipeline, "write_rasters", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(
            RunOptions(
                out_dir=options.out_dir, permutations=9, cell_km=50.0, overwrite=True
            )
        )
    assert res.paths["gpkg"].read_bytes() == before
    assert not list(options.out_dir.rglob(".kzspatial-staging-*"))


@pytest.mark.browser
def test_real_maps_render_in_chromium(result, browser, tmp_path):
    res, _ = result
    errors = []
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("http*://**", lambda route: route.abort())
    page.goto(res.paths["map_2024"].as_uri())
    page.wait_for_timeout(500)
    assert page.evaluate("typeof L !== 'undefined'")
    n_paths = page.locator("path.leaflet-interactive").count()
    page.screenshot(path=str(tmp_path / "map.png"))
    assert n_paths >= 60 + 20  # flows (+ arrowheads) and the 20 regions
    assert (tmp_path / "map.png").stat().st_size > 10_000
    # the explorer: every year's total shown equals the OD table's
    page.goto(res.paths["explorer"].as_uri())
    page.wait_for_timeout(800)
    od = res.data.od
    years = page.evaluate("kzExplorer.instance.data.years")
    assert years == res.data.years
    for k, year in enumerate(years):
        page.evaluate(f"kzExplorer.instance.setYearIndex({k})")
        page.wait_for_timeout(100)
        shown = page.locator(".leaflet-control").filter(has_text="persons who moved")
        text = shown.first.inner_text()
        total = re.search(r"of the ([\d,]+) persons", text).group(1)
        assert int(total.replace(",", "")) == od.loc[od["year"] == year, "flow"].sum()
    for mode in ("rate", "fitted", "residual", "pearson"):
        page.evaluate(f"kzExplorer.instance.setMode('{mode}')")
    page.screenshot(path=str(tmp_path / "explorer.png"))
    page.close()
    assert not errors


def _csv(path):
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_explorer_page_holds_every_year_offline(result):
    res, _ = result
    html = res.paths["explorer"].read_text(encoding="utf-8")
    assert not re.search(r"""<script[^>]+src=["']https?://""", html)
    assert res.paths["explorer"].stat().st_size < 3e6
    match = re.search(
        r'<script type="application/json" id="kz-explorer-data">(.*?)</script>',
        html,
        re.S,
    )
    data = json.loads(match.group(1))
    assert data["years"] == res.data.years
    od = res.data.od
    for k, year in enumerate(data["years"]):
        flows = data["flows"][k]
        part = od[(od["year"] == year) & (od["origin"] != od["destination"])]
        assert sum(flows["v"]) == part["flow"].sum()
        assert flows["f"] is not None  # the per-year gravity fit
    assert data["population"] is not None


def test_study_tables_answer_the_issue(result):
    """The study's numbers, recomputed here from the OD file, not copied from a run."""
    import pandas as pd

    from kzspatial.datasets.migration import load_od_flows

    res, _ = result
    folder = res.paths["tables"]
    national = pd.read_csv(folder / "study_national.csv").set_index("year")
    od = load_od_flows((2010, 2024))
    for year in (2010, 2024):
        part = od[(od["year"] == year) & (od["origin"] != od["destination"])]
        to_cities = part.loc[part["destination"].isin(["KZ-71", "KZ-75", "KZ-79"])]
        share = to_cities["flow"].sum() / part["flow"].sum()
        assert national.at[year, "share_to_three_cities"] == pytest.approx(share)
        assert national.at[year, "moves_between_regions"] == part["flow"].sum()
    claims = pd.read_csv(folder / "study_claims_table2.csv").set_index("region_group")
    # Karaganda (KZ-35 with Ulytau, split off in 2022): net negative in every OD year
    od = res.data.od20
    group = {"KZ-35", "KZ-62"}
    inflow = od[od["destination"].isin(group) & ~od["origin"].isin(group)]
    outflow = od[od["origin"].isin(group) & ~od["destination"].isin(group)]
    net = inflow.groupby("year")["flow"].sum() - outflow.groupby("year")["flow"].sum()
    assert (net < 0).all() and len(net) == len(res.data.years)
    assert claims.at["Karaganda region", "class"] == "persistent loser"
    assert claims.at["Karaganda region", "verdict"] == "refuted"
    published = pd.read_csv(folder / "study_published_check.csv")
    rows = published[
        (published["variable"] == "internal_migration")
        & published["year"].between(2022, 2024)
    ]
    assert len(rows) == 6 and rows["flagged"].all()  # 3 years x both concepts
    assert set(rows["concept"]) == {
        "moves between regions",
        "all moves within the republic",
    }
    for name in ("study_typology", "study_inequality", "study_region_rates"):
        assert len(pd.read_csv(folder / f"{name}.csv"))
    html = res.paths["study"].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "claims, not data" in html
    assert (res.paths["study_files"] / "study_published.csv").exists()


def test_study_tables_in_the_geopackage_with_titles(result):
    res, _ = result
    gpkg = res.paths["gpkg"]
    layers = {name for name, _geom in pyogrio.list_layers(gpkg)}
    assert {"study_national", "study_typology", "study_published_check"} <= layers
    with sqlite3.connect(gpkg) as con:
        rows = dict(
            con.execute(
                "SELECT table_name, identifier FROM gpkg_contents "
                "WHERE table_name IN ('study_typology', 'od_flows')"
            ).fetchall()
        )
    assert rows["study_typology"].startswith("Regional balance typology")
    assert re.search(r"the 6\d largest of 380 drawn", rows["od_flows"])


def test_exports_match_the_od_table(result):
    import openpyxl

    res, _ = result
    od = res.data.od
    od = od[od["origin"] != od["destination"]]
    expected = od.groupby("year")["flow"].sum().to_dict()
    flows = _csv(res.paths["flowmap"] / "flows.csv")
    totals: dict[int, float] = {}
    for row in flows:
        year = int(row["time"][:4])
        totals[year] = totals.get(year, 0) + float(row["count"])
    assert totals == pytest.approx(expected)
    assert len(_csv(res.paths["flowmap"] / "locations.csv")) == 20
    kepler = _csv(res.paths["kepler"])
    totals = {}
    for row in kepler:
        totals[int(row["year"])] = totals.get(int(row["year"]), 0) + float(row["flow"])
    assert totals == pytest.approx(expected)
    book = openpyxl.load_workbook(res.paths["excel"], read_only=True)
    about = list(book["about"].values)
    described = {row[1] for row in about[1:]}
    csvs = {p.stem for p in res.paths["tables"].glob("*.csv")}
    assert csvs | {"provenance"} == described
    assert all(all(cell for cell in row[:6]) for row in about)  # nothing left blank


@pytest.mark.qgis
def test_real_geopackage_opens_styled_in_qgis(result, tmp_path):
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            "python3-qgis is not installed (apt-get install -y "
            "--no-install-recommends python3-qgis qgis-providers)"
        )
    res, _ = result
    script = Path(__file__).with_name("qgis_check.py")
    out = subprocess.run(
        [
            "/usr/bin/python3",
            str(script),
            str(res.paths["gpkg"]),
            str(tmp_path / "qgis.png"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    layers = report["layers"]
    assert all(info["valid"] for info in layers.values())
    assert layers["regions"]["renderer"] == "graduatedSymbol"
    assert layers["catchments"]["renderer"] == "categorizedSymbol"
    assert report["saved"] and (tmp_path / "qgis.png").stat().st_size > 5_000


def test_panel_in_one_border_configuration(result):
    res, _ = result
    decay = res.panel["decay_by_year"]
    assert list(decay["year"]) == res.data.years
    assert (decay["n_units"] == 16).all() and (decay["borders"] == "2010").all()
    assert (decay["beta"] < 0).all()
    params = res.panel["params"].set_index("parameter")
    assert {"beta", "destination:log_population"} <= set(params.index)
    tables = res.paths["tables"]
    assert (tables / "decay_by_year.csv").exists() and (
        tables / "gravity_panel.csv"
    ).exists()


def test_moran_only_run_computes_and_writes_only_the_moran_suite(result, tmp_path):
    from kzspatial.study.moran_suite import MoranSuite

    full, options = result
    moran = run(
        RunOptions(
            out_dir=tmp_path / "moran",
            permutations=options.permutations,
            seed=options.seed,
            products=frozenset({"tables"}),
            analyses=frozenset({"moran"}),
        )
    )
    assert moran.gravity is None and moran.catchments is None and moran.panel is None
    assert isinstance(moran.moran, MoranSuite)
    written = {p.name for p in moran.paths["tables"].glob("*.csv")}
    assert written == {
        "moran_by_year.csv",
        "moran_bivariate.csv",
        "flow_moran.csv",
        "indicators.csv",
        "data_check.csv",
        "data_check_summary.csv",
    }
    # the residuals fitted alone equal those of the full gravity suite, so every table
    # the moran-only run writes is the full run's table, byte for byte
    for name in written:
        assert (moran.paths["tables"] / name).read_bytes() == (
            full.paths["tables"] / name
        ).read_bytes(), name


def test_unknown_analysis_is_refused(tmp_path):
    from kzspatial._errors import ValidationError

    with pytest.raises(ValidationError, match="unknown analyses"):
        run(RunOptions(out_dir=tmp_path, analyses=frozenset({"lisa"})))
