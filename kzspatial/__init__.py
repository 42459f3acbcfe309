"""kzspatial: spatial analysis of internal migration in Kazakhstan."""

from importlib.metadata import PackageNotFoundError, version

from ._show_versions import show_versions

try:
    __version__ = version("kzspatial")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "show_versions"]
