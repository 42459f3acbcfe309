"""Global Moran's I of region attributes, univariate and bivariate.

:func:`morans_i` with normality, randomisation and permutation inference, identical to
``esda.Moran``; :func:`bivariate_morans_i` (Wartenberg's bivariate I), identical to
``esda.Moran_BV`` for row-standardised weights :cite:`rey2010pysal`. Weights may be a
:class:`~kzspatial.core.weights.SpatialWeights` or a libpysal ``Graph`` / ``W``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from kzspatial.core.moran._inference import (
    BATCH_ELEMENTS,
    Alternative,
    analytic_fields,
    check_options,
    make_rng,
    no_sim_fields,
    permuted_indices,
    sim_fields,
)
from kzspatial.core.moran._inputs import prepare
from kzspatial.core.moran._results import MoranBVResult, MoranResult

__all__ = ["bivariate_morans_i", "morans_i"]


def _global_sims(
    zx: NDArray[np.float64] | None,
    zy: NDArray[np.float64],
    mat: sparse.csr_array,
    scale: float,
    permutations: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """``scale * zx' W zy_perm`` for permutations of ``zy``, a batch at a time.

    With ``zx=None`` (univariate Moran) both sides are permuted: ``zp' W zp``.
    """
    n = zy.size
    batch = max(1, min(permutations, BATCH_ELEMENTS // n))
    out = np.empty(permutations)
    for start in range(0, permutations, batch):
        count = min(batch, permutations - start)
        zp = zy[permuted_indices(rng, n, count)].T  # (n, count)
        lagged = mat @ zp
        if zx is None:
            out[start : start + count] = scale * np.einsum("ib,ib->b", zp, lagged)
        else:
            out[start : start + count] = scale * (zx @ lagged)
    return out


def morans_i(
    y: ArrayLike,
    w: Any,
    *,
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    islands: Literal["raise", "drop", "keep"] = "raise",
    ids: ArrayLike | None = None,
) -> MoranResult:
    r"""Global Moran's I with normality, randomisation and permutation inference.

    Parameters
    ----------
    y : array_like, shape (n,)
        Attribute values in ``w.ids`` order (or in the order of ``ids``).
    w : SpatialWeights, libpysal.graph.Graph or libpysal.weights.W
        Weights on the same ``n`` units (libpysal objects are converted with
        :meth:`SpatialWeights.from_libpysal`).
    permutations : int or None, default 999
        Random permutations of ``y`` for ``p_sim``; None for analytic inference only.
    rng : numpy.random.Generator, int or None
        Source of randomness; an int is a seed. With None a fresh seed is drawn and
        recorded in ``result.seed``.
    alternative : {"two-sided", "greater", "less", "directed"}, default "two-sided"
        Alternative of ``p_norm``, ``p_rand`` and ``p_z_sim``, stored on the result.
        The pseudo p-values are always both there: ``p_sim_two_sided`` is the
        two-sided one, and ``p_sim`` is one-sided: for ``"greater"`` / ``"less"`` in
        that direction, for ``"two-sided"`` and ``"directed"`` in the direction of the
        observed statistic, exactly esda's ``p_sim``. esda's defaults are two-sided
        ``p_norm`` / ``p_rand`` (the default here) and that ``p_sim``.
    transformation : {"r", "b", "o"}, default "r"
        Applied to ``w`` (after the islands policy); ``"o"`` uses ``w`` as given.
    islands : {"raise", "drop", "keep"}, default "raise"
        Policy for units without neighbours (see :class:`SpatialWeights`).
    ids : array_like of str, shape (n,), optional
        Ids of ``y``'s entries; ``y`` is then aligned to ``w.ids`` by id.

    Returns
    -------
    MoranResult

    Raises
    ------
    AlignmentError
        ``y`` and ``w`` do not describe the same units.
    ValidationError
        Fewer than 3 units, NaN or constant ``y``, islands under ``"raise"``,
        non-positive ``permutations``, unknown options.

    Notes
    -----
    .. math::

        I = \frac{n}{s_0} \frac{\sum_{ij} w_{ij} z_i z_j}{\sum_i z_i^2},
        \quad z = y - \bar y,

    with the moments of Cliff and Ord (1981) :cite:`cliff1981spatial`, identical to
    ``esda.Moran``.

    Examples
    --------
    >>> from kzspatial.core.weights import SpatialWeights
    >>> w = SpatialWeights.from_adjacency(
    ...     {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c"]})
    >>> r = morans_i([1.0, 2.0, 3.0, 4.0], w, permutations=None)
    >>> round(r.I, 4), round(r.EI, 4)  # sum(z * Wz) / sum(z^2) = 2 / 5 by hand
    (0.4, -0.3333)
    """
    check_options(permutations, alternative, transformation)
    w_used, (yv,), dropped = prepare(w, {"y": y}, ids, islands, transformation)
    n = w_used.n
    z = yv - yv.mean()
    s0 = w_used.s0
    mat = w_used.sparse
    z2ss = float(z @ z)
    value = float(n / s0 * (z @ (mat @ z)) / z2ss)
    fields, seed = no_sim_fields(), None
    if permutations is not None:
        generator, seed = make_rng(rng)
        sim = _global_sims(None, z, mat, n / s0 / z2ss, permutations, generator)
        fields = sim_fields(value, sim, alternative)
    return MoranResult(
        I=value,
        **analytic_fields(value, n, (s0, w_used.s1, w_used.s2), z, alternative),
        n=n,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=dropped,
        null="random permutation of values over units",
        **fields,
    )


def bivariate_morans_i(
    x: ArrayLike,
    y: ArrayLike,
    w: Any,
    *,
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    islands: Literal["raise", "drop", "keep"] = "raise",
    ids: ArrayLike | None = None,
) -> MoranBVResult:
    r"""Global bivariate Moran's I: ``x`` against the spatial lag of ``y``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Focal variable and lagged variable, in ``w.ids`` order (or ``ids`` order).
    w : SpatialWeights, libpysal.graph.Graph or libpysal.weights.W
    permutations, rng, alternative, transformation, islands, ids
        As in :func:`morans_i`; permutations shuffle ``y`` and keep ``x`` fixed.

    Returns
    -------
    MoranBVResult

    Raises
    ------
    AlignmentError, ValidationError
        As in :func:`morans_i`, for either variable.

    Notes
    -----
    .. math::

        I_{BV} = \frac{n}{s_0} \frac{z_x^\top W z_y}{n - 1},

    with ``z`` standardised using ddof 1 (Wartenberg 1985); for row-standardised
    weights ``n / s0 = 1`` and this is ``esda.Moran_BV``.
    """
    check_options(permutations, alternative, transformation)
    w_used, (xv, yv), dropped = prepare(
        w, {"x": x, "y": y}, ids, islands, transformation
    )
    n = w_used.n
    zx = (xv - xv.mean()) / xv.std(ddof=1)
    zy = (yv - yv.mean()) / yv.std(ddof=1)
    scale = n / w_used.s0 / (n - 1)
    value = float(scale * (zx @ (w_used.sparse @ zy)))
    fields, seed = no_sim_fields(), None
    if permutations is not None:
        generator, seed = make_rng(rng)
        sim = _global_sims(zx, zy, w_used.sparse, scale, permutations, generator)
        fields = sim_fields(value, sim, alternative)
    return MoranBVResult(
        I=value,
        n=n,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=dropped,
        **fields,
    )
