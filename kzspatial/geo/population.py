"""Dasymetric population: official regional totals placed through settlements.

Settlement points (GeoNames, OpenStreetMap) carry unofficial populations of mixed
vintage; used as counts they miss a third of Kazakhstan's residents. Here they only
say *where* people live within a region: each region's official population is split
among its points, so grid cells (:func:`dasymetric_population`) and other polygons
such as districts (:func:`dasymetric_polygon_population`) add up to the official
totals. Such a district figure is an allocation, never an official district count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
from numpy.typing import NDArray

from kzspatial._errors import ValidationError
from kzspatial.geo.crs import KZ_AEA
from kzspatial.geo.grids import (
    _WGS84,
    NationalGrid,
    _require_crs,
    _transformer,
    points_to_cells,
)

__all__ = ["dasymetric_polygon_population", "dasymetric_population"]


@dataclass(frozen=True, eq=False)
class _PointShares:
    """Each region's official population split among the settlement points in it."""

    ids: list[str]
    official: pd.Series  # by region id
    regions: gpd.GeoDataFrame  # region_col, geometry; EPSG:4326
    points: gpd.GeoSeries  # the points inside a region; EPSG:4326
    region: NDArray[np.str_]  # region id of each point
    weight: NDArray[np.float64]  # the point's own (unofficial) population
    share: NDArray[np.float64]  # its part of its region's official population

    def has_points(self, rid: str) -> bool:
        """Whether the points of region ``rid`` carry any population."""
        return bool(self.weight[self.region == rid].sum() > 0)


def _point_shares(
    regions: gpd.GeoDataFrame,
    region_population: Mapping[str, float] | pd.Series,
    points: gpd.GeoDataFrame,
    region_col: str,
    population_col: str,
) -> _PointShares:
    """Split each region's official population among its points, by their weights."""
    _require_crs(regions, "regions")
    _require_crs(points, "points")
    ids = [str(r) for r in regions[region_col]]
    official = pd.Series(region_population, dtype=float).reindex(ids)
    bad = official[~(np.isfinite(official) & (official >= 0))]
    if len(bad):
        raise ValidationError(
            f"official population missing or negative for regions {list(bad.index)}; "
            "give every region of the outline a population"
        )
    polygons = regions[[region_col, "geometry"]].to_crs(_WGS84)
    pts = points[[population_col, "geometry"]].to_crs(_WGS84)
    pts = pts[pts[population_col].fillna(0) > 0]
    joined = gpd.sjoin(pts, polygons, how="inner", predicate="within")
    joined = joined[~joined.index.duplicated()]  # a point on a shared border
    region = joined[region_col].astype(str).to_numpy()
    weight = joined[population_col].to_numpy(float)
    share = np.zeros(len(joined))
    for rid in ids:
        mine = region == rid
        if weight[mine].sum() > 0:
            share[mine] = official[rid] * weight[mine] / weight[mine].sum()
    return _PointShares(ids, official, polygons, joined.geometry, region, weight, share)


def dasymetric_population(
    grid: NationalGrid,
    regions: gpd.GeoDataFrame,
    region_population: Mapping[str, float] | pd.Series,
    points: gpd.GeoDataFrame,
    *,
    region_col: str = "region_id",
    population_col: str = "population",
) -> tuple[NDArray[np.float64], pd.DataFrame]:
    """Allocate each region's official population to grid cells through its settlements.

    Each region's population is split among the settlement points inside it in
    proportion to their (unofficial, mixed-vintage) point populations, and each point's
    share goes to the cell it lies in, or to the nearest inside cell when its cell
    centre falls outside the outline (points on the border). A region without any
    settlement point spreads its population evenly over the cells whose centres lie in
    it (a region smaller than a cell: the cell nearest a point inside it). Cell values
    therefore sum exactly to the official regional totals: the points
    only say *where* within a region people live, never how many.

    Parameters
    ----------
    grid : NationalGrid
    regions : GeoDataFrame
        Region polygons with ``region_col``; any CRS.
    region_population : mapping or Series of region id to float
        Official population of every region in ``regions``.
    points : GeoDataFrame
        Settlement points with ``population_col``; any CRS. Points outside every region
        are ignored.
    region_col, population_col : str, keyword-only

    Returns
    -------
    cell_population : numpy.ndarray, shape (n_cells,)
    allocation : pandas.DataFrame
        Per region: ``region_id, official_population, n_points, points_population,
        allocated, method`` (``"settlement points"`` or ``"uniform over cells"``).

    Raises
    ------
    CRSError
        Missing CRS.
    ValidationError
        A region lacks a population (or it is negative or missing), naming it.
    """
    from scipy.spatial import cKDTree

    shares = _point_shares(
        regions, region_population, points, region_col, population_col
    )
    x_lon, y_lat = shares.points.x.to_numpy(), shares.points.y.to_numpy()
    cell = points_to_cells(grid, x_lon, y_lat)
    tree = cKDTree(np.column_stack(grid.centres_xy))
    if np.any(cell < 0):
        x, y = _transformer(_WGS84, grid.crs).transform(
            x_lon[cell < 0], y_lat[cell < 0]
        )
        cell[cell < 0] = tree.query(np.column_stack([x, y]))[1]
    region_of_cell = _cell_regions(grid, shares.regions)
    cell_population = np.zeros(grid.n_cells)
    np.add.at(cell_population, cell, shares.share)
    rows = []
    for k, rid in enumerate(shares.ids):
        mine = shares.region == rid
        official = shares.official[rid]
        method = "settlement points"
        if not shares.has_points(rid):
            cells = np.flatnonzero(region_of_cell == k)
            if cells.size == 0:  # smaller than a cell: the cell nearest its inside
                inner = shares.regions.geometry.iloc[k]
                inner = gpd.GeoSeries([inner], crs=_WGS84).to_crs(grid.crs)
                xy = inner.representative_point().get_coordinates().to_numpy()
                cells = tree.query(xy)[1]
            cell_population[cells] += official / cells.size
            method = "uniform over cells"
        rows.append(
            {
                "region_id": rid,
                "official_population": official,
                "n_points": int(mine.sum()),
                "points_population": float(shares.weight[mine].sum()),
                "allocated": official,
                "method": method,
            }
        )
    return cell_population, pd.DataFrame(rows)


def dasymetric_polygon_population(
    polygons: gpd.GeoDataFrame | gpd.GeoSeries,
    regions: gpd.GeoDataFrame,
    region_population: Mapping[str, float] | pd.Series,
    points: gpd.GeoDataFrame,
    *,
    region_col: str = "region_id",
    population_col: str = "population",
) -> tuple[pd.Series, float]:
    """Sum the dasymetric allocation of the regional populations by polygon.

    The same allocation as :func:`dasymetric_population`: each region's official
    population is split among its settlement points in proportion to their point
    populations, and each point's share is added to the polygon containing it (the
    first, for a point on a shared edge). A region without settlement points is
    spread evenly over its area, so a polygon gets the part of it that it covers.
    Whatever lies in no polygon (points, or area of a region without points, outside
    all of them) is returned as ``outside``: the polygon values plus ``outside`` add
    up exactly to the official total. The polygon values are allocations, not counts.

    Parameters
    ----------
    polygons : GeoDataFrame or GeoSeries
        E.g. districts, indexed by their id; any CRS.
    regions, region_population, points, region_col, population_col
        As for :func:`dasymetric_population`.

    Returns
    -------
    population : pandas.Series
        ``population_allocated`` of each polygon, indexed like ``polygons``.
    outside : float
        Population allocated outside every polygon.

    Raises
    ------
    CRSError
        Missing CRS.
    ValidationError
        A region lacks a population (or it is negative or missing), naming it.
    """
    _require_crs(polygons, "polygons")
    shares = _point_shares(
        regions, region_population, points, region_col, population_col
    )
    shapes = gpd.GeoSeries(polygons.geometry.to_numpy(), crs=polygons.crs).to_crs(
        _WGS84
    )
    hit = gpd.sjoin(
        gpd.GeoDataFrame(geometry=shares.points.to_numpy(), crs=_WGS84),
        gpd.GeoDataFrame(geometry=shapes),
        how="left",
        predicate="intersects",
    )
    # a point on a shared edge goes to the first polygon; NaN: in none
    first = hit["index_right"].groupby(level=0).min()
    inside = first.notna().to_numpy()
    totals = np.bincount(
        first[inside].to_numpy(int), weights=shares.share[inside], minlength=len(shapes)
    )
    outside = float(shares.share[~inside].sum())
    equal_area = shapes.to_crs(KZ_AEA).make_valid()
    for k, rid in enumerate(shares.ids):
        if shares.has_points(rid) or shares.official[rid] == 0:
            continue
        region = shares.regions.geometry.iloc[[k]].to_crs(KZ_AEA).make_valid().iloc[0]
        covered = equal_area.intersection(region).area.to_numpy()
        # overlapping polygons must not hand out more than the region has
        part = shares.official[rid] * covered / max(region.area, covered.sum())
        totals += part
        outside += shares.official[rid] - float(part.sum())
    return (
        pd.Series(totals, index=polygons.index, name="population_allocated"),
        outside,
    )


def _cell_regions(grid: NationalGrid, polygons: gpd.GeoDataFrame) -> NDArray[np.intp]:
    """Region position of each inside cell (by its centre), -1 for none."""
    shapes = [
        (geom, k + 1)
        for k, geom in enumerate(polygons.to_crs(grid.crs).geometry.values)
    ]
    raster = rasterio.features.rasterize(
        shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32"
    )
    return raster[grid.inside].astype(np.intp) - 1
