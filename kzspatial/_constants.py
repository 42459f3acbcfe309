"""Shared column names and numerical tolerances."""

__all__ = [
    "ATOL",
    "DESTINATION",
    "FLOW",
    "ORIGIN",
    "REGION_ID",
    "RTOL",
    "YEAR",
]

ORIGIN = "origin"
DESTINATION = "destination"
FLOW = "flow"
REGION_ID = "region_id"
YEAR = "year"

# One tolerance for comparisons against independent references (tests, invariants).
RTOL = 1e-5
ATOL = 1e-7
