"""Interactive flow maps of internal migration (folium/Leaflet) and an offline writer.

Flows are drawn as curved, directed arcs: quadratic Bézier curves computed in Web
Mercator (EPSG:3857, the projection Leaflet displays), bent to the right of travel so
that A→B and B→A separate, with a chevron arrowhead at the destination. Widths scale
with the square root of volume and the largest flows are drawn last, on top. A diverging
choropleth of net migration sits underneath. All flows go into ONE GeoJSON layer: one
Leaflet polyline per flow would make the HTML an order of magnitude larger (0.19 MB vs
0.9 MB for 380 flows; 13 MB vs 65 MB for 40k).

Years: a map shows one year. Pass ``year=`` to pick it from a multi-year OD table and
build one map per year; a year switch inside one HTML would multiply its size by the
number of years.

folium is imported lazily inside the functions, so importing :mod:`kzspatial` stays
light.

References
----------
Conventions verified for this project: ``docs/CONVENTIONS.md`` section 2 (folium flow
maps, offline behaviour, headless-browser checks).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, REGION_ID, YEAR
from kzspatial._errors import AlignmentError, CRSError, OverwriteError, ValidationError
from kzspatial.render._atomic import atomic_path

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

__all__ = ["FlowArcs", "flow_arcs", "flow_lines", "flow_map", "save_map"]

FlowMode = Literal["top", "threshold", "net", "residual"]
_MODES = ("top", "threshold", "net", "residual")

# Spherical Web Mercator radius (EPSG:3857 uses the WGS84 semi-major axis on a sphere).
_MERCATOR_RADIUS_M = 6378137.0
_MAX_MERCATOR_LAT = 85.05112878
# 4 decimals of a degree are about 11 m: invisible at country zoom, and shortens the
# JSON.
_COORD_DECIMALS = 4
# Kazakhstan, [[south, west], [north, east]], used when a map has nothing to fit to.
_KZ_BOUNDS = [[40.6, 46.5], [55.4, 87.3]]

# ColorBrewer RdBu (5 classes): losses red, gains blue, white at zero.
_NET_COLORS = ["#ca0020", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0"]
_FLOW_COLOR = "#252525"
# ColorBrewer PRGn ends: observed above the model (green) / below it (purple).
_RESIDUAL_COLORS = {"positive": "#1b7837", "negative": "#762a83"}
# ColorBrewer Set2, for catchments (categorical).
_CATCHMENT_COLORS = [
    "#66c2a5",
    "#fc8d62",
    "#8da0cb",
    "#e78ac3",
    "#a6d854",
    "#ffd92f",
    "#e5c494",
    "#b3b3b3",
]
_FLOW_CLASS = "kz-flow"


class FlowArcs(NamedTuple):
    """Curved flow geometry returned by :func:`flow_arcs`.

    Attributes
    ----------
    arcs : numpy.ndarray, shape (n_flows, n_vertices, 2)
        Longitude/latitude of the vertices of each arc, origin first.
    arrowheads : numpy.ndarray, shape (n_flows, 3, 2)
        Longitude/latitude of each chevron: left wing, tip (= destination), right wing.
    """

    arcs: NDArray[np.float64]
    arrowheads: NDArray[np.float64]


def _to_mercator(lonlat: NDArray[np.float64]) -> NDArray[np.float64]:
    lon, lat = np.radians(lonlat[..., 0]), np.radians(lonlat[..., 1])
    return np.stack(
        [
            _MERCATOR_RADIUS_M * lon,
            _MERCATOR_RADIUS_M * np.log(np.tan(np.pi / 4 + lat / 2)),
        ],
        axis=-1,
    )


def _from_mercator(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    lon = np.degrees(xy[..., 0] / _MERCATOR_RADIUS_M)
    lat = np.degrees(2 * np.arctan(np.exp(xy[..., 1] / _MERCATOR_RADIUS_M)) - np.pi / 2)
    return np.stack([lon, lat], axis=-1)


def _as_lonlat(points: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValidationError(
            f"{name} must have shape (n_flows, 2) of longitude/latitude; got shape "
            f"{arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} contains NaN or infinite coordinates")
    if np.any(np.abs(arr[:, 1]) > _MAX_MERCATOR_LAT) or np.any(np.abs(arr[:, 0]) > 180):
        raise ValidationError(
            f"{name} is out of range for EPSG:4326 longitude/latitude (|lat| <= 85.05 "
            "for "
            "Web Mercator); reproject the points to EPSG:4326"
        )
    return arr


def flow_arcs(
    origin_xy: ArrayLike,
    destination_xy: ArrayLike,
    *,
    bend: float = 0.2,
    n_vertices: int = 16,
    head_fraction: float = 0.15,
    head_max_length: float = 100_000.0,
    head_angle: float = 25.0,
) -> FlowArcs:
    """Curved, directed flow lines between origin and destination points.

    Each flow is a quadratic Bézier curve computed in Web Mercator (EPSG:3857) with its
    control point at ``midpoint + bend * (dy, -dx)``, i.e. to the right of the direction
    of travel, so the arcs for A→B and B→A lie on opposite sides of the chord. A chevron
    at the destination points along the curve's end tangent.

    Parameters
    ----------
    origin_xy, destination_xy : array_like, shape (n_flows, 2)
        Longitude/latitude in degrees (EPSG:4326). A single pair of shape (2,) is
        accepted.
    bend : float, default 0.2
        Offset of the control point as a fraction of the chord length; 0 gives straight
        lines.
    n_vertices : int, default 16
        Vertices per arc, endpoints included (at least 3).
    head_fraction : float, default 0.15
        Length of each chevron wing as a fraction of the chord length.
    head_max_length : float, default 100000
        Upper limit of the wing length in EPSG:3857 metres, so long flows do not get
        huge heads.
    head_angle : float, default 25
        Angle in degrees between each wing and the arc's end tangent.

    Returns
    -------
    FlowArcs
        ``arcs`` of shape (n_flows, n_vertices, 2) and ``arrowheads`` of shape (n_flows,
        3, 2), both longitude/latitude in degrees.

    Raises
    ------
    ValidationError
        On mismatched shapes, coordinates outside EPSG:4326, origin equal to
        destination, or invalid options.

    Examples
    --------
    >>> arcs = flow_arcs([[71.43, 51.13]], [[76.89, 43.24]], n_vertices=8)
    >>> arcs.arcs.shape, arcs.arrowheads.shape
    ((1, 8, 2), (1, 3, 2))
    """
    origins = _as_lonlat(origin_xy, "origin_xy")
    destinations = _as_lonlat(destination_xy, "destination_xy")
    if origins.shape != destinations.shape:
        raise ValidationError(
            f"origin_xy and destination_xy differ in shape: {origins.shape} vs "
            f"{destinations.shape}"
        )
    if int(n_vertices) != n_vertices or n_vertices < 3:
        raise ValidationError(f"n_vertices must be an integer >= 3; got {n_vertices!r}")
    if not np.isfinite(bend):
        raise ValidationError(f"bend must be finite; got {bend!r}")
    if not (head_fraction > 0 and head_max_length > 0 and 0 < head_angle < 90):
        raise ValidationError(
            "head_fraction and head_max_length must be > 0 and head_angle in (0, 90); "
            "got "
            f"{head_fraction!r}, {head_max_length!r}, {head_angle!r}"
        )

    start, end = _to_mercator(origins), _to_mercator(destinations)
    chord = end - start
    length = np.hypot(chord[:, 0], chord[:, 1])
    same = np.flatnonzero(length == 0)
    if same.size:
        raise ValidationError(
            f"origin equals destination for {same.size} flow(s) (rows "
            f"{same[:10].tolist()}); "
            "self-flows have no arc, drop them first"
        )
    right_normal = np.stack([chord[:, 1], -chord[:, 0]], axis=1)
    control = (start + end) / 2 + bend * right_normal

    t = np.linspace(0.0, 1.0, int(n_vertices))[np.newaxis, :, np.newaxis]
    curve = (
        (1 - t) ** 2 * start[:, np.newaxis]
        + 2 * (1 - t) * t * control[:, np.newaxis]
        + t**2 * end[:, np.newaxis]
    )

    # End tangent of a quadratic Bézier is 2 (P2 - P1); only its direction matters.
    tangent = end - control
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, np.newaxis]
    wing = np.minimum(head_fraction * length, head_max_length)[:, np.newaxis]
    angle = np.radians(head_angle)
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    back = -tangent
    left = np.stack(
        [
            back[:, 0] * cos_a - back[:, 1] * sin_a,
            back[:, 0] * sin_a + back[:, 1] * cos_a,
        ],
        axis=1,
    )
    right = np.stack(
        [
            back[:, 0] * cos_a + back[:, 1] * sin_a,
            -back[:, 0] * sin_a + back[:, 1] * cos_a,
        ],
        axis=1,
    )
    heads = np.stack([end + wing * left, end, end + wing * right], axis=1)
    return FlowArcs(arcs=_from_mercator(curve), arrowheads=_from_mercator(heads))


# --------------------------------------------------------------------------------------
# Input checks shared by flow_lines and flow_map


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}. Pass the "
            "actual "
            "names via the *_col arguments"
        )


def _anchor_points(regions_gdf: gpd.GeoDataFrame, region_id_col: str) -> pd.DataFrame:
    """Longitude/latitude of a point inside each region, indexed by region id (str)."""
    if regions_gdf.crs is None:
        raise CRSError(
            "regions_gdf has no CRS; set it, e.g. regions_gdf.set_crs('EPSG:4326')"
        )
    _require_columns(regions_gdf, [region_id_col], "regions_gdf")
    ids = regions_gdf[region_id_col].astype(str)
    if ids.duplicated().any():
        dup = sorted(ids[ids.duplicated()].unique().tolist())
        raise ValidationError(
            f"regions_gdf has duplicate {region_id_col!r} values: {dup[:10]}"
        )
    # representative_point lies inside the polygon, unlike the centroid of a crescent-
    # shaped region around an enclave (Almaty region around Almaty city).
    points = regions_gdf.geometry.to_crs("EPSG:4326").representative_point()
    return pd.DataFrame(
        {"lon": points.x.to_numpy(), "lat": points.y.to_numpy()},
        index=pd.Index(ids.to_numpy(), name=region_id_col),
    )


def _check_flows(
    flows_df: pd.DataFrame,
    anchors: pd.DataFrame,
    *,
    origin_col: str,
    destination_col: str,
    value_col: str,
    year: int | None,
) -> pd.DataFrame:
    """Validated copy of the OD rows of one year, ids as str, self-flows removed."""
    _require_columns(flows_df, [origin_col, destination_col, value_col], "flows_df")
    flows = flows_df.copy()
    if YEAR in flows.columns:
        years = pd.unique(flows[YEAR])
        if year is None and len(years) > 1:
            raise ValidationError(
                f"flows_df holds {len(years)} years {sorted(years.tolist())[:10]}; a "
                "map shows "
                "one year, pass year=... (one map per year)"
            )
        if year is not None:
            flows = flows[flows[YEAR] == year]
            if flows.empty:
                raise ValidationError(
                    f"no flows for year={year!r}; available: {sorted(years.tolist())}"
                )
    elif year is not None:
        raise ValidationError(
            f"year={year!r} given but flows_df has no {YEAR!r} column"
        )

    flows[origin_col] = flows[origin_col].astype(str)
    flows[destination_col] = flows[destination_col].astype(str)
    values = pd.to_numeric(flows[value_col], errors="coerce")
    problems = []
    if values.isna().any():
        problems.append(
            f"{int(values.isna().sum())} non-numeric or missing {value_col!r}"
        )
    if (values < 0).any():
        problems.append(f"{int((values < 0).sum())} negative {value_col!r} values")
    if flows.duplicated([origin_col, destination_col]).any():
        problems.append("duplicate origin-destination pairs (aggregate them first)")
    unknown = sorted(
        (set(flows[origin_col]) | set(flows[destination_col])) - set(anchors.index)
    )
    if problems:
        raise ValidationError("flows_df: " + "; ".join(problems))
    if unknown:
        raise AlignmentError(
            f"{len(unknown)} flow region id(s) are not in regions_gdf: {unknown[:10]}; "
            "flows and regions must use the same codes"
        )
    flows[value_col] = values.astype(np.float64)
    return flows[flows[origin_col] != flows[destination_col]]


def _arcs_for(
    flows: pd.DataFrame,
    anchors: pd.DataFrame,
    *,
    origin_col: str,
    destination_col: str,
    bend: float,
    n_vertices: int,
) -> FlowArcs:
    origin_xy = anchors.loc[flows[origin_col], ["lon", "lat"]].to_numpy()
    destination_xy = anchors.loc[flows[destination_col], ["lon", "lat"]].to_numpy()
    return flow_arcs(origin_xy, destination_xy, bend=bend, n_vertices=n_vertices)


def flow_lines(
    regions_gdf: gpd.GeoDataFrame,
    flows_df: pd.DataFrame,
    *,
    value_col: str = FLOW,
    region_id_col: str = REGION_ID,
    origin_col: str = ORIGIN,
    destination_col: str = DESTINATION,
    year: int | None = None,
    bend: float = 0.2,
    n_vertices: int = 16,
) -> gpd.GeoDataFrame:
    """OD rows as curved LineString arcs in EPSG:4326 (the GeoPackage ``od_flows``).

    The arcs are the same as in :func:`flow_map` (without the arrowheads: QGIS draws
    them with a marker line at the last vertex).

    Parameters
    ----------
    regions_gdf : geopandas.GeoDataFrame
        One row per region with a CRS and ``region_id_col``; each flow is anchored at a
        point inside its region (``representative_point``).
    flows_df : pandas.DataFrame
        OD table, one row per (origin, destination) pair; all columns are kept.
    value_col, region_id_col, origin_col, destination_col : str
        Column names.
    year : int, optional
        Selects one year when ``flows_df`` has a ``year`` column with several years.
    bend, n_vertices : float, int
        See :func:`flow_arcs`.

    Returns
    -------
    geopandas.GeoDataFrame
        The OD rows with ``geometry`` (LineString, EPSG:4326), in input order.
        Self-flows (origin equal to destination) have no arc and are omitted.

    Raises
    ------
    ValidationError, AlignmentError, CRSError
        On missing columns, bad values, unknown region ids or a missing CRS.
    """
    import geopandas as gpd
    import shapely

    anchors = _anchor_points(regions_gdf, region_id_col)
    flows = _check_flows(
        flows_df,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        value_col=value_col,
        year=year,
    )
    if flows.empty:
        return gpd.GeoDataFrame(flows, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    arcs = _arcs_for(
        flows,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        bend=bend,
        n_vertices=n_vertices,
    ).arcs
    geometry = shapely.linestrings(np.round(arcs, 6))
    return gpd.GeoDataFrame(flows, geometry=geometry, crs="EPSG:4326")


# --------------------------------------------------------------------------------------
# Flow selection


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


def _check_options(
    mode: str, top_n: int, threshold: float | None, max_flows: int
) -> None:
    if mode not in _MODES:
        raise ValidationError(f"mode must be one of {list(_MODES)}; got {mode!r}")
    if mode == "threshold":
        if threshold is None or not np.isfinite(threshold) or threshold < 0:
            raise ValidationError(
                "mode='threshold' needs threshold= a finite number >= 0; got "
                f"{threshold!r}"
            )
    elif threshold is not None:
        raise ValidationError(
            f"threshold= is only used with mode='threshold'; mode={mode!r} draws the "
            "top_n flows"
        )
    if int(top_n) != top_n or top_n < 1:
        raise ValidationError(f"top_n must be a positive integer; got {top_n!r}")
    if int(max_flows) != max_flows or max_flows < 1:
        raise ValidationError(
            f"max_flows must be a positive integer; got {max_flows!r}"
        )


# --------------------------------------------------------------------------------------
# folium layers


def _round_geometry(geometry: gpd.GeoSeries) -> gpd.GeoSeries:
    import shapely

    return geometry.apply(
        lambda g: shapely.transform(g, lambda xy: np.round(xy, _COORD_DECIMALS))
    )


def _nice(value: float) -> float:
    """Round to 2 significant digits, for legend values."""
    if value == 0 or not np.isfinite(value):
        return 0.0
    digits = 1 - int(np.floor(np.log10(abs(value))))
    return float(round(value, digits))


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
    ids = regions_gdf[region_id_col].astype(str)
    if net_migration_col is not None:
        _require_columns(regions_gdf, [net_migration_col], "regions_gdf")
        values = pd.to_numeric(regions_gdf[net_migration_col], errors="coerce")
        return pd.Series(values.to_numpy(dtype=np.float64), index=ids.to_numpy())
    inflow = flows.groupby(destination_col)[value_col].sum()
    outflow = flows.groupby(origin_col)[value_col].sum()
    net = inflow.sub(outflow, fill_value=0.0)
    return net.reindex(ids.to_numpy()).fillna(0.0)


def _add_regions_layer(
    m: folium.Map,
    regions_gdf: gpd.GeoDataFrame,
    net: pd.Series,
    *,
    region_id_col: str,
    name_col: str | None,
    simplify_tolerance: float | None,
    caption: str,
) -> None:
    import branca.colormap as cm
    import folium
    import geopandas as gpd

    geometry = regions_gdf.geometry.to_crs("EPSG:4326")
    if simplify_tolerance:
        geometry = geometry.simplify(simplify_tolerance, preserve_topology=True)
    ids = regions_gdf[region_id_col].astype(str).to_numpy()
    names = regions_gdf[name_col].astype(str).to_numpy() if name_col else ids
    layer_data = gpd.GeoDataFrame(
        {"region_id": ids, "name": names, "net_migration": np.round(net.to_numpy(), 0)},
        geometry=_round_geometry(geometry).to_numpy(),
        crs="EPSG:4326",
    )

    finite = net[np.isfinite(net)]
    low = min(float(finite.min()), -1.0) if len(finite) else -1.0
    high = max(float(finite.max()), 1.0) if len(finite) else 1.0
    # Each side is scaled to its own extreme, with white exactly at zero: the republican
    # cities' large gains would otherwise wash out every losing region.
    colormap = cm.LinearColormap(
        _NET_COLORS,
        index=[_nice(low), _nice(low / 2), 0.0, _nice(high / 2), _nice(high)],
        vmin=_nice(low),
        vmax=_nice(high),
        caption=caption,
    )

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        value = feature["properties"]["net_migration"]
        fill = "#d9d9d9" if value is None or not np.isfinite(value) else colormap(value)
        return {
            "fillColor": fill,
            "fillOpacity": 0.8,
            "color": "#ffffff",
            "weight": 0.8,
        }

    group = folium.FeatureGroup(
        name="Net migration", overlay=True, control=True, show=True
    )
    folium.GeoJson(
        layer_data.__geo_interface__,
        style_function=style,
        highlight_function=lambda _: {"weight": 2.5, "color": "#444444"},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "region_id", "net_migration"],
            aliases=["Region", "Code", "Net migration (persons)"],
            localize=True,
            sticky=True,
        ),
        name="Net migration",
    ).add_to(group)
    group.add_to(m)
    colormap.add_to(m)


def _flow_features(
    chosen: pd.DataFrame,
    arcs: FlowArcs,
    names: pd.Series,
    *,
    mode: str,
    value_col: str,
    origin_col: str,
    destination_col: str,
    fitted_col: str,
    residual_col: str,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """GeoJSON features plus the tooltip fields and aliases that describe them."""
    arc_xy = np.round(arcs.arcs, _COORD_DECIMALS).tolist()
    head_xy = np.round(arcs.arrowheads, _COORD_DECIMALS).tolist()
    origin_names = names.loc[chosen[origin_col]].to_numpy()
    destination_names = names.loc[chosen[destination_col]].to_numpy()
    routes = [
        f"{o} → {d}" for o, d in zip(origin_names, destination_names, strict=True)
    ]

    columns: dict[str, tuple[str, str]] = {}  # property -> (source column, alias)
    if mode == "net":
        columns = {
            "net": ("_size", "Net persons"),
            "persons": (value_col, "Persons (this way)"),
            "reverse": ("reverse", "Persons (opposite way)"),
        }
    else:
        columns["persons"] = (value_col, "Persons")
        if fitted_col in chosen.columns:
            columns["fitted"] = (fitted_col, "Fitted (model)")
        if residual_col in chosen.columns:
            columns["residual"] = (residual_col, "Residual (observed − fitted)")
    values = {
        prop: np.round(
            pd.to_numeric(chosen[col]).to_numpy(dtype=np.float64), 1
        ).tolist()
        for prop, (col, _) in columns.items()
    }
    sizes = chosen["_size"].to_numpy(dtype=np.float64).tolist()
    signs = (
        np.sign(pd.to_numeric(chosen[residual_col])).tolist()
        if mode == "residual"
        else [1.0] * len(chosen)
    )

    features = []
    for i, route in enumerate(routes):
        properties = {"route": route, "_size": sizes[i], "_sign": signs[i]}
        properties.update({prop: values[prop][i] for prop in columns})
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": properties,
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": [arc_xy[i], head_xy[i]],
                },
            }
        )
    fields = ["route", *columns]
    aliases = ["Flow", *(alias for _, alias in columns.values())]
    return features, fields, aliases


def _width(size: float, size_max: float) -> float:
    # Rounded to quarter pixels so folium's style table stays short.
    return round((0.75 + 7.0 * np.sqrt(size / size_max)) * 4) / 4


def _add_flow_layer(
    m: folium.Map,
    features: list[dict[str, Any]],
    fields: list[str],
    aliases: list[str],
    *,
    mode: str,
    size_max: float,
    name: str,
) -> None:
    import folium

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        props = feature["properties"]
        share = props["_size"] / size_max
        if mode == "residual":
            color = _RESIDUAL_COLORS["positive" if props["_sign"] > 0 else "negative"]
        else:
            color = _FLOW_COLOR
        return {
            "color": color,
            "weight": _width(props["_size"], size_max),
            "opacity": round((0.35 + 0.55 * np.sqrt(share)) * 20) / 20,
            "lineCap": "round",
            "lineJoin": "round",
            "className": _FLOW_CLASS,
        }

    group = folium.FeatureGroup(name=name, overlay=True, control=True, show=True)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=style,
        highlight_function=lambda _: {"color": "#ff7f00", "opacity": 1.0},
        tooltip=folium.GeoJsonTooltip(
            fields=fields, aliases=aliases, localize=True, sticky=True
        ),
        name=name,
    ).add_to(group)
    group.add_to(m)


def _add_hubs(
    m: folium.Map,
    hubs: gpd.GeoDataFrame | Sequence[str],
    anchors: pd.DataFrame,
    names: pd.Series,
    *,
    name_col: str | None,
) -> None:
    import folium

    if isinstance(hubs, str) or not (
        hasattr(hubs, "geometry") or isinstance(hubs, Sequence)
    ):
        raise ValidationError(
            "hubs must be a GeoDataFrame of points or a sequence of region ids; got "
            f"{type(hubs).__name__}"
        )
    if hasattr(hubs, "geometry"):
        if hubs.crs is None:
            raise CRSError("hubs has no CRS; set it, e.g. hubs.set_crs('EPSG:4326')")
        points = hubs.geometry.to_crs("EPSG:4326").representative_point()
        labels = (
            hubs[name_col].astype(str).tolist()
            if name_col and name_col in hubs
            else [f"Hub {i + 1}" for i in range(len(hubs))]
        )
        latlons = list(zip(points.y.tolist(), points.x.tolist(), strict=True))
    else:
        hub_ids = [str(h) for h in hubs]
        unknown = [h for h in hub_ids if h not in anchors.index]
        if unknown:
            raise AlignmentError(f"hub id(s) {unknown} are not in regions_gdf")
        labels = [names.loc[h] for h in hub_ids]
        latlons = [(anchors.at[h, "lat"], anchors.at[h, "lon"]) for h in hub_ids]

    group = folium.FeatureGroup(name="Hubs", overlay=True, control=True, show=True)
    for label, (lat, lon) in zip(labels, latlons, strict=True):
        # A ring, not a disc: the arrowheads of flows ending at the hub stay visible
        # inside.
        folium.CircleMarker(
            location=[round(lat, _COORD_DECIMALS), round(lon, _COORD_DECIMALS)],
            radius=9,
            color="#000000",
            weight=2.5,
            fill=True,
            fill_color="#ffffff",
            fill_opacity=0.0,
            tooltip=folium.Tooltip(
                label, permanent=True, direction="right", offset=(10, 0)
            ),
        ).add_to(group)
    group.add_to(m)


def _add_catchments(
    m: folium.Map,
    catchments: gpd.GeoDataFrame,
    *,
    hub_col: str,
    simplify_tolerance: float | None,
) -> None:
    import folium
    import geopandas as gpd

    if catchments.crs is None:
        raise CRSError(
            "catchments has no CRS; set it, e.g. catchments.set_crs('EPSG:4326')"
        )
    _require_columns(catchments, [hub_col], "catchments")
    geometry = catchments.geometry.to_crs("EPSG:4326")
    if simplify_tolerance:
        geometry = geometry.simplify(simplify_tolerance, preserve_topology=True)
    hubs = catchments[hub_col].astype(str)
    palette = {
        hub: _CATCHMENT_COLORS[i % len(_CATCHMENT_COLORS)]
        for i, hub in enumerate(sorted(hubs.unique()))
    }
    data = gpd.GeoDataFrame(
        {"hub": hubs.to_numpy()},
        geometry=_round_geometry(geometry).to_numpy(),
        crs="EPSG:4326",
    )
    group = folium.FeatureGroup(
        name="Catchments", overlay=True, control=True, show=False
    )
    folium.GeoJson(
        data.__geo_interface__,
        style_function=lambda f: {
            "fillColor": palette[f["properties"]["hub"]],
            "fillOpacity": 0.45,
            "color": "#555555",
            "weight": 1.2,
        },
        tooltip=folium.GeoJsonTooltip(fields=["hub"], aliases=["Catchment of"]),
        name="Catchments",
    ).add_to(group)
    group.add_to(m)


def _add_flow_legend(
    m: folium.Map,
    *,
    title: str,
    subtitle: str,
    size_label: str,
    size_max: float,
    mode: str,
) -> None:
    from html import escape

    import branca.element

    samples = sorted(
        {_nice(size_max), _nice(size_max / 4), _nice(size_max / 16)}, reverse=True
    )
    color = _FLOW_COLOR if mode != "residual" else _RESIDUAL_COLORS["positive"]
    rows = "".join(
        '<div class="kz-row"><svg width="44" height="14"><line x1="2" y1="7" x2="42" '
        'y2="7" '
        f'stroke="{color}" stroke-linecap="round" '
        f'stroke-width="{_width(v, size_max)}"/></svg>'
        f"<span>{v:,.0f}</span></div>"
        for v in samples
        if v > 0
    )
    if mode == "residual":
        rows += "".join(
            '<div class="kz-row"><svg width="44" height="14"><line x1="2" y1="7" '
            'x2="42" '
            f'y2="7" stroke="{c}" '
            f'stroke-width="4"/></svg><span>{escape(text)}</span></div>'
            for c, text in (
                (_RESIDUAL_COLORS["positive"], "more than the model"),
                (_RESIDUAL_COLORS["negative"], "fewer than the model"),
            )
        )
    html = (
        f'<div class="kz-legend"><div class="kz-title">{escape(title)}</div>'
        f'<div class="kz-sub">{escape(subtitle)}</div>'
        f'<div class="kz-sub">Width ∝ √{escape(size_label)}; arrow at destination</div>'
        f"{rows}</div>"
    )
    css = (
        "<style>.kz-legend{background:rgba(255,255,255,.92);padding:8px 10px;"
        "border-radius:4px;"
        "box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.35 'Helvetica "
        "Neue',Arial,sans-serif;"
        "color:#222;max-width:260px}.kz-title{font-weight:bold;font-size:14px;margin-bottom:2px}"
        ".kz-sub{color:#555;margin-bottom:4px}.kz-row{display:flex;align-items:center;gap:6px}"
        ".leaflet-container{background:#eef1f4}</style>"
    )
    macro = branca.element.MacroElement()
    macro._template = branca.element.Template(
        "{% macro header(this, kwargs) %}" + css + "{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = L.control({position: 'bottomleft'});"
        "{{ this.get_name() }}.onAdd = function () {"
        "var div = L.DomUtil.create('div'); div.innerHTML = {{ this.html|tojson }};"
        "L.DomEvent.disableClickPropagation(div); return div; };"
        "{{ this.get_name() }}.addTo({{ this._parent.get_name() }});"
        "{% endmacro %}"
    )
    macro.html = html
    m.add_child(macro)


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
    try:
        import folium
    except ImportError as err:  # pragma: no cover - folium is a dependency
        raise ImportError("flow_map needs folium: pip install folium") from err

    _check_options(mode, top_n, threshold, max_flows)
    if tiles is not None and "{" in tiles and not attribution:
        raise ValidationError(
            "a URL tiles template needs attribution= (the tile provider's)"
        )
    if name_col is not None:
        _require_columns(regions_gdf, [name_col], "regions_gdf")
    anchors = _anchor_points(regions_gdf, region_id_col)
    names = pd.Series(
        (regions_gdf[name_col] if name_col else regions_gdf[region_id_col])
        .astype(str)
        .to_numpy(),
        index=anchors.index,
    )
    flows = _check_flows(
        flows_df,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        value_col=value_col,
        year=year,
    )
    chosen, size_label = _select_flows(
        flows,
        mode=mode,
        value_col=value_col,
        origin_col=origin_col,
        destination_col=destination_col,
        fitted_col=fitted_col,
        residual_col=residual_col,
        top_n=top_n,
        threshold=threshold,
    )
    if len(chosen) > max_flows:
        raise ValidationError(
            f"{len(chosen)} flows selected, more than max_flows={max_flows}: raise "
            "threshold, "
            "use mode='top' with a smaller top_n, or raise max_flows"
        )

    if m is None:
        m = folium.Map(
            tiles=tiles,
            attr=attribution,
            prefer_canvas=len(chosen) > 2000,
            control_scale=True,
            zoom_snap=0.25,
        )
        bounds = regions_gdf.geometry.to_crs("EPSG:4326").total_bounds
        m.fit_bounds(
            [[bounds[1], bounds[0]], [bounds[3], bounds[2]]]
            if np.all(np.isfinite(bounds))
            else _KZ_BOUNDS
        )

    year_text = f", {year}" if year is not None else ""
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
        caption=f"Net migration (persons){year_text}",
    )
    if catchments is not None:
        _add_catchments(
            m, catchments, hub_col=hub_col, simplify_tolerance=simplify_tolerance
        )

    selection = {
        "top": f"top {len(chosen)} flows",
        "net": f"top {len(chosen)} net flows",
        "threshold": f"{len(chosen)} flows ≥ {threshold:,.0f} persons"
        if threshold is not None
        else "",
        "residual": f"top {len(chosen)} model residuals",
    }[mode]
    size_max = float(chosen["_size"].max()) if len(chosen) else 1.0
    if len(chosen):
        arcs = _arcs_for(
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
            m,
            features,
            fields,
            aliases,
            mode=mode,
            size_max=size_max,
            name=f"Flows ({selection})",
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


# --------------------------------------------------------------------------------------
# Writing HTML

# Exact URLs folium 0.20 / branca 0.8 emit -> vendored file in kzspatial/_assets.
_VENDORED = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3.min.js",
}
# folium's default icon-marker assets; only L.AwesomeMarkers icons (folium.Icon) need
# them.
_ICON_ASSETS = (
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css",
)
_SCRIPT_SRC = re.compile(r'<script\b[^>]*\bsrc="(https?://[^"]+)"[^>]*>\s*</script>\s*')
_STYLESHEET = re.compile(r'<link\b[^>]*\bhref="(https?://[^"]+\.css)"[^>]*>\s*')
_FALLBACK = (
    "<script>if (typeof L === 'undefined') "
    "{document.body.insertAdjacentHTML('afterbegin', "
    '\'<div class="kz-map-fallback" '
    'style="position:fixed;z-index:9999;top:0;left:0;right:0;'
    'padding:16px;background:#fff3cd;color:#664d03;font:15px Arial,sans-serif">The map '
    "library (Leaflet) could not be loaded, so this map cannot be shown. Save it with "
    "offline=True, or open it with network access; the data are also in the GeoPackage "
    "output.</div>');}</script>"
)


def _asset_text(name: str) -> str:
    return (
        resources.files("kzspatial.render")
        .joinpath("_assets", name)
        .read_text(encoding="utf-8")
    )


def _png_data_uri(name: str) -> str:
    data = (
        resources.files("kzspatial.render")
        .joinpath("_assets", "images", name)
        .read_bytes()
    )
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _leaflet_css() -> str:
    # The stylesheet refers to images/*.png next to it; inline them so nothing is
    # fetched.
    return re.sub(
        r"url\(images/([\w.-]+\.png)\)",
        lambda match: f"url({_png_data_uri(match.group(1))})",
        _asset_text("leaflet.css"),
    )


def _inline_assets(html: str) -> str:
    """Inline vendored CDN assets, drop unused icon assets, refuse the rest."""
    uses_icons = "L.AwesomeMarkers" in html
    unknown: list[str] = []

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if url in _VENDORED:
            code = _asset_text(_VENDORED[url])
            if _VENDORED[url] == "leaflet.js":
                # Default markers read their icon from a path next to leaflet.css, which
                # does not exist inline; give them data URIs instead.
                code += (
                    "\nL.Icon.Default.imagePath='';L.Icon.Default.mergeOptions({"
                    f"iconUrl:'{_png_data_uri('marker-icon.png')}',"
                    f"iconRetinaUrl:'{_png_data_uri('marker-icon-2x.png')}',"
                    f"shadowUrl:'{_png_data_uri('marker-shadow.png')}'}});"
                )
            return f"<script>{code}</script>\n"
        if url in _ICON_ASSETS and not uses_icons:
            return ""
        unknown.append(url)
        return match.group(0)

    def stylesheet(match: re.Match[str]) -> str:
        url = match.group(1)
        if url in _VENDORED:
            css = (
                _leaflet_css()
                if _VENDORED[url] == "leaflet.css"
                else _asset_text(_VENDORED[url])
            )
            return f"<style>{css}</style>\n"
        if url in _ICON_ASSETS and not uses_icons:
            return ""
        unknown.append(url)
        return match.group(0)

    html = _SCRIPT_SRC.sub(script, html)
    html = _STYLESHEET.sub(stylesheet, html)
    if unknown:
        raise ValidationError(
            f"offline=True cannot inline {len(unknown)} asset(s) that kzspatial does "
            "not vendor: "
            f"{unknown}. Remove the plugin or icon markers that need them, or save "
            "with "
            "offline=False"
        )
    return html


def save_map(
    m: folium.Map,
    path: str | os.PathLike[str],
    *,
    offline: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write a folium map as one HTML file, by default self-contained (works offline).

    Parameters
    ----------
    m : folium.Map
        The map, e.g. from :func:`flow_map`.
    path : str or os.PathLike
        Output ``.html`` file; parent directories are created.
    offline : bool, default True
        Inline Leaflet, jQuery and d3 (vendored, see ``kzspatial/_assets/README.md``)
        and drop folium's unused icon assets (bootstrap, Font Awesome, awesome-markers),
        so the file renders with no network. Basemap tiles are still requested; without
        network they stay grey. With False the file loads its scripts from the CDNs
        (smaller, needs network).
    overwrite : bool, default False
        Replace an existing file; otherwise an existing ``path`` raises.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OverwriteError
        If ``path`` exists and ``overwrite`` is False.
    ValidationError
        If ``offline`` and the map uses assets kzspatial does not vendor (icon markers,
        plugins).

    Notes
    -----
    The file is written to a temporary file in the same folder and moved into place with
    :func:`os.replace`, so an interrupted run leaves an earlier map intact. Either way a
    short script shows a message instead of a blank page when Leaflet fails to load.
    """
    target = Path(path)
    if target.exists() and not overwrite:  # refuse before rendering
        raise OverwriteError(f"{target} exists; pass overwrite=True to replace it")
    html = m.get_root().render()
    if offline:
        html = _inline_assets(html)
    html = (
        html.replace("</body>", _FALLBACK + "\n</body>", 1)
        if "</body>" in html
        else html + _FALLBACK
    )
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return target
