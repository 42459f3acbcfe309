"""Scatterplot labels of the autocorrelation report: the extreme points, never overlapping.

The points are built so that naive labels (fixed offset to the upper right) collide: a
tight cluster of extreme points. The placed labels must not overlap one another, the
legend or any marker, and must stay inside the axes.
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from kzspatial.render.report import _p_value
from kzspatial.render.report_figures import _label_extremes


def _boxes(ax):
    renderer = ax.figure.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in ax.texts]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _figure():
    x = np.array([2.0, 2.02, 2.04, 1.98, 2.01, -0.1, 0.2, 0.0, -1.5, 0.3])
    y = np.array([1.0, 1.01, 0.99, 1.02, 1.0, 0.1, -0.2, 0.0, -0.4, 0.1])
    names = [f"Region number {k}" for k in range(len(x))]
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.scatter(x, y, s=28)
    ax.plot([-2, 2], [-1, 1], label="I = 0.5")
    ax.legend(loc="upper left")
    return fig, ax, x, y, names


def test_naive_labels_of_this_cluster_would_overlap():
    fig, ax, x, y, names = _figure()
    for k in range(5):
        ax.annotate(names[k], (x[k], y[k]), xytext=(3, 3), textcoords="offset points")
    boxes = _boxes(ax)
    assert any(_overlap(a, b) for a, b in itertools.combinations(boxes, 2))
    plt.close(fig)


def test_placed_labels_do_not_overlap_and_stay_inside():
    fig, ax, x, y, names = _figure()
    _label_extremes(ax, x, y, names, n=6)
    boxes = _boxes(ax)
    assert len(boxes) >= 2  # the extremes that fit are labelled
    assert not any(_overlap(a, b) for a, b in itertools.combinations(boxes, 2))
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    frame = ax.get_window_extent(renderer)
    for box in boxes:
        assert not _overlap(box, legend)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1
    labelled = {t.get_text() for t in ax.texts}
    # only extreme points: the points near the origin are never labelled
    assert not labelled & {names[5], names[7]}
    plt.close(fig)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.2e-12, "<\u00a00.0001"),
        (0.01234, "0.0123"),
        (1.0, "1.0000"),
        (float("nan"), "–"),
        ("n/a", "n/a"),
    ],
)
def test_p_values_are_fixed_notation_without_breakable_spaces(value, text):
    assert _p_value(value) == text
    assert " " not in _p_value(value) and "e-" not in _p_value(value)
