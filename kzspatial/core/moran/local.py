"""Local Moran's I (LISA) of region attributes, univariate and bivariate.

:func:`local_morans` and :func:`local_bivariate_morans` with conditional-permutation
pseudo p-values :cite:`anselin1995local`, identical to ``esda.Moran_Local`` and
``esda.Moran_Local_BV`` on the same weights; the permutation machinery lives in
:mod:`kzspatial.core.moran._conditional`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from kzspatial.core.moran._conditional import (
    ISLAND,
    cluster_labels,
    conditional_sims,
    draw_neighbour_slots,
    local_p_values,
    quadrants,
    significance,
)
from kzspatial.core.moran._inference import (
    Alternative,
    check_level,
    check_options,
    freeze,
    make_rng,
    p_sim_alternative,
    sim_moments,
)
from kzspatial.core.moran._inputs import prepare
from kzspatial.core.moran._results import LocalMoranResult

__all__ = ["local_bivariate_morans", "local_morans"]


def _local(
    x: ArrayLike,
    y: ArrayLike | None,
    w: Any,
    *,
    permutations: int,
    rng: np.random.Generator | int | None,
    alternative: str,
    transformation: str,
    islands: str,
    ids: Any,
    alpha: float,
    fdr: float | None,
    keep_simulations: bool,
) -> LocalMoranResult:
    """Univariate (``y`` None) or bivariate local Moran's I; see the public wrappers."""
    check_options(permutations, alternative, transformation, allow_none=False)
    check_level(alpha, "alpha")
    check_level(fdr, "fdr")
    values = {"y": x} if y is None else {"x": x, "y": y}
    w_used, arrays, dropped = prepare(w, values, ids, islands, transformation)
    n = w_used.n
    zs = [(a - a.mean()) / a.std() for a in arrays]
    zx, zy = zs[0], zs[-1]
    scale = (n - 1) / float(zx @ zx)
    mat = w_used.sparse
    lag = mat @ zy
    local_i = scale * zx * lag
    generator, seed = make_rng(rng)
    card = w_used.cardinalities
    max_card = int(card.max())
    slots = draw_neighbour_slots(generator, n, max_card, permutations)
    # conditional randomisation must not re-draw the focal unit's own value
    sims = conditional_sims(mat, np.arange(n), zx, zy, slots, scale)
    island = card == 0
    p_sim, p_two = local_p_values(local_i, sims.T, p_sim_alternative(alternative))
    ei_s, vi_s, se_s, z_s, pz_s = sim_moments(local_i, sims.T, alternative)
    q = quadrants(zx, lag)
    p_sim[island] = np.nan
    p_two[island] = np.nan
    q[island] = 0
    significant = significance(p_sim, p_two, alternative, alpha, fdr)
    labels = cluster_labels(q, significant)
    labels[island] = ISLAND
    sim = np.ascontiguousarray(sims.T) if keep_simulations else None
    freeze(local_i, q, p_sim, p_two, sim, significant, labels)
    return LocalMoranResult(
        ids=w_used.ids,
        Is=local_i,
        q=q,
        p_sim=p_sim,
        p_sim_two_sided=p_two,
        sim=sim,
        EI_sim=ei_s,
        VI_sim=vi_s,
        seI_sim=se_s,
        z_sim=z_s,
        p_z_sim=pz_s,
        significant=significant,
        labels=labels,
        alpha=alpha,
        fdr=fdr,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=dropped,
    )


def local_morans(
    y: ArrayLike,
    w: Any,
    *,
    permutations: int = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    islands: Literal["raise", "drop", "keep"] = "raise",
    ids: ArrayLike | None = None,
    alpha: float = 0.05,
    fdr: float | None = None,
    keep_simulations: bool = True,
) -> LocalMoranResult:
    r"""Local Moran's I (LISA) with conditional-permutation pseudo p-values.

    Parameters
    ----------
    y : array_like, shape (n,)
        Values in ``w.ids`` order (or ``ids`` order).
    w : SpatialWeights, libpysal.graph.Graph or libpysal.weights.W
    permutations : int, default 999
        Conditional permutations per unit (positive).
    rng, alternative, transformation, islands, ids
        As in :func:`morans_i`: ``p_sim`` is esda's one-sided pseudo p-value (in the
        direction of each ``Is``; in the stated direction for ``"greater"`` /
        ``"less"``) and ``p_sim_two_sided`` the two-sided one. With
        ``islands="keep"`` an island gets ``Is = 0``, ``p_sim = NaN``, ``q = 0`` and
        the label "Island" instead of a spurious value.
    alpha : float, default 0.05
        Significance level of ``significant`` when ``fdr`` is None, applied to the
        p-value of ``alternative``: ``p_sim_two_sided`` for ``"two-sided"``,
        ``p_sim`` otherwise.
    fdr : float, optional
        If given, ``significant`` is Benjamini-Hochberg at this false-discovery rate.
    keep_simulations : bool, default True
        Store the ``(permutations, n)`` simulated statistics in ``sim``.

    Returns
    -------
    LocalMoranResult

    Raises
    ------
    AlignmentError, ValidationError
        As in :func:`morans_i`.

    Notes
    -----
    :math:`I_i = (n - 1) z_i \sum_j w_{ij} z_j / \sum_k z_k^2` with ``z``
    standardised (ddof 0), as ``esda.Moran_Local``. Under conditional randomisation
    :cite:`anselin1995local` the focal value is fixed and its ``card_i`` neighbour
    values are drawn without replacement from the other ``n - 1`` units; one set of
    draws is shared by all units, as in esda.
    """
    return _local(
        y,
        None,
        w,
        permutations=permutations,
        rng=rng,
        alternative=alternative,
        transformation=transformation,
        islands=islands,
        ids=ids,
        alpha=alpha,
        fdr=fdr,
        keep_simulations=keep_simulations,
    )


def local_bivariate_morans(
    x: ArrayLike,
    y: ArrayLike,
    w: Any,
    *,
    permutations: int = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    islands: Literal["raise", "drop", "keep"] = "raise",
    ids: ArrayLike | None = None,
    alpha: float = 0.05,
    fdr: float | None = None,
    keep_simulations: bool = True,
) -> LocalMoranResult:
    r"""Local bivariate Moran's I: ``x_i`` against the spatial lag of ``y``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    w : SpatialWeights, libpysal.graph.Graph or libpysal.weights.W
    permutations, rng, alternative, transformation, islands, ids, alpha, fdr,
    keep_simulations
        As in :func:`local_morans`; neighbour values of ``y`` are permuted.

    Returns
    -------
    LocalMoranResult
        ``q`` uses ``x`` for the focal side and the lag of ``y``, as
        ``esda.Moran_Local_BV``.

    Raises
    ------
    AlignmentError, ValidationError
        As in :func:`morans_i`.

    Notes
    -----
    :math:`I_i = (n - 1) z_{x,i} \sum_j w_{ij} z_{y,j} / \sum_k z_{x,k}^2`.
    """
    return _local(
        x,
        y,
        w,
        permutations=permutations,
        rng=rng,
        alternative=alternative,
        transformation=transformation,
        islands=islands,
        ids=ids,
        alpha=alpha,
        fdr=fdr,
        keep_simulations=keep_simulations,
    )
