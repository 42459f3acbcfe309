"""What keeps ``kzspatial run`` fast without changing its outputs (issue 16, item 7)."""

from __future__ import annotations

import pytest


@pytest.mark.data
def test_study_data_keeps_the_loaders_attrs_off_the_frames():
    from kzspatial.datasets.population import load_population
    from kzspatial.study.inputs import load_study_data

    data = load_study_data((2023, 2024))
    # nothing for pandas to deep-copy into every derived frame and column
    for frame in (data.population, data.grp, data.unemployment):
        assert frame.attrs == {}
    # ... and nothing lost: the loader's attrs are kept beside the frames
    assert data.loader_attrs["population"] == load_population().attrs
    assert data.loader_attrs["grp"]["source"]["key"] == "grp_per_capita.xlsx"
    assert data.loader_attrs["unemployment"]["national_check"]
    assert data.population.columns.tolist() == load_population().columns.tolist()


# ------------------------------------------------------------------ figure_png
def _savefig_tight(fig, dpi) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def _pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)


def _labelled_figure():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    ax.plot([0, 1, 2], [3, 1, 2], label="a line")
    ax.set_ylabel("big y", fontsize=30)
    ax.set_xlabel("x label")
    ax.legend()
    ax.set_title("title")
    return fig


@pytest.mark.parametrize("dpi", [100, 110])
def test_figure_png_is_savefigs_tight_picture_to_within_a_pixel(dpi):
    import matplotlib.pyplot as plt
    import numpy as np

    from kzspatial.render._png import _drawn_once, figure_png

    reference = _pixels(_savefig_tight(_labelled_figure(), dpi))
    fig = _labelled_figure()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    assert box.x0 < 0  # the label sticks out of the figure
    probe = _labelled_figure()
    assert _drawn_once(probe, dpi) is not None  # cropped, not savefig's
    plt.close(probe)
    got = _pixels(figure_png(fig, dpi=dpi))
    assert not plt.fignum_exists(fig.number)  # closed
    assert got.shape == reference.shape
    # every pixel matches one of the reference's within one pixel of it (drawn at a
    # sub-pixel shift); a misplaced element would leave pixels unmatched
    padded = np.pad(reference, 1, mode="edge")
    h, w = reference.shape
    nearest = np.stack(
        [
            np.abs(got - padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w])
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
        ]
    ).min(axis=0)
    assert (nearest > 96).mean() < 1e-3
    # the comparison can fail: a figure without its legend is another picture
    fig = _labelled_figure()
    fig.axes[0].get_legend().remove()
    other = _pixels(figure_png(fig, dpi=dpi))
    assert other.shape != reference.shape or (np.abs(other - reference) > 96).any()


def test_figure_png_leaves_figures_it_cannot_crop_to_savefig():
    import matplotlib.pyplot as plt

    from kzspatial.render._png import figure_png

    def figure_legend():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, 1], label="a")
        fig.legend(loc="lower center", bbox_to_anchor=(0.5, -0.1))
        return fig

    def constrained():
        fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
        ax.plot([0, 1], [0, 1])
        return fig

    def huge_label():  # sticks out further than the margin drawn around the figure
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.set_ylabel("label", fontsize=200)
        return fig

    for make in (figure_legend, constrained, huge_label):
        assert figure_png(make(), dpi=100) == _savefig_tight(make(), 100), make
