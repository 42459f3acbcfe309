"""Writers and renderers at the edge: HTML maps, GeoPackage, rasters, reports.

The only layer that imports folium, matplotlib and jinja2, and (with the data fetch
and the CLI) the only one that writes files, always atomically.
"""
