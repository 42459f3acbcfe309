"""One offline HTML page to explore every OD year: the flow explorer.

:func:`explorer_map` puts the regions, every year's OD flows and (optionally) population,
gravity-model fits and a scenario into one folium map as compact JSON, and inlines
``_assets/explorer.js``, which draws everything client-side: a year slider with play,
modes (observed, net, rates per 1,000 of origin population, fitted, raw and Pearson
residuals, scenario), top-N and threshold controls, a region filter (click or select)
with a panel of its inflows and outflows, the hubs as proportional circles of net
migration, a choropleth of the net migration rate with its own legend, and a summary of
the drawn and total flows.

Safety: data reach the page only as JSON inside ``<script type="application/json">``
with ``<``, ``>`` and ``&`` escaped, so no name can close the element or start markup;
the script puts data into the DOM only as text. Neither goes through a Jinja template.

Write the map with :func:`kzspatial.render.maps.save_map` (offline, atomic).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, REGION_ID, YEAR
from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.render.maps._checks import anchor_points, require_columns

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["EXPLORER_MODES", "explorer_data", "explorer_map"]

#: Modes of the explorer, in the order of its mode selector.
EXPLORER_MODES = (
    "observed",
    "net",
    "rate",
    "fitted",
    "residual",
    "pearson",
    "scenario",
)
POPULATION = "population"
FITTED = "fitted"
DATA_ELEMENT_ID = "kz-explorer-data"
# 4 decimals of a degree are about 11 m: invisible at country zoom, shorter JSON.
_COORD_DECIMALS = 4
# Escapes that keep JSON inert inside a <script> element: no "</script>", no "<!--".


def _as_int_year(values: pd.Series, what: str) -> pd.Series:
    years = pd.to_numeric(values, errors="coerce")
    bad = years.isna() | (years != np.round(years))
    if bad.any():
        raise ValidationError(
            f"{what}: {int(bad.sum())} year(s) are missing or not whole numbers, e.g. "
            f"{values[bad].head(3).tolist()}"
        )
    return years.astype(np.int64)


def _numbers(values: pd.Series, what: str) -> NDArray[np.float64]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers) | (numbers < 0)
    if bad.any():
        raise ValidationError(
            f"{what}: {int(bad.sum())} value(s) are missing, non-numeric, infinite or "
            "negative"
        )
    return numbers


def _pairs_table(
    table: pd.DataFrame,
    index: dict[str, int],
    *,
    value_col: str,
    what: str,
    need_year: bool = True,
) -> pd.DataFrame:
    """Validate an OD-like table; return ``year, o, d, v`` (region positions)."""
    columns = [ORIGIN, DESTINATION, value_col] + ([YEAR] if need_year else [])
    require_columns(table, columns, what)
    out = pd.DataFrame(
        {
            YEAR: _as_int_year(table[YEAR], what).to_numpy() if YEAR in table else -1,
            "origin": table[ORIGIN].astype(str).to_numpy(),
            "destination": table[DESTINATION].astype(str).to_numpy(),
            "v": _numbers(table[value_col], f"{what} {value_col!r}"),
        }
    )
    unknown = sorted((set(out["origin"]) | set(out["destination"])) - set(index))
    if unknown:
        raise AlignmentError(
            f"{what}: {len(unknown)} region id(s) are not in regions_gdf: "
            f"{unknown[:10]}; flows and regions must use the same codes"
        )
    if out.duplicated([YEAR, "origin", "destination"]).any():
        raise ValidationError(
            f"{what}: duplicate (year, origin, destination) rows; aggregate them first"
        )
    out = out[out["origin"] != out["destination"]]  # self-flows have no arc
    out["o"] = out["origin"].map(index).astype(np.int64)
    out["d"] = out["destination"].map(index).astype(np.int64)
    return out.sort_values([YEAR, "o", "d"], kind="stable").reset_index(drop=True)


def _compact(values: NDArray[np.float64], decimals: int) -> list[float | int]:
    """Integers when the values are whole (shorter JSON), else rounded floats."""
    if np.all(values == np.round(values)):
        return values.astype(np.int64).tolist()
    return np.round(values, decimals).tolist()


def _population_by_year(
    population: pd.DataFrame, ids: list[str], years: list[int]
) -> tuple[list[list[float]], list[int]]:
    """Return every region's population for each OD year and the population year used.

    A year without figures takes the latest earlier year (population on 1 January
    changes slowly), or the earliest year when none is earlier.
    """
    require_columns(population, [YEAR, REGION_ID, POPULATION], "population")
    table = pd.DataFrame(
        {
            YEAR: _as_int_year(population[YEAR], "population").to_numpy(),
            REGION_ID: population[REGION_ID].astype(str).to_numpy(),
            POPULATION: _numbers(population[POPULATION], "population"),
        }
    )
    if table.duplicated([YEAR, REGION_ID]).any():
        raise ValidationError("population: duplicate (year, region_id) rows")
    wide = table.pivot(index=YEAR, columns=REGION_ID, values=POPULATION)
    missing = [r for r in ids if r not in wide.columns]
    if missing:
        raise AlignmentError(
            f"population lacks {len(missing)} region(s) of regions_gdf: {missing[:10]}"
        )
    wide = wide[ids]
    complete = wide[wide.notna().all(axis=1) & (wide > 0).all(axis=1)]
    if complete.empty:
        raise ValidationError(
            "population: no year has a positive figure for every region"
        )
    available = complete.index.to_numpy()
    rows, used = [], []
    for year in years:
        earlier = available[available <= year]
        pick = int(earlier.max()) if earlier.size else int(available.min())
        used.append(pick)
        rows.append(_compact(complete.loc[pick].to_numpy(dtype=np.float64), 0))
    return rows, used


def _fitted_by_year(
    fitted: pd.DataFrame, flows: pd.DataFrame, index: dict[str, int]
) -> dict[int, list[float | int]]:
    """Fitted values aligned with each year's observed pairs (years with a fit)."""
    fit = _pairs_table(fitted, index, value_col=FITTED, what="fitted")
    merged = flows.merge(
        fit[[YEAR, "o", "d", "v"]].rename(columns={"v": "f"}),
        on=[YEAR, "o", "d"],
        how="outer",
        indicator=True,
    )
    extra = merged[merged["_merge"] == "right_only"]
    if len(extra):
        raise AlignmentError(
            f"fitted has {len(extra)} (year, origin, destination) row(s) absent from "
            f"od, e.g. year {int(extra[YEAR].iloc[0])}"
        )
    out = {}
    for year, part in merged.groupby(YEAR, sort=True):
        if part["f"].notna().any():
            if part["f"].isna().any():
                raise AlignmentError(
                    f"fitted covers year {year} only partly: "
                    f"{int(part['f'].isna().sum())} observed pair(s) have no fitted "
                    "value"
                )
            out[int(year)] = _compact(part["f"].to_numpy(dtype=np.float64), 2)
    return out


def _scenario_lists(
    scenario: pd.DataFrame, index: dict[str, int], years: list[int]
) -> list[dict[str, list[Any]] | None]:
    has_year = YEAR in scenario.columns
    table = _pairs_table(
        scenario, index, value_col=FLOW, what="scenario", need_year=has_year
    )
    lists: list[dict[str, list[Any]] | None] = []
    for year in years:
        part = table[table[YEAR] == year] if has_year else table
        lists.append(
            {
                "o": part["o"].tolist(),
                "d": part["d"].tolist(),
                "v": _compact(part["v"].to_numpy(), 2),
            }
            if len(part)
            else None
        )
    if all(item is None for item in lists):
        raise ValidationError(
            f"scenario has no rows for the OD years {years[:5]}...; give it no year "
            "column to apply it to every year"
        )
    return lists


def _geometry(
    regions_gdf: gpd.GeoDataFrame, simplify_tolerance: float | None
) -> dict[str, Any]:
    import shapely

    geometry = regions_gdf.geometry.to_crs("EPSG:4326")
    if simplify_tolerance:
        geometry = geometry.simplify(simplify_tolerance, preserve_topology=True)
    rounded = shapely.transform(
        geometry.to_numpy(), lambda xy: np.round(xy, _COORD_DECIMALS)
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"i": i},
                "geometry": shapely.geometry.mapping(geom),
            }
            for i, geom in enumerate(rounded)
        ],
    }


def _check_options(mode: str, top_n: int, threshold: float) -> None:
    problems = []
    if mode not in EXPLORER_MODES:
        problems.append(f"mode must be one of {list(EXPLORER_MODES)}; got {mode!r}")
    if isinstance(top_n, bool) or not isinstance(top_n, int | np.integer) or top_n < 1:
        problems.append(f"top_n must be a positive integer; got {top_n!r}")
    if not isinstance(threshold, int | float) or not np.isfinite(threshold):
        problems.append(f"threshold must be a finite number >= 0; got {threshold!r}")
    elif threshold < 0:
        problems.append(f"threshold must be >= 0; got {threshold!r}")
    if problems:
        raise ValidationError("; ".join(problems))


def explorer_data(
    regions_gdf: gpd.GeoDataFrame,
    od: pd.DataFrame,
    *,
    population: pd.DataFrame | None = None,
    fitted: pd.DataFrame | None = None,
    scenario: pd.DataFrame | None = None,
    scenario_label: str = "Scenario",
    hubs: Sequence[str] | None = None,
    title: str | None = None,
    mode: str = "observed",
    top_n: int = 50,
    threshold: float = 0.0,
    region_id_col: str = REGION_ID,
    name_col: str | None = "name_en",
    simplify_tolerance: float | None = 0.005,
) -> dict[str, Any]:
    """Validate the explorer's data; return a JSON-ready dict (used by explorer_map).

    Parameters
    ----------
    regions_gdf : geopandas.GeoDataFrame
        One polygon per region with a CRS, ``region_id_col`` and ``name_col``.
    od : pandas.DataFrame
        Long OD table ``year, origin, destination, flow`` (persons), one row per pair
        and year; self-flows are ignored.
    population : pandas.DataFrame, optional
        ``year, region_id, population``; enables the rate mode and the choropleth of
        the net migration rate per 1,000 residents. A year without figures uses the
        latest earlier year.
    fitted : pandas.DataFrame, optional
        ``year, origin, destination, fitted`` (e.g. the doubly-constrained gravity
        model), covering every observed pair of each year it has; enables the fitted,
        raw-residual (observed − fitted, persons) and Pearson-residual
        ((observed − fitted) / √fitted) modes.
    scenario : pandas.DataFrame, optional
        ``origin, destination, flow`` and optionally ``year`` (without it, the scenario
        is shown for every year); enables the scenario mode.
    scenario_label : str, default "Scenario"
        Name of the scenario in the mode selector and legend.
    hubs : sequence of str, optional
        Region ids drawn as proportional circles of net migration over the choropleth
        (the republican cities, too small to see as polygons).
    title : str, optional
        Page title; defaults to the span of years.
    mode : str, default "observed"
        Initial mode, one of :data:`EXPLORER_MODES`.
    top_n : int, default 50
        Initial number of flows drawn (the largest by the mode's measure).
    threshold : float, default 0
        Initial minimum of the mode's measure (absolute value) for a flow to be drawn.
    region_id_col, name_col : str
        Columns of ``regions_gdf``; ``name_col=None`` labels regions by their ids.
    simplify_tolerance : float or None, default 0.005
        Douglas–Peucker tolerance in degrees for region outlines (smaller page).

    Returns
    -------
    dict
        ``title, ids, names, lonlat, geometry, years, flows`` (per year: region
        positions ``o``, ``d``, observed ``v`` and fitted ``f`` or None),
        ``population`` and ``populationYears`` (or None), ``scenario`` (or None),
        ``hubs`` (region positions) and the initial ``options``.

    Raises
    ------
    ValidationError
        On missing columns, non-integral years, negative or non-finite values,
        duplicate rows, bad options, or a mode whose input is missing.
    AlignmentError
        When ids of ``od``, ``population``, ``fitted``, ``scenario`` or ``hubs`` are
        not regions of ``regions_gdf``, or ``fitted`` does not match ``od``.
    CRSError
        When ``regions_gdf`` has no CRS.
    """
    _check_options(mode, top_n, threshold)
    if len(regions_gdf) == 0:
        raise ValidationError("regions_gdf is empty")
    if name_col is not None:
        require_columns(regions_gdf, [name_col], "regions_gdf")
    anchors = anchor_points(regions_gdf, region_id_col)
    ids = anchors.index.tolist()
    names = regions_gdf[name_col].astype(str).tolist() if name_col is not None else ids
    index = {region: i for i, region in enumerate(ids)}

    flows = _pairs_table(od, index, value_col=FLOW, what="od")
    if flows.empty:
        raise ValidationError("od has no flows between two different regions")
    years = sorted(int(y) for y in flows[YEAR].unique())
    fitted_years = {} if fitted is None else _fitted_by_year(fitted, flows, index)
    if mode in ("fitted", "residual", "pearson") and not fitted_years:
        raise ValidationError(f"mode={mode!r} needs fitted=")
    if mode == "rate" and population is None:
        raise ValidationError("mode='rate' needs population=")
    if mode == "scenario" and scenario is None:
        raise ValidationError("mode='scenario' needs scenario=")

    per_year = []
    for year, part in flows.groupby(YEAR, sort=True):
        per_year.append(
            {
                "o": part["o"].tolist(),
                "d": part["d"].tolist(),
                "v": _compact(part["v"].to_numpy(), 2),
                "f": fitted_years.get(int(year)),
            }
        )
    pop_rows, pop_years = (
        _population_by_year(population, ids, years)
        if population is not None
        else (None, None)
    )
    hub_ids = [] if hubs is None else [str(h) for h in hubs]
    if isinstance(hubs, str) or any(h not in index for h in hub_ids):
        raise AlignmentError(
            f"hubs must be a sequence of region ids of regions_gdf; got {hubs!r}"
        )
    return {
        "title": title
        if title is not None
        else f"Internal migration {years[0]}–{years[-1]}",
        "ids": ids,
        "names": names,
        "lonlat": np.round(anchors[["lon", "lat"]].to_numpy(), 4).tolist(),
        "geometry": _geometry(regions_gdf, simplify_tolerance),
        "years": years,
        "flows": per_year,
        "population": pop_rows,
        "populationYears": pop_years,
        "scenario": None
        if scenario is None
        else {
            "label": str(scenario_label),
            "flows": _scenario_lists(scenario, index, years),
        },
        "hubs": [index[h] for h in hub_ids],
        "options": {"mode": mode, "topN": int(top_n), "threshold": float(threshold)},
    }


def _explorer_script() -> str:
    return (
        resources.files("kzspatial.render")
        .joinpath("_assets", "explorer.js")
        .read_text(encoding="utf-8")
    )


def _explorer_element(data: dict[str, Any]) -> Any:
    """Build a branca element writing the JSON into the body, the script after the map.

    Add it to the map: the script starts the explorer on its parent's variable. Both
    are written as plain text, never compiled as a Jinja template (a ``MacroElement``
    would be, so ``{{`` in a name would be evaluated).
    """
    from branca.element import MacroElement

    from kzspatial.render.maps._safe import RawText, json_block

    class _Explorer(MacroElement):
        def render(self, **kwargs: Any) -> None:  # noqa: ARG002 - branca's signature
            # The map variable is folium's own identifier (map_<hex>), not data; read
            # at rendering, since save_map renumbers the ids for deterministic pages.
            map_name = self._parent.get_name()
            start = f"\nkzExplorer.start({map_name}, {json.dumps(DATA_ELEMENT_ID)});\n"
            figure = self.get_root()
            figure.html.add_child(
                json_block(DATA_ELEMENT_ID, data, compact=True),
                name=self.get_name() + "_data",
            )
            figure.script.add_child(
                RawText(_explorer_script() + start), name=self.get_name()
            )

    return _Explorer()


def explorer_map(
    regions_gdf: gpd.GeoDataFrame,
    od: pd.DataFrame,
    *,
    tiles: str | None = None,
    attribution: str | None = None,
    **options: Any,
) -> folium.Map:
    """Interactive flow explorer of every OD year in one offline page.

    Parameters
    ----------
    regions_gdf : geopandas.GeoDataFrame
        One polygon per region with a CRS, ``region_id_col`` and ``name_col``.
    od : pandas.DataFrame
        Long OD table ``year, origin, destination, flow`` (persons).
    tiles, attribution : str, optional
        Basemap as in :func:`kzspatial.render.maps.flow_map`; by default none (the
        regions are the basemap and nothing is fetched).
    **options
        The keyword arguments of :func:`explorer_data`: ``population``, ``fitted``,
        ``scenario``, ``scenario_label``, ``hubs``, ``title``, the initial ``mode``,
        ``top_n`` and ``threshold``, ``region_id_col``, ``name_col``,
        ``simplify_tolerance``.

    Returns
    -------
    folium.Map
        Write it with :func:`kzspatial.render.maps.save_map` (offline by default).

    Raises
    ------
    ValidationError, AlignmentError, CRSError
        As :func:`explorer_data`, before any rendering; also for a URL ``tiles``
        template without ``attribution``.

    Examples
    --------
    >>> m = explorer_map(regions, od, population=population, fitted=fitted,
    ...                  hubs=["KZ-71", "KZ-75", "KZ-79"])  # doctest: +SKIP
    >>> save_map(m, "maps/flows.html")  # doctest: +SKIP
    """
    import folium

    if tiles is not None and "{" in tiles and not attribution:
        raise ValidationError(
            "a URL tiles template needs attribution= (the tile provider's)"
        )
    data = explorer_data(regions_gdf, od, **options)
    m = folium.Map(tiles=tiles, attr=attribution, control_scale=True, zoom_snap=0.25)
    bounds = regions_gdf.geometry.to_crs("EPSG:4326").total_bounds
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    m.add_child(_explorer_element(data))
    return m
