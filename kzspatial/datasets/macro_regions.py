"""Macro-regions: the conventional grouping of the oblasts.

North / south / west / east / centre, with the three cities of republican
significance as a group of their own.

The grouping is a data table shipped with the package (``macro_regions.csv``), one row per
region of today's 20 units with the source of its assignment. It is not a BNS statistical
classification: BNS publishes by region only. Units created after 2010 (Shymkent in 2018;
Abai, Zhetysu and Ulytau in June 2022) are in the zone of the region they left, except
Shymkent, which is one of the three cities; so every zone except south and the cities is
the same territory in the 2010, 2018 and 2024 borders.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from kzspatial._errors import ValidationError
from kzspatial.datasets.regions import configuration_ids

__all__ = ["MACRO_REGION_ORDER", "load_macro_regions"]

MACRO_REGION_ORDER = ("north", "centre", "east", "west", "south", "three cities")


def load_macro_regions() -> pd.DataFrame:
    """Load the macro-region of each of today's 20 regions.

    Returns
    -------
    pandas.DataFrame
        ``region_id, name_en, macro_region, source``; 20 rows in catalogue order.

    Raises
    ------
    ValidationError
        The shipped table does not cover the 20 regions exactly once, or names a
        macro-region outside :data:`MACRO_REGION_ORDER`.
    """
    with (
        resources.files("kzspatial.datasets")
        .joinpath("macro_regions.csv")
        .open(encoding="utf-8") as handle
    ):
        table = pd.read_csv(handle, dtype=str)
    ids = configuration_ids("2024")
    if sorted(table["region_id"]) != sorted(ids):
        raise ValidationError(
            "macro_regions.csv must list each of the 20 regions once; differences: "
            f"{sorted(set(ids) ^ set(table['region_id']))}"
        )
    unknown = sorted(set(table["macro_region"]) - set(MACRO_REGION_ORDER))
    if unknown:
        raise ValidationError(
            f"macro_regions.csv names unknown macro-regions {unknown}; "
            f"expected {list(MACRO_REGION_ORDER)}"
        )
    order = {r: k for k, r in enumerate(ids)}
    table = table.sort_values("region_id", key=lambda s: s.map(order))
    return table.reset_index(drop=True)
