"""``kzspatial scenario FILE`` and ``kzspatial run --scenario FILE`` on the real data.

Markers ``cli`` and ``data``: the commands run in a subprocess; the checks recompute
what they can from the OD file through the loaders (the out-migrants a
production-constrained model holds fixed) or from the other written products (the
nets from the flows, the explorer's total from the table).
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from test_cli import kzspatial  # the command in a subprocess

pytestmark = [pytest.mark.cli, pytest.mark.data]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
NORTH = ("North Kazakhstan", "Kostanay", "Pavlodar", "Akmola")


@pytest.fixture(scope="module")
def north(tmp_path_factory):
    """The north_grp example with the draws and seed overridden on the command line."""
    root = tmp_path_factory.mktemp("scenario")
    out = kzspatial(
        "scenario",
        str(EXAMPLES / "north_grp.toml"),
        "--out",
        "o",
        "--draws",
        "400",
        "--seed",
        "11",
        cwd=root,
    )
    assert out.returncode == 0, out.stderr
    return root / "o", out


def _nets(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "tables/scenario_nets.csv").set_index("region_id")


def test_every_product_written(north):
    out, _ = north
    for path in (
        "tables/scenario_flows.csv",
        "tables/scenario_nets.csv",
        "tables/scenario_coefficients.csv",
        "scenario.gpkg",
        "maps/flows.html",
        "study.html",
    ):
        assert (out / path).stat().st_size > 0, path
    # the scenario command writes its own products only: no run GeoPackage, no rasters
    assert not (out / "kzspatial.gpkg").exists()
    assert not list(out.glob("*.tif"))


def test_tables_hold_what_the_model_holds_fixed(north):
    from kzspatial.datasets.migration import load_od_flows
    from kzspatial.datasets.regions import resolve

    out, _ = north
    nets = _nets(out)
    flows = pd.read_csv(out / "tables/scenario_flows.csv")
    od = load_od_flows(years=(2024,))
    od = od[od["origin"] != od["destination"]]
    # production-constrained: every region keeps its observed 2024 out-migrants
    observed_out = od.groupby("origin")["flow"].sum()
    assert_allclose(nets["out_scenario"], observed_out.reindex(nets.index), rtol=1e-9)
    assert_allclose(nets["out_baseline"], observed_out.reindex(nets.index), rtol=1e-9)
    assert abs(nets["net_change"].sum()) < 1e-6 * nets["in_baseline"].sum()
    # the nets are the flows' in minus out
    change = (
        flows.groupby("destination")["change"]
        .sum()
        .sub(flows.groupby("origin")["change"].sum(), fill_value=0)
    )
    assert_allclose(nets["net_change"], change.reindex(nets.index), atol=1e-6)
    # direction: the sign of the fitted pull elasticity of GRP per capita
    coef = pd.read_csv(out / "tables/scenario_coefficients.csv").set_index("parameter")
    gamma = coef.loc["destination:log_grp_per_capita", "coef"]
    north_ids = [resolve(r) for r in NORTH]
    assert (np.sign(nets.loc[north_ids, "net_change"]) == np.sign(gamma)).all()
    assert (np.sign(nets.drop(north_ids)["net_change"]) == -np.sign(gamma)).all()
    assert (nets["net_change_low"] <= nets["net_change"]).all()
    assert (nets["net_change"] <= nets["net_change_high"]).all()


def test_summary_on_stdout_matches_the_table(north):
    out, proc = north
    nets = _nets(out).set_index("name")
    assert "Held fixed" in proc.stdout and "out-migrants" in proc.stdout
    assert "400 draws" in proc.stdout and "seed 11" in proc.stdout
    printed = dict(
        re.findall(r"^(\S.*?)\s+([+-][\d,]+)\s+[+-][\d,]+ to ", proc.stdout, re.M)
    )
    assert len(printed) == 20
    for name, value in printed.items():
        assert int(value.replace(",", "")) == round(nets.loc[name, "net_change"])
    assert "kzspatial: finished" not in proc.stdout  # logs go to stderr


def test_geopackage_layer_styled_diverging_on_net_change(north):
    import pyogrio

    out, _ = north
    gpkg = out / "scenario.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers["scenario_nets"] == "MultiPolygon"
    assert {"scenario_flows", "scenario_coefficients", "provenance"} <= set(layers)
    frame = pyogrio.read_dataframe(gpkg, layer="scenario_nets")
    nets = _nets(out)
    assert len(frame) == 20
    assert_allclose(
        frame.set_index("region_id")["net_change"].reindex(nets.index),
        nets["net_change"],
    )
    with sqlite3.connect(gpkg) as con:
        qml = con.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = 'scenario_nets'"
        ).fetchone()[0]
        title, abstract = con.execute(
            "SELECT identifier, description FROM gpkg_contents "
            "WHERE table_name = 'scenario_nets'"
        ).fetchone()
    assert 'attr="net_change"' in qml
    ranges = [
        (float(lo), float(hi))
        for lo, hi in re.findall(r'<range [^>]*lower="([^"]+)" upper="([^"]+)"', qml)
    ]
    # zero is a class break: colours change sign where the net change does
    assert any(hi == 0 for _, hi in ranges) and any(lo == 0 for lo, _ in ranges)
    # every region falls into a class (QGIS draws nothing for a value outside all)
    for value in nets["net_change"]:
        assert any(lo <= value <= hi for lo, hi in ranges), value
    for lo, hi in ranges:  # a class holds values of one sign only
        assert hi <= 0 or lo >= 0
    assert title == "Scenario: GRP per capita +20 % in the northern oblasts"
    assert "out-migrants" in abstract
    info = pyogrio.read_info(gpkg, layer="scenario_nets")
    assert info["layer_metadata"]["draws"] == "400"
    assert info["layer_metadata"]["seed"] == "11"


def test_study_report_has_the_scenario_section(north):
    out, _ = north
    html = (out / "study.html").read_text(encoding="utf-8")
    assert "Scenario: GRP per capita +20 % in the northern oblasts" in html
    assert "out-migrants" in html
    assert "Karaganda" in html  # the rest of the study report is there too


@pytest.mark.browser
def test_explorer_scenario_mode_renders_with_the_tables_total(north, browser, tmp_path):
    out, _ = north
    flows = pd.read_csv(out / "tables/scenario_flows.csv")
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("http*://**", lambda route: route.abort())
    page.goto((out / "maps/flows.html").as_uri())
    page.wait_for_selector(".kz-explorer")
    years = page.evaluate("kzExplorer.instance.data.years")
    page.evaluate(f"kzExplorer.instance.setYearIndex({years.index(2024)})")
    page.select_option(".kz-mode", "scenario")
    state = page.evaluate(
        "Object.assign({}, document.querySelector('.kz-explorer').dataset)"
    )
    assert state["mode"] == "scenario" and state["year"] == "2024"
    assert int(state["drawn"]) == page.locator("path.kz-arc").count() > 0
    # the page rounds each flow to 2 decimals: 380 pairs move the total by < 2
    assert abs(float(state["modeTotal"]) - flows["scenario"].sum()) < 2
    legend = page.locator(".kz-legend-flows").inner_text()
    assert "northern oblasts" in legend
    page.screenshot(path=str(tmp_path / "scenario.png"))
    page.close()
    assert not errors


def test_second_run_refuses_to_overwrite(north):
    out, _ = north
    again = kzspatial("scenario", str(EXAMPLES / "north_grp.toml"), "--out", str(out))
    assert again.returncode == 2
    assert "--overwrite" in again.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[scenario]\nmodel = "production"\n[[shock]]\nvariable = "gdp"\n'
            'regions = ["Kostanay"]\nchange = "+20%"\n',
            r"bad\.toml: \[\[shock\]\] #1: unknown variable 'gdp'",
        ),
        (
            '[scenario]\nmodel = "production"\n[[shock]]\n'
            'variable = "grp_per_capita"\nregions = ["Atlantis"]\nchange = "+20%"\n',
            r"bad\.toml: \[\[shock\]\] #1: .*Atlantis",
        ),
        ('[scenario\nmodel = "production"\n', r"bad\.toml: not a valid TOML file"),
    ],
)
def test_bad_scenario_file_exits_2_naming_the_entry(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    out = kzspatial("scenario", "bad.toml", "--out", "o", cwd=tmp_path)
    assert out.returncode == 2
    assert re.search(message, out.stderr), out.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scenario", "{file}", "--draws", "5"], r"scenario_draws=5.*--draws"),
        (["scenario", "{file}", "--seed", "-1"], r"scenario_seed=-1.*--seed"),
        (["run", "--scenario", "{file}", "--borders", "2018"], r"borders='2018'"),
        (["run", "--scenario", "{file}", "--year", "2024"], r"--year 2023"),
        (["scenario", "missing.toml"], r"scenario file missing\.toml does not exist"),
    ],
)
def test_bad_options_exit_2_before_any_work(tmp_path, args, message):
    file = str(EXAMPLES / "north_grp.toml")
    out = kzspatial(*(a.format(file=file) for a in args), "--out", "o", cwd=tmp_path)
    assert out.returncode == 2
    assert re.search(message, out.stderr), out.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_scenario_command_has_help():
    out = kzspatial("scenario", "--help")
    assert out.returncode == 0 and "--draws" in out.stdout


@pytest.mark.slow
def test_run_with_a_scenario_adds_it_to_the_run_products(tmp_path):
    out = kzspatial(
        "run",
        "--scenario",
        str(EXAMPLES / "rail_link_astana_hub.toml"),
        "--permutations",
        "9",
        "--cell-km",
        "50",
        "--out",
        "o",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    import pyogrio

    root = tmp_path / "o"
    nets = _nets(root)
    flows = pd.read_csv(root / "tables/scenario_flows.csv")
    # unconstrained: the Pavlodar-Astana pair, 30 % closer, gains in both directions
    pairs = flows.set_index(["origin_name", "destination_name"])["change"]
    assert pairs[("Pavlodar", "Astana city")] > 0
    assert pairs[("Astana city", "Pavlodar")] > 0
    # the GeoPackage of the run holds the styled layer beside the run's layers
    gpkg = root / "kzspatial.gpkg"
    layers = dict(pyogrio.list_layers(gpkg))
    assert layers["scenario_nets"] == "MultiPolygon" and "regions" in layers
    with sqlite3.connect(gpkg) as con:
        qml = con.execute(
            "SELECT styleQML FROM layer_styles WHERE f_table_name = 'scenario_nets'"
        ).fetchone()[0]
    assert 'attr="net_change"' in qml
    frame = pyogrio.read_dataframe(gpkg, layer="scenario_nets")
    assert_allclose(
        frame.set_index("region_id")["net_change"].reindex(nets.index),
        nets["net_change"],
    )
    # the explorer's scenario mode carries the table's flows of 2024
    html = (root / "maps/flows.html").read_text(encoding="utf-8")
    data = json.loads(
        re.search(
            r'<script type="application/json" id="kz-explorer-data">(.*?)</script>',
            html,
            re.S,
        ).group(1)
    )
    assert "Pavlodar-Astana rail link" in data["scenario"]["label"]
    k = data["years"].index(2024)
    assert abs(sum(data["scenario"]["flows"][k]["v"]) - flows["scenario"].sum()) < 2
    assert all(
        item is None
        for y, item in zip(data["years"], data["scenario"]["flows"], strict=True)
        if y != 2024
    )
    html = (root / "study.html").read_text(encoding="utf-8")
    assert "Scenario: Pavlodar-Astana rail link" in html
    # the workbook describes the scenario tables
    about = pd.read_excel(root / "kzspatial_tables.xlsx", sheet_name=0)
    described = set(about.iloc[:, 0])
    assert {"scenario_flows", "scenario_nets", "scenario_coefficients"} <= described
