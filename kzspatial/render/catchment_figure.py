"""Figure of the leading hub of every region and OD year (edge: matplotlib).

Two panels side by side, observed and calibrated model: one row per region, one column
per OD year, each cell in the colour of the hub that receives most of the region's
movers to the three hubs. It shows at a glance which regions moved between hubs from
the first to the last OD year (the table ``catchment_changes`` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # rendering to files only; never needs a display

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from kzspatial._constants import YEAR
from kzspatial.render._png import figure_png, figure_style

__all__ = ["leading_hub_figure", "leading_hub_grid"]

#: Panels of the figure: column of the agreement table -> title.
PANELS = {"observed_hub": "Observed", "predicted_hub": "Calibrated Huff"}


def leading_hub_grid(
    agreement: pd.DataFrame, column: str, *, model: str = "calibrated Huff"
) -> pd.DataFrame:
    """Return the leading hub of ``column`` as a region × OD-year table.

    Parameters
    ----------
    agreement : pandas.DataFrame
        ``year, model, region_id, observed_hub, predicted_hub`` (the table
        ``catchment_agreement``).
    column : str
        ``observed_hub`` or ``predicted_hub``.
    model : str
        Rows of this model only (in-sample calibrated Huff by default).

    Returns
    -------
    pandas.DataFrame
        Index ``region_id`` (sorted), columns the OD years (ascending), values hub
        names; a region missing in a year has NaN.

    Raises
    ------
    ValueError
        If ``column`` is not a column of ``agreement``, ``model`` has no rows, or a
        region appears twice in one year for that model.
    """
    if column not in agreement.columns:
        raise ValueError(
            f"leading_hub_grid: no column {column!r} in the agreement table "
            f"(columns: {', '.join(map(str, agreement.columns))}); pass "
            "'observed_hub' or 'predicted_hub'"
        )
    rows = agreement[agreement["model"] == model]
    if rows.empty:
        models = ", ".join(map(str, agreement["model"].unique()))
        raise ValueError(
            f"leading_hub_grid: no rows of model {model!r} (models: {models})"
        )
    twice = rows.duplicated([YEAR, "region_id"])
    if twice.any():
        first = rows[twice].iloc[0]
        raise ValueError(
            f"leading_hub_grid: region {first['region_id']} appears twice in "
            f"{first[YEAR]} for model {model!r}; pass one row per region and year"
        )
    grid = rows.pivot(index="region_id", columns=YEAR, values=column)
    return grid.sort_index().sort_index(axis=1)


def _codes(grid: pd.DataFrame, hubs: list[str]) -> np.ma.MaskedArray:
    """Hub index of every cell (masked where the region has no value that year)."""
    index = {h: k for k, h in enumerate(hubs)}
    codes = grid.apply(lambda col: col.map(index)).to_numpy(dtype=float)
    return np.ma.masked_invalid(codes)


@figure_style
def leading_hub_figure(
    agreement: pd.DataFrame,
    colours: Mapping[str, tuple[int, ...]],
    *,
    labels: Mapping[str, str] | None = None,
    model: str = "calibrated Huff",
) -> bytes:
    """Draw the observed and the model's leading hub, region × OD year, as PNG.

    Parameters
    ----------
    agreement : pandas.DataFrame
        See :func:`leading_hub_grid`.
    colours : mapping of str -> tuple of int
        RGB(A) 0–255 of every hub name (``HUB_COLOURS``).
    labels : mapping of str -> str, optional
        Row label of each region id (default: the id).
    model : str
        Model whose ``predicted_hub`` fills the right panel.

    Returns
    -------
    bytes
        The PNG image.

    Raises
    ------
    ValueError
        If a leading hub has no colour in ``colours``.
    """
    grids = {
        title: leading_hub_grid(agreement, column, model=model)
        for column, title in PANELS.items()
    }
    named = set().union(*(set(g.stack().dropna()) for g in grids.values()))
    missing = sorted(named - set(colours))
    if missing:
        raise ValueError(
            f"leading_hub_figure: no colour for hub(s) {', '.join(missing)}; "
            f"colours has {', '.join(colours)}"
        )
    hubs = list(colours)
    cmap = ListedColormap([tuple(c / 255 for c in colours[h][:3]) for h in hubs])
    cmap.set_bad("#ffffff")
    first = next(iter(grids.values()))
    names = [r if labels is None else labels.get(r, r) for r in first.index]
    fig, axes = plt.subplots(
        1,
        2,
        figsize=(2.2 + 0.55 * 2 * first.shape[1], 0.9 + 0.24 * len(first)),
        sharey=True,
    )
    for ax, (title, grid) in zip(axes, grids.items(), strict=True):
        grid = grid.reindex(index=first.index)
        ax.pcolormesh(
            _codes(grid, hubs),
            cmap=cmap,
            vmin=-0.5,
            vmax=len(hubs) - 0.5,
            edgecolors="white",
            linewidth=1.0,
        )
        ax.set_xticks(np.arange(grid.shape[1]) + 0.5, [str(y) for y in grid.columns])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(title, fontsize=9)
    axes[0].set_yticks(np.arange(len(names)) + 0.5, names, fontsize=7)
    axes[0].invert_yaxis()  # first region on top, as in the table (y is shared)
    fig.tight_layout(rect=(0, 0.05, 1, 1))  # room below the panels for the legend
    handles = [Patch(color=cmap(k), label=h) for k, h in enumerate(hubs)]
    # the legend of both panels, centred under them at the figure's foot: held by the
    # left axes, at that place in its coordinates, so that figure_png draws it once
    box = axes[0].get_position()
    axes[0].legend(
        handles=handles,
        loc="lower center",
        ncol=len(hubs),
        fontsize=7,
        frameon=False,
        bbox_to_anchor=((0.5 - box.x0) / box.width, (-0.02 - box.y0) / box.height),
    )
    return figure_png(fig, dpi=110)
