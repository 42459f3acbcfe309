"""Self-contained HTML spatial-autocorrelation report (edge: Jinja2, disk).

One HTML file with every figure inlined as base64 PNG and the styles inline, so it opens
offline and can be mailed as is; the figures are also written as PNG files and the tables
as CSV next to it. Computation happens in :mod:`kzspatial.study.moran_suite`; this module renders.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from kzspatial._show_versions import versions
from kzspatial.render._atomic import atomic_path
from kzspatial.render._clock import build_time

__all__ = ["write_autocorrelation_report"]

SMALL_N_WARNING = (
    "With only {n} regions, Moran's I has little power: a real but moderate pattern may "
    "go undetected, and a single large region or city can drive the result. The three "
    "republican cities are enclaves with one neighbour each under contiguity, so their "
    "local statistics rest on one comparison. Treat p-values as indicative, look at the "
    "robustness across weights below, and prefer effect sizes (I) to significance stars."
)


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
    entries: Sequence, drawings: Sequence, alpha: float
) -> tuple[dict[str, bytes], list[dict], list[dict]]:
    """Return the figures of each entry by file name, the report blocks, summary rows."""
    figures: dict[str, bytes] = {}
    blocks, summary = [], []
    for e, drawn in zip(entries, drawings, strict=True):
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
    figures: Sequence[tuple[bytes, bytes, bytes]] | None = None,
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
    figures : sequence of (bytes, bytes, bytes), optional
        The entries' figures as
        :func:`kzspatial.render.report_figures.draw_entry_figures` returns them, when
        drawn beforehand (the pipeline draws them in a worker process); drawn here
        when None.

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
    if figures is None:
        from kzspatial.render.report_figures import draw_entry_figures

        figures = draw_entry_figures(entries, regions)
    if len(figures) != len(entries):
        raise ValueError(
            f"figures: {len(figures)} drawings for {len(entries)} entries; pass "
            "draw_entry_figures(entries, regions) of these entries"
        )
    figures, blocks, summary = _entry_blocks(entries, figures, alpha)
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
