"""Border crosswalk between today's 20 regions and the 2018 or 2010 configuration.

Data in today's 20 regions are aggregated to the 2018 (17) or 2010 (16)
configuration, and regional tables are joined only when their borders match.

Splits handled (see :mod:`kzspatial.datasets.regions`): Shymkent out of South Kazakhstan (June 2018,
the rest renamed Turkistan); Abai out of East Kazakhstan, Zhetysu out of Almaty Region and
Ulytau out of Karaganda (June 2022). Aggregation is exact: counts are summed, flows between
units that merge become internal and are reported, polygons are dissolved. Nothing is ever
pro-rated; a statistic in old borders can only meet data in new borders after the new data
have been aggregated to the old borders.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.flows import aggregate_matrix, to_matrix
from kzspatial.datasets.regions import configuration_ids, get_region, parent_in

__all__ = [
    "aggregate_flows",
    "aggregate_regions",
    "configuration_of",
    "dissolve_regions",
    "join_regional",
]


def configuration_of(frame: pd.DataFrame) -> str | None:
    """Border configuration of a frame: its ``configuration`` column (if uniform) or attrs."""
    if "configuration" in frame.columns:
        values = frame["configuration"].dropna().unique()
        if len(values) == 1:
            return str(values[0])
        return None if len(values) == 0 else "mixed"
    return frame.attrs.get("configuration")


def _check_source(frame: pd.DataFrame, what: str) -> None:
    conf = configuration_of(frame)
    if conf not in (None, "2024"):
        raise ValidationError(
            f"{what} must be in the 20-unit configuration '2024' to be "
            f"aggregated; it is in {conf!r}"
        )


def aggregate_flows(od: pd.DataFrame, to: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate long OD flows from the 20-unit configuration to ``to``.

    Parameters
    ----------
    od : pandas.DataFrame
        Columns ``year, origin, destination, flow`` in configuration ``"2024"``.
    to : {"2024", "2018", "2010"}

    Returns
    -------
    flows : pandas.DataFrame
        Same columns, ids of configuration ``to``; flows between merged units are dropped.
    became_internal : pandas.DataFrame
        Columns ``year, region_id, flow``: the flows dropped because they became internal.
        ``flows.flow.sum() + became_internal.flow.sum() == od.flow.sum()``.
    """
    _check_source(od, "the OD table")
    fine, coarse = configuration_ids("2024"), configuration_ids(to)
    parent = {r: parent_in(r, to) for r in fine}
    out, internal = [], []
    for year, part in od.groupby(YEAR, sort=True):
        F = to_matrix(
            part[ORIGIN].tolist(),
            part[DESTINATION].tolist(),
            part[FLOW].to_numpy(),
            fine,
        )
        G, dropped = aggregate_matrix(F, fine, parent, coarse)
        n = len(coarse)
        i, j = np.divmod(np.arange(n * n), n)
        off = i != j
        out.append(
            pd.DataFrame(
                {
                    YEAR: year,
                    ORIGIN: np.array(coarse)[i[off]],
                    DESTINATION: np.array(coarse)[j[off]],
                    FLOW: G.ravel()[off],
                }
            )
        )
        internal.append(pd.DataFrame({YEAR: year, "region_id": coarse, FLOW: dropped}))
    flows = pd.concat(out, ignore_index=True)
    if np.issubdtype(od[FLOW].dtype, np.integer):
        flows[FLOW] = flows[FLOW].round().astype(od[FLOW].dtype)
    flows.attrs = {**od.attrs, "configuration": to}
    became_internal = pd.concat(internal, ignore_index=True)
    became_internal = became_internal[became_internal[FLOW] > 0].reset_index(drop=True)
    return flows, became_internal


def aggregate_regions(
    table: pd.DataFrame,
    to: str,
    *,
    sum_columns: Sequence[str],
    region_col: str = "region_id",
    by: Sequence[str] = (YEAR,),
) -> pd.DataFrame:
    """Sum additive regional quantities (persons, flows) into configuration ``to``.

    The table may be in any configuration finer than or equal to ``to`` (its
    ``configuration`` column or attrs; rows of several configurations are aggregated
    each by its own). Only additive columns may be aggregated: rates, shares and
    per-capita values must be recomputed from aggregated numerators and denominators,
    never summed or averaged.

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, ``region_col``, the summed columns and ``configuration``.

    Raises
    ------
    AlignmentError
        A unit is unknown, or would have to be split to fit ``to`` (older borders cannot
        be turned into newer ones).
    """
    keys = [c for c in by if c in table.columns]
    mapped = table.assign(**{region_col: [_parent(r, to) for r in table[region_col]]})
    out = mapped.groupby([*keys, region_col], as_index=False, sort=True)[
        list(sum_columns)
    ].sum()
    out["configuration"] = to
    return out


def _parent(region_id: str, to: str) -> str:
    """Return the unit of configuration ``to`` containing ``region_id``."""
    try:
        parts = get_region(region_id).parts
    except KeyError:
        raise AlignmentError(f"unknown region id {region_id!r}") from None
    parents = {parent_in(p, to) for p in parts}
    if len(parents) != 1:
        raise AlignmentError(
            f"{region_id} spans several units of the {to} configuration "
            f"({sorted(parents)}); data in older borders cannot be split into newer ones"
        )
    return parents.pop()


def dissolve_regions(regions, to: str):
    """Dissolve 20-unit region polygons (GeoDataFrame with ``region_id``) into ``to``."""
    _check_source(regions, "the regions layer")
    merged = regions.assign(region_id=[parent_in(r, to) for r in regions["region_id"]])
    out = merged[["region_id", "geometry"]].dissolve(by="region_id", as_index=False)
    for col in ("name_en", "name_kk", "name_ru", "kato"):
        out[col] = [getattr(get_region(r), col) for r in out["region_id"]]
    out["configuration"] = to
    order = {r: k for k, r in enumerate(configuration_ids(to))}
    return out.sort_values("region_id", key=lambda s: s.map(order), ignore_index=True)


def join_regional(
    left: pd.DataFrame,
    right: pd.DataFrame,
    *,
    on: Sequence[str] = ("region_id", YEAR),
    how: str = "left",
) -> pd.DataFrame:
    """Join two regional tables, refusing to mix border configurations.

    Raises
    ------
    AlignmentError
        The tables are in different border configurations, or rows of ``left`` find no
        partner in ``right``; the message names the regions and says how to use the
        crosswalk.
    """
    on = [c for c in on if c in left.columns and c in right.columns]
    l_conf, r_conf = configuration_of(left), configuration_of(right)
    if None in (l_conf, r_conf) or "mixed" in (l_conf, r_conf):
        raise AlignmentError(
            "both tables need a single border configuration (a 'configuration' column or "
            f"attrs['configuration']); got {l_conf!r} and {r_conf!r}. Select rows of one "
            "configuration, or aggregate with kzspatial.datasets.crosswalk first"
        )
    if l_conf != r_conf:
        raise AlignmentError(
            f"cannot join a table in the {l_conf} borders to one in the {r_conf} borders: "
            "aggregate the finer table with kzspatial.datasets.crosswalk.aggregate_regions / "
            "aggregate_flows to the older configuration first (never pro-rate)"
        )
    right_cols = [c for c in right.columns if c not in left.columns or c in on]
    merged = left.merge(right[right_cols], on=on, how=how, indicator=True)
    missing = merged[merged["_merge"] == "left_only"]
    if how == "left" and not missing.empty:
        pairs = sorted({tuple(r) for r in missing[on].itertuples(index=False)})[:10]
        raise AlignmentError(
            f"no matching rows in the right table for {pairs}; check the "
            "years available in both tables"
        )
    merged = merged.drop(columns="_merge")
    merged.attrs = {**left.attrs, "configuration": l_conf}
    return merged
