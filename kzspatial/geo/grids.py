"""Grids, hub distances and catchment polygons: the geometry adapter of catchments.

Turns an outline of the country (any CRS) into a regular grid in the KZ Albers
equal-area CRS (:data:`KZ_AEA`, CONVENTIONS 1.2), computes great-circle distances from
cell centres to hubs, runs the numpy core (:mod:`kzspatial.core.catchments`) on them, and
turns the per-cell results back into rasters (for :func:`kzspatial.render.raster.write_cog`)
and dissolved polygons (for the GeoPackage writer). Also runs Huff on district
polygons through their representative points.

Cells are identified by their position among the *inside* cells in row-major order;
every per-cell array has shape ``(n_cells,)`` in that order. Grid and district results
are model predictions, not observations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from affine import Affine
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

from kzspatial._errors import AlignmentError, CRSError, ValidationError
from kzspatial.core.catchments import (
    DEFAULT_MAX_MEMORY_BYTES,
    CatchmentPopulation,
    FlowCatchments,
    HuffResult,
    catchment_population,
    check_memory,
    huff_probabilities,
)
from kzspatial.core.distance import EARTH_RADIUS_KM, great_circle_km
from kzspatial.geo.crs import KZ_AEA

__all__ = [
    "DEFAULT_MIN_COST_KM",
    "KZ_AEA",
    "NationalGrid",
    "distances_to_hubs_km",
    "dominance_polygons",
    "flow_catchment_polygons",
    "grid_huff",
    "hub_class_raster",
    "national_grid",
    "points_to_cells",
    "polygon_huff",
    "population_to_cells",
    "threshold_polygons",
    "to_raster",
]

DEFAULT_MIN_COST_KM = 5.0
"""Distance floor for power decay: a hub city is not a point (CONVENTIONS 5)."""

_WGS84 = CRS.from_epsg(4326)
# Per bounding-box cell: mask byte, float64 lon/lat, float32 unit vector, float32 band.
_BYTES_PER_GRID_CELL = 1 + 16 + 12 + 4
_CHUNK = 2**17


@lru_cache(maxsize=16)
def _transformer(source: CRS, target: CRS) -> Transformer:
    # building a Transformer costs tens of ms; grids and hubs reuse a few CRS pairs
    return Transformer.from_crs(source, target, always_xy=True)


@dataclass(frozen=True, eq=False)
class NationalGrid:
    """A regular grid over a study area, with the cells inside it marked.

    Attributes
    ----------
    transform : affine.Affine
        Pixel-to-CRS transform (north-up; origin at the top-left corner).
    shape : tuple of int
        ``(rows, cols)``.
    crs : pyproj.CRS
        Equal-area CRS of the grid.
    cell_size_m : float
    inside : numpy.ndarray of bool, shape (rows, cols)
        True for cells whose centre lies inside the outline.
    """

    transform: Affine
    shape: tuple[int, int]
    crs: CRS
    cell_size_m: float
    inside: NDArray[np.bool_]

    @cached_property
    def n_cells(self) -> int:
        """Number of inside cells."""
        return int(np.count_nonzero(self.inside))

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell in km² (exact: the CRS is equal-area)."""
        return self.cell_size_m**2 / 1e6

    @cached_property
    def cell_index(self) -> NDArray[np.intp]:
        """Raster of shape (rows, cols) giving each cell's inside index, -1 outside."""
        index = np.full(self.shape, -1, dtype=np.intp)
        index[self.inside] = np.arange(self.n_cells)
        index.flags.writeable = False
        return index

    @property
    def centres_xy(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Projected centres ``(x, y)`` of the inside cells, each shape (n_cells,)."""
        rows, cols = np.nonzero(self.inside)
        t = self.transform
        return t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e

    @cached_property
    def centres_lonlat(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """EPSG:4326 ``(lon, lat)`` of the inside cells, each shape (n_cells,).

        Cached: the inverse projection is the slowest step of a grid Huff run (about
        0.4 µs per cell), and one grid serves many hub sets, years and parameters.
        """
        lon, lat = _transformer(self.crs, _WGS84).transform(*self.centres_xy)
        lon.flags.writeable = lat.flags.writeable = False
        return lon, lat

    @cached_property
    def _centre_unit_vectors(self) -> NDArray[np.float32]:
        return _unit_vectors(*self.centres_lonlat).astype(np.float32)


def _require_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, what: str) -> None:
    if frame.crs is None:
        raise CRSError(
            f"{what} has no CRS; set it first, e.g. {what}.set_crs('EPSG:4326') for "
            "longitude/latitude"
        )


def national_grid(
    outline: gpd.GeoDataFrame | gpd.GeoSeries,
    cell_size_m: float = 5000.0,
    *,
    crs: CRS | str = KZ_AEA,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
) -> NationalGrid:
    """Lay a regular equal-area grid over a country outline.

    Parameters
    ----------
    outline : GeoDataFrame or GeoSeries
        Polygons of the study area (country, or all regions); any CRS.
    cell_size_m : float, default 5000
        Cell side in metres (5 km default, 1 km on request).
    crs : pyproj.CRS or str, keyword-only, default :data:`KZ_AEA`
        Projected equal-area CRS of the grid.
    max_memory_bytes : int, keyword-only
        Refuse grids whose per-cell arrays would exceed this budget.

    Returns
    -------
    NationalGrid
        Grid origin snapped to multiples of ``cell_size_m``, so grids of the same size
        align across runs; a cell is inside when its centre is.

    Raises
    ------
    CRSError
        ``outline`` has no CRS, or ``crs`` is not projected.
    ValidationError
        Non-positive cell size; a grid too large for the memory budget (stating the size
        it would need); an empty outline.
    """
    _require_crs(outline, "outline")
    grid_crs = CRS.from_user_input(crs)
    if not grid_crs.is_projected:
        raise CRSError(
            f"grid CRS must be projected (metres), got {grid_crs.name!r}; use KZ_AEA"
        )
    if not (np.isfinite(cell_size_m) and cell_size_m > 0):
        raise ValidationError(f"cell_size_m must be positive, got {cell_size_m!r}")
    area = shapely.union_all(outline.to_crs(grid_crs).geometry.values)
    if area.is_empty:
        raise ValidationError("outline is empty; pass the study-area polygons")
    xmin, ymin, xmax, ymax = area.bounds
    left = np.floor(xmin / cell_size_m) * cell_size_m
    top = np.ceil(ymax / cell_size_m) * cell_size_m
    cols = int(np.ceil((xmax - left) / cell_size_m))
    rows = int(np.ceil((top - ymin) / cell_size_m))
    check_memory(
        rows * cols * _BYTES_PER_GRID_CELL,
        f"a {cell_size_m:g} m grid of {rows:,} x {cols:,} = {rows * cols:,} cells",
        max_memory_bytes=max_memory_bytes,
    )
    transform = Affine(cell_size_m, 0.0, left, 0.0, -cell_size_m, top)
    inside = rasterio.features.rasterize(
        [(area, 1)], out_shape=(rows, cols), transform=transform, fill=0, dtype="uint8"
    ).astype(bool)
    inside.flags.writeable = False
    return NationalGrid(
        transform=transform,
        shape=(rows, cols),
        crs=grid_crs,
        cell_size_m=float(cell_size_m),
        inside=inside,
    )


def _hub_lonlat(
    hubs: gpd.GeoDataFrame | gpd.GeoSeries,
) -> tuple[tuple[str, ...], NDArray[np.float64], NDArray[np.float64]]:
    _require_crs(hubs, "hubs")
    points = hubs.geometry.to_crs(_WGS84)
    if not points.geom_type.eq("Point").all():
        raise ValidationError("hubs must be Point geometries indexed by hub name")
    names = tuple(str(i) for i in hubs.index)
    if len(set(names)) != len(names):
        raise ValidationError(f"hub names (the index) are not unique: {list(names)}")
    return names, points.x.to_numpy(), points.y.to_numpy()


def _check_hubs_inside(
    grid: NationalGrid, names: Sequence[str], lon: NDArray, lat: NDArray
) -> NDArray[np.intp]:
    cell = points_to_cells(grid, lon, lat)
    outside = np.flatnonzero(cell < 0)
    if outside.size:
        where = ", ".join(
            f"{names[k]!r} at lon={lon[k]:.4f}, lat={lat[k]:.4f}" for k in outside
        )
        raise ValidationError(
            f"hubs outside the study area: {where}; check the coordinates (lon/lat "
            "order, CRS of the hub layer) or use an outline that contains every hub"
        )
    return cell


def _unit_vectors(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
    lam, phi = np.radians(lon), np.radians(lat)
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


def points_to_cells(
    grid: NationalGrid, lon: ArrayLike, lat: ArrayLike
) -> NDArray[np.intp]:
    """Inside-cell index of each point; -1 outside the grid or the outline.

    Parameters
    ----------
    grid : NationalGrid
    lon, lat : array_like, shape (k,)
        EPSG:4326 degrees.

    Returns
    -------
    numpy.ndarray of intp, shape (k,)
    """
    x, y = _transformer(_WGS84, grid.crs).transform(
        np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    )
    col_row = ~grid.transform * (np.asarray(x), np.asarray(y))
    col = np.floor(col_row[0]).astype(np.intp)
    row = np.floor(col_row[1]).astype(np.intp)
    rows, cols = grid.shape
    on_grid = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
    cell = np.full(col.shape, -1, dtype=np.intp)
    cell[on_grid] = grid.cell_index[row[on_grid], col[on_grid]]
    return cell


def distances_to_hubs_km(
    grid: NationalGrid,
    hubs: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
) -> NDArray[np.float32]:
    r"""Great-circle distances from every inside cell centre to every hub.

    Parameters
    ----------
    grid : NationalGrid
    hubs : GeoDataFrame or GeoSeries of Points, length h
        Indexed by hub name; any CRS.
    max_memory_bytes : int, keyword-only

    Returns
    -------
    numpy.ndarray of float32, shape (n_cells, h)
        Kilometres on the WGS84 mean sphere (as
        :func:`kzspatial.core.distance.great_circle_km`), column-major. Computed from
        chord lengths between unit vectors, :math:`d = 2R \arcsin(c/2)`, which is
        well conditioned for short distances even in float32 (error below a metre).

    Raises
    ------
    ValidationError
        A hub lies outside the grid's study area (naming it); output over budget.
    """
    names, hub_lon, hub_lat = _hub_lonlat(hubs)
    _check_hubs_inside(grid, names, hub_lon, hub_lat)
    n_cells, n_hubs = grid.n_cells, len(names)
    check_memory(
        n_cells * n_hubs * 4,
        f"distances for {n_cells:,} cells x {n_hubs} hubs",
        max_memory_bytes=max_memory_bytes,
    )
    cells = grid._centre_unit_vectors
    targets = _unit_vectors(hub_lon, hub_lat).astype(np.float32)
    distance_t = np.empty((n_hubs, n_cells), dtype=np.float32)
    square = np.empty(_CHUNK, dtype=np.float32)
    for start in range(0, n_cells, _CHUNK):
        stop = min(start + _CHUNK, n_cells)
        sq = square[: stop - start]
        for k in range(n_hubs):
            chord = distance_t[k, start:stop]
            chord[:] = 0.0
            for axis in range(3):
                np.subtract(cells[axis, start:stop], targets[axis, k], out=sq)
                sq *= sq
                chord += sq
            np.sqrt(chord, out=chord)
            chord *= 0.5
            np.arcsin(chord, out=chord)
            chord *= 2.0 * EARTH_RADIUS_KM
    return distance_t.T


def _attractiveness_vector(
    attractiveness: Mapping[str, float] | ArrayLike, names: Sequence[str]
) -> NDArray[np.float64]:
    if isinstance(attractiveness, Mapping):
        missing = [h for h in names if h not in attractiveness]
        if missing:
            raise AlignmentError(
                f"no attractiveness for hubs {missing}; give a value for every hub"
            )
        return np.array([attractiveness[h] for h in names], dtype=np.float64)
    return np.asarray(attractiveness, dtype=np.float64)


def grid_huff(
    grid: NationalGrid,
    hubs: gpd.GeoDataFrame | gpd.GeoSeries,
    attractiveness: Mapping[str, float] | ArrayLike,
    beta: float,
    cost_func: str = "pow",
    *,
    alpha: float = 1.0,
    min_cost_km: float = DEFAULT_MIN_COST_KM,
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES,
) -> HuffResult:
    """Huff probabilities of each grid cell choosing each hub (a model prediction).

    Parameters
    ----------
    grid : NationalGrid
    hubs : GeoDataFrame or GeoSeries of Points, length h
        Indexed by hub name.
    attractiveness : mapping of hub name to float, or array_like, shape (h,)
        Positive; e.g. destination attractiveness from the fitted gravity model.
    beta : float
        Decay parameter of the fitted gravity model (negative = decay), distances in km.
    cost_func : {"pow", "exp"}
    alpha : float, keyword-only, default 1.0
    min_cost_km : float, keyword-only, default 5.0
        Distance floor (a cell at a hub is ``min_cost_km`` away from it).
    max_memory_bytes : int, keyword-only

    Returns
    -------
    HuffResult
        Over the inside cells, shape (n_cells, h).

    Raises
    ------
    ValidationError
        Hub outside the study area, bad attractiveness (naming the hub), over budget.
    AlignmentError
        Attractiveness missing for a hub.
    """
    names, _, _ = _hub_lonlat(hubs)
    masses = _attractiveness_vector(attractiveness, names)
    distance = distances_to_hubs_km(grid, hubs, max_memory_bytes=max_memory_bytes)
    return huff_probabilities(
        distance,
        masses,
        beta,
        cost_func,
        alpha=alpha,
        hubs=names,
        min_cost=min_cost_km,
        max_memory_bytes=max_memory_bytes,
    )


def to_raster(grid: NationalGrid, values: ArrayLike, *, fill: float) -> NDArray:
    """Scatter per-cell values into a full ``(rows, cols)`` raster.

    Parameters
    ----------
    grid : NationalGrid
    values : array_like, shape (n_cells,)
        In inside-cell order, e.g. one column of :attr:`HuffResult.probabilities`.
    fill : scalar, keyword-only
        Value of outside cells (the raster's nodata, e.g. NaN or 0).

    Returns
    -------
    numpy.ndarray, shape (rows, cols)
        Same dtype as ``values``.
    """
    cell_values = np.asarray(values)
    if cell_values.shape != (grid.n_cells,):
        raise AlignmentError(
            f"values have shape {cell_values.shape}, the grid has {grid.n_cells} "
            "inside cells"
        )
    raster = np.full(grid.shape, fill, dtype=cell_values.dtype)
    raster[grid.inside] = cell_values
    return raster


def hub_class_raster(
    grid: NationalGrid, dominant_index: ArrayLike
) -> NDArray[np.uint8]:
    """Dominant hub as a uint8 class raster: 1..h for the hubs, 0 outside (nodata).

    Parameters
    ----------
    grid : NationalGrid
    dominant_index : array_like of int, shape (n_cells,)
        Hub column per cell, -1 for none (class 0).

    Returns
    -------
    numpy.ndarray of uint8, shape (rows, cols)
    """
    classes = np.asarray(dominant_index) + 1
    if classes.size and classes.max() > 255:
        raise ValidationError("more than 255 hubs do not fit a uint8 class raster")
    return to_raster(grid, classes.astype(np.uint8), fill=0)


def _polygons_by_class(
    grid: NationalGrid, classes: NDArray[np.uint8]
) -> dict[int, shapely.MultiPolygon]:
    parts: dict[int, list] = {}
    for geojson, value in rasterio.features.shapes(
        classes, mask=classes > 0, transform=grid.transform
    ):
        parts.setdefault(int(value), []).append(shapely.geometry.shape(geojson))
    # Same-class pieces from one raster never overlap: a MultiPolygon is their dissolve.
    return {
        value: shapely.MultiPolygon(polys) for value, polys in sorted(parts.items())
    }


def _catchment_frame(rows: list[dict], crs: CRS) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        rows,
        columns=["hub", "rule", "year", "population", "area_km2", "geometry"],
        geometry="geometry",
        crs=crs,
    )
    frame["year"] = frame["year"].astype("Int16")
    frame["population"] = frame["population"].astype("float64")
    return frame


def _check_cell_population(grid: NationalGrid, cell_population: ArrayLike | None):
    if cell_population is None:
        return None
    pop = np.asarray(cell_population, dtype=np.float64)
    if pop.shape != (grid.n_cells,):
        raise AlignmentError(
            f"cell_population has shape {pop.shape}; the grid has {grid.n_cells} "
            "inside cells (see population_to_cells)"
        )
    return pop


def dominance_polygons(
    grid: NationalGrid,
    result: HuffResult,
    *,
    cell_population: ArrayLike | None = None,
    year: int | None = None,
    rule: str = "huff_dominant",
) -> gpd.GeoDataFrame:
    """Dissolved polygons of the cells where each hub is the most probable choice.

    Parameters
    ----------
    grid : NationalGrid
    result : HuffResult
        From :func:`grid_huff` on the same grid.
    cell_population : array_like, shape (n_cells,), optional, keyword-only
        Population per cell (see :func:`population_to_cells`); summed per polygon.
    year : int, optional, keyword-only
        Year of the inputs (population, fitted model), recorded per row.
    rule : str, keyword-only, default "huff_dominant"

    Returns
    -------
    GeoDataFrame
        One (Multi)Polygon row per hub with cells: ``hub``, ``rule``, ``year`` (Int16),
        ``population`` (NaN without ``cell_population``), ``area_km2`` (equal-area) and
        geometry in ``grid.crs``; reproject with ``.to_crs(4326)`` for the master layer.
    """
    pop = _check_cell_population(grid, cell_population)
    per_hub = (
        catchment_population(result.dominant_index, pop, result.hubs)
        if pop is not None
        else None
    )
    polygons = _polygons_by_class(grid, hub_class_raster(grid, result.dominant_index))
    rows = [
        {
            "hub": result.hubs[value - 1],
            "rule": rule,
            "year": year,
            "population": np.nan if per_hub is None else per_hub.population[value - 1],
            "area_km2": geometry.area / 1e6,
            "geometry": geometry,
        }
        for value, geometry in polygons.items()
    ]
    return _catchment_frame(rows, grid.crs)


def threshold_polygons(
    grid: NationalGrid,
    result: HuffResult,
    thresholds: Sequence[float] = (0.5, 0.75),
    *,
    cell_population: ArrayLike | None = None,
    year: int | None = None,
) -> gpd.GeoDataFrame:
    """Polygons where a hub's Huff probability reaches each threshold.

    Parameters
    ----------
    grid : NationalGrid
    result : HuffResult
    thresholds : sequence of float, each in (0, 1]
    cell_population : array_like, shape (n_cells,), optional, keyword-only
    year : int, optional, keyword-only

    Returns
    -------
    GeoDataFrame
        One row per (hub, threshold) reached anywhere, ``rule`` = ``"huff_p>=t"``; zones
        of one hub are nested and zones of different hubs may overlap (t <= 0.5), so
        populations do not add up to the total.
    """
    pop = _check_cell_population(grid, cell_population)
    rows = []
    for t in thresholds:
        if not 0.0 < float(t) <= 1.0:
            raise ValidationError(f"thresholds must be in (0, 1], got {t!r}")
        for k, hub in enumerate(result.hubs):
            reached = result.probabilities[:, k] >= t
            if not reached.any():
                continue
            mask = to_raster(grid, reached.astype(np.uint8), fill=0)
            (geometry,) = _polygons_by_class(grid, mask).values()
            rows.append(
                {
                    "hub": hub,
                    "rule": f"huff_p>={float(t):g}",
                    "year": year,
                    "population": np.nan if pop is None else float(pop[reached].sum()),
                    "area_km2": geometry.area / 1e6,
                    "geometry": geometry,
                }
            )
    return _catchment_frame(rows, grid.crs)


def population_to_cells(
    grid: NationalGrid,
    lon: ArrayLike,
    lat: ArrayLike,
    population: ArrayLike,
    *,
    point_ids: Sequence[str] | None = None,
) -> tuple[NDArray[np.float64], CatchmentPopulation]:
    """Sum settlement-point populations into grid cells.

    Parameters
    ----------
    grid : NationalGrid
    lon, lat : array_like, shape (k,)
        Settlement coordinates, EPSG:4326.
    population : array_like, shape (k,)
        Finite, >= 0.
    point_ids : sequence of str, length k, optional, keyword-only
        Names for error messages.

    Returns
    -------
    cell_population : numpy.ndarray, shape (n_cells,)
    reconciliation : CatchmentPopulation
        With the single pseudo-hub ``"grid"``: population placed on the grid, the
        population of points outside it (``unassigned``) and the input ``total``.

    Raises
    ------
    ValidationError
        Missing or negative populations, naming the points.
    """
    cell = points_to_cells(grid, lon, lat)
    on_grid = catchment_population(
        np.where(cell >= 0, 0, -1), population, ["grid"], unit_ids=point_ids
    )
    pop = np.asarray(population, dtype=np.float64)
    placed = cell >= 0
    cell_population = np.bincount(
        cell[placed], weights=pop[placed], minlength=grid.n_cells
    )
    return cell_population, on_grid


def polygon_huff(
    polygons: gpd.GeoDataFrame,
    hubs: gpd.GeoDataFrame | gpd.GeoSeries,
    attractiveness: Mapping[str, float] | ArrayLike,
    beta: float,
    cost_func: str = "pow",
    *,
    alpha: float = 1.0,
    min_cost_km: float = DEFAULT_MIN_COST_KM,
) -> pd.DataFrame:
    """Huff probabilities for polygons (e.g. districts) at their representative points.

    Parameters
    ----------
    polygons : GeoDataFrame, n rows
        Indexed by unit id; any CRS.
    hubs : GeoDataFrame or GeoSeries of Points, length h
        Indexed by hub name; each must lie inside one of ``polygons``.
    attractiveness : mapping of hub name to float, or array_like, shape (h,)
    beta : float
    cost_func : {"pow", "exp"}
    alpha : float, keyword-only, default 1.0
    min_cost_km : float, keyword-only, default 5.0

    Returns
    -------
    pandas.DataFrame, n rows
        Indexed like ``polygons``; columns ``p_<hub>`` (float64), ``dominant_hub`` and
        ``dominant_probability``. A model prediction, not an observation.

    Raises
    ------
    CRSError
        Missing CRS.
    ValidationError
        A hub outside every polygon (naming it); bad attractiveness.
    """
    _require_crs(polygons, "polygons")
    names, hub_lon, hub_lat = _hub_lonlat(hubs)
    # representative points are planar constructions: build them in the equal-area CRS
    points = polygons.geometry.to_crs(KZ_AEA).representative_point().to_crs(_WGS84)
    # a hub is in the study area if a polygon covers it (no need to merge them all)
    areas = np.asarray(polygons.geometry.to_crs(_WGS84).values, dtype=object)
    outside = [
        f"{h!r} at lon={x:.4f}, lat={y:.4f}"
        for h, x, y in zip(names, hub_lon, hub_lat, strict=True)
        if not shapely.covers(areas, shapely.Point(x, y)).any()
    ]
    if outside:
        raise ValidationError(
            f"hubs outside the study area: {', '.join(outside)}; check the coordinates "
            "or the CRS of the hub layer"
        )
    distance = great_circle_km(
        points.x.to_numpy()[:, None], points.y.to_numpy()[:, None], hub_lon, hub_lat
    )
    result = huff_probabilities(
        distance,
        _attractiveness_vector(attractiveness, names),
        beta,
        cost_func,
        alpha=alpha,
        hubs=names,
        min_cost=min_cost_km,
        dtype=np.float64,
    )
    frame = pd.DataFrame(
        result.probabilities, index=polygons.index, columns=[f"p_{h}" for h in names]
    )
    frame["dominant_hub"] = np.asarray(names, dtype=object)[result.dominant_index]
    frame["dominant_probability"] = result.dominant_probability
    return frame


@lru_cache(maxsize=64)
def _union_of(wkb: tuple[bytes, ...]) -> shapely.Geometry:
    """Union of the geometries ``wkb``, computed once per set of members.

    A hub's catchment is often the same regions year after year: the union (the
    costly part of :func:`flow_catchment_polygons`) is kept for the same members.
    """
    return shapely.union_all(shapely.from_wkb(list(wkb)))


def flow_catchment_polygons(
    regions: gpd.GeoDataFrame,
    flows: FlowCatchments,
    *,
    population: ArrayLike | None = None,
) -> gpd.GeoDataFrame:
    """Dissolve region polygons by their observed flow catchment.

    Parameters
    ----------
    regions : GeoDataFrame, n rows
        Indexed by region id (the ids of ``flows``, any order); any CRS.
    flows : FlowCatchments
    population : array_like, shape (n,), optional, keyword-only
        Region populations in ``flows.ids`` order.

    Returns
    -------
    GeoDataFrame
        One row per hub with members: ``hub``, ``rule`` (``"flow_share>=t"``), ``year``,
        ``population``, ``area_km2`` (computed in :data:`KZ_AEA`), geometry in the CRS
        of ``regions``. Regions outside every catchment are not included.

    Raises
    ------
    AlignmentError
        ``regions`` lack some of ``flows.ids``.
    """
    _require_crs(regions, "regions")
    index = regions.index.astype(str)
    missing = sorted(set(flows.ids) - set(index))
    if missing:
        raise AlignmentError(
            f"regions lack geometries for ids {missing}; index regions by region id"
        )
    geoms = regions.geometry.set_axis(index).loc[list(flows.ids)]
    per_hub = (
        catchment_population(
            flows.catchment_index, population, flows.hubs, unit_ids=flows.ids
        )
        if population is not None
        else None
    )
    rule = f"flow_share>={flows.threshold:g}"
    rows = []
    for k, hub in enumerate(flows.hubs):
        members = flows.catchment_index == k
        geometry = _union_of(tuple(shapely.to_wkb(geoms.values[members])))
        rows.append(
            {
                "hub": hub,
                "rule": rule,
                "year": flows.year,
                "population": np.nan if per_hub is None else per_hub.population[k],
                "area_km2": gpd.GeoSeries([geometry], crs=regions.crs)
                .to_crs(KZ_AEA)
                .area.iloc[0]
                / 1e6,
                "geometry": geometry,
            }
        )
    return _catchment_frame(rows, regions.crs)
