"""folium layers and legends of the flow map: regions, flows, hubs, catchments.

Each ``_add_*`` helper adds one layer (or legend) to a :class:`folium.Map`; they are the
steps of :func:`kzspatial.render.maps.flow_map` and not API of their own. All flows go
into ONE GeoJSON layer: one Leaflet polyline per flow would make the HTML an order of
magnitude larger (0.19 MB vs 0.9 MB for 380 flows; 13 MB vs 65 MB for 40k).
Coordinates are rounded to :data:`_COORD_DECIMALS` decimals to keep the JSON short.
Names and other data go through :mod:`kzspatial.render.maps._safe`: onto the page only
as JSON blocks, into the DOM only as text.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kzspatial._errors import AlignmentError, CRSError, ValidationError
from kzspatial.render.maps._checks import require_columns

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

    from kzspatial.render.maps._arcs import FlowArcs

__all__: list[str] = []

# 4 decimals of a degree are about 11 m: invisible at country zoom, and shortens the
# JSON.
_COORD_DECIMALS = 4

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


def _round_geometry(geometry: gpd.GeoSeries) -> gpd.GeoSeries:
    import shapely

    return geometry.apply(
        lambda g: shapely.transform(g, lambda xy: np.round(xy, _COORD_DECIMALS))
    )


def _map_geometry(
    geometry: gpd.GeoSeries, simplify_tolerance: float | None
) -> np.ndarray:
    """``geometry`` in EPSG:4326, simplified and rounded for the map, as an array.

    Every map of a run draws the same regions (and often the same catchments): the
    result is kept for geometries of the same coordinates, CRS and tolerance, so a
    simplification is computed once per run, not once per map.
    """
    import shapely

    crs = None if geometry.crs is None else geometry.crs.to_wkt()
    wkb = tuple(shapely.to_wkb(np.asarray(geometry.values, dtype=object)))
    return _map_geometry_of(wkb, crs, simplify_tolerance)


@functools.lru_cache(maxsize=32)
def _map_geometry_of(
    wkb: tuple[bytes, ...], crs: str | None, simplify_tolerance: float | None
) -> np.ndarray:
    import geopandas as gpd

    geometry = gpd.GeoSeries.from_wkb(list(wkb), crs=crs).to_crs("EPSG:4326")
    if simplify_tolerance:
        geometry = geometry.simplify(simplify_tolerance, preserve_topology=True)
    out = _round_geometry(geometry).to_numpy()
    out.flags.writeable = False  # shared by later calls
    return out


def _nice(value: float) -> float:
    """Round to 2 significant digits, for legend values."""
    if value == 0 or not np.isfinite(value):
        return 0.0
    digits = 1 - int(np.floor(np.log10(abs(value))))
    return float(round(value, digits))


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

    from kzspatial.render.maps._safe import JsonGeoJson, TextGeoJsonTooltip

    ids = regions_gdf[region_id_col].astype(str).to_numpy()
    names = regions_gdf[name_col].astype(str).to_numpy() if name_col else ids
    layer_data = gpd.GeoDataFrame(
        {"region_id": ids, "name": names, "net_migration": np.round(net.to_numpy(), 0)},
        geometry=_map_geometry(regions_gdf.geometry, simplify_tolerance),
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
    JsonGeoJson(
        layer_data.__geo_interface__,
        style_function=style,
        highlight_function=lambda _: {"weight": 2.5, "color": "#444444"},
        tooltip=TextGeoJsonTooltip(
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

    from kzspatial.render.maps._safe import JsonGeoJson, TextGeoJsonTooltip

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
    JsonGeoJson(
        {"type": "FeatureCollection", "features": features},
        style_function=style,
        highlight_function=lambda _: {"color": "#ff7f00", "opacity": 1.0},
        tooltip=TextGeoJsonTooltip(
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

    from kzspatial.render.maps._safe import text_tooltip

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
        ).add_child(
            text_tooltip(
                label, permanent=True, direction="right", offset=(10, 0), sticky=True
            )
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

    from kzspatial.render.maps._safe import JsonGeoJson, TextGeoJsonTooltip

    if catchments.crs is None:
        raise CRSError(
            "catchments has no CRS; set it, e.g. catchments.set_crs('EPSG:4326')"
        )
    require_columns(catchments, [hub_col], "catchments")
    hubs = catchments[hub_col].astype(str)
    palette = {
        hub: _CATCHMENT_COLORS[i % len(_CATCHMENT_COLORS)]
        for i, hub in enumerate(sorted(hubs.unique()))
    }
    data = gpd.GeoDataFrame(
        {"hub": hubs.to_numpy()},
        geometry=_map_geometry(catchments.geometry, simplify_tolerance),
        crs="EPSG:4326",
    )
    group = folium.FeatureGroup(
        name="Catchments", overlay=True, control=True, show=False
    )
    JsonGeoJson(
        data.__geo_interface__,
        style_function=lambda f: {
            "fillColor": palette[f["properties"]["hub"]],
            "fillOpacity": 0.45,
            "color": "#555555",
            "weight": 1.2,
        },
        tooltip=TextGeoJsonTooltip(fields=["hub"], aliases=["Catchment of"]),
        name="Catchments",
    ).add_to(group)
    group.add_to(m)
    _add_legend(
        m,
        title="Catchments",
        subtitles=["hub receiving most out-migrants"],
        rows=[{"fill": colour, "text": hub} for hub, colour in palette.items()],
        position="bottomright",
        layer=group,
    )


def _add_flow_legend(
    m: folium.Map,
    *,
    title: str,
    subtitle: str,
    size_label: str,
    size_max: float,
    mode: str,
) -> None:

    samples = sorted(
        {_nice(size_max), _nice(size_max / 4), _nice(size_max / 16)}, reverse=True
    )
    color = _FLOW_COLOR if mode != "residual" else _RESIDUAL_COLORS["positive"]
    rows = [
        {"color": color, "width": _width(v, size_max), "cap": True, "text": f"{v:,.0f}"}
        for v in samples
        if v > 0
    ]
    if mode == "residual":
        rows += [
            {"color": c, "width": 4, "cap": False, "text": text}
            for c, text in (
                (_RESIDUAL_COLORS["positive"], "more than the model"),
                (_RESIDUAL_COLORS["negative"], "fewer than the model"),
            )
        ]
    _add_legend(
        m,
        title=title,
        subtitles=[subtitle, f"Width ∝ √{size_label}; arrow at destination"],
        rows=rows,
        position="bottomleft",
    )


def _add_legend(
    m: folium.Map,
    *,
    title: str,
    subtitles: list[str],
    rows: list[dict],
    position: str,
    layer: folium.FeatureGroup | None = None,
) -> None:
    """Add a legend control built from JSON with the DOM (data only as text).

    Each row is a line sample (``color``, ``width``, ``cap``) or, with ``fill``, a
    filled swatch, followed by its ``text``. With ``layer``, the legend is shown only
    while that layer is on the map.
    """
    from kzspatial.render.maps._safe import JsonElement

    spec = {"title": title, "subtitles": subtitles, "rows": rows, "position": position}
    script = _LEGEND_SCRIPT + (_FOLLOW_LAYER_SCRIPT if layer is not None else _SHOW)
    legend = JsonElement(
        spec,
        "{% macro header(this, kwargs) %}" + _LEGEND_CSS + "{% endmacro %}"
        "{% macro script(this, kwargs) %}" + script + "{% endmacro %}",
    )
    legend.layer = layer  # its generated JS name is read when the map renders
    m.add_child(legend)


_LEGEND_CSS = (
    "<style>.kz-legend{background:rgba(255,255,255,.92);padding:8px 10px;"
    "border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.35);font:12px/1.35 'Helvetica "
    "Neue',Arial,sans-serif;"
    "color:#222;max-width:260px}.kz-title{font-weight:bold;font-size:14px;margin-bottom:2px}"
    ".kz-sub{color:#555;margin-bottom:4px}.kz-row{display:flex;align-items:center;gap:6px}"
    ".leaflet-container{background:#eef1f4}</style>"
)

# Builds the legend from its JSON block with the DOM: texts as textContent, the sample
# lines as SVG attributes.
_LEGEND_SCRIPT = """
var {{ this.get_name() }}_spec = {{ this.reader }};
var {{ this.get_name() }} = L.control({position: {{ this.get_name() }}_spec.position});
{{ this.get_name() }}.onAdd = function () {
    var spec = {{ this.get_name() }}_spec;
    var svgNS = 'http://www.w3.org/2000/svg';
    var div = L.DomUtil.create('div', 'kz-legend');
    L.DomUtil.create('div', 'kz-title', div).textContent = spec.title;
    spec.subtitles.forEach(function (text) {
        L.DomUtil.create('div', 'kz-sub', div).textContent = text;
    });
    spec.rows.forEach(function (r) {
        var row = L.DomUtil.create('div', 'kz-row', div);
        var svg = document.createElementNS(svgNS, 'svg');
        svg.setAttribute('height', '14');
        if (r.fill) {
            svg.setAttribute('width', '18');
            var rect = document.createElementNS(svgNS, 'rect');
            rect.setAttribute('width', '16'); rect.setAttribute('height', '12');
            rect.setAttribute('fill', r.fill); rect.setAttribute('fill-opacity', '0.45');
            rect.setAttribute('stroke', '#555');
            svg.appendChild(rect);
        } else {
            svg.setAttribute('width', '44');
            var line = document.createElementNS(svgNS, 'line');
            line.setAttribute('x1', '2'); line.setAttribute('y1', '7');
            line.setAttribute('x2', '42'); line.setAttribute('y2', '7');
            line.setAttribute('stroke', r.color);
            line.setAttribute('stroke-width', String(r.width));
            if (r.cap) { line.setAttribute('stroke-linecap', 'round'); }
            svg.appendChild(line);
        }
        row.appendChild(svg);
        L.DomUtil.create('span', '', row).textContent = r.text;
    });
    L.DomEvent.disableClickPropagation(div);
    return div;
};
"""
_SHOW = "{{ this.get_name() }}.addTo({{ this._parent.get_name() }});\n"
# A layer's legend is on the map exactly while the layer is (layer control events).
_FOLLOW_LAYER_SCRIPT = """
(function (map, legend, layer) {
    if (map.hasLayer(layer)) { legend.addTo(map); }
    map.on('overlayadd', function (e) { if (e.layer === layer) { legend.addTo(map); } });
    map.on('overlayremove', function (e) { if (e.layer === layer) { legend.remove(); } });
})({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.layer.get_name() }});
"""
