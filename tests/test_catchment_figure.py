"""The leading-hub figure of the catchments report section: its grid matches the table."""

import base64
import io

import kz_synthetic as syn
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from kzspatial.datasets.regions import HUB_COLOURS
from kzspatial.render.catchment_figure import leading_hub_figure, leading_hub_grid
from kzspatial.render.report import write_autocorrelation_report

HUBS = list(HUB_COLOURS)


def _agreement(seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2024, 2010, 2015):  # unsorted on purpose
        for region in ("KZ-63", "KZ-10", "KZ-43"):
            for model in ("calibrated Huff", "mass-only Huff"):
                rows.append(
                    {
                        "year": year,
                        "model": model,
                        "region_id": region,
                        "observed_hub": HUBS[rng.integers(3)],
                        "predicted_hub": HUBS[rng.integers(3)],
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("column", ["observed_hub", "predicted_hub"])
def test_grid_cells_match_the_table_rows(column):
    agreement = _agreement()
    grid = leading_hub_grid(agreement, column)
    assert list(grid.index) == ["KZ-10", "KZ-43", "KZ-63"]
    assert list(grid.columns) == [2010, 2015, 2024]
    calibrated = agreement[agreement["model"] == "calibrated Huff"]
    for row in calibrated.itertuples():
        assert grid.loc[row.region_id, row.year] == getattr(row, column)
    assert grid.size == len(calibrated)


def test_grid_of_another_model_and_a_missing_year():
    agreement = _agreement()
    agreement = agreement.drop(
        agreement[(agreement.region_id == "KZ-43") & (agreement.year == 2015)].index
    )
    grid = leading_hub_grid(agreement, "observed_hub", model="mass-only Huff")
    mass = agreement[agreement["model"] == "mass-only Huff"].set_index(
        ["region_id", "year"]
    )["observed_hub"]
    assert grid.stack().dropna().sort_index().to_dict() == mass.sort_index().to_dict()
    assert pd.isna(grid.loc["KZ-43", 2015])


def test_grid_errors_name_the_problem():
    agreement = _agreement()
    with pytest.raises(ValueError, match="no column 'hub'.*'observed_hub'"):
        leading_hub_grid(agreement, "hub")
    with pytest.raises(ValueError, match="no rows of model 'gravity'.*mass-only"):
        leading_hub_grid(agreement, "observed_hub", model="gravity")
    doubled = pd.concat([agreement, agreement.iloc[[0]]])
    with pytest.raises(ValueError, match="region KZ-63 appears twice in 2024"):
        leading_hub_grid(doubled, "observed_hub")


def test_figure_draws_each_hub_in_its_colour():
    agreement = _agreement()
    agreement.loc[agreement.model == "calibrated Huff", "predicted_hub"] = "Shymkent"
    agreement.loc[agreement.model == "calibrated Huff", "observed_hub"] = "Astana"
    image = mpimg.imread(io.BytesIO(leading_hub_figure(agreement, HUB_COLOURS)))
    pixels = {
        tuple(p) for p in (image[..., :3] * 255).round().astype(int).reshape(-1, 3)
    }
    assert tuple(HUB_COLOURS["Astana"][:3]) in pixels
    assert tuple(HUB_COLOURS["Shymkent"][:3]) in pixels
    assert tuple(HUB_COLOURS["Almaty"][:3]) in pixels  # the legend
    almaty = (image[..., :3] * 255).round().astype(int) == HUB_COLOURS["Almaty"][:3]
    rows = np.flatnonzero(almaty.all(axis=2).any(axis=1))
    assert rows.min() > 0.8 * image.shape[0]  # under the panels


def test_figure_is_drawn_once_by_figure_png(monkeypatch):
    from kzspatial.render import _png

    cropped = []
    drawn_once = _png._drawn_once

    def spy(fig, dpi):
        image = drawn_once(fig, dpi)
        cropped.append(image is not None)
        return image

    monkeypatch.setattr(_png, "_drawn_once", spy)
    leading_hub_figure(_agreement(), HUB_COLOURS)
    assert cropped == [True]  # not handed to savefig, which lays it out twice


def test_figure_takes_labels_as_a_series():
    agreement = _agreement()
    labels = pd.Series({"KZ-10": "Abai", "KZ-43": "Kyzylorda"})  # KZ-63 unlabelled
    png = leading_hub_figure(agreement, HUB_COLOURS, labels=labels)
    assert png.startswith(b"\x89PNG")


def test_figure_refuses_a_hub_without_colour():
    agreement = _agreement()
    with pytest.raises(ValueError, match="no colour for hub.*Shymkent"):
        leading_hub_figure(
            agreement, {h: c for h, c in HUB_COLOURS.items() if h != "Shymkent"}
        )


def _report(tmp_path, **extra):
    regions = syn.regions()
    entry = syn.moran_entry(regions, permutations=9)
    w = entry.weights
    return write_autocorrelation_report(
        tmp_path / "r.html",
        entries=[entry],
        by_year=pd.DataFrame(columns=["year", "variable", "label", "weights", "I"]),
        regions=regions,
        weights={"queen": w},
        provenance=[],
        seed=1,
        permutations=9,
        **extra,
    )


def test_report_shows_the_figure_under_its_table_and_writes_it(tmp_path):
    agreement = _agreement()
    png = leading_hub_figure(agreement, HUB_COLOURS)
    table = agreement.head(3)
    written = _report(
        tmp_path,
        extra_tables=[("catchment_changes", "Leading hub", "note", table)],
        extra_figures={"catchment_changes": (png, "Leading hub by year")},
    )
    html = written["html"].read_text(encoding="utf-8")
    encoded = base64.b64encode(png).decode()
    table_at = html.index("<h2>Leading hub</h2>")
    assert html.index(encoded) > table_at
    assert "<figcaption>Leading hub by year</figcaption>" in html
    assert (written["figures"] / "catchment_changes.png").read_bytes() == png


def test_report_refuses_a_figure_without_its_table(tmp_path):
    with pytest.raises(ValueError, match="no extra table named catchment_changes"):
        _report(tmp_path, extra_figures={"catchment_changes": (b"png", "caption")})


def test_figures_draw_text_unhinted_and_leave_the_callers_settings(monkeypatch):
    import matplotlib
    from matplotlib.backends import backend_agg

    from kzspatial.render.report_figures import draw_entry_figures
    from kzspatial.render.study_report import write_study_report

    flags = []
    hinting_flag = backend_agg.get_hinting_flag

    def spy():
        flags.append(hinting_flag())
        return flags[-1]

    monkeypatch.setattr(backend_agg, "get_hinting_flag", spy)
    with matplotlib.rc_context({"text.hinting": "force_autohint"}):
        leading_hub_figure(_agreement(), HUB_COLOURS)
        assert matplotlib.rcParams["text.hinting"] == "force_autohint"
    assert flags and set(flags) == {backend_agg.LoadFlags.NO_HINTING}
    # the report's and the study report's figures are drawn in the same style
    from kzspatial.render._png import figure_style

    styled = figure_style(len).__code__
    assert draw_entry_figures.__code__ is styled
    assert write_study_report.__code__ is styled
