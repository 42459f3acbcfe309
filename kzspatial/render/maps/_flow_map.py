"""The flow map: :func:`flow_map` and its steps (checks, flow selection, layers).

Flows are drawn as curved, directed arcs (:mod:`kzspatial.render.maps._arcs`) over a
diverging choropleth of net migration; widths scale with the square root of volume and
the largest flows are drawn last, on top. The folium layers themselves are built in
:mod:`kzspatial.render.maps.layers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, REGION_ID
from kzspatial._errors import ValidationError
from kzspatial.render.maps._arcs import arcs_for
from kzspatial.render.maps._checks import (
    FlowMode,
    anchor_points,
    check_flows,
    check_options,
    require_columns,
)
from kzspatial.render.maps.layers import (
    _add_catchments,
    _add_flow_layer,
    _add_flow_legend,
    _add_hubs,
    _add_regions_layer,
    _flow_features,
)

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["flow_map"]

# Kazakhstan, [[south, west], [north, east]], used when a map has nothing to fit to.
_KZ_BOUNDS = [[40.6, 46.5], [55.4, 87.3]]


def flow_map(
    regions_gdf: gpd.GeoDataFrame,
    flows_df: pd.DataFrame,
    *,
    value_col: str = FLOW,
    mode: FlowMode = "top",
    top_n: int = 50,
    threshold: float | None = None,
    year: int | None = None,
    max_flows: int = 5000,
    region_id_col: str = REGION_ID,
    name_col: str | None = "name_en",
    origin_col: str = ORIGIN,
    destination_col: str = DESTINATION,
    fitted_col: str = "fitted",
    residual_col: str = "residual",
    net_migration_col: str | None = None,
    hubs: gpd.GeoDataFrame | Sequence[str] | None = None,
    catchments: gpd.GeoDataFrame | None = None,
    hub_col: str = "hub",
    tiles: str | None = None,
    attribution: str | None = None,
    title: str | None = None,
    bend: float = 0.2,
    n_vertices: int = 16,
    simplify_tolerance: float | None = 0.005,
    m: folium.Map | None = None,
) -> folium.Map:
    """Interactive map of migration flows over a net-migration choropleth.

    Layers, bottom to top: optional basemap tiles, net migration by region (diverging,
    white at zero), optional catchments (hidden by default), the flows as one GeoJSON
    layer, hubs; plus a colour legend, a flow-width legend with the title, and a layer
    control.

    Parameters
    ----------
    regions_gdf : geopandas.GeoDataFrame
        One polygon per region, any CRS, with ``region_id_col`` and (optionally)
        ``name_col``.
    flows_df : pandas.DataFrame
        Long OD table: ``origin_col``, ``destination_col``, ``value_col``; optionally
        ``fitted_col``, ``residual_col`` and ``year``. Self-flows are ignored.
    value_col : str, default "flow"
        Observed persons; also used for the net-migration choropleth.
    mode : {"top", "threshold", "net", "residual"}, default "top"
        ``"top"``: the ``top_n`` largest flows. ``"threshold"``: every flow with
        ``value >= threshold``. ``"net"``: the ``top_n`` largest net flows ``F_ij -
        F_ji``, drawn from the net sender to the net receiver. ``"residual"``: the
        ``top_n`` flows with the largest ``|residual|`` (observed − fitted), green above
        the model, purple below.
    top_n : int, default 50
        Number of flows drawn in the ``"top"``, ``"net"`` and ``"residual"`` modes.
    threshold : float, optional
        Minimum volume in ``"threshold"`` mode (required there, rejected elsewhere).
    year : int, optional
        Year to map when ``flows_df`` has a ``year`` column with several years.
    max_flows : int, default 5000
        Upper limit on drawn flows; more raises, as the HTML would grow past a few MB
        and the map become an unreadable hairball. Keep the full OD in the GeoPackage.
    region_id_col, name_col, origin_col, destination_col, fitted_col, residual_col : str
        Column names. ``name_col=None`` labels regions by their ids.
    net_migration_col : str, optional
        Column of ``regions_gdf`` holding net migration; by default it is computed from
        ``flows_df`` as inflow − outflow.
    hubs : geopandas.GeoDataFrame or sequence of str, optional
        Hub points (labelled by ``name_col`` when present) or region ids whose anchor
        points mark the hubs.
    catchments : geopandas.GeoDataFrame, optional
        Catchment polygons with a ``hub_col`` column, shown as a toggleable layer.
    hub_col : str, default "hub"
        Column of ``catchments`` naming each polygon's hub.
    tiles : {None, "OpenStreetMap"} or str, optional
        Basemap: None (the regions are the basemap; nothing is fetched), a
        folium/xyzservices name, or a URL template such as
        ``"https://tile.example.org/{z}/{x}/{y}.png"``, which needs ``attribution``.
        Unreachable tiles leave a grey background; regions and flows still show.
    attribution : str, optional
        Attribution for a URL ``tiles`` template.
    title : str, optional
        Title shown in the flow legend; defaults to a description of the mode and year.
    bend, n_vertices : float, int
        Arc shape, see :func:`flow_arcs`.
    simplify_tolerance : float or None, default 0.005
        Douglas–Peucker tolerance in degrees (about 500 m) for region and catchment
        outlines, to keep the HTML small; None keeps the full detail.
    m : folium.Map, optional
        Existing map to draw on (tiles and bounds are left as they are).

    Returns
    -------
    folium.Map
        Write it with :func:`save_map` (offline, atomic) or use it in a notebook.

    Raises
    ------
    ValidationError
        On bad options, missing columns, bad values, or more than ``max_flows`` flows
        selected.
    AlignmentError
        When flow or hub ids are missing from ``regions_gdf``.
    CRSError
        When a GeoDataFrame has no CRS.
    ImportError
        When folium is not installed.
    """
    # Long for its docstring and keyword plumbing; each step is a helper below.
    try:
        import folium
    except ImportError as err:  # pragma: no cover - folium is a dependency
        raise ImportError("flow_map needs folium: pip install folium") from err

    check_options(mode, top_n, threshold, max_flows)
    if tiles is not None and "{" in tiles and not attribution:
        raise ValidationError(
            "a URL tiles template needs attribution= (the tile provider's)"
        )
    columns = {
        "origin_col": origin_col,
        "destination_col": destination_col,
        "value_col": value_col,
    }
    anchors, names, flows = _prepare(
        regions_gdf,
        flows_df,
        region_id_col=region_id_col,
        name_col=name_col,
        year=year,
        **columns,
    )
    chosen, size_label = _select_flows(
        flows,
        mode=mode,
        fitted_col=fitted_col,
        residual_col=residual_col,
        top_n=top_n,
        threshold=threshold,
        **columns,
    )
    if len(chosen) > max_flows:
        raise ValidationError(
            f"{len(chosen)} flows selected, more than max_flows={max_flows}: raise "
            "threshold, "
            "use mode='top' with a smaller top_n, or raise max_flows"
        )
    if m is None:
        m = _new_map(regions_gdf, tiles=tiles, attribution=attribution, n=len(chosen))

    year_text = f", {year}" if year is not None else ""
    _add_region_layers(
        m,
        regions_gdf,
        flows,
        catchments,
        region_id_col=region_id_col,
        name_col=name_col,
        net_migration_col=net_migration_col,
        hub_col=hub_col,
        simplify_tolerance=simplify_tolerance,
        caption=f"Net migration (persons){year_text}",
        **columns,
    )
    selection = _selection_text(mode, len(chosen), threshold)
    size_max = float(chosen["_size"].max()) if len(chosen) else 1.0
    if len(chosen):
        _draw_flows(
            m,
            chosen,
            anchors,
            names,
            mode=mode,
            fitted_col=fitted_col,
            residual_col=residual_col,
            bend=bend,
            n_vertices=n_vertices,
            size_max=size_max,
            name=f"Flows ({selection})",
            **columns,
        )
    if hubs is not None:
        _add_hubs(m, hubs, anchors, names, name_col=name_col)
    _add_flow_legend(
        m,
        title=title or f"Internal migration{year_text}",
        subtitle=selection.capitalize() if len(chosen) else "No flows selected",
        size_label=size_label,
        size_max=size_max,
        mode=mode,
    )
    if not any(
        isinstance(child, folium.LayerControl) for child in m._children.values()
    ):
        folium.LayerControl(collapsed=False).add_to(m)
    return m


def _prepare(
    regions_gdf: gpd.GeoDataFrame,
    flows_df: pd.DataFrame,
    *,
    region_id_col: str,
    name_col: str | None,
    origin_col: str,
    destination_col: str,
    value_col: str,
    year: int | None,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Anchor points and display names by region id, and the checked flows."""
    if name_col is not None:
        require_columns(regions_gdf, [name_col], "regions_gdf")
    anchors = anchor_points(regions_gdf, region_id_col)
    names = pd.Series(
        (regions_gdf[name_col] if name_col else regions_gdf[region_id_col])
        .astype(str)
        .to_numpy(),
        index=anchors.index,
    )
    flows = check_flows(
        flows_df,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        value_col=value_col,
        year=year,
    )
    return anchors, names, flows


def _new_map(
    regions_gdf: gpd.GeoDataFrame, *, tiles: str | None, attribution: str | None, n: int
) -> folium.Map:
    """Empty map fitted to the regions (to Kazakhstan if they have no extent)."""
    import folium

    m = folium.Map(
        tiles=tiles,
        attr=attribution,
        prefer_canvas=n > 2000,
        control_scale=True,
        zoom_snap=0.25,
    )
    bounds = regions_gdf.geometry.to_crs("EPSG:4326").total_bounds
    m.fit_bounds(
        [[bounds[1], bounds[0]], [bounds[3], bounds[2]]]
        if np.all(np.isfinite(bounds))
        else _KZ_BOUNDS
    )
    return m


def _add_region_layers(
    m: folium.Map,
    regions_gdf: gpd.GeoDataFrame,
    flows: pd.DataFrame,
    catchments: gpd.GeoDataFrame | None,
    *,
    region_id_col: str,
    name_col: str | None,
    origin_col: str,
    destination_col: str,
    value_col: str,
    net_migration_col: str | None,
    hub_col: str,
    simplify_tolerance: float | None,
    caption: str,
) -> None:
    """Add the net-migration choropleth and, if given, the catchments above it."""
    net = _net_migration(
        regions_gdf,
        flows,
        region_id_col=region_id_col,
        origin_col=origin_col,
        destination_col=destination_col,
        value_col=value_col,
        net_migration_col=net_migration_col,
    )
    _add_regions_layer(
        m,
        regions_gdf,
        net,
        region_id_col=region_id_col,
        name_col=name_col,
        simplify_tolerance=simplify_tolerance,
        caption=caption,
    )
    if catchments is not None:
        _add_catchments(
            m, catchments, hub_col=hub_col, simplify_tolerance=simplify_tolerance
        )


def _selection_text(mode: str, n: int, threshold: float | None) -> str:
    """Describe the drawn flows, e.g. "top 50 flows", for the layer name and legend."""
    return {
        "top": f"top {n} flows",
        "net": f"top {n} net flows",
        "threshold": f"{n} flows ≥ {threshold:,.0f} persons"
        if threshold is not None
        else "",
        "residual": f"top {n} model residuals",
    }[mode]


def _draw_flows(
    m: folium.Map,
    chosen: pd.DataFrame,
    anchors: pd.DataFrame,
    names: pd.Series,
    *,
    mode: str,
    value_col: str,
    origin_col: str,
    destination_col: str,
    fitted_col: str,
    residual_col: str,
    bend: float,
    n_vertices: int,
    size_max: float,
    name: str,
) -> None:
    """Arcs of the chosen flows as one GeoJSON layer with their tooltips."""
    arcs = arcs_for(
        chosen,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        bend=bend,
        n_vertices=n_vertices,
    )
    features, fields, aliases = _flow_features(
        chosen,
        arcs,
        names,
        mode=mode,
        value_col=value_col,
        origin_col=origin_col,
        destination_col=destination_col,
        fitted_col=fitted_col,
        residual_col=residual_col,
    )
    _add_flow_layer(
        m, features, fields, aliases, mode=mode, size_max=size_max, name=name
    )


def _select_flows(
    flows: pd.DataFrame,
    *,
    mode: str,
    value_col: str,
    origin_col: str,
    destination_col: str,
    fitted_col: str,
    residual_col: str,
    top_n: int,
    threshold: float | None,
) -> tuple[pd.DataFrame, str]:
    """Rows to draw with a ``_size`` column (what width encodes), and the size's label.

    Returned in ascending ``_size`` order so the largest flows are drawn last, on top.
    """
    if mode == "net":
        reverse = flows.set_index([destination_col, origin_col])[value_col]
        reverse.index.names = [origin_col, destination_col]
        pairs = flows.set_index([origin_col, destination_col])[value_col]
        back = reverse.reindex(pairs.index).fillna(0.0)
        # Every positive net flow i→j has its own row F_ij > 0, so the rows suffice.
        net = pd.DataFrame(
            {
                value_col: pairs.to_numpy(),
                "reverse": back.to_numpy(),
                "_size": (pairs - back).to_numpy(),
            },
            index=pairs.index,
        )
        chosen = net[net["_size"] > 0].reset_index()
        label = "net persons"
    elif mode == "residual":
        chosen = flows.copy()
        if residual_col not in chosen.columns:
            if fitted_col not in chosen.columns:
                raise ValidationError(
                    f"mode='residual' needs a {residual_col!r} or {fitted_col!r} "
                    "column in "
                    f"flows_df; it has {list(flows.columns)}"
                )
            chosen[residual_col] = chosen[value_col] - chosen[fitted_col]
        chosen["_size"] = pd.to_numeric(chosen[residual_col], errors="coerce").abs()
        if chosen["_size"].isna().any():
            raise ValidationError(f"{residual_col!r} has missing or non-numeric values")
        chosen = chosen[chosen["_size"] > 0]
        label = "|residual| persons"
    else:
        chosen = flows.assign(_size=flows[value_col])
        chosen = chosen[chosen["_size"] > 0]
        label = "persons"

    order = chosen.sort_values(
        ["_size", origin_col, destination_col],
        ascending=[False, True, True],
        kind="stable",
    )
    if mode == "threshold":
        order = order[order["_size"] >= threshold]
    else:
        order = order.head(top_n)
    return order.iloc[::-1].reset_index(drop=True), label


def _net_migration(
    regions_gdf: gpd.GeoDataFrame,
    flows: pd.DataFrame,
    *,
    region_id_col: str,
    origin_col: str,
    destination_col: str,
    value_col: str,
    net_migration_col: str | None,
) -> pd.Series:
    """Net migration by region id: the given column, or inflow − outflow of the flows."""
    ids = regions_gdf[region_id_col].astype(str)
    if net_migration_col is not None:
        require_columns(regions_gdf, [net_migration_col], "regions_gdf")
        values = pd.to_numeric(regions_gdf[net_migration_col], errors="coerce")
        return pd.Series(values.to_numpy(dtype=np.float64), index=ids.to_numpy())
    inflow = flows.groupby(destination_col)[value_col].sum()
    outflow = flows.groupby(origin_col)[value_col].sum()
    net = inflow.sub(outflow, fill_value=0.0)
    return net.reindex(ids.to_numpy()).fillna(0.0)
