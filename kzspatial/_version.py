"""The installed version of kzspatial, importable from every layer.

Importing it does not load the public API of every layer (as
``from kzspatial import __version__`` would).
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("kzspatial")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
