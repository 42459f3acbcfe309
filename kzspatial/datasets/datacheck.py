"""Cross-check the OD file's regional nets against the independent monthly file.

For each year present in both (2022-2024), the interregional net migration of every region
derived from the OD matrix (in-flows minus out-flows) is compared with the net of the
monthly arrivals/departures file. Both nets measure the same thing: within-region moves
cancel out of the monthly file's net. The verdicts are computed, not typed in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial.core.flows import net_migration, to_matrix
from kzspatial.datasets.regions import configuration_ids

__all__ = ["check_od_nets", "summarise_check"]


def check_od_nets(
    od: pd.DataFrame, monthly: pd.DataFrame, *, tolerance: int = 10
) -> pd.DataFrame:
    """Per region and year: OD-derived net, monthly-file net, difference and verdict.

    Parameters
    ----------
    od : pandas.DataFrame
        Long OD flows (``year, origin, destination, flow``), 20-unit configuration.
    monthly : pandas.DataFrame
        Annual regional totals from :func:`kzspatial.datasets.migration.load_monthly_migration`.
    tolerance : int, default 10
        Largest absolute difference (persons) still called agreement.

    Returns
    -------
    pandas.DataFrame
        Columns ``year, region_id, od_net, monthly_net, difference, verdict`` where verdict
        is ``"agrees"`` (within tolerance), ``"differs"`` or ``"sign differs"``.
    """
    ids = configuration_ids("2024")
    rows = []
    for year in sorted(set(od[YEAR]) & set(monthly[YEAR])):
        part = od[od[YEAR] == year]
        F = to_matrix(
            part[ORIGIN].tolist(),
            part[DESTINATION].tolist(),
            part[FLOW].to_numpy(),
            ids,
        )
        od_net = net_migration(F)
        other = monthly[monthly[YEAR] == year].set_index("region_id")["net"]
        other = other.reindex(ids).to_numpy(dtype=float)
        diff = od_net - other
        verdict = np.where(
            np.abs(diff) <= tolerance,
            "agrees",
            np.where(np.sign(od_net) != np.sign(other), "sign differs", "differs"),
        )
        rows.append(
            pd.DataFrame(
                {
                    YEAR: year,
                    "region_id": ids,
                    "od_net": od_net,
                    "monthly_net": other,
                    "difference": diff,
                    "verdict": verdict,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def summarise_check(check: pd.DataFrame) -> pd.DataFrame:
    """One verdict per year from :func:`check_od_nets`.

    A year *agrees* when every region agrees; it *contradicts* the monthly file when most
    regions differ or when nets change sign in more than two regions; otherwise it *differs*
    for the listed regions.

    Returns
    -------
    pandas.DataFrame
        Columns ``year, regions_agree, regions_differ, max_abs_difference, verdict``.
    """
    out = []
    for year, g in check.groupby(YEAR):
        differ = g[g["verdict"] != "agrees"]
        n_sign = int((g["verdict"] == "sign differs").sum())
        if differ.empty:
            verdict = "agrees"
        elif len(differ) > len(g) / 2 or n_sign > 2:
            verdict = "contradicts"
        else:
            verdict = (
                f"differs for {len(differ)} regions: {', '.join(differ['region_id'])}"
            )
        out.append(
            {
                YEAR: year,
                "regions_agree": int(len(g) - len(differ)),
                "regions_differ": len(differ),
                "max_abs_difference": float(g["difference"].abs().max()),
                "verdict": verdict,
            }
        )
    return pd.DataFrame(out)
