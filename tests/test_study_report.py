"""The study report: escaping, optional sections, atomic output; real data in Chromium."""

import re
from pathlib import Path

import pandas as pd
import pytest

from kzspatial._errors import OverwriteError
from kzspatial.render.study_report import (
    _compact_rates,
    _compact_years,
    _table_html,
    _year_axis,
    write_study_report,
)

EXAMPLES = Path(__file__).parents[1] / "examples" / "published"
CHROMIUM = Path("/usr/bin/chromium")


def _inputs(evil="<script>alert(1)</script>"):
    years = [2023, 2024]
    national = pd.DataFrame(
        {
            "year": years,
            "period": "full year",
            "months": "",
            "od_status": "checked",
            "moves_between_regions": [400.0, 500.0],
            "moves_within_republic": [900.0, 1000.0],
            "share_to_astana": [0.2, 0.25],
            "share_to_three_cities": [0.5, 0.5],
            "urban_share": [0.6, 0.61],
            "urban_share_note": "1 January",
        }
    )
    rates = pd.DataFrame(
        {
            "year": years * 2,
            "unit": ["KZ-71"] * 2 + ["KZ-11"] * 2,
            "net_rate": [9, 8, -3, -4],
        }
    )
    typology = pd.DataFrame(
        {
            "level": "region",
            "unit": ["KZ-71", "KZ-11"],
            "name": [evil, "Akmola"],
            "class": ["persistent gainer", "persistent loser"],
            "mean_rate": [8.5, -3.5],
            "min_rate": [8, -4],
            "max_rate": [9, -3],
            "rates": "",
            "rule": "a rule",
        }
    )
    claims = pd.DataFrame({"region_group": [evil], "verdict": ["refuted"], "rule": "r"})
    inequality = pd.DataFrame(
        {
            "year": [2021, 2022],
            "max_min_ratio": [11.0, 12.0],
            "gini": [0.3, 0.31],
            "gini_weighted": [0.32, 0.33],
            "theil": [0.2, 0.21],
            "theil_weighted": [0.22, 0.23],
        }
    )
    empty = pd.DataFrame({"x": []})
    return {
        "national": national,
        "region_rates": rates,
        "typology": typology,
        "claims": claims,
        "inequality": inequality,
        "inequality_trend": empty,
        "correlation": empty,
        "elasticities": empty,
    }


def test_report_escapes_and_has_no_scenario_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    written = write_study_report(tmp_path / "study.html", **_inputs())
    html = written["html"].read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "1970-01-01 00:00 UTC" in html
    assert "Scenario" not in html and "Published figures beside" not in html
    assert html.count("data:image/png;base64,") == 6
    assert (written["files"] / "study_claims.csv").exists()
    with pytest.raises(OverwriteError):
        write_study_report(tmp_path / "study.html", **_inputs())


def test_scenario_section_when_given(tmp_path):
    scenario = {
        "title": "Scenario: rail link",
        "note": "n",
        "table": pd.DataFrame({"a": [1]}),
    }
    written = write_study_report(tmp_path / "s.html", scenario=scenario, **_inputs())
    assert "Scenario: rail link" in written["html"].read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "compact"),
    [
        ("2010, 2015, 2020, 2021, 2023, 2024", "2010, 2015, 2020–21, 2023–24"),
        ("2020, 2021, 2022", "2020–22"),
        ("2024", "2024"),
        ("1999, 2000", "1999–00"),
        ("not years", "not years"),
    ],
)
def test_year_lists_are_compact_and_unbreakable(text, compact):
    out = _compact_years(text)
    assert out.replace("\u00a0", " ").replace("\u2060", "") == compact
    # no ordinary space, and every dash between word joiners: the cell never wraps
    assert (" " not in out) or out == text
    assert out.count("–") == out.count("\u2060–\u2060")


def test_rates_keep_every_year_in_order():
    text = "2010: +21.16; 2015: -0.27; 2020: +0.04"
    assert _compact_rates(text) == "+21.2\u00a0−0.3\u00a0+0.0"
    assert _compact_rates("rates unknown") == "rates unknown"


def test_only_prose_cells_wrap():
    frame = pd.DataFrame(
        {
            "region": ["Karaganda region"],
            "reading": ["Karaganda in its borders before June 2022, with Ulytau <b>"],
            "years": ["2010, 2015, 2020, 2021, 2023, 2024"],
            "rates": ["2010: +21.16; 2015: -0.27; 2020: +0.04"],
            "n": [123456789012345678901234567],
        }
    )
    html = _table_html(frame)
    prose = html.split('<td class="prose">')
    assert len(prose) == 2  # the reading only: not the name, years, rates or number
    assert prose[1].startswith("Karaganda in its borders") and "&lt;b&gt;" in prose[1]


def test_national_table_counts_and_shares(tmp_path):
    inputs = _inputs()
    inputs["national"]["moves_between_regions"] = [169_900.0, 1_234_567.0]
    html = write_study_report(tmp_path / "s.html", **inputs)["html"].read_text(
        encoding="utf-8"
    )
    national = html[html.index("<h2>1. Trends") : html.index("Year status of")]
    # the inline figures' base64 may hold any few characters, "e+0" too
    national = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", national)
    assert "169,900" in national and "1,234,567" in national
    assert "e+0" not in national
    assert "25.0\u00a0%" in national and "61.0\u00a0%" in national  # ×100 once
    # the CSV keeps numbers
    csv = pd.read_csv(tmp_path / "s_files" / "study_national.csv")
    assert csv["moves_between_regions"].tolist() == [169_900, 1_234_567]


@pytest.mark.parametrize("years", [[2008, 2015, 2022], [2023, 2024]])
def test_year_axis_ticks_are_whole_years(years):
    import matplotlib.pyplot as plt

    # without _year_axis, matplotlib ticks these at 2007.5... and 2023.2...
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(years, range(len(years)))
    _year_axis(ax)
    fig.canvas.draw()
    ticks = ax.get_xticks()
    labels = [label.get_text() for label in ax.get_xticklabels()]
    plt.close(fig)
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert all("." not in label for label in labels)


@pytest.fixture(scope="module")
def real_report(tmp_path_factory):
    import warnings

    from kzspatial.datasets.macro_regions import load_macro_regions
    from kzspatial.datasets.migration import load_monthly_migration, load_od_flows
    from kzspatial.datasets.population import load_population
    from kzspatial.datasets.regional_stats import load_grp_per_capita
    from kzspatial.datasets.regions import configuration_ids
    from kzspatial.study import inequality, published, trends, typology

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        od_all = load_od_flows(
            (2010, 2015, 2020, 2021, 2022, 2023, 2024, 2025), include_2022=True
        )
    od, pop, grp = load_od_flows(), load_population(), load_grp_per_capita()
    macro = load_macro_regions()
    national = trends.national_trends(
        od_all, monthly=load_monthly_migration(annual=False), population=pop
    )
    table = inequality.grp_inequality(grp, pop)
    path = tmp_path_factory.mktemp("study") / "study.html"
    write_study_report(
        path,
        national=national,
        region_rates=trends.group_rates(od, pop, {r: r for r in configuration_ids()}),
        typology=typology.balance_typology(od, pop, macro),
        claims=typology.check_balance_claims(
            pd.read_csv(EXAMPLES / "study_table2_regional_balance.csv"), od, pop, macro
        ),
        inequality=table,
        inequality_trend=inequality.inequality_trend(table),
        correlation=inequality.migration_grp_correlation(od, pop, grp),
        elasticities=inequality.push_pull_elasticities(pd.DataFrame()),
        published=published.check_published(
            published.read_published(EXAMPLES / "study_table6_published_figures.csv"),
            national=national,
        ),
    )
    return path


@pytest.mark.data
@pytest.mark.browser
def test_real_report_in_chromium(real_report):
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            errors, requests = [], []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" else None,
            )
            page.on("request", lambda r: requests.append(r.url))
            page.goto(real_report.as_uri())
            page.wait_for_load_state("load")
            assert errors == []
            assert all(u.startswith(("file:", "data:")) for u in requests)
            widths = page.eval_on_selector_all(
                "img", "els => els.map(e => e.naturalWidth)"
            )
            assert len(widths) == 6 and min(widths) > 100  # every figure decoded
            text = page.inner_text("body")
            assert "Karaganda region" in text and "refuted" in text
            assert "all moves within the republic" in text
            # prose cells wrap in a readable column instead of a few letters per line
            widths = page.eval_on_selector_all(
                "td.prose", "els => els.map(e => e.getBoundingClientRect().width)"
            )
            assert len(widths) >= 5 and min(widths) >= 200
        finally:
            browser.close()
