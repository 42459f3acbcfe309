"""Conditional randomisation behind every local Moran statistic (LISA).

The focal value is fixed and its ``card_i`` neighbour values are drawn without
replacement from the other units :cite:`anselin1995local`; one set of draws is shared
by all units, as in esda's ``crand``. Also here: the quadrant codes, cluster labels and
the significance decision shared by :mod:`.local` and :mod:`.flow`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from kzspatial.core.moran._inference import (
    BATCH_ELEMENTS,
    bh_significant,
    pseudo_p_value,
)

__all__ = [
    "CLUSTER_LABELS",
    "INSIGNIFICANT",
    "ISLAND",
    "cluster_labels",
    "conditional_sims",
    "draw_neighbour_slots",
    "local_p_values",
    "quadrants",
    "significance",
]

CLUSTER_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
INSIGNIFICANT = "Insignificant"
ISLAND = "Island"


def draw_neighbour_slots(
    rng: np.random.Generator, pool: int, max_card: int, permutations: int
) -> NDArray[np.int64]:
    """Per permutation, ``max_card`` distinct positions from ``range(pool - 1)``.

    Shared by all units, as in esda's ``crand``: unit ``u`` uses the first
    ``card_u`` slots, shifted by one at or above ``u`` so that it never draws itself.
    """
    out = np.empty((permutations, max_card), dtype=np.int64)
    for p in range(permutations):
        out[p] = rng.choice(pool - 1, size=max_card, replace=False)
    return out


def conditional_sims(
    rows: sparse.csr_array,
    units: NDArray[np.int64],
    z_focal: NDArray[np.float64],
    z_draw: NDArray[np.float64],
    slots: NDArray[np.int64],
    scale: float,
) -> NDArray[np.float64]:
    """Local statistics under conditional permutation for a block of units.

    Parameters
    ----------
    rows : csr_array, shape (len(units), pool)
        Weights rows of ``units`` (columns index the pool of all units).
    units : ndarray of int, shape (m,)
        Pool index of each row's focal unit.
    z_focal, z_draw : ndarray, shape (pool,)
        Focal values and values drawn for the neighbours.
    slots : ndarray of int, shape (permutations, max_card)
        Output of :func:`draw_neighbour_slots`.
    scale : float
        Constant factor of the local statistic.

    Returns
    -------
    numpy.ndarray, shape (m, permutations)
    """
    n_perm = slots.shape[0]
    out = np.zeros((units.size, n_perm))
    coo = rows.tocoo()
    is_self = coo.col == units[coo.row]
    self_w = np.bincount(
        coo.row[is_self], weights=coo.data[is_self], minlength=units.size
    )
    row_o, data_o = coo.row[~is_self], coo.data[~is_self]
    order = np.argsort(row_o, kind="stable")
    row_o, data_o = row_o[order], data_o[order]
    card = np.bincount(row_o, minlength=units.size)
    starts = np.concatenate(([0], np.cumsum(card)))
    for c in np.unique(card[card > 0]):
        members = np.flatnonzero(card == c)
        # (members, c) weights of the non-self neighbours, in stored order
        weights = data_o[starts[members][:, None] + np.arange(c)]
        draws = slots[:, :c]
        step = max(1, BATCH_ELEMENTS // (n_perm * c))
        for lo in range(0, members.size, step):
            part = members[lo : lo + step]
            idx = draws[None, :, :] + (draws[None, :, :] >= units[part, None, None])
            lag = np.einsum("gpc,gc->gp", z_draw[idx], weights[lo : lo + step])
            out[part] = lag
    out += (self_w * z_draw[units])[:, None]
    out *= (scale * z_focal[units])[:, None]
    return out


def quadrants(zx: NDArray[np.float64], lag: NDArray[np.float64]) -> NDArray[np.int64]:
    """Esda's quadrant codes: 1 HH, 2 LH, 3 LL, 4 HL (0 is never produced here)."""
    high, lag_high = zx > 0, lag > 0
    return np.select(
        [high & lag_high, ~high & lag_high, ~high & ~lag_high], [1, 2, 3], default=4
    ).astype(np.int64)


def cluster_labels(
    q: NDArray[np.int64], significant: NDArray[np.bool_]
) -> NDArray[np.str_]:
    """Cluster label per unit: its quadrant's name if significant, else Insignificant."""
    names = np.array(["", *CLUSTER_LABELS.values()], dtype=object)
    out = np.where(significant, names[q], INSIGNIFICANT).astype(str)
    return out


def local_p_values(
    observed: NDArray[np.float64], sims: NDArray[np.float64], p_alternative: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``p_sim`` (for ``p_alternative``) and ``p_sim_two_sided`` per unit.

    ``sims`` has shape (permutations, m), one column per unit.
    """
    p_sim = pseudo_p_value(observed, sims, p_alternative).astype(np.float64)
    p_two = pseudo_p_value(observed, sims, "two-sided").astype(np.float64)
    return p_sim, p_two


def significance(
    p_sim: NDArray[np.float64],
    p_two: NDArray[np.float64],
    alternative: str,
    alpha: float,
    fdr: float | None,
) -> NDArray[np.bool_]:
    """Significant units: the alternative's pseudo p at ``alpha``, or BH at ``fdr``.

    The tested p-value is ``p_two`` for a two-sided alternative and ``p_sim``
    otherwise; NaN (kept islands) is never significant.
    """
    p = p_two if alternative == "two-sided" else p_sim
    if fdr is not None:
        return bh_significant(p, fdr)
    return np.nan_to_num(p, nan=1.0) <= alpha
