"""Self-contained HTML spatial-autocorrelation report (edge: matplotlib, Jinja2, disk).

One HTML file with every figure inlined as base64 PNG and the styles inline, so it opens
offline and can be mailed as is; the figures are also written as PNG files and the tables
as CSV next to it. Computation happens in :mod:`kzspatial.study.moran_suite`; this module renders.
"""

from __future__ import annotations

import base64
import multiprocessing as mp
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # rendering to files only; never needs a display

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import PatchCollection
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from kzspatial._errors import ValidationError
from kzspatial._show_versions import versions
from kzspatial.render._atomic import atomic_path
from kzspatial.render._clock import build_time
from kzspatial.render._png import figure_png

__all__ = ["write_autocorrelation_report"]

_CLUSTER_COLOURS = {
    "HH": "#d7191c",
    "LL": "#2c7bb6",
    "LH": "#abd9e9",
    "HL": "#fdae61",
    "not significant": "#d9d9d9",
    "no neighbours": "#ffffff",
}

SMALL_N_WARNING = (
    "With only {n} regions, Moran's I has little power: a real but moderate pattern may "
    "go undetected, and a single large region or city can drive the result. The three "
    "republican cities are enclaves with one neighbour each under contiguity, so their "
    "local statistics rest on one comparison. Treat p-values as indicative, look at the "
    "robustness across weights below, and prefer effect sizes (I) to significance stars."
)


def _plain(text: str) -> str:
    r"""Return ``text`` for matplotlib as it is: ``$`` escaped, so a name is never mathtext.

    An even number of ``$`` would otherwise be parsed as TeX, and a bad expression in a
    region name (``$\x$``) would stop the report with a parse error.
    """
    return str(text).replace("$", r"\$")


def _png(fig) -> bytes:
    return figure_png(fig, dpi=110)


def _scatter(entry) -> bytes:
    y = np.asarray(entry.y, float)
    z = (y - y.mean()) / y.std()
    lag = entry.weights.transform("r").lag(z)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.axhline(0, color="#999", lw=0.8)
    ax.axvline(0, color="#999", lw=0.8)
    ax.scatter(
        z, lag, s=28, color="#3b6ea8", edgecolor="white", linewidth=0.5, zorder=3
    )
    xs = np.array([z.min(), z.max()])
    ax.plot(
        xs,
        entry.global_.I * xs,
        color="#c0392b",
        lw=1.5,
        label=f"I = {entry.global_.I:.3f}",
    )
    ax.set_xlabel(f"{_plain(entry.label)} (standardised)", fontsize=8)
    ax.set_ylabel("spatial lag", fontsize=8)
    ax.legend(fontsize=8, loc="best")  # the corner with the fewest points
    ax.set_title(f"Moran scatterplot, {_plain(entry.weights_name)}", fontsize=9)
    _label_extremes(ax, z, lag, [_plain(n) for n in entry.names])
    return _png(fig)


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


def _lisa_map(entry, outlines: _Outlines) -> bytes:
    # a region whose label has no colour is left blank, as a region outside the map
    shown = [
        (path, _CLUSTER_COLOURS[label])
        for path, label in zip(outlines.paths, entry.cluster_labels, strict=True)
        if label in _CLUSTER_COLOURS
    ]
    present = [n for n in _CLUSTER_COLOURS if n in entry.cluster_labels]
    fig, ax = plt.subplots(figsize=_LISA_SIZE)
    ax.add_collection(
        PatchCollection(
            [PathPatch(path) for path, _ in shown],
            facecolor=[colour for _, colour in shown],
            edgecolor="#555",
            linewidth=0.4,
        )
    )
    ax.autoscale_view()
    ax.set_aspect(outlines.aspect)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=_CLUSTER_COLOURS[n], ec="#555")
        for n in present
    ]
    ax.legend(handles, present, fontsize=7, loc="lower left", frameon=True)
    ax.set_axis_off()
    ax.set_title(f"LISA clusters: {_plain(entry.label)}", fontsize=9)
    return _png(fig)


def _histogram(entry) -> bytes:
    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    ax.hist(entry.global_.sim, bins=30, color="#9ecae1", edgecolor="white")
    ax.axvline(entry.global_.I, color="#c0392b", lw=2, label="observed I")
    ax.axvline(entry.global_.EI, color="#333", lw=1, ls="--", label="E[I]")
    ax.set_xlabel("Moran's I under permutation", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title(f"Permutation null, {_plain(entry.weights_name)}", fontsize=9)
    return _png(fig)


# What the forked figure workers draw: set just before the pool forks, read by index.
_JOB: tuple[Sequence, object] | None = None


def _draw(index: int) -> tuple[bytes, bytes, bytes]:
    """Draw the scatter, LISA map and permutation histogram of entry ``index``."""
    entries, outlines = _JOB
    e = entries[index]
    return _scatter(e), _lisa_map(e, outlines[tuple(e.ids)]), _histogram(e)


def _draw_all(entries: Sequence, regions) -> list[tuple[bytes, bytes, bytes]]:
    """Draw the figures of every entry, in two forked processes where available.

    The figures are drawn one after another by matplotlib, a few hundred milliseconds
    each; on two cores two workers halve that. Workers are forked (they inherit the
    entries, nothing is pickled but the PNG bytes) and draw exactly what this process
    would: the same code, rcParams and fonts. Without ``fork`` (Windows, macOS default)
    or with ``KZSPATIAL_WORKERS=1`` the figures are drawn here.
    """
    global _JOB
    asked = os.environ.get("KZSPATIAL_WORKERS", "2")
    if not asked.isdigit() or int(asked) < 1:
        raise ValidationError(
            f"KZSPATIAL_WORKERS={asked!r}: give a positive whole number of processes "
            "for the report figures (1 draws them in this process)"
        )
    workers = min(int(asked), os.cpu_count() or 1)
    ids = dict.fromkeys(tuple(e.ids) for e in entries)
    _JOB = (entries, {i: _outlines(regions, i) for i in ids})
    try:
        if workers < 2 or len(entries) < 2 or "fork" not in mp.get_all_start_methods():
            return [_draw(i) for i in range(len(entries))]
        with mp.get_context("fork").Pool(workers) as pool:
            return pool.map(_draw, range(len(entries)), chunksize=1)
    finally:
        _JOB = None


def _is_p(column: object) -> bool:
    """Tell whether a table column holds p-values (``p``, ``p_sim``, ``p_rand``...)."""
    return isinstance(column, str) and (column == "p" or column.startswith("p_"))


def _p_value(value: object) -> str:
    """Format a p-value in fixed notation that does not wrap in a table cell.

    ``3.2e-12`` would break at its minus sign; values below 0.0001 read "< 0.0001"
    with a no-break space.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(v):
        return "–"
    return "<\u00a00.0001" if v < 1e-4 else f"{v:.4f}"


def _verdict(result, alpha: float) -> str:
    # A two-sided test: the verdict names clustering and dispersion alike.
    if result.p_sim_two_sided >= alpha:
        return "no evidence of clustering"
    return "clustered (positive)" if result.I > result.EI else "dispersed (negative)"


def _entry_blocks(
    entries: Sequence, regions, alpha: float
) -> tuple[dict[str, bytes], list[dict], list[dict]]:
    """Draw the figures of each entry; return them, the report blocks, summary rows."""
    figures: dict[str, bytes] = {}
    blocks, summary = [], []
    for e, drawn in zip(entries, _draw_all(entries, regions), strict=True):
        # file names from names: anything but letters, digits, - and _ becomes _
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", f"{e.variable}_{e.weights_name}")
        for kind, png in zip(("scatter", "lisa", "permutations"), drawn, strict=True):
            figures[f"{stem}_{kind}.png"] = png
        g = e.global_
        n_sig = {
            k: int(np.sum(np.asarray(e.cluster_labels) == k))
            for k in ("HH", "LL", "HL", "LH")
        }
        significant = ", ".join(
            f"{k}: {', '.join(n for n, c in zip(e.names, e.cluster_labels, strict=True) if c == k)}"
            for k, v in n_sig.items()
            if v
        )
        blocks.append(
            {
                "label": e.label,
                "weights": e.weights_name,
                "I": g.I,
                "EI": g.EI,
                "z_rand": g.z_rand,
                "p_rand": g.p_rand,
                "p_norm": g.p_norm,
                "p_sim": g.p_sim,
                "p_sim_two_sided": g.p_sim_two_sided,
                "fdr": e.fdr,
                "lisa_text": (
                    f"Significant local clusters — {significant}."
                    if significant
                    else "No significant local clusters."
                ),
                **{
                    k: base64.b64encode(figures[f"{stem}_{s}.png"]).decode()
                    for k, s in (
                        ("scatter", "scatter"),
                        ("lisa_map", "lisa"),
                        ("histogram", "permutations"),
                    )
                },
            }
        )
        summary.append(
            {
                "variable": e.variable,
                "label": e.label,
                "weights": e.weights_name,
                "year": e.year,
                "n": len(e.ids),
                "I": g.I,
                "EI": g.EI,
                "z_norm": g.z_norm,
                "p_norm": g.p_norm,
                "z_rand": g.z_rand,
                "p_rand": g.p_rand,
                "p_sim": g.p_sim,
                "p_sim_two_sided": g.p_sim_two_sided,
                "alternative": g.alternative,
                "verdict": _verdict(g, alpha),
            }
        )
    return figures, blocks, summary


def _robustness(summary_df: pd.DataFrame) -> tuple[list[str], list[dict]]:
    """Return the weights names and, per variable, the verdict under each weights."""
    weights_names = list(dict.fromkeys(summary_df["weights"]))
    robustness = []
    for (variable, label), grp in summary_df.groupby(["variable", "label"], sort=False):
        verdicts = [
            grp.loc[grp.weights == w, "verdict"].iat[0]
            if (grp.weights == w).any()
            else "–"
            for w in weights_names
        ]
        robust = (
            "yes" if len(set(verdicts) - {"–"}) == 1 else "no: depends on the weights"
        )
        robustness.append(
            {
                "label": label,
                "verdicts": verdicts,
                "robust": robust,
                "variable": variable,
            }
        )
    return weights_names, robustness


def _by_year_rows(by_year: pd.DataFrame) -> tuple[list, list[dict]]:
    """Return the years and, per variable, the "I (p_sim)" cell of each year."""
    years = sorted(by_year["year"].unique())
    by_year_rows = []
    for (_variable, label), grp in by_year.groupby(["variable", "label"], sort=False):
        cells = []
        for y in years:
            row = grp[grp["year"] == y]
            cells.append(
                "–"
                if row.empty or not np.isfinite(row["I"].iat[0])
                else f"{row['I'].iat[0]:.2f} ({row['p_sim_two_sided'].iat[0]:.3f})"
            )
        by_year_rows.append({"label": label, "cells": cells})
    return years, by_year_rows


def _weights_rows(weights: dict) -> list[dict]:
    """Return one row per weights: size, cardinalities, islands, components."""
    weights_rows = []
    for name, w in weights.items():
        s = w.summary()
        cards = np.asarray(w.cardinalities)
        weights_rows.append(
            {
                "name": name,
                "n": w.n,
                "cards": f"{cards.min()} / {cards.mean():.1f} / {cards.max()}",
                "one": ", ".join(s.one_neighbor) or "none",
                "islands": ", ".join(w.islands) or "none",
                "components": w.n_components,
            }
        )
    return weights_rows


def _extra_figure(figure: tuple[bytes, str] | None) -> dict[str, str]:
    """Template fields of the figure under an extra table (none without one)."""
    if figure is None:
        return {}
    png, caption = figure
    return {"figure": base64.b64encode(png).decode(), "caption": caption}


def write_autocorrelation_report(
    path: str | Path,
    *,
    entries: Sequence,
    by_year: pd.DataFrame,
    regions,
    weights: dict,
    provenance: Sequence[dict],
    seed: int,
    permutations: int,
    alpha: float = 0.05,
    by_year_weights: str = "",
    borders_note: str = "",
    extra_tables: Sequence[tuple[str, str, str, pd.DataFrame]] = (),
    extra_figures: Mapping[str, tuple[bytes, str]] | None = None,
    overwrite: bool = False,
    title: str | None = None,
) -> dict[str, Path]:
    """Render the report and write its PNG figures and CSV tables.

    Parameters
    ----------
    path : str or Path
        HTML file to write; figures go to ``<stem>_files/`` next to it.
    entries : sequence of :class:`kzspatial.study.moran_suite.MoranEntry`
        One per variable and weights for the focus year.
    by_year : pandas.DataFrame
        Global Moran by year: ``year, variable, label, weights, I, p_sim``.
    regions : geopandas.GeoDataFrame
        Region polygons with ``region_id`` for the cluster maps.
    weights : dict of str -> SpatialWeights
        Weights used, for the summary table.
    provenance : sequence of dict
        ``title, concept, unit, licence, citation, attribution`` of each data source.
    extra_tables : sequence of (name, title, note, DataFrame)
        Further result tables (e.g. bivariate and flow Moran), shown and saved as
        ``<name>.csv``.
    extra_figures : mapping of str -> (bytes, str), optional
        PNG and caption of a figure shown under the extra table of that name and
        saved as ``<name>.png``.

    Returns
    -------
    dict of str -> Path
        ``html``, ``figures`` folder and the CSV tables written.
    """
    from kzspatial._version import __version__

    path = Path(path)
    files_dir = path.with_name(path.stem + "_files")
    extra_figures = dict(extra_figures or {})
    unknown = sorted(set(extra_figures) - {name for name, *_ in extra_tables})
    if unknown:
        raise ValueError(
            f"extra_figures: no extra table named {', '.join(unknown)}; a figure is "
            "shown under the extra table of its name"
        )
    figures, blocks, summary = _entry_blocks(entries, regions, alpha)
    figures.update({f"{name}.png": png for name, (png, _) in extra_figures.items()})
    summary_df = pd.DataFrame(summary)
    weights_names, robustness = _robustness(summary_df)
    years, by_year_rows = _by_year_rows(by_year)
    weights_rows = _weights_rows(weights)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kzspatial.render", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    focus_year = int(summary_df["year"].iat[0]) if len(summary_df) else ""
    html = env.get_template("autocorrelation.html.j2").render(
        title=title
        or f"Spatial autocorrelation of internal migration in Kazakhstan, {focus_year}",
        version=__version__,
        generated=build_time().strftime("%Y-%m-%d %H:%M UTC"),
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        focus_year=focus_year,
        small_n_warning=SMALL_N_WARNING.format(
            n=summary_df["n"].max() if len(summary_df) else 0
        ),
        summary=summary,
        robustness=robustness,
        weights_names=weights_names,
        years_span=f"{years[0]}–{years[-1]}" if years else "",
        by_year_years=years,
        by_year_rows=by_year_rows,
        by_year_weights=by_year_weights,
        borders_note=borders_note,
        blocks=blocks,
        weights_rows=weights_rows,
        provenance=provenance,
        extra_tables=[
            {
                "title": t,
                "note": note,
                "html": frame.to_html(
                    index=False,
                    float_format=lambda v: f"{v:.4g}",
                    formatters={c: _p_value for c in frame.columns if _is_p(c)},
                    border=0,
                    na_rep="–",
                ),
                **_extra_figure(extra_figures.get(name)),
            }
            for name, t, note, frame in extra_tables
            if len(frame)
        ],
        attribution="; ".join(dict.fromkeys(p["attribution"] for p in provenance)),
        versions={"kzspatial": __version__, **versions()},
    )
    written: dict[str, Path] = {}
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    written["html"] = path
    files_dir.mkdir(parents=True, exist_ok=True)
    for name, data in figures.items():
        with atomic_path(files_dir / name, overwrite=True) as tmp:
            tmp.write_bytes(data)
    tables = [("moran_global.csv", summary_df), ("moran_by_year.csv", by_year)]
    tables += [(f"{name}.csv", frame) for name, _t, _n, frame in extra_tables]
    for name, frame in tables:
        with atomic_path(files_dir / name, overwrite=True) as tmp:
            frame.to_csv(tmp, index=False)
        written[name] = files_dir / name
    written["figures"] = files_dir
    return written
