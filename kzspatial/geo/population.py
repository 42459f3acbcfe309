"""Dasymetric grid population: official regional totals placed through settlements.

Settlement points (GeoNames, OpenStreetMap) carry unofficial populations of mixed
vintage; used as counts they miss a third of Kazakhstan's residents. Here they only
say *where* people live within a region: each region's official population is split
among its points, so grid cells add up to the official totals.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
from numpy.typing import NDArray

from kzspatial._errors import ValidationError
from kzspatial.geo.grids import (
    _WGS84,
    NationalGrid,
    _require_crs,
    _transformer,
    points_to_cells,
)

__all__ = ["dasymetric_population"]


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
    cell = points_to_cells(grid, joined.geometry.x, joined.geometry.y)
    tree = cKDTree(np.column_stack(grid.centres_xy))
    if np.any(cell < 0):
        x, y = _transformer(_WGS84, grid.crs).transform(
            joined.geometry.x.to_numpy()[cell < 0],
            joined.geometry.y.to_numpy()[cell < 0],
        )
        cell[cell < 0] = tree.query(np.column_stack([x, y]))[1]
    point_region = joined[region_col].astype(str).to_numpy()
    point_pop = joined[population_col].to_numpy(float)
    region_of_cell = _cell_regions(grid, polygons)
    cell_population = np.zeros(grid.n_cells)
    rows = []
    for k, rid in enumerate(ids):
        mine = point_region == rid
        weight = point_pop[mine]
        if weight.sum() > 0:
            np.add.at(
                cell_population, cell[mine], official[rid] * weight / weight.sum()
            )
            method = "settlement points"
        else:
            cells = np.flatnonzero(region_of_cell == k)
            if cells.size == 0:  # smaller than a cell: the cell nearest its inside
                inner = polygons.geometry.iloc[k]
                inner = gpd.GeoSeries([inner], crs=_WGS84).to_crs(grid.crs)
                xy = inner.representative_point().get_coordinates().to_numpy()
                cells = tree.query(xy)[1]
            cell_population[cells] += official[rid] / cells.size
            method = "uniform over cells"
        rows.append(
            {
                "region_id": rid,
                "official_population": official[rid],
                "n_points": int(mine.sum()),
                "points_population": float(weight.sum()),
                "allocated": official[rid],
                "method": method,
            }
        )
    return cell_population, pd.DataFrame(rows)


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
