"""Flow maps rendered in a real headless Chromium with every network request aborted.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and the playwright Python
package; no ``playwright install`` is needed, the system browser is used. The
``browser`` fixture is in ``conftest.py``.
"""

import kz_synthetic as syn
import pytest

from kzspatial.render.maps import flow_map, save_map

pytestmark = pytest.mark.browser

Image = pytest.importorskip(
    "PIL.Image", reason="Pillow is needed to inspect screenshots"
)

N_FLOWS = 80


@pytest.fixture(scope="module")
def map_html(tmp_path_factory):
    regions = syn.regions()
    m = flow_map(
        regions,
        syn.od_flows(regions),
        top_n=N_FLOWS,
        hubs=syn.HUB_IDS,
        catchments=syn.catchments(regions),
        tiles="OpenStreetMap",
    )
    folder = tmp_path_factory.mktemp("maps")
    return {
        "offline": save_map(m, folder / "offline.html"),
        "online": save_map(m, folder / "online.html", offline=False),
    }


def _open(browser, path):
    """Load ``path`` with http(s) requests aborted; return the page and JS errors."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("http*://**", lambda route: route.abort())
    page.goto(path.as_uri())
    page.wait_for_timeout(500)
    return page, errors


def test_offline_map_renders_without_network(browser, map_html, tmp_path):
    page, errors = _open(browser, map_html["offline"])
    try:
        assert errors == []
        assert page.evaluate("typeof L !== 'undefined'")
        assert page.locator("path.kz-flow").count() == N_FLOWS
        assert page.locator(".legend svg").count() >= 1  # branca colour legend (d3)
        assert page.locator(".kz-legend", has_text="arrow at destination").is_visible()
        # the catchment layer is off by default, and its legend with it
        assert page.locator(".kz-legend", has_text="Catchments").count() == 0
        assert page.locator(".leaflet-control-layers").is_visible()
        assert page.locator(".kz-map-fallback").count() == 0

        page.locator("path.kz-flow").last.hover(force=True)
        page.wait_for_timeout(200)
        assert "→" in page.locator(".leaflet-tooltip").all_inner_texts()[-1]

        shot = tmp_path / "map.png"
        page.screenshot(path=str(shot))
        image = Image.open(shot).convert("L")
        low, high = image.getextrema()
        assert high - low > 100  # not blank
        assert len(image.getcolors(maxcolors=1 << 16) or []) > 20
    finally:
        page.close()


def test_catchment_legend_follows_its_layer(browser, map_html):
    page, errors = _open(browser, map_html["offline"])
    try:
        legend = page.locator(".kz-legend", has_text="Catchments")
        toggle = page.locator(
            ".leaflet-control-layers-overlays label", has_text="Catchments"
        )
        page.locator(".leaflet-control-layers").hover()
        toggle.locator("input").check()
        page.wait_for_timeout(200)
        assert legend.count() == 1 and legend.is_visible()
        toggle.locator("input").uncheck()
        page.wait_for_timeout(200)
        assert legend.count() == 0
        assert errors == []
    finally:
        page.close()


def test_cdn_map_without_network_shows_fallback_message(browser, map_html):
    page, errors = _open(browser, map_html["online"])
    try:
        assert any("L is not defined" in e for e in errors)
        assert page.locator(".kz-map-fallback").is_visible()
    finally:
        page.close()
