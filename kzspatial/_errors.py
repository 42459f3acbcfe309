"""Exception hierarchy of kzspatial.

Every error a user can trigger derives from :class:`KzSpatialError`; those caused by bad
input are also ``ValueError`` so generic handlers keep working.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "AlignmentError",
    "CRSError",
    "DataFetchError",
    "IdentificationError",
    "KzSpatialError",
    "OutputLockedError",
    "OutputWriteError",
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


_WRITE_REASONS = {
    errno.ENOSPC: ("No space left on device while writing {}", "free some space"),
    errno.EDQUOT: ("Disk quota exceeded while writing {}", "free some space"),
    errno.EROFS: ("Read-only file system: cannot write {}", "use a writable folder"),
    errno.EACCES: ("Permission denied: cannot write {}", "use a folder you can write"),
    errno.EPERM: ("Operation not permitted: cannot write {}", "use a writable folder"),
}
_WRITE_MESSAGES = {
    **_WRITE_REASONS,
    errno.ENOTDIR: ("{} is not a folder (a file has that name)", "rename the file"),
}


class OutputLockedError(KzSpatialError, OSError):
    """Another kzspatial run is writing into the same output folder."""


class OutputWriteError(KzSpatialError, OSError):
    """Outputs could not be written (full disk, read-only folder, permissions).

    ``errno`` and ``filename`` are set as for :class:`OSError`; earlier outputs are
    left intact.
    """

    def __init__(self, code: int, what: str | os.PathLike[str]) -> None:
        reason, fix = _WRITE_MESSAGES[code]
        super().__init__(
            f"{reason.format(what)}; earlier outputs are intact; {fix} or choose "
            "another --out / --maps folder"
        )
        self.errno = code
        self.filename = str(what)

    def __str__(self) -> str:  # OSError's would show only errno and filename
        return str(self.args[0])
