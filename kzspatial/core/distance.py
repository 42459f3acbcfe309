"""Great-circle distances between points given in longitude/latitude (WGS84 sphere).

Pure numpy; used by gravity models, catchments and weights. Distances are in kilometres on a
sphere of the WGS84 mean radius (error vs the ellipsoid below 0.5 % over Kazakhstan).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import ValidationError

__all__ = ["EARTH_RADIUS_KM", "great_circle_km", "great_circle_matrix_km"]

# IUGG mean radius of the WGS84 ellipsoid, (2a + b) / 3
EARTH_RADIUS_KM = 6371.0088


def _check_lonlat(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> None:
    if lon.shape != lat.shape:
        raise ValidationError(
            f"lon and lat differ in shape: {lon.shape} vs {lat.shape}"
        )
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        raise ValidationError("coordinates contain NaN or infinite values")
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 360):
        raise ValidationError(
            "coordinates out of range for degrees; pass longitude/latitude in EPSG:4326"
        )


def great_circle_km(
    lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
) -> NDArray[np.float64]:
    """Haversine distance in km between paired points (broadcasting).

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        Degrees; broadcast against each other.

    Returns
    -------
    numpy.ndarray
        Distances in km.

    Examples
    --------
    >>> round(float(great_circle_km(0, 0, 0, 1)), 3)
    111.195
    """
    lam1, phi1, lam2, phi2 = (
        np.radians(np.asarray(a, dtype=np.float64)) for a in (lon1, lat1, lon2, lat2)
    )
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin((lam2 - lam1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def great_circle_matrix_km(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
    """Full matrix of great-circle distances between ``n`` points.

    Parameters
    ----------
    lon, lat : array_like, shape (n,)
        Degrees (EPSG:4326).

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Symmetric, zero diagonal, km.
    """
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    _check_lonlat(lon_a, lat_a)
    d = great_circle_km(lon_a[:, None], lat_a[:, None], lon_a[None, :], lat_a[None, :])
    np.fill_diagonal(d, 0.0)
    return d
