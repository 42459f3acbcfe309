"""kzspatial: spatial analysis of internal migration in Kazakhstan."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kzspatial")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
