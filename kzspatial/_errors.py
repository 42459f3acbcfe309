"""Exception hierarchy of kzspatial.

Every error a user can trigger derives from :class:`KzSpatialError`; those caused by bad
input are also ``ValueError`` so generic handlers keep working.
"""

__all__ = [
    "AlignmentError",
    "CRSError",
    "DataFetchError",
    "IdentificationError",
    "KzSpatialError",
    "OverwriteError",
    "RegionNameError",
    "ValidationError",
]


class KzSpatialError(Exception):
    """Base class of all kzspatial errors."""


class ValidationError(KzSpatialError, ValueError):
    """Input values are malformed (wrong type, NaN, negative counts, ...)."""


class AlignmentError(ValidationError):
    """Ids of flows, weights, covariates or regions do not match."""


class RegionNameError(ValidationError, KeyError):
    """A region name could not be resolved to exactly one code."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CRSError(ValidationError):
    """A geometry has no CRS, or the wrong kind of CRS, for the operation."""


class IdentificationError(ValidationError):
    """A model cannot be identified on the given data (separation, collinearity)."""


class DataFetchError(KzSpatialError, OSError):
    """A registered data file is missing, unreachable or fails its checksum."""


class OverwriteError(KzSpatialError, FileExistsError):
    """An output exists and overwriting was not requested."""
