"""Hostile names through every layer of every map and the report, in headless Chromium.

Region names and ids, hub and catchment names, titles and report labels are replaced
by strings that run script if they reach the page as HTML or as code
(``<img onerror>``, ``${...}``, ``</script>``, ...). Each page is opened with the network
blocked, every tooltip and popup is opened (through Leaflet and by hovering and clicking
each feature), and the test proves that no script ran: the flag the payloads would set
stays undefined and no dialog opened. It also proves the names are shown, as text.
"""

import re
from pathlib import Path

import kz_synthetic as syn
import numpy as np
import pandas as pd
import pytest

from kzspatial.core.moran import local_morans, morans_i
from kzspatial.geo.weights import weights_from_geodataframe
from kzspatial.render.maps import flow_map, save_map
from kzspatial.render.report import write_autocorrelation_report
from kzspatial.study.moran_suite import MoranEntry

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

# Each sets window.kzPwned (or opens a dialog) if it runs; the {{ }} ones would be
# evaluated by Jinja on the server side and show as 49.
PAYLOADS = [
    '<img src=x onerror="window.kzPwned=1;alert(1)">',
    '"><img src=x onerror=window.kzPwned=2>',
    "${window.kzPwned=3}",
    "`;window.kzPwned=4;`",
    "</script><script>window.kzPwned=5</script>",
    "<svg onload=window.kzPwned=6>",
    "'-alert(7)-'",
    "{{ 7*7 }}{% if 1 %}x{% endif %}",
    "<!--<script>window.kzPwned=8</script>",
    "a$\\frac{1}{$b&amp;",
]
MODES = ["top", "threshold", "net", "residual"]
_JSON_BLOCK = re.compile(r'<script type="application/json" id="[^"]+">[^<]*</script>')


def hostile(index: int, kind: str) -> str:
    """A payload, made unique by ``kind`` and ``index``."""
    return f"{kind}{index} {PAYLOADS[index % len(PAYLOADS)]}"


@pytest.fixture(scope="module")
def hostile_data():
    regions = syn.regions()
    flows = syn.od_flows(regions)
    new_ids = {r: hostile(i, "id") for i, r in enumerate(regions["region_id"])}
    hub_ids = [new_ids[h] for h in syn.HUB_IDS]
    regions["name_en"] = [hostile(i, "name") for i in range(len(regions))]
    catchments = syn.catchments(regions)  # named after the hubs' hostile names
    regions["region_id"] = regions["region_id"].map(new_ids)
    flows["origin"] = flows["origin"].map(new_ids)
    flows["destination"] = flows["destination"].map(new_ids)
    hub_points = regions[regions["region_id"].isin(hub_ids)][["name_en", "geometry"]]
    hub_points = hub_points.assign(geometry=hub_points.representative_point())
    return regions, flows, hub_ids, catchments, hub_points


# Opens every tooltip and popup bound to a layer (for feature groups: one per feature)
# and returns their texts; a text that is empty fails the caller's checks.
_OPEN_ALL = """
() => {
    const texts = [];
    const name = Object.keys(window).find(k => k.startsWith('map_') && window[k] instanceof L.Map);
    const map = window[name];
    const read = el => el ? el.textContent : '';
    const layers = [];
    map.eachLayer(l => layers.push(l));
    for (const layer of layers) {
        const tooltip = layer.getTooltip && layer.getTooltip();
        const popup = layer.getPopup && layer.getPopup();
        if (!tooltip && !popup) { continue; }
        const children = layer.getLayers ? layer.getLayers() : [layer];
        for (const child of children) {
            const at = child.getLatLng ? child.getLatLng() : child.getBounds().getCenter();
            // the events a pointer sends, propagated to the group as Leaflet does
            if (tooltip) {
                child.fire('mouseover', {latlng: at}, true);
                texts.push(read(tooltip.getElement()));
                child.fire('mouseout', {latlng: at}, true);
            }
            if (popup) {
                child.fire('click', {latlng: at}, true);
                texts.push(read(popup.getElement()));
            }
        }
    }
    return texts;
}
"""


def _visit(browser, path: Path) -> tuple[list[str], str]:
    """Open ``path``, open every tooltip and popup, hover and click every feature.

    Returns the tooltip and popup texts and the page text; fails if script ran.
    """
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("http*://**", lambda route: route.abort())
    try:
        page.goto(path.as_uri())
        page.wait_for_timeout(300)
        texts = []
        if page.evaluate("typeof L !== 'undefined'"):
            # the catchments layer is hidden by default: show every overlay first
            for box in page.locator(".leaflet-control-layers-selector").all():
                if not box.is_checked():
                    box.check()
            texts = page.evaluate(_OPEN_ALL)
            features = page.locator("path.leaflet-interactive")
            for i in range(features.count()):
                features.nth(i).hover(force=True)
                features.nth(i).click(force=True)
            texts += page.locator(".leaflet-tooltip, .leaflet-popup").all_inner_texts()
        page.wait_for_timeout(200)
        assert page.evaluate("typeof window.kzPwned") == "undefined"
        assert dialogs == []
        assert errors == []
        return texts, page.locator("body").inner_text()
    finally:
        page.close()


def _shown(text: str, payload_text: str) -> bool:
    return " ".join(payload_text.split()) in " ".join(text.split())


@pytest.mark.parametrize("mode", MODES)
def test_flow_map_runs_no_script_from_names(browser, hostile_data, mode, tmp_path):
    regions, flows, hub_ids, catchments, hub_points = hostile_data
    m = flow_map(
        regions,
        flows,
        mode=mode,
        top_n=40,
        threshold=50 if mode == "threshold" else None,
        # hubs as region ids, and (net mode) as points labelled by name_col
        hubs=hub_points if mode == "net" else hub_ids,
        catchments=catchments,
        title=hostile(0, "title"),
    )
    html = save_map(m, tmp_path / f"{mode}.html").read_text(encoding="utf-8")
    # Data only in JSON blocks, where no "<" of a payload survives: outside them no
    # payload appears at all (not even one whose "<" would be harmless).
    blocks = re.findall(_JSON_BLOCK, html)
    outside = re.sub(_JSON_BLOCK, "", html)
    assert len(blocks) == 7  # regions, catchments, flows, 3 hubs, legend
    for payload in PAYLOADS:
        assert payload not in outside
        assert not any("<" in payload and payload in b for b in blocks)
    assert "{{ 7*7 }}" in html  # and no Jinja evaluated it

    texts, body = _visit(browser, tmp_path / f"{mode}.html")
    tooltips = "\n".join(texts)
    for i in range(len(regions)):
        assert _shown(tooltips, hostile(i, "name"))  # region tooltips
        assert _shown(tooltips, hostile(i, "id"))
    for hub in catchments["hub"]:
        assert _shown(tooltips, hub)  # catchment tooltips and hub labels
    assert "→" in tooltips and _shown(body, hostile(0, "title"))  # flows, legend


def _entries(regions):
    weights = weights_from_geodataframe(regions, "queen", id_col="region_id")
    y = np.asarray(regions["population"], float)
    rng = np.random.default_rng(3)
    g = morans_i(y, weights, permutations=99, rng=rng)
    local = local_morans(y, weights, permutations=99, rng=rng)
    codes = {"High-High": "HH", "Low-Low": "LL", "Low-High": "LH", "High-Low": "HL"}
    entry = MoranEntry(
        variable="population",
        label=hostile(9, "label"),  # "$...$": would be mathtext
        weights_name=hostile(2, "weights"),
        year=2024,
        ids=weights.ids,
        names=tuple(regions.set_index("region_id").loc[list(weights.ids), "name_en"]),
        y=y,
        weights=weights,
        global_=g,
        local=local,
        # every region in a cluster, so every name is listed in the text
        cluster_labels=tuple(codes.get(str(lab), "HH") for lab in local.labels),
        fdr=None,
    )
    return [entry], {hostile(3, "wname"): weights}


def test_report_runs_no_script_from_names(browser, hostile_data, tmp_path):
    regions = hostile_data[0]
    entries, weights = _entries(regions)
    by_year = pd.DataFrame(
        {
            "year": [2023, 2024],
            "variable": "population",
            "label": hostile(4, "label"),
            "weights": "queen",
            "I": [0.1, 0.2],
            "p_sim": [0.5, 0.1],
        }
    )
    extra = pd.DataFrame({hostile(5, "col"): [hostile(6, "cell")]})
    path = tmp_path / "report.html"
    write_autocorrelation_report(
        path,
        entries=entries,
        by_year=by_year,
        regions=regions,
        weights=weights,
        provenance=[
            {
                k: hostile(i, k)
                for i, k in enumerate(
                    ("title", "concept", "unit", "licence", "citation", "attribution")
                )
            }
        ],
        seed=1,
        permutations=99,
        borders_note=hostile(7, "note"),
        extra_tables=[("extra", hostile(8, "xtitle"), hostile(1, "xnote"), extra)],
        title=hostile(0, "report"),
    )
    _, body = _visit(browser, path)
    for text in (
        hostile(0, "report"),
        hostile(9, "label"),
        hostile(2, "weights"),
        hostile(3, "wname"),
        hostile(4, "label"),
        hostile(5, "col"),
        hostile(6, "cell"),
        hostile(7, "note"),
        hostile(8, "xtitle"),
        hostile(1, "xnote"),
        hostile(0, "title"),
        hostile(5, "attribution"),
        *regions["name_en"],
    ):
        assert _shown(body, text), text
