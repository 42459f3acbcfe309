"""Self-contained HTML study report (edge: matplotlib, Jinja2, disk).

Title: "Internal migration in Kazakhstan 2010-2024: what the data say".

Trend charts, the regional balance typology, inequality and the published-figure check,
each figure captioned with its concept, border configuration and source; figures are
inlined as base64 PNG, styles are inline, every data string is HTML-escaped by Jinja's
autoescape. The tables are also written as CSV next to the HTML. Computation happens in
:mod:`kzspatial.study`; this module renders.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # rendering to files only; never needs a display

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from kzspatial.render._atomic import atomic_path
from kzspatial.render._clock import build_time
from kzspatial.render._png import figure_png, figure_style, title_at_top

__all__ = ["write_study_report"]

TITLE = "Internal migration in Kazakhstan 2010–2024: what the data say"
_OD_SOURCE = "BNS origin-destination file (Diar299/kz-migration), today's 20 regions"
_MONTHLY_SOURCE = "BNS monthly arrivals by region (kanatislambekov), 2022–2024"
_POP_SOURCE = "BNS population at 1 January (open-data-kazakhstan), borders of each date"
_GRP_SOURCE = "BNS GRP per capita (open-data-kazakhstan), borders of each year"
_CLASS_COLOURS = {
    "persistent gainer": "#1a9641",
    "neutral": "#bdbdbd",
    "persistent loser": "#d7191c",
    "volatile": "#fdae61",
    "not enough years": "#ffffff",
}


def _png(fig) -> str:
    return base64.b64encode(figure_png(fig, dpi=100)).decode()


def _year_axis(ax) -> None:
    """Tick the x axis at whole years only (never "2007.5")."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _moves_chart(national: pd.DataFrame, published: pd.DataFrame | None) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    full = national["period"] == "full year"
    for column, label, colour in (
        ("moves_between_regions", "moves between regions (OD file)", "#3b6ea8"),
        ("moves_within_republic", "all moves within the republic", "#c0392b"),
    ):
        y = national[column] / 1e3
        ax.plot(national["year"][full], y[full], "o-", color=colour, label=label)
        ax.plot(national["year"][~full], y[~full], "o", mfc="white", color=colour, ms=7)
    if published is not None and len(published):
        claims = published[published["variable"] == "internal_migration"]
        claims = claims.drop_duplicates("line")
        if len(claims):
            ax.plot(
                claims["year"],
                claims["published"],
                "s--",
                color="#555",
                ms=4,
                label="published figures (claims)",
            )
    ax.set_ylabel("thousand moves per year")
    _year_axis(ax)
    ax.legend(fontsize=7)
    title_at_top(ax, "National internal migration under both BNS concepts")
    return _png(fig)


def _shares_chart(national: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    columns = [c for c in national.columns if c.startswith("share_to_")]
    for column in columns:
        ax.plot(
            national["year"],
            100 * national[column],
            "o-",
            lw=2.2 if column == "share_to_three_cities" else 1.2,
            label=column.removeprefix("share_to_").replace("_", " "),
        )
    ax.set_ylabel("% of moves between regions")
    _year_axis(ax)
    ax.legend(fontsize=7, ncol=2)
    title_at_top(ax, "Share of moves between regions ending in the three cities")
    return _png(fig)


def _urban_chart(national: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(5.0, 3.2))
    ax.plot(national["year"], 100 * national["urban_share"], "o-", color="#6a51a3")
    ax.set_ylabel("urban share at 1 January, %")
    _year_axis(ax)
    title_at_top(ax, "Urban population share (1 January)")
    return _png(fig)


def _rates_heatmap(rates: pd.DataFrame, names: Mapping[str, str]) -> str:
    grid = rates.pivot(index="unit", columns="year", values="net_rate")
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(grid) + 1.2))
    bound = np.nanmax(np.abs(grid.to_numpy(float)))
    image = ax.imshow(
        np.ma.masked_invalid(grid.to_numpy(float)),
        cmap="RdBu",
        vmin=-bound,
        vmax=bound,
        aspect="auto",
    )
    ax.set_facecolor("#e0e0e0")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], fontsize=7)
    ax.set_yticks(
        range(grid.shape[0]), [names.get(u, u) for u in grid.index], fontsize=7
    )
    fig.colorbar(image, ax=ax, label="net per 1,000 residents", shrink=0.8)
    title_at_top(ax, "Net rate of moves between regions (grey: no population)")
    return _png(fig)


def _typology_chart(typology: pd.DataFrame) -> str:
    table = typology[np.isfinite(typology["mean_rate"])]
    fig, ax = plt.subplots(figsize=(6.4, 0.26 * len(table) + 1.2))
    y = np.arange(len(table))[::-1]
    ax.barh(
        y,
        table["mean_rate"],
        color=[_CLASS_COLOURS.get(c, "#fff") for c in table["class"]],
        edgecolor="#555",
        linewidth=0.4,
    )
    ax.hlines(y, table["min_rate"], table["max_rate"], color="#333", lw=0.8)
    ax.set_yticks(y, table["name"], fontsize=7)
    ax.axvline(0, color="#333", lw=0.8)
    ax.set_xlabel("net per 1,000: mean (bar) and range over the years (line)")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=c, ec="#555")
        for n, c in _CLASS_COLOURS.items()
        if (table["class"] == n).any()
    ]
    ax.legend(
        handles,
        [n for n in _CLASS_COLOURS if (table["class"] == n).any()],
        fontsize=7,
    )
    title_at_top(ax, "Regional balance typology")
    return _png(fig)


def _inequality_chart(inequality: pd.DataFrame) -> str:
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.2))
    for column, style in (
        ("gini", "o-"),
        ("gini_weighted", "o--"),
        ("theil", "s-"),
        ("theil_weighted", "s--"),
    ):
        left.plot(inequality["year"], inequality[column], style, label=column, ms=4)
    left.legend(fontsize=7)
    title_at_top(left, "Gini and Theil of GRP per capita")
    right.plot(inequality["year"], inequality["max_min_ratio"], "o-", color="#333")
    right.axhspan(1.5, 2.0, color="#fdae61", alpha=0.4, label="claimed 1.5–2")
    right.legend(fontsize=7)
    title_at_top(right, "Richest / poorest region")
    for ax in (left, right):
        _year_axis(ax)
        for year in (2018, 2022):
            ax.axvline(year - 0.5, color="#999", lw=0.6, ls=":")
    return _png(fig)


def _count(value: float) -> str:
    """Format a count with thousands separators: ``169,900``; NaN as "–"."""
    return "–" if pd.isna(value) else f"{value:,.0f}"


def _percent(value: float) -> str:
    """Format a value already in percent: ``22.7 %`` (no-break space); NaN as "–"."""
    return "–" if pd.isna(value) else f"{value:.1f}\u00a0%"


def _compact_years(text: str) -> str:
    """Shorten a year list: ``2010, 2015, 2020, 2021`` -> ``2010, 2015, 2020–21``.

    Runs of consecutive years collapse to ``first–last two digits``; the items are
    joined by no-break spaces and the dash by word joiners, so that the cell stays on
    one line. Text that is not a
    comma-separated list of years is returned as it is.
    """
    try:
        years = [int(y) for y in str(text).split(",")]
    except ValueError:
        return text
    runs: list[list[int]] = []
    for year in years:
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ",\u00a0".join(
        str(r[0]) if len(r) == 1 else f"{r[0]}\u2060–\u2060{r[-1] % 100:02d}"
        for r in runs
    )


def _compact_rates(text: str) -> str:
    """Shorten ``2010: +21.16; 2015: -0.27`` to ``+21.2 −0.3`` (years as in ``years``).

    One decimal, joined by no-break spaces; text in another form is returned as is.
    """
    try:
        rates = [float(part.split(":")[1]) for part in str(text).split(";")]
    except (IndexError, ValueError):
        return text
    return "\u00a0".join(f"{r:+.1f}".replace("-", "−") for r in rates)


def _national_formatters(frame: pd.DataFrame) -> dict:
    """Formatters of the national table: ``moves_*`` counts, ``*share*`` in percent."""
    formatters = {}
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        if str(column).startswith("moves_"):
            formatters[column] = _count
        elif "share" in str(column):
            formatters[column] = _percent
    return formatters


# a cell of 25+ characters with a letter in it (not a number, rate or year list)
_PROSE_CELL = re.compile(r"<td>([^<>]*[^\W\d_][^<>]*)</td>")
_PROSE_MIN_CHARS = 25


def _table_html(frame: pd.DataFrame, formatters: Mapping | None = None) -> str:
    """Render ``frame`` as an HTML table, year lists made compact.

    Columns ``years`` and ``rates`` holding text are shortened (see
    :func:`_compact_years`, :func:`_compact_rates`); ``formatters`` add others.
    """
    compact = {
        c: f
        for c, f in (("years", _compact_years), ("rates", _compact_rates))
        if c in frame.columns and not pd.api.types.is_numeric_dtype(frame[c])
    }
    # pandas escapes cell text by default (escape=True), so the markup is safe to mark
    html = frame.to_html(
        index=False,
        float_format=lambda v: f"{v:.4g}",
        formatters={**compact, **(formatters or {})},
        border=0,
        na_rep="–",
    )
    # prose cells (a claim's reading, a period's description) wrap in a readable
    # left-aligned column; every other cell stays on one line
    return _PROSE_CELL.sub(_mark_prose, html)


def _mark_prose(match: re.Match) -> str:
    text = match.group(1)
    if len(text) < _PROSE_MIN_CHARS:
        return match.group(0)
    return f'<td class="prose">{text}</td>'


@figure_style
def write_study_report(
    path: str | Path,
    *,
    national: pd.DataFrame,
    region_rates: pd.DataFrame,
    typology: pd.DataFrame,
    claims: pd.DataFrame,
    inequality: pd.DataFrame,
    inequality_trend: pd.DataFrame,
    correlation: pd.DataFrame,
    elasticities: pd.DataFrame,
    published: pd.DataFrame | None = None,
    provenance: Sequence[Mapping[str, str]] = (),
    scenario: Mapping[str, object] | None = None,
    region_names: Mapping[str, str] | None = None,
    overwrite: bool = False,
    title: str = TITLE,
) -> dict[str, Path]:
    """Render the study report and write its tables as CSV.

    Parameters
    ----------
    path : str or Path
        HTML file to write; CSV tables go to ``<stem>_files/`` next to it.
    national : pandas.DataFrame
        :func:`kzspatial.study.trends.national_trends`.
    region_rates : pandas.DataFrame
        :func:`kzspatial.study.trends.group_rates` of the 20 regions (today's borders).
    typology, claims : pandas.DataFrame
        :func:`kzspatial.study.typology.balance_typology` and
        :func:`~kzspatial.study.typology.check_balance_claims`.
    inequality, inequality_trend, correlation, elasticities : pandas.DataFrame
        From :mod:`kzspatial.study.inequality`.
    published : pandas.DataFrame, optional
        :func:`kzspatial.study.published.check_published`; no section when None.
    provenance : sequence of dict
        ``title, concept, unit, licence, citation`` of each data source.
    scenario : mapping, optional
        ``title``, ``note`` and ``table`` (DataFrame) of a scenario section; without it
        the report has no scenario section.
    region_names : mapping of str to str, optional
        Display names of region ids for the heatmap.

    Returns
    -------
    dict of str -> Path
        ``html``, ``files`` folder and each CSV table written.
    """
    from kzspatial._version import __version__

    path = Path(path)
    names = dict(region_names or {})
    if not names and "name" in typology.columns:
        names = dict(zip(typology["unit"], typology["name"], strict=True))
    national_view = national.assign(
        **{
            c: (100 * national[c]).round(1)
            for c in national.columns
            if "share" in c and c != "urban_share_note"
        }
    )
    figures = {
        "moves": _moves_chart(national, published),
        "shares": _shares_chart(national),
        "urban": _urban_chart(national),
        "rates": _rates_heatmap(region_rates, names),
        "typology": _typology_chart(typology),
        "inequality": _inequality_chart(inequality),
    }
    sections = {
        "national": national_view.drop(columns=["od_status"]),
        "od_status": national[["year", "period", "od_status"]],
        "typology": typology.drop(columns=["rule", "rates"]),
        "claims": claims.drop(columns=["rule"]),
        "inequality": inequality,
        "inequality_trend": inequality_trend,
        "correlation": correlation,
        "elasticities": elasticities,
    }
    if published is not None:
        sections["published"] = published
    scenario_block = None
    if scenario is not None:
        scenario_block = {
            "title": str(scenario.get("title", "Scenario")),
            "note": str(scenario.get("note", "")),
            "html": _table_html(scenario["table"]) if "table" in scenario else "",
        }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kzspatial.render", "templates"),
        autoescape=jinja2.select_autoescape(default=True),
    )
    rule = str(typology["rule"].iat[0]) if len(typology) else ""
    html = env.get_template("study.html.j2").render(
        title=title,
        version=__version__,
        generated=build_time().strftime("%Y-%m-%d %H:%M UTC"),
        figures=figures,
        tables={
            k: _table_html(v, _national_formatters(v) if k == "national" else None)
            for k, v in sections.items()
        },
        rule=rule,
        sources={
            "od": _OD_SOURCE,
            "monthly": _MONTHLY_SOURCE,
            "population": _POP_SOURCE,
            "grp": _GRP_SOURCE,
        },
        published=published is not None,
        scenario=scenario_block,
        provenance=list(provenance),
    )
    written: dict[str, Path] = {}
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    written["html"] = path
    files = path.with_name(path.stem + "_files")
    for name, frame in sections.items():
        target = files / f"study_{name}.csv"
        with atomic_path(target, overwrite=True) as tmp:
            frame.to_csv(tmp, index=False)
        written[name] = target
    written["files"] = files
    return written
