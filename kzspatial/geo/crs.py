"""Coordinate reference systems used by kzspatial.

``KZ_AEA`` is an Albers equal-area conic fitted to Kazakhstan (standard parallels 45N and
51N, central meridian 67E): maximum angular distortion under 1 degree over the country, and
exactly equal-area. No registered CRS serves Kazakhstan this well; the WKT carries a name so
GIS software shows "KZ Albers Equal Area (kzspatial)" rather than "unknown".
"""

from pyproj import CRS

__all__ = ["GEOGRAPHIC", "KZ_AEA"]

GEOGRAPHIC = CRS.from_epsg(4326)

KZ_AEA = CRS.from_wkt(
    CRS(
        "+proj=aea +lat_0=48 +lon_0=67 +lat_1=45 +lat_2=51 +x_0=0 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs"
    )
    .to_wkt("WKT2_2019")
    .replace('"unknown"', '"KZ Albers Equal Area (kzspatial)"', 1)
)
