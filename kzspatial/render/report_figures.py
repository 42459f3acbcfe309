"""Figures of the autocorrelation report: Moran scatterplots, LISA maps, null histograms.

:func:`draw_entry_figures` draws the three figures of every focus-year entry as PNG bytes
(edge: matplotlib), in forked processes where available;
:func:`kzspatial.render.report.write_autocorrelation_report` places them in the report.
The pipeline draws them in a worker process while it computes the rest.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # rendering to files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.collections import PatchCollection
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from kzspatial.render._png import figure_png, figure_style, title_at_top
from kzspatial.render._workers import worker_count

__all__ = ["CLUSTER_COLOURS", "draw_entry_figures"]

#: Colour of each LISA cluster label on the maps (labels without one are left blank).
CLUSTER_COLOURS = {
    "HH": "#d7191c",
    "LL": "#2c7bb6",
    "LH": "#abd9e9",
    "HL": "#fdae61",
    "not significant": "#d9d9d9",
    "no neighbours": "#ffffff",
}


def _plain(text: str) -> str:
    r"""Return ``text`` for matplotlib as it is: ``$`` escaped, so a name is never mathtext.

    An even number of ``$`` would otherwise be parsed as TeX, and a bad expression in a
    region name (``$\x$``) would stop the report with a parse error.
    """
    return str(text).replace("$", r"\$")


# Offsets (points) tried in turn for a label until it overlaps no earlier label or point.
_LABEL_OFFSETS = [
    (dx * r, dy * r)
    for r in (4, 9, 15)
    for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1))
]


def _label_extremes(ax, x, y, names: list[str], n: int = 6) -> None:
    """Label the ``n`` points furthest from the origin so that no two labels overlap.

    Each label tries the offsets of :data:`_LABEL_OFFSETS` around its point (right-up
    first, further out later) and takes the first whose box overlaps no label placed
    before it and no marker; a label with no free place is left out rather than drawn
    over another. Labels stay inside the axes and off the legend (draw it first).
    """
    fig = ax.figure
    # Settle the axis limits (autoscaling is lazy); text and legend boxes need only the
    # renderer, not a drawing of the whole figure (a third of a scatterplot's time).
    ax.get_xlim()
    renderer = fig.canvas.get_renderer()
    to_px = ax.transData.transform
    points = to_px(np.column_stack([x, y]))
    marker = 4.0  # half the marker size in pixels, near enough
    markers = [
        (px - marker, py - marker, px + marker, py + marker) for px, py in points
    ]
    frame = ax.get_window_extent(renderer)
    placed: list[tuple[float, float, float, float]] = []
    legend = ax.get_legend()
    if legend is not None:
        box = legend.get_window_extent(renderer)
        placed.append((box.x0, box.y0, box.x1, box.y1))

    def free(box) -> bool:
        x0, y0, x1, y1 = box
        inside = x0 >= frame.x0 and x1 <= frame.x1 and y0 >= frame.y0 and y1 <= frame.y1
        return inside and not any(
            x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1
            for b in placed + markers
        )

    for k in np.argsort(-np.hypot(x, y))[:n]:
        for dx, dy in _LABEL_OFFSETS:
            text = ax.annotate(
                names[k],
                (x[k], y[k]),
                fontsize=7,
                xytext=(dx, dy),
                textcoords="offset points",
                ha="left" if dx > 0 else "right",
                va="bottom" if dy > 0 else "top",
                # the point is inside the axes (autoscaled to the points): skip the
                # check matplotlib makes at every drawing and layout
                annotation_clip=False,
            )
            box = text.get_window_extent(renderer)
            box = (box.x0, box.y0, box.x1, box.y1)
            if free(box):
                placed.append(box)
                break
            text.remove()


#: Size of the LISA cluster maps, inches.
_LISA_SIZE = (5.4, 3.6)
#: Simplification of the region outlines on the LISA maps, in pixels of the map: well
#: below one, so the outlines look the same with far fewer vertices to draw.
_LISA_TOLERANCE_PX = 0.1


@dataclass(frozen=True)
class _Outlines:
    """Region outlines of the LISA maps of one set of regions, built once per report.

    ``paths`` are in the order of the entries' ``ids``; ``aspect`` is the y/x scale of
    a map in longitude and latitude at the regions' mean latitude (as GeoPandas sets it).
    """

    paths: tuple[MplPath, ...]
    aspect: float


def _outlines(regions, ids: Sequence[str]) -> _Outlines:
    """Outlines of ``ids`` simplified by :data:`_LISA_TOLERANCE_PX` as a shared coverage.

    The tolerance in degrees is that fraction of a pixel on a map filling the figure's
    width at 110 dpi (a smaller map only makes it a smaller fraction of a pixel).
    Neighbours are simplified together (``coverage_simplify``), so shared borders stay
    shared: no gaps or overlaps appear.
    """
    geoms = regions.set_index("region_id").loc[list(ids)].geometry.to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    degrees_per_px = (x1 - x0) / (_LISA_SIZE[0] * 110)
    simple = shapely.coverage_simplify(geoms, _LISA_TOLERANCE_PX * degrees_per_px)
    paths = []
    for geom in simple:
        rings = []
        for part in getattr(geom, "geoms", [geom]):
            rings.append(MplPath(shapely.get_coordinates(part.exterior), closed=True))
            rings += [
                MplPath(shapely.get_coordinates(r), closed=True) for r in part.interiors
            ]
        paths.append(MplPath.make_compound_path(*rings))
    geographic = regions.crs is None or regions.crs.is_geographic
    aspect = 1 / np.cos(np.radians((y0 + y1) / 2)) if geographic else 1.0
    return _Outlines(tuple(paths), float(aspect))


class _Figures:
    """The three figures of the report, made once and updated for every entry.

    A new figure per entry would build its axes, ticks and artists 36 times; updating
    them draws the same pixels (tests compare each drawing with a first one byte for
    byte) in three quarters of the time. Figures are PNG bytes at 110 dpi.
    """

    def __init__(self, outlines: dict[tuple[str, ...], _Outlines]) -> None:
        self._outlines = outlines
        self._scatter: tuple | None = None
        self._lisa: tuple | None = None
        self._histogram: tuple | None = None

    def draw(self, entry) -> tuple[bytes, bytes, bytes]:
        """Return the scatterplot, LISA map and permutation histogram of ``entry``."""
        return self.scatter(entry), self.lisa_map(entry), self.histogram(entry)

    def close(self) -> None:
        """Close the figures."""
        for made in (self._scatter, self._lisa, self._histogram):
            if made is not None:
                plt.close(made[0])

    def scatter(self, entry) -> bytes:
        """Moran scatterplot: standardised values against their spatial lag."""
        y = np.asarray(entry.y, float)
        z = (y - y.mean()) / y.std()
        lag = entry.weights.transform("r").lag(z)
        xs = np.array([z.min(), z.max()])
        if self._scatter is None:
            fig, ax = plt.subplots(figsize=(4.2, 4.0))
            ax.axhline(0, color="#999", lw=0.8)
            ax.axvline(0, color="#999", lw=0.8)
            points = ax.scatter(
                z,
                lag,
                s=28,
                color="#3b6ea8",
                edgecolor="white",
                linewidth=0.5,
                zorder=3,
            )
            (line,) = ax.plot(xs, entry.global_.I * xs, color="#c0392b", lw=1.5)
            ax.set_ylabel("spatial lag", fontsize=8)
            self._scatter = (fig, ax, points, line)
        else:
            fig, ax, points, line = self._scatter
            for text in list(ax.texts):  # the last entry's labels
                text.remove()
            points.set_offsets(np.column_stack([z, lag]))
            line.set_data(xs, entry.global_.I * xs)
            ax.relim()
            ax.autoscale_view()
        line.set_label(f"I = {entry.global_.I:.3f}")
        ax.set_xlabel(f"{_plain(entry.label)} (standardised)", fontsize=8)
        ax.legend(fontsize=8, loc="best")  # the corner with the fewest points
        title_at_top(ax, f"Moran scatterplot, {_plain(entry.weights_name)}")
        _label_extremes(ax, z, lag, [_plain(n) for n in entry.names])
        return figure_png(fig, dpi=110, keep=True)

    def lisa_map(self, entry) -> bytes:
        """Map of the LISA cluster of every region."""
        outlines = self._outlines[tuple(entry.ids)]
        # a region whose label has no colour is left blank, as a region outside the map
        shown = [
            (PathPatch(path), CLUSTER_COLOURS[label])
            for path, label in zip(outlines.paths, entry.cluster_labels, strict=True)
            if label in CLUSTER_COLOURS
        ]
        if self._lisa is None or self._lisa[3] is not outlines:
            if self._lisa is not None:
                plt.close(self._lisa[0])
            fig, ax = plt.subplots(figsize=_LISA_SIZE)
            regions = PatchCollection(
                [patch for patch, _ in shown],
                facecolor=[colour for _, colour in shown],
                edgecolor="#555",
                linewidth=0.4,
            )
            ax.add_collection(regions)
            ax.autoscale_view()
            ax.set_aspect(outlines.aspect)
            ax.set_axis_off()
            self._lisa = (fig, ax, regions, outlines)
        else:
            fig, ax, regions, _ = self._lisa
            regions.set_paths([patch for patch, _ in shown])
            regions.set_facecolor([colour for _, colour in shown])
            ax.relim()
            ax.autoscale_view()
        present = [n for n in CLUSTER_COLOURS if n in entry.cluster_labels]
        handles = [
            plt.Rectangle((0, 0), 1, 1, color=CLUSTER_COLOURS[n], ec="#555")
            for n in present
        ]
        # below the map: every corner of Kazakhstan's outline holds a region
        ax.legend(
            handles,
            present,
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=max(1, len(present)),
            frameon=False,
        )
        title_at_top(ax, f"LISA clusters: {_plain(entry.label)}")
        return figure_png(fig, dpi=110, keep=True)

    def histogram(self, entry) -> bytes:
        """Moran's I of the permutations, with the observed I and its expectation."""
        sim = entry.global_.sim
        if self._histogram is None:
            fig, ax = plt.subplots(figsize=(4.2, 3.2))
            _, _, bars = ax.hist(sim, bins=30, color="#9ecae1", edgecolor="white")
            observed = ax.axvline(
                entry.global_.I, color="#c0392b", lw=2, label="observed I"
            )
            expected = ax.axvline(
                entry.global_.EI, color="#333", lw=1, ls="--", label="E[I]"
            )
            ax.set_xlabel("Moran's I under permutation", fontsize=8)
            ax.legend(fontsize=7)
            self._histogram = (fig, ax, bars, observed, expected)
        else:
            fig, ax, bars, observed, expected = self._histogram
            counts, edges = np.histogram(sim, bins=len(bars))
            for bar, left, right, count in zip(
                bars, edges[:-1], edges[1:], counts, strict=True
            ):
                bar.set_x(left)
                bar.set_width(right - left)
                bar.set_height(count)
            observed.set_xdata([entry.global_.I] * 2)
            expected.set_xdata([entry.global_.EI] * 2)
            ax.relim()
            ax.autoscale_view()
        title_at_top(ax, f"Permutation null, {_plain(entry.weights_name)}")
        return figure_png(fig, dpi=110, keep=True)


# What the forked figure workers draw: set just before the pool forks, read by index;
# each process draws with figures of its own, made at its first entry.
_JOB: tuple[Sequence, dict] | None = None
_FIGURES: _Figures | None = None


def _draw(index: int) -> tuple[bytes, bytes, bytes]:
    """Draw the scatter, LISA map and permutation histogram of entry ``index``."""
    global _FIGURES
    entries, outlines = _JOB
    if _FIGURES is None:
        _FIGURES = _Figures(outlines)
    return _FIGURES.draw(entries[index])


@figure_style
def draw_entry_figures(
    entries: Sequence, regions, *, workers: int | None = None
) -> list[tuple[bytes, bytes, bytes]]:
    """Draw the scatterplot, LISA map and null histogram of every entry, as PNG bytes.

    The figures are drawn one after another by matplotlib, about a hundred
    milliseconds each; on two cores two workers halve that. Workers are forked (they
    inherit the entries, nothing is pickled but the PNG bytes) and draw exactly what
    this process would: the same code, rcParams and fonts.

    Parameters
    ----------
    entries : sequence of :class:`kzspatial.study.moran_suite.MoranEntry`
    regions : geopandas.GeoDataFrame
        Region polygons with ``region_id`` for the cluster maps.
    workers : int, optional
        Processes drawing; default :func:`kzspatial.render._workers.worker_count`
        (``KZSPATIAL_WORKERS``); 1 draws here.

    Returns
    -------
    list of (bytes, bytes, bytes)
        Per entry, in order: scatterplot, LISA map, permutation histogram.
    """
    global _JOB, _FIGURES
    workers = worker_count() if workers is None else workers
    ids = dict.fromkeys(tuple(e.ids) for e in entries)
    _JOB = (entries, {i: _outlines(regions, i) for i in ids})
    try:
        if workers < 2 or len(entries) < 2 or "fork" not in mp.get_all_start_methods():
            return [_draw(i) for i in range(len(entries))]
        with mp.get_context("fork").Pool(workers) as pool:
            return pool.map(_draw, range(len(entries)), chunksize=1)
    finally:
        if _FIGURES is not None:
            _FIGURES.close()
        _JOB = _FIGURES = None
