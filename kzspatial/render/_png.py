"""A matplotlib figure as PNG bytes cropped to its content, drawn once (edge: matplotlib).

``savefig(bbox_inches="tight")`` lays a figure out twice: once without rendering, to find
the box around what is drawn, then again shifted into that box. :func:`figure_png` draws
it once on a canvas with room around the figure, finds the same box and cuts it out: the
same picture as ``savefig`` to within half a pixel of shift, in about half the time.

:func:`figure_style` is the decorator of every function drawing kzspatial's figures.
"""

from __future__ import annotations

import contextlib
import functools
import io

import matplotlib

matplotlib.use("Agg")  # rendering to files only; never needs a display

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.ticker import ScalarFormatter

__all__ = ["FIGURE_RC", "figure_png", "figure_style", "title_at_top"]

#: Room drawn around the figure, in inches, for titles and labels that stick out of it.
MARGIN = 1.0
#: Space kept around the content, in inches (``savefig``'s default ``pad_inches``).
PAD = 0.1
#: zlib level of the PNG: 1 encodes the report's figures in half the time of PIL's
#: default 6, into files no larger (flat colours compress well at any level); the
#: pixels are the same.
PNG_OPTIONS = {"compress_level": 1}


#: matplotlib settings of kzspatial's figures. Text is drawn without font hinting:
#: FreeType's hinter ran for every glyph drawn or measured, a large part of the
#: figures' time (measured on runs: 1.3 s of ~14 s of CPU), and at the figures'
#: 100-110 dpi unhinted text reads the same, its strokes a little lighter.
FIGURE_RC = {"text.hinting": "no_hinting"}


def figure_style(func):
    """Decorate a function drawing figures: it runs with :data:`FIGURE_RC` in force.

    The caller's matplotlib settings are restored when it returns
    (:func:`matplotlib.rc_context`).
    """

    @functools.wraps(func)
    def with_style(*args, **kwargs):
        with matplotlib.rc_context(FIGURE_RC):
            return func(*args, **kwargs)

    return with_style


def figure_png(fig, dpi: float, *, keep: bool = False) -> bytes:
    """Return ``fig`` as PNG bytes at ``dpi``, cropped like ``bbox_inches="tight"``.

    The figure is enlarged by :data:`MARGIN` on every side with its axes kept where they
    are in inches, drawn once, cut to the box around its content plus :data:`PAD`, and
    given back its size. A figure with a layout engine, figure-level artists or content
    reaching beyond the margin is saved by ``savefig`` itself.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure of the Agg backend (``matplotlib.use("Agg")``).
    dpi : float
        Resolution of the PNG.
    keep : bool
        Leave the figure open (to update and draw it again); closed by default.

    Returns
    -------
    bytes
        The PNG file.
    """
    try:
        image = _drawn_once(fig, dpi)
        buffer = io.BytesIO()
        if image is None:
            fig.savefig(
                buffer,
                format="png",
                dpi=dpi,
                bbox_inches="tight",
                pil_kwargs=dict(PNG_OPTIONS),
            )
        else:
            matplotlib.image.imsave(
                buffer,
                image,
                format="png",
                origin="upper",
                dpi=dpi,
                pil_kwargs=dict(PNG_OPTIONS),
            )
        return buffer.getvalue()
    finally:
        if not keep:
            plt.close(fig)


def title_at_top(ax, text: str, *, fontsize: float = 9) -> None:
    """Title ``text`` above ``ax`` at its top (``y=1``), where matplotlib would put it.

    matplotlib moves a title up only past x tick labels on top or the y axis's offset
    text ("1e6"), and looks for them at every drawing and tight box (a tenth of a
    figure's time). The y axis is told to write plain numbers (no offset, no
    scientific notation), so it has no offset text, and the title is fixed at the top
    unless the x tick labels are there. Call it once the axes' ticks are set.
    """
    formatter = ax.yaxis.get_major_formatter()
    if isinstance(formatter, ScalarFormatter):
        formatter.set_useOffset(False)
        formatter.set_scientific(False)
    top = ax.xaxis.get_label_position() == "top" or ax.xaxis.get_ticks_position() in (
        "top",
        "unknown",
    )
    ax.set_title(text, fontsize=fontsize, **({} if top else {"y": 1.0}))


def _drawn_once(fig, dpi: float) -> np.ndarray | None:
    """Draw ``fig`` once with room around it; its tight box as RGBA, or None."""
    engine = fig.get_layout_engine()
    # tight_layout() leaves a placeholder behind, which lays nothing out when drawn
    laid_out = engine is not None and not isinstance(engine, PlaceHolderLayoutEngine)
    plain = not (laid_out or fig.texts or fig.legends or fig.images)
    if not plain or not isinstance(fig.canvas, FigureCanvasAgg):
        return None
    width, height = fig.get_size_inches()
    m = MARGIN
    boxes = [ax.get_position(original=True) for ax in fig.axes]
    size = (width + 2 * m, height + 2 * m)
    figure_dpi = fig.dpi
    fig.set_dpi(dpi)
    fig.set_size_inches(*size)
    try:
        for ax, box in zip(fig.axes, boxes, strict=True):
            ax.set_position(
                [
                    (m + box.x0 * width) / size[0],
                    (m + box.y0 * height) / size[1],
                    box.width * width / size[0],
                    box.height * height / size[1],
                ]
            )
        with _layout_searched_once(fig):
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            tight = fig.get_tightbbox(renderer)  # inches on the enlarged canvas
        outside = max(tight.x1 - size[0], tight.y1 - size[1]) > -PAD
        if min(tight.x0, tight.y0) < PAD or outside:
            return None
        # what savefig writes: int(size) pixels, pixel (0, 0) at the padded box's top
        # left
        box = tight.padded(PAD)
        w, h = int(box.width * dpi), int(box.height * dpi)
        pixels = np.asarray(fig.canvas.buffer_rgba())
        left = round(box.x0 * dpi)
        top = round(pixels.shape[0] - h - box.y0 * dpi)
        return pixels[top : top + h, left : left + w].copy()
    finally:  # the figure as it was, for savefig or for the next drawing
        fig.set_dpi(figure_dpi)
        fig.set_size_inches(width, height)
        for ax, box in zip(fig.axes, boxes, strict=True):
            ax.set_position(box)


@contextlib.contextmanager
def _layout_searched_once(fig):
    """Search each layout answer matplotlib asks for once per drawing while in the block.

    matplotlib searches the place of a ``loc="best"`` legend each time it asks for the
    legend's box (twice to draw it, twice more for the tight box: about a tenth of a
    scatterplot's time), and places each axis's ticks and measures their labels four
    times (the axis, its label's position, twice for the tight box: about a fifth of a
    plot's time). Nothing changes in the figure between the drawing and the tight box
    (same limits, size and renderer), so the first answer is the answer every time:
    the pixels are the same. The methods are matplotlib's own (private), shadowed on
    this figure's objects only; on a matplotlib without them the figure is drawn as
    matplotlib draws it.
    """
    answers = []  # (object, its method, the key of the method's arguments)
    for ax in fig.axes:
        legend = ax.get_legend()
        if getattr(legend, "_loc", None) == 0:  # loc="best": a place per legend size
            answers.append((legend, "_find_best_position", lambda w, h, *_: (w, h)))
        for axis in getattr(ax, "_axis_map", {}).values():
            answers.append((axis, "_update_ticks", lambda: ()))
            answers.append((axis, "_get_ticklabel_bboxes", _ticks_and_renderer))
    shadowed = [(obj, name, key) for obj, name, key in answers if hasattr(obj, name)]
    for obj, name, key in shadowed:
        _answer_once(obj, name, key)
    try:
        yield
    finally:
        for obj, name, _ in shadowed:
            delattr(obj, name)  # the method again, for the next drawing


def _ticks_and_renderer(ticks, renderer=None) -> tuple:
    return tuple(map(id, ticks)), id(renderer)


def _answer_once(obj, name: str, key) -> None:
    """Shadow method ``name`` of ``obj`` by one computing once per ``key(*args)``."""
    method, found = getattr(obj, name), {}

    def once(*args, **kwargs):
        k = key(*args, **kwargs)
        if k not in found:
            found[k] = method(*args, **kwargs)
        return found[k]

    setattr(obj, name, once)
