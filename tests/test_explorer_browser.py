"""The flow explorer driven in a real headless Chromium, every network request aborted.

Needs Debian's ``chromium`` and the playwright Python package (the system browser is
used; no ``playwright install``); the ``browser`` fixture is in ``conftest.py``. Screenshots of every mode go to pytest's tmp_path.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from kzspatial.render.explorer import EXPLORER_MODES, explorer_map
from kzspatial.render.maps import save_map

pytestmark = pytest.mark.browser

HOSTILE = {
    "Z00": "<img src=x onerror=window.__pwned=1>",
    "Z01": "${alert(1)}",
    "Z02": "</script><script>window.__pwned=1</script>",
}
HUBS = ["Z00", "Z01", "Z07"]
YEARS = (2018, 2019, 2020, 2021)


def grid_regions(cols: int = 5, rows: int = 4) -> gpd.GeoDataFrame:
    """``cols * rows`` squares of 2 degrees over Kazakhstan, three with hostile names."""
    ids = [f"Z{i:02d}" for i in range(cols * rows)]
    return gpd.GeoDataFrame(
        {
            "region_id": ids,
            "name_en": [HOSTILE.get(r, f"Zone {r}") for r in ids],
        },
        geometry=[
            shapely.box(55 + 3 * c, 42 + 3 * r, 57 + 3 * c, 44 + 3 * r)
            for r in range(rows)
            for c in range(cols)
        ],
        crs="EPSG:4326",
    )


def inputs(regions: gpd.GeoDataFrame) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    ids = regions["region_id"].to_numpy()
    o, d = np.nonzero(~np.eye(len(ids), dtype=bool))
    frames = []
    for year in YEARS:
        fitted = rng.gamma(2.0, 150.0, len(o))
        frames.append(
            pd.DataFrame(
                {
                    "year": year,
                    "origin": ids[o],
                    "destination": ids[d],
                    "flow": rng.poisson(fitted),
                    "fitted": fitted.round(2),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    population = pd.DataFrame(
        {
            "year": np.repeat(YEARS[:-1], len(ids)),  # the last year borrows
            "region_id": np.tile(ids, len(YEARS) - 1),
            "population": rng.integers(50_000, 900_000, len(ids) * (len(YEARS) - 1)),
        }
    )
    scenario = table[table["year"] == YEARS[-1]][["origin", "destination", "flow"]]
    return {
        "od": table[["year", "origin", "destination", "flow"]],
        "fitted": table[["year", "origin", "destination", "fitted"]],
        "population": population,
        "scenario": scenario.assign(flow=scenario["flow"] * 2),
    }


@pytest.fixture(scope="module")
def page_data(tmp_path_factory):
    regions = grid_regions()
    data = inputs(regions)
    m = explorer_map(
        regions,
        data["od"],
        population=data["population"],
        fitted=data["fitted"],
        scenario=data["scenario"],
        scenario_label="Doubled",
        hubs=HUBS,
        title=HOSTILE["Z02"],
    )
    path = save_map(m, tmp_path_factory.mktemp("explorer") / "flows.html")
    return {"path": path, "regions": regions, **data}


@pytest.fixture
def page(browser, page_data):
    """The explorer opened with http(s) aborted; fails on any JS or console error."""
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    page.route("http*://**", lambda route: route.abort())
    page.goto(page_data["path"].as_uri())
    page.wait_for_selector(".kz-explorer")
    yield page
    assert errors == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.close()


def state(page) -> dict[str, str]:
    return page.evaluate(
        "Object.assign({}, document.querySelector('.kz-explorer').dataset)"
    )


def set_number(page, selector: str, value: float) -> None:
    page.fill(selector, str(value))
    page.press(selector, "Enter")


def test_year_slider_draws_that_years_flows(page, page_data):
    od = page_data["od"]
    set_number(page, ".kz-topn", 1000)  # every flow of a year
    for index, year in enumerate(YEARS):
        page.fill(".kz-year-slider", str(index))
        expected = int(od.loc[od["year"] == year, "flow"].sum())
        positive = int((od.loc[od["year"] == year, "flow"] > 0).sum())
        now = state(page)
        assert now["year"] == str(year)
        assert float(now["yearTotal"]) == expected
        assert float(now["drawnTotal"]) == expected
        assert int(now["drawn"]) == positive == page.locator("path.kz-arc").count()
        assert f"{expected:,}" in page.locator(".kz-summary").inner_text()


def test_top_n_and_threshold_limit_the_drawn_flows(page, page_data):
    od = page_data["od"]
    last = od[od["year"] == YEARS[-1]]
    set_number(page, ".kz-topn", 7)
    largest = last["flow"].nlargest(7).sum()
    assert int(state(page)["drawn"]) == 7 == page.locator("path.kz-arc").count()
    assert float(state(page)["drawnTotal"]) == largest
    set_number(page, ".kz-topn", 1000)
    threshold = float(last["flow"].quantile(0.9))
    set_number(page, ".kz-threshold", threshold)
    assert int(state(page)["drawn"]) == int((last["flow"] >= threshold).sum())


@pytest.mark.parametrize("direction", ["out", "in"])
def test_choosing_a_region_leaves_only_its_flows(page, page_data, direction):
    od = page_data["od"]
    last = od[(od["year"] == YEARS[-1]) & (od["flow"] > 0)]
    set_number(page, ".kz-topn", 1000)
    page.select_option(".kz-region", label="Zone Z12")
    page.select_option(".kz-direction", direction)
    column = "origin" if direction == "out" else "destination"
    mine = last[last[column] == "Z12"]
    now = state(page)
    assert now["region"] == "Z12"
    assert int(now["drawn"]) == len(mine) == page.locator("path.kz-arc").count()
    assert float(now["drawnTotal"]) == mine["flow"].sum()
    panel = page.locator(".kz-panel").inner_text()
    inflow = int(last.loc[last["destination"] == "Z12", "flow"].sum())
    outflow = int(last.loc[last["origin"] == "Z12", "flow"].sum())
    assert f"{inflow:,}" in panel and f"{outflow:,}" in panel
    assert f"{inflow - outflow:,}" in panel


def test_clicking_a_region_selects_it(page):
    set_number(page, ".kz-threshold", 1e9)  # no arcs in the way of the click
    box = page.evaluate(
        """() => {
          const ex = kzExplorer.instance; let point = null;
          ex.regions.eachLayer(l => { if (l.feature.properties.i === 18) {
            point = ex.map.latLngToContainerPoint(l.getBounds().getCenter()); } });
          const rect = ex.map.getContainer().getBoundingClientRect();
          return [rect.left + point.x, rect.top + point.y + 12];
        }"""
    )
    page.mouse.click(*box)
    assert state(page)["region"] == "Z18"
    assert page.locator(".kz-panel").is_visible()


def test_every_mode_renders(page, tmp_path):
    options = page.eval_on_selector_all(".kz-mode option", "os => os.map(o => o.value)")
    assert options == list(EXPLORER_MODES)
    for mode in options:
        page.select_option(".kz-mode", mode)
        now = state(page)
        assert now["mode"] == mode
        assert int(now["drawn"]) == page.locator("path.kz-arc").count() > 0
        legend = page.locator(".kz-legend-flows").inner_text()
        assert legend.strip()
        if mode == "residual":
            assert "persons" in legend and "Pearson" not in legend
        if mode == "pearson":
            assert "Pearson" in legend and "no unit" in legend
        # colour-bar ticks never overlap and stay inside the legend box
        ticks = page.eval_on_selector_all(
            ".kz-tick", "ts => ts.map(t => t.getBoundingClientRect().toJSON())"
        )
        outer = page.locator(".kz-legend").bounding_box()
        for a, b in itertools.pairwise(ticks):
            assert a["right"] <= b["left"]
        assert ticks[0]["left"] >= outer["x"]
        assert ticks[-1]["right"] <= outer["x"] + outer["width"]
        page.screenshot(path=str(tmp_path / f"explorer-{mode}.png"))


def test_play_advances_the_year(page):
    page.fill(".kz-year-slider", "0")
    page.click(".kz-play")
    page.wait_for_function(
        f"document.querySelector('.kz-explorer').dataset.year !== '{YEARS[0]}'",
        timeout=5000,
    )
    page.click(".kz-play")
    assert int(state(page)["year"]) > YEARS[0]


def test_legends_follow_their_layers(page):
    page.hover(".leaflet-control-layers")
    assert page.locator(".kz-legend-flows").is_visible()
    page.locator(".leaflet-control-layers").get_by_text("Flows", exact=True).click()
    assert not page.locator(".kz-legend-flows").is_visible()
    assert page.locator("path.kz-arc").count() == 0
    page.locator(".leaflet-control-layers").get_by_text("Flows", exact=True).click()
    assert page.locator(".kz-legend-flows").is_visible()


def test_hostile_names_run_no_script(page, page_data, tmp_path):
    names = page.eval_on_selector_all(".kz-region option", "os => os.map(o => o.text)")
    assert set(HOSTILE.values()) <= set(names)  # shown as text, intact
    assert page.locator(".kz-title").inner_text() == HOSTILE["Z02"]
    set_number(page, ".kz-topn", 1000)
    for region in HOSTILE:
        page.select_option(".kz-region", str(int(region[1:])))  # value = position
        assert HOSTILE[region] in page.locator(".kz-panel").inner_text()
        page.locator("path.kz-arc").last.hover(force=True)
    for i in range(len(page_data["regions"])):
        # open every region tooltip (sticky tooltips open on mouseover)
        page.evaluate(
            """i => kzExplorer.instance.regions.eachLayer(
                 l => { if (l.feature.properties.i === i) l.openTooltip(); })""",
            i,
        )
    tips = page.locator(".leaflet-tooltip").all_inner_texts()
    assert any(HOSTILE["Z00"] in t for t in tips)
    assert page.locator("img[src=x]").count() == 0
    page.screenshot(path=str(tmp_path / "explorer-hostile.png"))


@pytest.mark.data
def test_real_regions_and_years(browser, tmp_path):
    import kzspatial as kz

    regions = kz.load_boundaries()
    od = kz.load_od_flows()
    m = explorer_map(regions, od, hubs=["KZ-71", "KZ-75", "KZ-79"])
    path = save_map(m, tmp_path / "flows.html")
    assert path.stat().st_size < 3e6
    page = browser.new_page(viewport={"width": 1280, "height": 820})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("http*://**", lambda route: route.abort())
    page.goto(path.as_uri())
    page.wait_for_selector(".kz-explorer")
    set_number(page, ".kz-topn", 1000)
    years = sorted(od["year"].unique())
    for index, year in enumerate(years):
        page.fill(".kz-year-slider", str(index))
        now = state(page)
        assert now["year"] == str(year)
        assert float(now["drawnTotal"]) == od.loc[od["year"] == year, "flow"].sum()
    page.screenshot(path=str(tmp_path / "explorer-real.png"))
    page.close()
    assert errors == []
