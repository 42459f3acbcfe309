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

Modules: ``_arcs`` (arc geometry, :func:`flow_arcs`, :func:`flow_lines`), ``_checks``
(input checks), ``_flow_map`` (:func:`flow_map` and its steps), ``layers`` (folium
layers and legends), ``offline`` (inlining the vendored assets, :func:`save_map`).

References
----------
Conventions verified for this project: ``docs/CONVENTIONS.md`` section 2 (folium flow
maps, offline behaviour, headless-browser checks).
"""

from kzspatial.render.maps._arcs import FlowArcs, flow_arcs, flow_lines
from kzspatial.render.maps._flow_map import flow_map
from kzspatial.render.maps.offline import save_map

__all__ = ["FlowArcs", "flow_arcs", "flow_lines", "flow_map", "save_map"]
