"""The time written into outputs: now, or ``SOURCE_DATE_EPOCH`` for reproducible builds.

With ``SOURCE_DATE_EPOCH`` set (seconds since 1970-01-01 UTC, see
https://reproducible-builds.org/specs/source-date-epoch/) the reports' generation date
and the GeoPackage's timestamps are that time, so two runs on the same inputs give the
same files.
"""

from __future__ import annotations

import datetime as dt
import os

from kzspatial._errors import ValidationError

__all__ = ["build_time", "fixed_build_time"]


def fixed_build_time() -> dt.datetime | None:
    """Return the UTC time of ``SOURCE_DATE_EPOCH``, or None when it is not set.

    Raises
    ------
    ValidationError
        ``SOURCE_DATE_EPOCH`` is set but not a whole, non-negative number of seconds
        (the specification asks to fail rather than fall back to the clock).
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    if not epoch.isdigit():
        raise ValidationError(
            f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds since "
            "1970-01-01 UTC; set it to e.g. $(git log -1 --format=%ct) or unset it"
        )
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC)


def build_time() -> dt.datetime:
    """Return the UTC time to write into outputs: ``SOURCE_DATE_EPOCH`` or now."""
    return fixed_build_time() or dt.datetime.now(dt.UTC)
