"""Synthetic stand-ins for Kazakhstan: outline, centres, regions, districts, OD flows.

Generated in code, nothing read from disk; not real data.

- The outline is a hand-drawn 37-vertex polygon following the rough shape of Kazakhstan
  (46.5-87.3 E, 40.6-55.4 N; about 2.85 million km² in KZ Albers against the real
  country's 2.72 million), *not* the real border.
- Centre coordinates are approximate city locations (rounded from public gazetteers),
  with rough populations used as attractiveness (catchment tests and benchmark).
- Regions are Voronoi cells around approximate oblast centres inside the outline, with
  Astana, Almaty and Shymkent cut out as small enclaves (as in the real boundaries).
  Codes follow ISO 3166-2:KZ (2022 regions); names in English, Kazakh and Russian.
- Flows follow a gravity model with Poisson noise, so ``fitted`` and ``residual``
  columns are meaningful.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

# Rough outline of Kazakhstan (lon, lat), enough for plausible-looking tests and maps.
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
KZ_OUTLINE = shapely.Polygon(OUTLINE_LONLAT)

# code, English, Kazakh, Russian, lon, lat, population (thousands, rounded, synthetic)
REGIONS = [
    ("KZ-10", "Abai", "Абай облысы", "Абайская область", 80.0, 48.6, 610),
    ("KZ-11", "Akmola", "Ақмола облысы", "Акмолинская область", 70.0, 51.8, 790),
    ("KZ-15", "Aktobe", "Ақтөбе облысы", "Актюбинская область", 58.0, 48.4, 930),
    (
        "KZ-19",
        "Almaty Region",
        "Алматы облысы",
        "Алматинская область",
        77.2,
        44.0,
        1500,
    ),
    ("KZ-23", "Atyrau", "Атырау облысы", "Атырауская область", 52.0, 47.2, 690),
    (
        "KZ-27",
        "West Kazakhstan",
        "Батыс Қазақстан облысы",
        "Западно-Казахстанская область",
        51.2,
        50.3,
        690,
    ),
    ("KZ-31", "Zhambyl", "Жамбыл облысы", "Жамбылская область", 72.4, 44.3, 1220),
    ("KZ-33", "Zhetisu", "Жетісу облысы", "Жетысуская область", 80.2, 45.8, 700),
    (
        "KZ-35",
        "Karaganda",
        "Қарағанды облысы",
        "Карагандинская область",
        74.5,
        48.2,
        1130,
    ),
    ("KZ-39", "Kostanay", "Қостанай облысы", "Костанайская область", 63.5, 51.6, 830),
    (
        "KZ-43",
        "Kyzylorda",
        "Қызылорда облысы",
        "Кызылординская область",
        64.0,
        44.9,
        830,
    ),
    (
        "KZ-47",
        "Mangystau",
        "Маңғыстау облысы",
        "Мангистауская область",
        53.8,
        43.8,
        770,
    ),
    ("KZ-55", "Pavlodar", "Павлодар облысы", "Павлодарская область", 76.5, 52.2, 750),
    (
        "KZ-59",
        "North Kazakhstan",
        "Солтүстік Қазақстан облысы",
        "Северо-Казахстанская область",
        69.2,
        54.0,
        530,
    ),
    (
        "KZ-61",
        "Turkistan",
        "Түркістан облысы",
        "Туркестанская область",
        68.0,
        43.0,
        2100,
    ),
    ("KZ-62", "Ulytau", "Ұлытау облысы", "Улытауская область", 67.5, 47.8, 220),
    (
        "KZ-63",
        "East Kazakhstan",
        "Шығыс Қазақстан облысы",
        "Восточно-Казахстанская область",
        84.2,
        49.4,
        720,
    ),
    ("KZ-71", "Astana", "Астана", "Астана", 71.43, 51.13, 1350),
    ("KZ-75", "Almaty", "Алматы", "Алматы", 76.89, 43.24, 2200),
    ("KZ-79", "Shymkent", "Шымкент", "Шымкент", 69.6, 42.32, 1200),
]
HUB_IDS = ["KZ-71", "KZ-75", "KZ-79"]
_CITY_RADIUS_DEG = 0.35


def _voronoi_cells(points: np.ndarray) -> list[shapely.Geometry]:
    """Voronoi cells of ``points`` clipped to the outline, in ``points`` order."""
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=KZ_OUTLINE)
    by_point = {}
    for cell in shapely.get_parts(cells):
        inside = np.flatnonzero(shapely.contains_xy(cell, points[:, 0], points[:, 1]))
        by_point[int(inside[0])] = cell.intersection(KZ_OUTLINE)
    return [by_point[i] for i in range(len(points))]


def regions() -> gpd.GeoDataFrame:
    """20 region polygons (EPSG:4326) with three city enclaves, real-layer columns."""
    table = pd.DataFrame(
        REGIONS,
        columns=[
            "region_id",
            "name_en",
            "name_kk",
            "name_ru",
            "lon",
            "lat",
            "population",
        ],
    )
    table["population"] = table["population"] * 1000
    is_city = table["region_id"].isin(HUB_IDS).to_numpy()
    oblasts = table[~is_city]
    cells = _voronoi_cells(oblasts[["lon", "lat"]].to_numpy())
    cities = {
        row.region_id: shapely.Point(row.lon, row.lat).buffer(_CITY_RADIUS_DEG, 16)
        for row in table[is_city].itertuples()
    }
    holes = shapely.union_all(list(cities.values()))
    geometry = dict(
        zip(oblasts["region_id"], (c.difference(holes) for c in cells), strict=True)
    )
    geometry.update(cities)
    return gpd.GeoDataFrame(
        table.drop(columns=["lon", "lat"]),
        geometry=[geometry[r] for r in table["region_id"]],
        crs="EPSG:4326",
    )


def districts(n: int = 224, seed: int = 1) -> gpd.GeoDataFrame:
    """``n`` district polygons (EPSG:4326): Voronoi cells of random points."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = KZ_OUTLINE.bounds
    points: list[tuple[float, float]] = []
    while len(points) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if KZ_OUTLINE.contains(shapely.Point(x, y)):
            points.append((x, y))
    cells = _voronoi_cells(np.array(points))
    return gpd.GeoDataFrame(
        {
            "region_id": [f"D{i:03d}" for i in range(n)],
            "name_en": [f"District {i}" for i in range(n)],
            "population": rng.integers(5_000, 400_000, n),
        },
        geometry=cells,
        crs="EPSG:4326",
    )


def od_flows(
    zones: gpd.GeoDataFrame,
    *,
    n_flows: int | None = None,
    seed: int = 0,
    years: tuple[int, ...] = (2023,),
) -> pd.DataFrame:
    """Gravity-model OD table between ``zones``: observed, fitted and residual.

    All ordered pairs, or a random ``n_flows`` of them; one block per year.
    """
    rng = np.random.default_rng(seed)
    points = zones.geometry.representative_point()
    lon, lat = points.x.to_numpy(), points.y.to_numpy()
    population = zones["population"].to_numpy(dtype=float)
    ids = zones["region_id"].to_numpy()
    i, j = np.nonzero(~np.eye(len(zones), dtype=bool))
    if n_flows is not None:
        keep = np.sort(rng.choice(len(i), size=n_flows, replace=False))
        i, j = i[keep], j[keep]
    distance_km = 111.0 * np.hypot(
        (lon[i] - lon[j]) * np.cos(np.radians(48)), lat[i] - lat[j]
    )
    attract = np.where(np.isin(ids[j], HUB_IDS), 3.0, 1.0)
    fitted = (
        2e-7
        * population[i]
        * population[j]
        * attract
        / np.maximum(distance_km, 30) ** 1.2
    )
    frames = []
    for year in years:
        observed = rng.poisson(fitted).astype(np.int64)
        frames.append(
            pd.DataFrame(
                {
                    "year": np.int16(year),
                    "origin": ids[i],
                    "destination": ids[j],
                    "flow": observed,
                    "fitted": fitted.round(2),
                    "residual": (observed - fitted).round(2),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def catchments(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Zones dissolved by nearest hub, a stand-in for model catchments."""
    hubs = zones[zones["region_id"].isin(HUB_IDS)]
    hub_points = hubs.geometry.representative_point()
    points = zones.geometry.representative_point()
    distance = np.hypot(
        points.x.to_numpy()[:, None] - hub_points.x.to_numpy()[None, :],
        points.y.to_numpy()[:, None] - hub_points.y.to_numpy()[None, :],
    )
    nearest = hubs["name_en"].to_numpy()[distance.argmin(axis=1)]
    return gpd.GeoDataFrame(
        {"hub": nearest}, geometry=zones.geometry.to_numpy(), crs=zones.crs
    ).dissolve(by="hub", as_index=False)


def kz_like_outline() -> gpd.GeoDataFrame:
    """One-row GeoDataFrame (EPSG:4326) with the synthetic country polygon."""
    return gpd.GeoDataFrame(
        {"name": ["KZ (synthetic)"]},
        geometry=[KZ_OUTLINE],
        crs="EPSG:4326",
    )


def centre_points(names=HUBS) -> gpd.GeoSeries:
    """Points (EPSG:4326) of the named centres, indexed by name."""
    return gpd.GeoSeries(
        [shapely.Point(CENTRES_LONLAT[n]) for n in names],
        index=list(names),
        crs="EPSG:4326",
    )


def moran_entry(
    regions: gpd.GeoDataFrame,
    *,
    permutations: int = 99,
    seed: int = 1,
    labels: tuple[str, ...] | None = None,
    variable: str = "net_rate",
):
    """One report entry (queen weights, random values from ``seed``).

    ``labels`` are the LISA cluster labels (default: none significant).
    """
    from kzspatial import local_morans, morans_i
    from kzspatial.geo.weights import weights_from_geodataframe
    from kzspatial.study.moran_suite import MoranEntry

    w = weights_from_geodataframe(regions, "queen", id_col="region_id")
    y = np.random.default_rng(seed).normal(size=len(w.ids))
    return MoranEntry(
        variable=variable,
        label="Net migration rate",
        weights_name="queen",
        year=2024,
        ids=w.ids,
        names=w.ids,
        y=y,
        weights=w,
        global_=morans_i(y, w, permutations=permutations, rng=seed + 2),
        local=local_morans(y, w, permutations=permutations, rng=seed + 1),
        cluster_labels=labels or tuple("ns" for _ in w.ids),
        fdr=None,
    )
