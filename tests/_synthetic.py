"""Synthetic Kazakhstan-like fixtures for the catchment tests and benchmark.

The outline is a hand-drawn 37-vertex polygon following the rough shape of Kazakhstan
(46.5-87.3 E, 40.6-55.4 N; about 2.85 million km² in KZ Albers against the real
country's 2.72 million), *not* the real border.
Centre coordinates are approximate city locations (rounded from public gazetteers).
"""

import geopandas as gpd
import shapely

OUTLINE_LONLAT = [
    (46.5, 48.4),
    (47.4, 50.4),
    (48.7, 50.6),
    (50.8, 51.7),
    (53.0, 51.5),
    (55.5, 50.6),
    (58.5, 51.1),
    (61.4, 50.8),
    (60.9, 52.0),
    (61.2, 53.9),
    (64.5, 54.2),
    (68.0, 55.4),
    (70.8, 55.3),
    (73.5, 54.0),
    (76.5, 54.2),
    (78.0, 53.3),
    (80.0, 51.3),
    (83.0, 51.0),
    (85.0, 49.9),
    (87.3, 49.1),
    (85.5, 47.0),
    (83.0, 47.2),
    (82.5, 45.5),
    (80.0, 45.0),
    (80.2, 42.1),
    (76.0, 42.9),
    (74.0, 43.2),
    (71.0, 42.3),
    (68.5, 40.6),
    (66.0, 42.0),
    (61.0, 44.5),
    (58.5, 45.5),
    (56.0, 45.0),
    (55.9, 41.3),
    (52.5, 41.8),
    (51.3, 43.2),
    (49.2, 46.4),
]

# name -> (lon, lat); the first three are the agglomeration hubs
CENTRES_LONLAT = {
    "Astana": (71.43, 51.13),
    "Almaty": (76.95, 43.24),
    "Shymkent": (69.59, 42.32),
    "Kokshetau": (69.39, 53.28),
    "Aktobe": (57.17, 50.28),
    "Taldykorgan": (78.37, 45.02),
    "Atyrau": (51.92, 47.11),
    "Oskemen": (82.61, 49.95),
    "Taraz": (71.37, 42.90),
    "Oral": (51.37, 51.23),
    "Karaganda": (73.10, 49.80),
    "Kostanay": (63.62, 53.21),
    "Kyzylorda": (65.51, 44.85),
    "Aktau": (51.90, 43.65),
    "Pavlodar": (76.95, 52.29),
    "Petropavl": (69.15, 54.87),
    "Turkestan": (68.25, 43.30),
    "Konaev": (77.07, 43.87),
    "Zhezkazgan": (67.71, 47.80),
    "Semey": (80.23, 50.41),
}
# rough 2023 populations (persons), used as attractiveness in examples
CENTRE_POPULATION = {
    "Astana": 1_350_000,
    "Almaty": 2_200_000,
    "Shymkent": 1_200_000,
    "Kokshetau": 150_000,
    "Aktobe": 560_000,
    "Taldykorgan": 170_000,
    "Atyrau": 300_000,
    "Oskemen": 340_000,
    "Taraz": 430_000,
    "Oral": 320_000,
    "Karaganda": 500_000,
    "Kostanay": 250_000,
    "Kyzylorda": 320_000,
    "Aktau": 270_000,
    "Pavlodar": 340_000,
    "Petropavl": 220_000,
    "Turkestan": 200_000,
    "Konaev": 60_000,
    "Zhezkazgan": 90_000,
    "Semey": 350_000,
}
HUBS = ("Astana", "Almaty", "Shymkent")


def kz_like_outline() -> gpd.GeoDataFrame:
    """One-row GeoDataFrame (EPSG:4326) with the synthetic country polygon."""
    return gpd.GeoDataFrame(
        {"name": ["KZ (synthetic)"]},
        geometry=[shapely.Polygon(OUTLINE_LONLAT)],
        crs="EPSG:4326",
    )


def centre_points(names=HUBS) -> gpd.GeoSeries:
    """Points (EPSG:4326) of the named centres, indexed by name."""
    return gpd.GeoSeries(
        [shapely.Point(CENTRES_LONLAT[n]) for n in names],
        index=list(names),
        crs="EPSG:4326",
    )
