"""Versions of kzspatial's dependencies and the C libraries inside them."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import platform
import sys

__all__ = ["show_versions", "versions"]

_PACKAGES = (
    "numpy",
    "scipy",
    "numba",
    "pandas",
    "geopandas",
    "shapely",
    "pyogrio",
    "pyproj",
    "libpysal",
    "esda",
    "folium",
    "rasterio",
    "matplotlib",
    "pooch",
)

# C libraries behind the Python packages: (label, package, version attribute)
_LIBRARIES = (
    ("GDAL (pyogrio)", "pyogrio", "__gdal_version_string__"),
    ("GDAL (rasterio)", "rasterio", "__gdal_version__"),
    ("PROJ", "pyproj", "proj_version_str"),
    ("GEOS", "shapely", "geos_version_string"),
)


def versions() -> dict[str, str]:
    """Versions of Python, GDAL, PROJ, GEOS and the Python dependencies.

    The packages' versions are read from their installed metadata, without importing
    them (libpysal and esda alone take seconds to import); the C libraries' versions
    from the packages that bind them.
    """
    info = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "not installed"
    for label, module, attribute in _LIBRARIES:
        with contextlib.suppress(ImportError):
            info[label] = getattr(importlib.import_module(module), attribute)
    return info


def show_versions() -> None:
    """Print the versions of kzspatial and its dependencies to standard output."""
    from kzspatial._version import __version__

    print(f"kzspatial: {__version__}")
    for name, value in versions().items():
        print(f"{name}: {value}")
