"""Input checks shared by :func:`flow_lines` and :func:`flow_map`.

Column presence, region anchor points (with the CRS check), the OD rows of one year,
and the drawing options; each raises a :class:`~kzspatial._errors.KzSpatialError`
saying what was expected and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial._errors import AlignmentError, CRSError, ValidationError

if TYPE_CHECKING:
    import geopandas as gpd

FlowMode = Literal["top", "threshold", "net", "residual"]
MODES = ("top", "threshold", "net", "residual")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}. Pass the "
            "actual "
            "names via the *_col arguments"
        )


def anchor_points(regions_gdf: gpd.GeoDataFrame, region_id_col: str) -> pd.DataFrame:
    """Longitude/latitude of a point inside each region, indexed by region id (str)."""
    if regions_gdf.crs is None:
        raise CRSError(
            "regions_gdf has no CRS; set it, e.g. regions_gdf.set_crs('EPSG:4326')"
        )
    require_columns(regions_gdf, [region_id_col], "regions_gdf")
    ids = regions_gdf[region_id_col].astype(str)
    if ids.duplicated().any():
        dup = sorted(ids[ids.duplicated()].unique().tolist())
        raise ValidationError(
            f"regions_gdf has duplicate {region_id_col!r} values: {dup[:10]}"
        )
    # representative_point lies inside the polygon, unlike the centroid of a crescent-
    # shaped region around an enclave (Almaty region around Almaty city).
    points = regions_gdf.geometry.to_crs("EPSG:4326").representative_point()
    return pd.DataFrame(
        {"lon": points.x.to_numpy(), "lat": points.y.to_numpy()},
        index=pd.Index(ids.to_numpy(), name=region_id_col),
    )


def check_flows(
    flows_df: pd.DataFrame,
    anchors: pd.DataFrame,
    *,
    origin_col: str,
    destination_col: str,
    value_col: str,
    year: int | None,
) -> pd.DataFrame:
    """Return a validated copy of one year's OD rows, ids as str, self-flows removed."""
    require_columns(flows_df, [origin_col, destination_col, value_col], "flows_df")
    flows = flows_df.copy()
    if YEAR in flows.columns:
        years = pd.unique(flows[YEAR])
        if year is None and len(years) > 1:
            raise ValidationError(
                f"flows_df holds {len(years)} years {sorted(years.tolist())[:10]}; a "
                "map shows "
                "one year, pass year=... (one map per year)"
            )
        if year is not None:
            flows = flows[flows[YEAR] == year]
            if flows.empty:
                raise ValidationError(
                    f"no flows for year={year!r}; available: {sorted(years.tolist())}"
                )
    elif year is not None:
        raise ValidationError(
            f"year={year!r} given but flows_df has no {YEAR!r} column"
        )

    flows[origin_col] = flows[origin_col].astype(str)
    flows[destination_col] = flows[destination_col].astype(str)
    values = pd.to_numeric(flows[value_col], errors="coerce")
    problems = []
    if values.isna().any():
        problems.append(
            f"{int(values.isna().sum())} non-numeric or missing {value_col!r}"
        )
    if (values < 0).any():
        problems.append(f"{int((values < 0).sum())} negative {value_col!r} values")
    if flows.duplicated([origin_col, destination_col]).any():
        problems.append("duplicate origin-destination pairs (aggregate them first)")
    unknown = sorted(
        (set(flows[origin_col]) | set(flows[destination_col])) - set(anchors.index)
    )
    if problems:
        raise ValidationError("flows_df: " + "; ".join(problems))
    if unknown:
        raise AlignmentError(
            f"{len(unknown)} flow region id(s) are not in regions_gdf: {unknown[:10]}; "
            "flows and regions must use the same codes"
        )
    flows[value_col] = values.astype(np.float64)
    return flows[flows[origin_col] != flows[destination_col]]


def check_options(
    mode: str, top_n: int, threshold: float | None, max_flows: int
) -> None:
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {list(MODES)}; got {mode!r}")
    if mode == "threshold":
        if threshold is None or not np.isfinite(threshold) or threshold < 0:
            raise ValidationError(
                "mode='threshold' needs threshold= a finite number >= 0; got "
                f"{threshold!r}"
            )
    elif threshold is not None:
        raise ValidationError(
            f"threshold= is only used with mode='threshold'; mode={mode!r} draws the "
            "top_n flows"
        )
    if int(top_n) != top_n or top_n < 1:
        raise ValidationError(f"top_n must be a positive integer; got {top_n!r}")
    if int(max_flows) != max_flows or max_flows < 1:
        raise ValidationError(
            f"max_flows must be a positive integer; got {max_flows!r}"
        )
