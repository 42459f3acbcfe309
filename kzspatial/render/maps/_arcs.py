"""Arc geometry of the flow maps: curved, directed arcs between region anchor points.

Quadratic Bézier curves computed in Web Mercator (EPSG:3857, the projection Leaflet
displays), bent to the right of travel so that A→B and B→A separate, with a chevron
arrowhead at the destination (:func:`flow_arcs`); and the OD rows as LineString arcs in
EPSG:4326 for the GeoPackage (:func:`flow_lines`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, REGION_ID
from kzspatial._errors import ValidationError
from kzspatial.render.maps._checks import anchor_points, check_flows

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["FlowArcs", "flow_arcs", "flow_lines"]

# Spherical Web Mercator radius (EPSG:3857 uses the WGS84 semi-major axis on a sphere).
_MERCATOR_RADIUS_M = 6378137.0
_MAX_MERCATOR_LAT = 85.05112878


class FlowArcs(NamedTuple):
    """Curved flow geometry returned by :func:`flow_arcs`.

    Attributes
    ----------
    arcs : numpy.ndarray, shape (n_flows, n_vertices, 2)
        Longitude/latitude of the vertices of each arc, origin first.
    arrowheads : numpy.ndarray, shape (n_flows, 3, 2)
        Longitude/latitude of each chevron: left wing, tip (= destination), right wing.
    """

    arcs: NDArray[np.float64]
    arrowheads: NDArray[np.float64]


def _to_mercator(lonlat: NDArray[np.float64]) -> NDArray[np.float64]:
    lon, lat = np.radians(lonlat[..., 0]), np.radians(lonlat[..., 1])
    return np.stack(
        [
            _MERCATOR_RADIUS_M * lon,
            _MERCATOR_RADIUS_M * np.log(np.tan(np.pi / 4 + lat / 2)),
        ],
        axis=-1,
    )


def _from_mercator(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    lon = np.degrees(xy[..., 0] / _MERCATOR_RADIUS_M)
    lat = np.degrees(2 * np.arctan(np.exp(xy[..., 1] / _MERCATOR_RADIUS_M)) - np.pi / 2)
    return np.stack([lon, lat], axis=-1)


def _as_lonlat(points: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1 and arr.shape == (2,):
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValidationError(
            f"{name} must have shape (n_flows, 2) of longitude/latitude; got shape "
            f"{arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValidationError(f"{name} contains NaN or infinite coordinates")
    if np.any(np.abs(arr[:, 1]) > _MAX_MERCATOR_LAT) or np.any(np.abs(arr[:, 0]) > 180):
        raise ValidationError(
            f"{name} is out of range for EPSG:4326 longitude/latitude (|lat| <= 85.05 "
            "for "
            "Web Mercator); reproject the points to EPSG:4326"
        )
    return arr


def flow_arcs(
    origin_xy: ArrayLike,
    destination_xy: ArrayLike,
    *,
    bend: float = 0.2,
    n_vertices: int = 16,
    head_fraction: float = 0.15,
    head_max_length: float = 100_000.0,
    head_angle: float = 25.0,
) -> FlowArcs:
    """Curved, directed flow lines between origin and destination points.

    Each flow is a quadratic Bézier curve computed in Web Mercator (EPSG:3857) with its
    control point at ``midpoint + bend * (dy, -dx)``, i.e. to the right of the direction
    of travel, so the arcs for A→B and B→A lie on opposite sides of the chord. A chevron
    at the destination points along the curve's end tangent.

    Parameters
    ----------
    origin_xy, destination_xy : array_like, shape (n_flows, 2)
        Longitude/latitude in degrees (EPSG:4326). A single pair of shape (2,) is
        accepted.
    bend : float, default 0.2
        Offset of the control point as a fraction of the chord length; 0 gives straight
        lines.
    n_vertices : int, default 16
        Vertices per arc, endpoints included (at least 3).
    head_fraction : float, default 0.15
        Length of each chevron wing as a fraction of the chord length.
    head_max_length : float, default 100000
        Upper limit of the wing length in EPSG:3857 metres, so long flows do not get
        huge heads.
    head_angle : float, default 25
        Angle in degrees between each wing and the arc's end tangent.

    Returns
    -------
    FlowArcs
        ``arcs`` of shape (n_flows, n_vertices, 2) and ``arrowheads`` of shape (n_flows,
        3, 2), both longitude/latitude in degrees.

    Raises
    ------
    ValidationError
        On mismatched shapes, coordinates outside EPSG:4326, origin equal to
        destination, or invalid options.

    Examples
    --------
    >>> arcs = flow_arcs([[71.43, 51.13]], [[76.89, 43.24]], n_vertices=8)
    >>> arcs.arcs.shape, arcs.arrowheads.shape
    ((1, 8, 2), (1, 3, 2))
    """
    origins = _as_lonlat(origin_xy, "origin_xy")
    destinations = _as_lonlat(destination_xy, "destination_xy")
    if origins.shape != destinations.shape:
        raise ValidationError(
            f"origin_xy and destination_xy differ in shape: {origins.shape} vs "
            f"{destinations.shape}"
        )
    if int(n_vertices) != n_vertices or n_vertices < 3:
        raise ValidationError(f"n_vertices must be an integer >= 3; got {n_vertices!r}")
    if not np.isfinite(bend):
        raise ValidationError(f"bend must be finite; got {bend!r}")
    if not (head_fraction > 0 and head_max_length > 0 and 0 < head_angle < 90):
        raise ValidationError(
            "head_fraction and head_max_length must be > 0 and head_angle in (0, 90); "
            "got "
            f"{head_fraction!r}, {head_max_length!r}, {head_angle!r}"
        )

    start, end = _to_mercator(origins), _to_mercator(destinations)
    chord = end - start
    length = np.hypot(chord[:, 0], chord[:, 1])
    same = np.flatnonzero(length == 0)
    if same.size:
        raise ValidationError(
            f"origin equals destination for {same.size} flow(s) (rows "
            f"{same[:10].tolist()}); "
            "self-flows have no arc, drop them first"
        )
    right_normal = np.stack([chord[:, 1], -chord[:, 0]], axis=1)
    control = (start + end) / 2 + bend * right_normal

    t = np.linspace(0.0, 1.0, int(n_vertices))[np.newaxis, :, np.newaxis]
    curve = (
        (1 - t) ** 2 * start[:, np.newaxis]
        + 2 * (1 - t) * t * control[:, np.newaxis]
        + t**2 * end[:, np.newaxis]
    )

    # End tangent of a quadratic Bézier is 2 (P2 - P1); only its direction matters.
    tangent = end - control
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, np.newaxis]
    wing = np.minimum(head_fraction * length, head_max_length)[:, np.newaxis]
    angle = np.radians(head_angle)
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    back = -tangent
    left = np.stack(
        [
            back[:, 0] * cos_a - back[:, 1] * sin_a,
            back[:, 0] * sin_a + back[:, 1] * cos_a,
        ],
        axis=1,
    )
    right = np.stack(
        [
            back[:, 0] * cos_a + back[:, 1] * sin_a,
            -back[:, 0] * sin_a + back[:, 1] * cos_a,
        ],
        axis=1,
    )
    heads = np.stack([end + wing * left, end, end + wing * right], axis=1)
    return FlowArcs(arcs=_from_mercator(curve), arrowheads=_from_mercator(heads))


def arcs_for(
    flows: pd.DataFrame,
    anchors: pd.DataFrame,
    *,
    origin_col: str,
    destination_col: str,
    bend: float,
    n_vertices: int,
) -> FlowArcs:
    """Arcs from each flow's origin anchor to its destination anchor."""
    origin_xy = anchors.loc[flows[origin_col], ["lon", "lat"]].to_numpy()
    destination_xy = anchors.loc[flows[destination_col], ["lon", "lat"]].to_numpy()
    return flow_arcs(origin_xy, destination_xy, bend=bend, n_vertices=n_vertices)


def flow_lines(
    regions_gdf: gpd.GeoDataFrame,
    flows_df: pd.DataFrame,
    *,
    value_col: str = FLOW,
    region_id_col: str = REGION_ID,
    origin_col: str = ORIGIN,
    destination_col: str = DESTINATION,
    year: int | None = None,
    bend: float = 0.2,
    n_vertices: int = 16,
) -> gpd.GeoDataFrame:
    """OD rows as curved LineString arcs in EPSG:4326 (the GeoPackage ``od_flows``).

    The arcs are the same as in :func:`flow_map` (without the arrowheads: QGIS draws
    them with a marker line at the last vertex).

    Parameters
    ----------
    regions_gdf : geopandas.GeoDataFrame
        One row per region with a CRS and ``region_id_col``; each flow is anchored at a
        point inside its region (``representative_point``).
    flows_df : pandas.DataFrame
        OD table, one row per (origin, destination) pair; all columns are kept.
    value_col, region_id_col, origin_col, destination_col : str
        Column names.
    year : int, optional
        Selects one year when ``flows_df`` has a ``year`` column with several years.
    bend, n_vertices : float, int
        See :func:`flow_arcs`.

    Returns
    -------
    geopandas.GeoDataFrame
        The OD rows with ``geometry`` (LineString, EPSG:4326), in input order.
        Self-flows (origin equal to destination) have no arc and are omitted.

    Raises
    ------
    ValidationError, AlignmentError, CRSError
        On missing columns, bad values, unknown region ids or a missing CRS.
    """
    import geopandas as gpd
    import shapely

    anchors = anchor_points(regions_gdf, region_id_col)
    flows = check_flows(
        flows_df,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        value_col=value_col,
        year=year,
    )
    if flows.empty:
        return gpd.GeoDataFrame(flows, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    arcs = arcs_for(
        flows,
        anchors,
        origin_col=origin_col,
        destination_col=destination_col,
        bend=bend,
        n_vertices=n_vertices,
    ).arcs
    geometry = shapely.linestrings(np.round(arcs, 6))
    return gpd.GeoDataFrame(flows, geometry=geometry, crs="EPSG:4326")
