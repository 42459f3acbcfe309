"""GeoDataFrame adapters: geometry to ids, coordinates, weights and grids; CRS choices.

May import the core, pandas, geopandas, shapely, pyproj and rasterio's in-memory
features; never reads or writes files.
"""
