"""Moran's I for region attributes and for origin-destination flows.

Pure numpy/scipy core. Every statistic is a function returning a frozen result object
whose attribute names follow ``esda`` (``I``, ``EI``, ``VI_norm``, ``z_norm``,
``p_norm``, ``VI_rand``, ``p_rand``, ``sim``, ``p_sim``, ``z_sim``) :cite:`rey2010pysal`:

- :func:`morans_i` and :func:`bivariate_morans_i` (global), :func:`local_morans` and
  :func:`local_bivariate_morans` (LISA with conditional permutation
  :cite:`anselin1995local`);
- :func:`flow_morans_i` and :func:`local_flow_morans` on an ``(n, n)`` flow or
  residual matrix with origin-, destination- or origin-destination-based weights
  :cite:`chun2008modeling`, evaluated through matrix products on the ``(n, n)`` zone
  weights, never building the ``(n^2, n^2)`` flow weights.

Permutation results are reproducible from ``rng`` (a :class:`numpy.random.Generator`
or an integer seed); the global seed is never touched. Pseudo p-values for all
statistics come from :func:`pseudo_p_value`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse, special

from kzspatial._errors import AlignmentError, ValidationError
from kzspatial.core.weights import SpatialWeights, _resolve_islands

__all__ = [
    "FlowMoranResult",
    "LocalFlowMoranResult",
    "LocalMoranResult",
    "MoranBVResult",
    "MoranResult",
    "bivariate_morans_i",
    "flow_morans_i",
    "local_bivariate_morans",
    "local_flow_morans",
    "local_morans",
    "morans_i",
    "pseudo_p_value",
]

Alternative = Literal["two-sided", "greater", "less", "directed"]
_ALTERNATIVES = ("two-sided", "greater", "less", "directed")
_FLOW_KINDS = ("origin", "destination", "od")
_CLUSTER_LABELS = {1: "High-High", 2: "Low-High", 3: "Low-Low", 4: "High-Low"}
_INSIGNIFICANT = "Insignificant"
_ISLAND = "Island"
# elements per permutation batch (bounds temporary memory to ~32 MB of float64)
_BATCH_ELEMENTS = 1 << 22


# ============================================================================ results
@dataclass(frozen=True, eq=False)
class MoranResult:
    """Global Moran's I with analytic and permutation inference.

    Attributes
    ----------
    I : float
        Moran's I.
    EI : float
        Expected I under the null, ``-1 / (n - 1)``.
    VI_norm, seI_norm, z_norm, p_norm : float
        Variance, standard error, z-score and p-value under normality.
    VI_rand, seI_rand, z_rand, p_rand : float
        The same under randomisation (all permutations of the values equally likely).
    n : int
        Number of observations used.
    alternative : str
        Alternative hypothesis of every p-value (see :func:`pseudo_p_value`).
    permutations : int or None
        Number of permutations (None: analytic inference only).
    sim : numpy.ndarray or None, shape (permutations,)
        I under each permutation.
    p_sim : float or None
        Pseudo p-value, ``(extreme + 1) / (permutations + 1)``.
    EI_sim, VI_sim, seI_sim, z_sim, p_z_sim : float or None
        Mean, variance (ddof 0) and standard deviation of ``sim``, the z-score of ``I``
        against them and its normal p-value.
    seed : int or None
        Seed that reproduces the permutations (None when a Generator was passed).
    transformation : str
        Weights transformation used (``"r"``, ``"b"`` or ``"o"``).
    dropped_ids : tuple of str
        Units removed by ``islands="drop"``.
    null : str
        Description of the permutation null.
    """

    I: float
    EI: float
    VI_norm: float
    seI_norm: float
    z_norm: float
    p_norm: float
    VI_rand: float
    seI_rand: float
    z_rand: float
    p_rand: float
    n: int
    alternative: str
    permutations: int | None
    sim: NDArray[np.float64] | None
    p_sim: float | None
    EI_sim: float | None
    VI_sim: float | None
    seI_sim: float | None
    z_sim: float | None
    p_z_sim: float | None
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]
    null: str


@dataclass(frozen=True, eq=False)
class FlowMoranResult(MoranResult):
    """Global Moran's I over origin-destination flows.

    Attributes are those of :class:`MoranResult` (``n`` is the number of flows used),
    plus:

    Attributes
    ----------
    kind : str
        ``"origin"``, ``"destination"`` or ``"od"`` flow weights.
    diagonal : str
        ``"exclude"`` or ``"include"`` intra-zonal flows.
    n_zones : int
        Number of zones.
    island_flows : int
        Flows without any neighbour (kept with zero lag under ``islands="keep"``).
    s0, s1, s2 : float
        Weight sums of the implicit flow weights (closed form).
    """

    kind: str
    diagonal: str
    n_zones: int
    island_flows: int
    s0: float
    s1: float
    s2: float


@dataclass(frozen=True, eq=False)
class MoranBVResult:
    """Global bivariate Moran's I of ``x`` against the spatial lag of ``y``.

    Attributes
    ----------
    I : float
        ``(n / s0) * zx' W zy / (n - 1)`` with ``zx, zy`` standardised (ddof 1); equals
        esda's ``Moran_BV.I`` for row-standardised weights.
    n : int
    alternative : str
    permutations : int or None
    sim, p_sim, EI_sim, VI_sim, seI_sim, z_sim, p_z_sim
        As in :class:`MoranResult`; ``y`` is permuted, ``x`` fixed.
    seed : int or None
    transformation : str
    dropped_ids : tuple of str
    """

    I: float
    n: int
    alternative: str
    permutations: int | None
    sim: NDArray[np.float64] | None
    p_sim: float | None
    EI_sim: float | None
    VI_sim: float | None
    seI_sim: float | None
    z_sim: float | None
    p_z_sim: float | None
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class LocalMoranResult:
    """Local Moran's I (LISA), univariate or bivariate.

    Attributes
    ----------
    ids : tuple of str, length n
        Units the arrays refer to, in order.
    Is : numpy.ndarray, shape (n,)
        Local statistics ``(n - 1) zx_i (W zy)_i / sum(zx^2)`` (``zx = zy = z`` for the
        univariate case; values standardised with ddof 0), as in esda.
    q : numpy.ndarray of int, shape (n,)
        Quadrant: 1 HH, 2 LH, 3 LL, 4 HL (0 for an island kept with zero lag).
    p_sim : numpy.ndarray, shape (n,)
        Conditional-permutation pseudo p-values (NaN for kept islands).
    sim : numpy.ndarray or None, shape (permutations, n)
        Simulated local statistics (None when not kept).
    EI_sim, VI_sim, seI_sim, z_sim, p_z_sim : numpy.ndarray, shape (n,)
        Moments of the simulated statistics, z-score and its normal p-value.
    significant : numpy.ndarray of bool, shape (n,)
        ``p_sim <= alpha``, or Benjamini-Hochberg significant at level ``fdr``.
    labels : numpy.ndarray of str, shape (n,)
        "High-High", "Low-High", "Low-Low", "High-Low", "Insignificant" or "Island".
    alpha : float
    fdr : float or None
    alternative : str
    permutations : int
    seed : int or None
    transformation : str
    dropped_ids : tuple of str
    """

    ids: tuple[str, ...]
    Is: NDArray[np.float64]
    q: NDArray[np.int64]
    p_sim: NDArray[np.float64]
    sim: NDArray[np.float64] | None
    EI_sim: NDArray[np.float64]
    VI_sim: NDArray[np.float64]
    seI_sim: NDArray[np.float64]
    z_sim: NDArray[np.float64]
    p_z_sim: NDArray[np.float64]
    significant: NDArray[np.bool_]
    labels: NDArray[np.str_]
    alpha: float
    fdr: float | None
    alternative: str
    permutations: int
    seed: int | None
    transformation: str
    dropped_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class LocalFlowMoranResult:
    """Local Moran's I for every flow, as ``(n_zones, n_zones)`` matrices.

    Row = origin, column = destination, in ``ids`` order; excluded flows (the
    diagonal under ``diagonal="exclude"``) hold NaN (``q`` 0, ``labels`` "").

    Attributes
    ----------
    ids : tuple of str, length n_zones
    kind, diagonal : str
    Is, p_sim, EI_sim, VI_sim, seI_sim, z_sim, p_z_sim : numpy.ndarray, shape (n, n)
        As in :class:`LocalMoranResult`, per flow.
    q : numpy.ndarray of int, shape (n, n)
    significant : numpy.ndarray of bool, shape (n, n)
    labels : numpy.ndarray of str, shape (n, n)
    alpha, fdr, alternative, permutations, seed, transformation
        As in :class:`LocalMoranResult`.
    null : str
        Description of the permutation null.
    """

    ids: tuple[str, ...]
    kind: str
    diagonal: str
    Is: NDArray[np.float64]
    q: NDArray[np.int64]
    p_sim: NDArray[np.float64]
    EI_sim: NDArray[np.float64]
    VI_sim: NDArray[np.float64]
    seI_sim: NDArray[np.float64]
    z_sim: NDArray[np.float64]
    p_z_sim: NDArray[np.float64]
    significant: NDArray[np.bool_]
    labels: NDArray[np.str_]
    alpha: float
    fdr: float | None
    alternative: str
    permutations: int
    seed: int | None
    transformation: str
    null: str


# ============================================================================ helpers
def pseudo_p_value(
    observed: ArrayLike, sim: ArrayLike, alternative: Alternative = "two-sided"
) -> NDArray[np.float64]:
    """Permutation pseudo p-value ``(extreme + 1) / (permutations + 1)``.

    Parameters
    ----------
    observed : float or array_like, shape (m,)
        Observed statistic(s).
    sim : array_like, shape (permutations,) or (permutations, m)
        Statistic(s) under the permutations, one row per permutation.
    alternative : {"two-sided", "greater", "less", "directed"}
        ``"greater"`` counts ``sim >= observed``; ``"less"`` counts
        ``sim <= observed``; ``"two-sided"`` doubles the smaller of the two one-sided
        p-values (capped at 1); ``"directed"`` is the smaller one-sided p-value
        without doubling (esda's legacy ``p_sim``; too small, for replication only).

    Returns
    -------
    numpy.ndarray
        Shape of ``observed`` (a 0-d array for a scalar).

    Examples
    --------
    >>> float(pseudo_p_value(3.0, [0.0, 1.0, 2.0, 4.0], "greater"))
    0.4
    """
    obs = np.asarray(observed, dtype=np.float64)
    ref = np.asarray(sim, dtype=np.float64)
    n_perm = ref.shape[0]
    n_ge = (ref >= obs).sum(axis=0)
    n_le = (ref <= obs).sum(axis=0)
    if alternative == "greater":
        count = n_ge
    elif alternative == "less":
        count = n_le
    elif alternative == "two-sided":
        return np.minimum(1.0, 2.0 * (np.minimum(n_ge, n_le) + 1.0) / (n_perm + 1.0))
    elif alternative == "directed":
        count = np.minimum(n_ge, n_perm - n_ge)
    else:
        raise ValidationError(
            f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}"
        )
    return (count + 1.0) / (n_perm + 1.0)


def _normal_p(z: Any, alternative: str) -> Any:
    """Normal-approximation p-value for the same alternatives as pseudo_p_value."""
    if alternative == "greater":
        return special.ndtr(-z)
    if alternative == "less":
        return special.ndtr(z)
    if alternative == "two-sided":
        return 2.0 * special.ndtr(-np.abs(z))
    return special.ndtr(-np.abs(z))  # directed: the tail the statistic falls in


def _check_options(
    permutations: int | None,
    alternative: str,
    transformation: str,
    *,
    allow_none: bool = True,
) -> None:
    problems = []
    if permutations is None:
        if not allow_none:
            problems.append("permutations must be a positive integer, got None")
    elif isinstance(permutations, bool) or not isinstance(
        permutations, (int, np.integer)
    ):
        problems.append(
            f"permutations must be a positive integer or None, got {permutations!r}"
        )
    elif permutations < 1:
        problems.append(
            f"permutations must be positive, got {permutations}; use e.g. 999, or None "
            "for analytic inference only"
        )
    if alternative not in _ALTERNATIVES:
        problems.append(
            f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}"
        )
    if transformation not in ("r", "b", "o"):
        problems.append(
            f"transformation must be 'r', 'b' or 'o' (as given), got {transformation!r}"
        )
    if problems:
        raise ValidationError("; ".join(problems))


def _make_rng(
    rng: np.random.Generator | int | None,
) -> tuple[np.random.Generator, int | None]:
    """Return a Generator and the seed that reproduces it (None for a Generator)."""
    if isinstance(rng, np.random.Generator):
        return rng, None
    if rng is None:
        # draw a fresh seed and record it, so that the run can be repeated
        seed = int(np.random.SeedSequence().entropy % (2**63))
        return np.random.default_rng(seed), seed
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng)), int(rng)
    raise ValidationError(
        f"rng must be a numpy.random.Generator, a non-negative int seed or None, "
        f"got {rng!r}"
    )


def _align(
    values: ArrayLike, name: str, w: SpatialWeights, ids: Any
) -> NDArray[np.float64]:
    """Return ``values`` as float64 in ``w.ids`` order, checking alignment."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be 1-D, got shape {arr.shape}")
    if ids is None:
        if arr.size != w.n:
            raise AlignmentError(
                f"{name} has {arr.size} values but the weights have {w.n} units; pass "
                f"one value per weights id (in w.ids order) or give ids= to align by id"
            )
        return arr
    ids_t = tuple(ids)
    if len(ids_t) != arr.size:
        raise AlignmentError(f"{name} has {arr.size} values but {len(ids_t)} ids")
    missing = sorted(set(w.ids) - set(ids_t))
    extra = sorted(set(ids_t) - set(w.ids))
    if missing or extra or len(set(ids_t)) != len(ids_t):
        raise AlignmentError(
            f"ids of {name} do not match the weights ids: missing {missing[:10]}, "
            f"not in weights {extra[:10]}; subset the data or rebuild the weights so "
            "both cover the same units"
        )
    position = {uid: k for k, uid in enumerate(ids_t)}
    return arr[[position[u] for u in w.ids]]


def _check_values(arr: NDArray[np.float64], name: str) -> list[str]:
    problems = []
    if arr.size < 3:
        problems.append(f"{name} has {arr.size} units; Moran's I needs at least 3")
    bad = ~np.isfinite(arr)
    if bad.any():
        problems.append(
            f"{name} has {int(bad.sum())} NaN/infinite values; drop or impute them "
            "(and subset the weights) first"
        )
    elif arr.size and np.ptp(arr) == 0:
        problems.append(
            f"{name} is constant ({arr[0]!r}); Moran's I is undefined for a variable "
            "without variance"
        )
    return problems


def _prepare(
    w: SpatialWeights,
    values: dict[str, ArrayLike],
    ids: Any,
    islands: str,
    transformation: str,
) -> tuple[SpatialWeights, list[NDArray[np.float64]], tuple[str, ...]]:
    """Align values, apply the islands policy and the transformation."""
    if not isinstance(w, SpatialWeights):
        raise ValidationError(
            f"w must be a SpatialWeights, got {type(w).__name__}; convert libpysal "
            "objects with SpatialWeights.from_libpysal"
        )
    aligned = [_align(v, name, w, ids) for name, v in values.items()]
    w_used, dropped = _resolve_islands(w, islands)
    if dropped:
        keep = np.isin(
            np.asarray(w.ids, dtype=object), np.asarray(w_used.ids, dtype=object)
        )
        aligned = [a[keep] for a in aligned]
    problems = [
        p
        for name, a in zip(values, aligned, strict=True)
        for p in _check_values(a, name)
    ]
    if problems:
        raise ValidationError("; ".join(problems))
    if transformation != "o":
        w_used = w_used.transform(transformation)  # type: ignore[arg-type]
    return w_used, aligned, dropped


def _sim_moments(
    observed: Any, sim: NDArray[np.float64], alternative: str
) -> tuple[Any, Any, Any, Any, Any]:
    ei = sim.mean(axis=0)
    se = sim.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed - ei) / se
    return ei, se**2, se, z, _normal_p(z, alternative)


def _freeze(*arrays: NDArray[Any] | None) -> None:
    for arr in arrays:
        if arr is not None:
            arr.flags.writeable = False


def _thread_count(n_jobs: int | None, n_zones: int, permutations: int) -> int:
    """Threads for the flow permutations; small problems stay single-threaded."""
    if n_jobs is None:
        n_jobs = (os.cpu_count() or 1) if n_zones >= 100 else 1
    if int(n_jobs) < 1:
        raise ValidationError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    return max(1, min(int(n_jobs), permutations))


def _permuted_indices(rng: np.random.Generator, n: int, count: int) -> NDArray[np.intp]:
    """``count`` independent permutations of ``range(n)``, shape (count, n)."""
    return rng.permuted(np.tile(np.arange(n), (count, 1)), axis=1)


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
    batch = max(1, min(permutations, _BATCH_ELEMENTS // n))
    out = np.empty(permutations)
    for start in range(0, permutations, batch):
        count = min(batch, permutations - start)
        zp = zy[_permuted_indices(rng, n, count)].T  # (n, count)
        lagged = mat @ zp
        if zx is None:
            out[start : start + count] = scale * np.einsum("ib,ib->b", zp, lagged)
        else:
            out[start : start + count] = scale * (zx @ lagged)
    return out


def _moran_moments(
    n: int, s0: float, s1: float, s2: float, z: NDArray[np.float64]
) -> tuple[float, float, float]:
    """EI, VI_norm and VI_rand of Moran's I (Cliff and Ord 1981)."""
    ei = -1.0 / (n - 1)
    n2 = n * n
    s02 = s0 * s0
    vi_norm = (n2 * s1 - n * s2 + 3 * s02) / ((n - 1) * (n + 1) * s02) - ei**2
    z2 = z * z
    k = (np.sum(z2 * z2) / n) / (np.sum(z2) / n) ** 2
    a = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s02)
    b = k * ((n2 - n) * s1 - 2 * n * s2 + 6 * s02)
    vi_rand = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s02) - ei**2
    return ei, float(vi_norm), float(vi_rand)


# ============================================================================ global
def morans_i(
    y: ArrayLike,
    w: SpatialWeights,
    *,
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    islands: Literal["raise", "drop", "keep"] = "raise",
    ids: ArrayLike | None = None,
) -> MoranResult:
    """Global Moran's I with normality, randomisation and permutation inference.

    Parameters
    ----------
    y : array_like, shape (n,)
        Attribute values in ``w.ids`` order (or in the order of ``ids``).
    w : SpatialWeights
        Weights on the same ``n`` units.
    permutations : int or None, default 999
        Random permutations of ``y`` for ``p_sim``; None for analytic inference only.
    rng : numpy.random.Generator, int or None
        Source of randomness; an int is a seed. With None a fresh seed is drawn and
        recorded in ``result.seed``.
    alternative : {"two-sided", "greater", "less", "directed"}, default "two-sided"
        Alternative of every p-value. esda's defaults are two-sided ``p_norm`` /
        ``p_rand`` and ``"directed"`` ``p_sim``.
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

        I = \\frac{n}{s_0} \\frac{\\sum_{ij} w_{ij} z_i z_j}{\\sum_i z_i^2},
        \\quad z = y - \\bar y,

    with the moments of Cliff and Ord (1981) :cite:`cliff1981spatial`, identical to
    ``esda.Moran``.

    Examples
    --------
    >>> w = SpatialWeights.from_adjacency(
    ...     {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c"]})
    >>> r = morans_i([1.0, 2.0, 3.0, 4.0], w, permutations=None)
    >>> round(r.I, 4), round(r.EI, 4)
    (0.3333, -0.3333)
    """
    _check_options(permutations, alternative, transformation)
    w_used, (yv,), dropped = _prepare(w, {"y": y}, ids, islands, transformation)
    n = w_used.n
    z = yv - yv.mean()
    s0, s1, s2 = w_used.s0, w_used.s1, w_used.s2
    mat = w_used.sparse
    z2ss = float(z @ z)
    value = float(n / s0 * (z @ (mat @ z)) / z2ss)
    ei, vi_norm, vi_rand = _moran_moments(n, s0, s1, s2, z)
    se_norm, se_rand = vi_norm**0.5, vi_rand**0.5
    z_norm, z_rand = (value - ei) / se_norm, (value - ei) / se_rand
    sim_fields: dict[str, Any] = dict.fromkeys(
        ("sim", "p_sim", "EI_sim", "VI_sim", "seI_sim", "z_sim", "p_z_sim")
    )
    seed = None
    if permutations is not None:
        generator, seed = _make_rng(rng)
        sim = _global_sims(None, z, mat, n / s0 / z2ss, permutations, generator)
        ei_s, vi_s, se_s, z_s, pz_s = _sim_moments(value, sim, alternative)
        _freeze(sim)
        sim_fields = {
            "sim": sim,
            "p_sim": float(pseudo_p_value(value, sim, alternative)),
            "EI_sim": float(ei_s),
            "VI_sim": float(vi_s),
            "seI_sim": float(se_s),
            "z_sim": float(z_s),
            "p_z_sim": float(pz_s),
        }
    return MoranResult(
        I=value,
        EI=ei,
        VI_norm=vi_norm,
        seI_norm=se_norm,
        z_norm=float(z_norm),
        p_norm=float(_normal_p(z_norm, alternative)),
        VI_rand=vi_rand,
        seI_rand=se_rand,
        z_rand=float(z_rand),
        p_rand=float(_normal_p(z_rand, alternative)),
        n=n,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=dropped,
        null="random permutation of values over units",
        **sim_fields,
    )


def bivariate_morans_i(
    x: ArrayLike,
    y: ArrayLike,
    w: SpatialWeights,
    *,
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    islands: Literal["raise", "drop", "keep"] = "raise",
    ids: ArrayLike | None = None,
) -> MoranBVResult:
    """Global bivariate Moran's I: ``x`` against the spatial lag of ``y``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Focal variable and lagged variable, in ``w.ids`` order (or ``ids`` order).
    w : SpatialWeights
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

        I_{BV} = \\frac{n}{s_0} \\frac{z_x^\\top W z_y}{n - 1},

    with ``z`` standardised using ddof 1 (Wartenberg 1985); for row-standardised
    weights ``n / s0 = 1`` and this is ``esda.Moran_BV``.
    """
    _check_options(permutations, alternative, transformation)
    w_used, (xv, yv), dropped = _prepare(
        w, {"x": x, "y": y}, ids, islands, transformation
    )
    n = w_used.n
    zx = (xv - xv.mean()) / xv.std(ddof=1)
    zy = (yv - yv.mean()) / yv.std(ddof=1)
    scale = n / w_used.s0 / (n - 1)
    value = float(scale * (zx @ (w_used.sparse @ zy)))
    sim_fields: dict[str, Any] = dict.fromkeys(
        ("sim", "p_sim", "EI_sim", "VI_sim", "seI_sim", "z_sim", "p_z_sim")
    )
    seed = None
    if permutations is not None:
        generator, seed = _make_rng(rng)
        sim = _global_sims(zx, zy, w_used.sparse, scale, permutations, generator)
        ei_s, vi_s, se_s, z_s, pz_s = _sim_moments(value, sim, alternative)
        _freeze(sim)
        sim_fields = {
            "sim": sim,
            "p_sim": float(pseudo_p_value(value, sim, alternative)),
            "EI_sim": float(ei_s),
            "VI_sim": float(vi_s),
            "seI_sim": float(se_s),
            "z_sim": float(z_s),
            "p_z_sim": float(pz_s),
        }
    return MoranBVResult(
        I=value,
        n=n,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=dropped,
        **sim_fields,
    )


# ============================================================================ local
def _draw_neighbour_slots(
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


def _conditional_sims(
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
        Output of :func:`_draw_neighbour_slots`.
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
        step = max(1, _BATCH_ELEMENTS // (n_perm * c))
        for lo in range(0, members.size, step):
            part = members[lo : lo + step]
            idx = draws[None, :, :] + (draws[None, :, :] >= units[part, None, None])
            lag = np.einsum("gpc,gc->gp", z_draw[idx], weights[lo : lo + step])
            out[part] = lag
    out += (self_w * z_draw[units])[:, None]
    out *= (scale * z_focal[units])[:, None]
    return out


def _bh_significant(p: NDArray[np.float64], level: float) -> NDArray[np.bool_]:
    """Benjamini-Hochberg step-up: reject the k smallest with p_(k) <= k level / m."""
    finite = np.isfinite(p)
    out = np.zeros(p.shape, dtype=bool)
    vals = p[finite]
    m = vals.size
    if m == 0:
        return out
    ranked = np.sort(vals)
    passing = np.flatnonzero(ranked <= np.arange(1, m + 1) * level / m)
    if passing.size:
        out[finite] = vals <= ranked[passing[-1]]
    return out


def _check_level(value: float | None, name: str) -> None:
    if value is not None and not (0 < value < 1):
        raise ValidationError(f"{name} must be in (0, 1), got {value!r}")


def _quadrants(zx: NDArray[np.float64], lag: NDArray[np.float64]) -> NDArray[np.int64]:
    """esda's quadrant codes: 1 HH, 2 LH, 3 LL, 4 HL (0 is never produced here)."""
    high, lag_high = zx > 0, lag > 0
    return np.select(
        [high & lag_high, ~high & lag_high, ~high & ~lag_high], [1, 2, 3], default=4
    ).astype(np.int64)


def _labels(q: NDArray[np.int64], significant: NDArray[np.bool_]) -> NDArray[np.str_]:
    names = np.array(["", *_CLUSTER_LABELS.values()], dtype=object)
    out = np.where(significant, names[q], _INSIGNIFICANT).astype(str)
    return out


def _local(
    x: ArrayLike,
    y: ArrayLike | None,
    w: SpatialWeights,
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
    _check_options(permutations, alternative, transformation, allow_none=False)
    _check_level(alpha, "alpha")
    _check_level(fdr, "fdr")
    values = {"y": x} if y is None else {"x": x, "y": y}
    w_used, arrays, dropped = _prepare(w, values, ids, islands, transformation)
    n = w_used.n
    zs = [(a - a.mean()) / a.std() for a in arrays]
    zx, zy = zs[0], zs[-1]
    scale = (n - 1) / float(zx @ zx)
    mat = w_used.sparse
    lag = mat @ zy
    local_i = scale * zx * lag
    generator, seed = _make_rng(rng)
    card = w_used.cardinalities
    max_card = int(card.max())
    slots = _draw_neighbour_slots(generator, n, max_card, permutations)
    # conditional randomisation must not re-draw the focal unit's own value
    sims = _conditional_sims(mat, np.arange(n), zx, zy, slots, scale)
    island = card == 0
    p_sim = pseudo_p_value(local_i, sims.T, alternative).astype(np.float64)
    ei_s, vi_s, se_s, z_s, pz_s = _sim_moments(local_i, sims.T, alternative)
    q = _quadrants(zx, lag)
    p_sim[island] = np.nan
    q[island] = 0
    significant = (
        _bh_significant(p_sim, fdr)
        if fdr is not None
        else np.nan_to_num(p_sim, nan=1.0) <= alpha
    )
    labels = _labels(q, significant)
    labels[island] = _ISLAND
    sim = np.ascontiguousarray(sims.T) if keep_simulations else None
    _freeze(local_i, q, p_sim, sim, significant, labels)
    return LocalMoranResult(
        ids=w_used.ids,
        Is=local_i,
        q=q,
        p_sim=p_sim,
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
    w: SpatialWeights,
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
    """Local Moran's I (LISA) with conditional-permutation pseudo p-values.

    Parameters
    ----------
    y : array_like, shape (n,)
        Values in ``w.ids`` order (or ``ids`` order).
    w : SpatialWeights
    permutations : int, default 999
        Conditional permutations per unit (positive).
    rng, alternative, transformation, islands, ids
        As in :func:`morans_i`. With ``islands="keep"`` an island gets ``Is = 0``,
        ``p_sim = NaN``, ``q = 0`` and the label "Island" instead of a spurious value.
    alpha : float, default 0.05
        Significance level of ``significant`` when ``fdr`` is None.
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
    :math:`I_i = (n - 1) z_i \\sum_j w_{ij} z_j / \\sum_k z_k^2` with ``z``
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
    w: SpatialWeights,
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
    """Local bivariate Moran's I: ``x_i`` against the spatial lag of ``y``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
    w : SpatialWeights
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
    :math:`I_i = (n - 1) z_{x,i} \\sum_j w_{ij} z_{y,j} / \\sum_k z_{x,k}^2`.
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


# ============================================================================ flows
@dataclass(frozen=True, eq=False)
class _FlowSystem:
    """Implicit flow weights ``w[(i,j),(k,l)] = G_ij A_ik B_jl`` on included flows.

    ``A`` and ``B`` are the origin- and destination-side zone matrices (identity for
    destination- and origin-based weights); ``G`` holds the per-flow row scaling
    (0 for excluded flows and islands); ``mask`` marks included flows.
    """

    A: sparse.csr_array
    B: sparse.csr_array
    G: NDArray[np.float64]
    mask: NDArray[np.bool_]
    row_sums: NDArray[np.float64]  # raw (untransformed) flow-weight row sums

    def lag(self, Z: NDArray[np.float64]) -> NDArray[np.float64]:
        """Spatial lag of an ``(n, n)`` field that is zero on excluded flows."""
        return self.G * _sandwich(self.A, Z, self.B)

    def moments(self) -> tuple[float, float, float]:
        """s0, s1, s2 of the implicit flow weights in closed form."""
        A, B, G, M = self.A, self.B, self.G, self.mask.astype(np.float64)
        s0 = float(np.sum(G * self.row_sums))
        squares = float(
            np.sum(G * G * _sandwich(A.multiply(A).tocsr(), M, B.multiply(B).tocsr()))
        )
        sym_a = A.multiply(A.T).tocsr()
        sym_b = B.multiply(B.T).tocsr()
        cross = float(np.sum(G * _sandwich(sym_a, G, sym_b)))
        row = G * self.row_sums
        col = M * _sandwich(A.T.tocsr(), G, B.T.tocsr())
        s2 = float(np.sum((row + col) ** 2))
        return s0, squares + cross, s2


def _sandwich(
    A: sparse.csr_array, X: NDArray[np.float64], B: sparse.csr_array
) -> NDArray[np.float64]:
    """``A @ X @ B.T`` for sparse ``A``, ``B`` and dense ``X`` (all (n, n))."""
    left = A @ X
    return np.ascontiguousarray((B @ left.T).T)


def _flow_system(
    w: SpatialWeights, kind: str, transformation: str, mask: NDArray[np.bool_]
) -> _FlowSystem:
    zone = w.sparse if transformation != "b" else w.transform("b").sparse
    eye = sparse.identity(w.n, format="csr", dtype=np.float64)
    A = sparse.csr_array(zone if kind in ("origin", "od") else eye)
    B = sparse.csr_array(zone if kind in ("destination", "od") else eye)
    M = mask.astype(np.float64)
    row_sums = M * _sandwich(A, M, B)
    if transformation == "r":
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.where(row_sums > 0, M / row_sums, 0.0)
    else:
        G = M
    return _FlowSystem(A, B, G, mask, row_sums)


class _QAPEvaluator:
    """Fast ``sum(G * Zp * (A Zp B'))`` for zone-relabelled fields ``Zp = Z[p][:, p]``.

    Relabelling the zones of the field is the same as relabelling the zone matrices,
    so the dense field is never permuted: with ``G = g h' + E``,

    .. math::

        \\sum G \\circ Z_p \\circ (A Z_p B^\\top)
        = \\operatorname{tr}(Z^\\top \\tilde A_p Z \\tilde B_p^\\top)
          + \\sum_{(a,b) \\in E_p} E_{p,ab} Z_{ab} (A_p Z B_p^\\top)_{ab},

    where ``~A = diag(g) A``, ``~B = diag(h) B`` and ``X_p`` moves entry ``(i, k)``
    of ``X`` to ``(p[i], p[k])``. The rank-one part ``g h'`` is exact when all flows
    are included; ``E`` corrects the pairs whose row sums lose a neighbour to the
    excluded diagonal and is sparse (it lives on the support of ``A B'``).

    Cost per permutation: O(n^2 k) flops in the compiled kernel
    :func:`kzspatial.core._qap.qap_numerators`, which fuses the two sparse-times-dense
    products and writes nothing of size ``n x n``.
    """

    def __init__(self, system: _FlowSystem, Z: NDArray[np.float64]) -> None:
        A, B, G = system.A, system.B, system.G
        n = G.shape[0]
        self.Z = np.ascontiguousarray(Z)
        self.Zt = np.ascontiguousarray(Z.T)
        a = np.asarray(A.sum(axis=1)).ravel()
        b = np.asarray(B.sum(axis=1)).ravel()
        if np.array_equal(G, system.mask.astype(np.float64)):  # "o"/"b"
            g, h = np.ones(n), np.ones(n)
        else:  # "r": row sums are a_i b_j except where the diagonal was excluded
            with np.errstate(divide="ignore"):
                g = np.where(a > 0, 1.0 / a, 0.0)
                h = np.where(b > 0, 1.0 / b, 0.0)
        self.a_scaled = _csr_parts(sparse.diags_array(g) @ A)
        self.b_scaled = _csr_parts(sparse.diags_array(h) @ B)
        # correction E = G - g h' off the diagonal (Z is zero on the diagonal when it
        # is excluded, so diagonal entries never contribute), grouped by origin zone
        support = sparse.csr_array(A @ B.T)
        support.sort_indices()
        support = support.tocoo()
        off = support.row != support.col
        ei, ej = support.row[off], support.col[off]
        evals = G[ei, ej] - g[ei] * h[ej]
        keep = np.abs(evals) > 0
        ei, ej, evals = ei[keep], ej[keep], evals[keep]
        # expand each entry over the nonzeros of B's row j:
        # (A Zp B')_ij = sum_m B_jm (A Zp)_im, and (A Zp)_i. = X_i. / g_i
        B_csr = sparse.csr_array(B)
        counts = np.diff(B_csr.indptr)[ej]
        rep = np.repeat(np.arange(ei.size), counts)
        offsets = np.arange(rep.size) - np.repeat(np.cumsum(counts) - counts, counts)
        pos = B_csr.indptr[ej][rep] + offsets
        self.correction = (
            np.concatenate(([0], np.cumsum(np.bincount(ei, minlength=n)))),
            ej.astype(np.int64),
            np.concatenate(([0], np.cumsum(counts))).astype(np.int64),
            B_csr.indices[pos].astype(np.int64),
            evals[rep] * B_csr.data[pos] / g[ei][rep],
        )

    def __call__(self, perms: NDArray[np.intp]) -> NDArray[np.float64]:
        """Numerators ``z' W z`` for the fields ``Z[p][:, p]``, one per row ``p``."""
        from kzspatial.core._qap import (
            qap_numerators,  # numba: imported only when needed
        )

        return qap_numerators(
            self.Z,
            self.Zt,
            self.a_scaled,
            self.b_scaled,
            self.correction,
            np.ascontiguousarray(perms, dtype=np.int64),
        )


def _csr_parts(
    mat: Any,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """``(indptr, indices, data)`` of ``mat`` in CSR with int64 indices."""
    csr = sparse.csr_array(mat)
    return (
        csr.indptr.astype(np.int64),
        csr.indices.astype(np.int64),
        np.ascontiguousarray(csr.data, dtype=np.float64),
    )


def _flow_inputs(
    F: ArrayLike,
    w: SpatialWeights,
    ids: Any,
    kind: str,
    diagonal: str,
    transformation: str,
    islands: str,
) -> tuple[NDArray[np.float64], NDArray[np.bool_], _FlowSystem]:
    if not isinstance(w, SpatialWeights):
        raise ValidationError(
            f"w must be a SpatialWeights, got {type(w).__name__}; convert libpysal "
            "objects with SpatialWeights.from_libpysal"
        )
    problems = []
    if kind not in _FLOW_KINDS:
        problems.append(f"kind must be one of {_FLOW_KINDS}, got {kind!r}")
    if diagonal not in ("exclude", "include"):
        problems.append(f"diagonal must be 'exclude' or 'include', got {diagonal!r}")
    if islands not in ("raise", "keep"):
        problems.append(
            f"islands must be 'raise' or 'keep' for flows, got {islands!r} (dropping "
            "flows would break the zone-permutation null)"
        )
    if problems:
        raise ValidationError("; ".join(problems))
    flows = F.toarray() if sparse.issparse(F) else np.asarray(F, dtype=np.float64)
    flows = np.asarray(flows, dtype=np.float64)
    n = w.n
    if flows.ndim != 2 or flows.shape != (n, n):
        raise AlignmentError(
            f"F has shape {flows.shape} but the weights have {n} zones; pass an "
            f"(n, n) matrix with rows = origins and columns = destinations in w.ids "
            "order, or give ids="
        )
    if ids is not None:
        ids_t = tuple(ids)
        if len(ids_t) != n or set(ids_t) != set(w.ids) or len(set(ids_t)) != n:
            raise AlignmentError(
                f"ids of F do not match the weights ids: missing "
                f"{sorted(set(w.ids) - set(ids_t))[:10]}, not in weights "
                f"{sorted(set(ids_t) - set(w.ids))[:10]}"
            )
        position = {uid: k for k, uid in enumerate(ids_t)}
        order = np.array([position[u] for u in w.ids])
        flows = flows[np.ix_(order, order)]
    mask = np.ones((n, n), dtype=bool)
    if diagonal == "exclude":
        np.fill_diagonal(mask, False)
    values = flows[mask]
    problems = []
    if n < 3:
        problems.append(f"flow Moran's I needs at least 3 zones, got {n}")
    if not np.all(np.isfinite(values)):
        problems.append(
            f"F has {int((~np.isfinite(values)).sum())} NaN/infinite values among the "
            "included flows; impute them or exclude the diagonal"
        )
    elif values.size and np.ptp(values) == 0:
        problems.append("F is constant over the included flows; Moran's I is undefined")
    if problems:
        raise ValidationError("; ".join(problems))
    system = _flow_system(w, kind, transformation, mask)
    stranded = mask & (system.row_sums == 0)
    if stranded.any() and islands == "raise":
        oi, dj = np.nonzero(stranded)
        examples = [
            f"{w.ids[i]}->{w.ids[j]}" for i, j in zip(oi[:5], dj[:5], strict=True)
        ]
        raise ValidationError(
            f"{int(stranded.sum())} flows have no neighbouring flow under kind="
            f"{kind!r} (e.g. {examples}); zones with a single neighbour, such as "
            "enclaves, cause this when the diagonal is excluded. Use weights without "
            "one-neighbour zones (e.g. k-nearest neighbours with k >= 2), kind='od', "
            "or islands='keep' to keep them with a zero lag."
        )
    return flows, mask, system


def flow_morans_i(
    F: ArrayLike,
    w: SpatialWeights,
    *,
    kind: Literal["origin", "destination", "od"] = "od",
    permutations: int | None = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    diagonal: Literal["exclude", "include"] = "exclude",
    islands: Literal["raise", "keep"] = "raise",
    ids: ArrayLike | None = None,
    n_jobs: int | None = None,
) -> FlowMoranResult:
    """Global Moran's I of an origin-destination flow (or residual) matrix.

    Parameters
    ----------
    F : array_like or sparse, shape (n, n)
        Flow or residual matrix, ``F[i, j]`` from origin ``i`` to destination ``j``,
        rows and columns in ``w.ids`` order (or ``ids`` order). For migration use
        residuals of a fitted gravity model: raw flows are dominated by size and
        distance and are "autocorrelated" by construction.
    w : SpatialWeights
        Zone weights, shape (n, n), used as given (transform them first if wanted).
    kind : {"od", "origin", "destination"}, default "od"
        Flow weights (libpysal ``ODW`` convention, flow index ``i * n + j``):
        ``"origin"`` is ``W ⊗ I`` (flows to the same destination from neighbouring
        origins), ``"destination"`` is ``I ⊗ W`` (flows from the same origin to
        neighbouring destinations), ``"od"`` is ``W ⊗ W`` (origins neighbours and
        destinations neighbours), exactly ``libpysal.weights.ODW(w, w)``.
    permutations : int or None, default 999
        Zone-label permutations for ``p_sim``; None for analytic inference only.
    rng : numpy.random.Generator, int or None
        As in :func:`morans_i`.
    alternative : {"two-sided", "greater", "less", "directed"}, default "two-sided"
    transformation : {"r", "b", "o"}, default "r"
        Applied to the flow weights after excluded flows are removed (``"r"``
        row-standardises them, as ``ODW`` does).
    diagonal : {"exclude", "include"}, default "exclude"
        Whether intra-zonal flows ``F[i, i]`` take part (excluded values may be NaN).
    islands : {"raise", "keep"}, default "raise"
        Flows without neighbouring flows raise, or are kept with zero lag.
    ids : array_like of str, shape (n,), optional
        Zone ids of ``F``'s rows/columns; ``F`` is aligned to ``w.ids`` by id.
    n_jobs : int, optional
        Threads evaluating permutations (default: every CPU for 100 zones or more, one
        below). The permutations are drawn up front from ``rng``, so results do not
        depend on ``n_jobs``; the compiled kernel releases the GIL.

    Returns
    -------
    FlowMoranResult

    Raises
    ------
    AlignmentError
        ``F`` is not ``(n, n)`` for the ``n`` zones of ``w`` or ids differ.
    ValidationError
        Fewer than 3 zones, NaN or constant flows, flow islands under ``"raise"``,
        non-positive ``permutations``, unknown options.

    Notes
    -----
    With ``Z = F - mean`` on the included flows (zero elsewhere) the spatial lag of
    all flows is the matrix product

    .. math::

        (W_\\text{flow} z)_{ij} = G_{ij} (A Z B^\\top)_{ij},

    where ``A = W, B = I`` (origin), ``A = I, B = W`` (destination), ``A = B = W``
    (od) and ``G`` the row standardisation; ``s0``, ``s1``, ``s2`` follow in closed
    form from sparse-times-dense products, so the analytic moments cost O(n^2 k)
    memory and time instead of the O(n^4)-sized flow weights.

    **Inference.** ``p_norm`` / ``p_rand`` are the usual analytic normality and
    randomisation p-values over the ``N`` flows (identical to ``esda.Moran`` on
    ``ODW``); they treat flows as exchangeable, which raw flows are not. ``p_sim``
    uses a **zone-label permutation (QAP) null**: the same random permutation of
    zones is applied to the rows and columns of ``F``, so each zone keeps its whole
    row and column of flows (origin and destination effects, the diagonal and the
    OD structure survive) and only the geography of the zones is randomised
    :cite:`hubert1987assignment`. On gravity residuals this null is calibrated; on raw
    flows it rejects because geography drives flow size. The default alternative is
    two-sided; use ``"greater"`` for the one-sided test of positive autocorrelation.
    """
    _check_options(permutations, alternative, transformation)
    flows, mask, system = _flow_inputs(
        F, w, ids, kind, diagonal, transformation, islands
    )
    n_zones = w.n
    values = flows[mask]
    N = int(values.size)
    Z = np.where(mask, flows - values.mean(), 0.0)
    z = Z[mask]
    z2ss = float(z @ z)
    s0, s1, s2 = system.moments()
    evaluate = _QAPEvaluator(system, Z)
    scale = N / s0 / z2ss
    value = scale * float(evaluate(np.arange(n_zones)[None, :])[0])
    ei, vi_norm, vi_rand = _moran_moments(N, s0, s1, s2, z)
    se_norm, se_rand = vi_norm**0.5, vi_rand**0.5
    z_norm, z_rand = (value - ei) / se_norm, (value - ei) / se_rand
    sim_fields: dict[str, Any] = dict.fromkeys(
        ("sim", "p_sim", "EI_sim", "VI_sim", "seI_sim", "z_sim", "p_z_sim")
    )
    seed = None
    if permutations is not None:
        generator, seed = _make_rng(rng)
        sim = np.empty(permutations)
        batch = max(1, min(permutations, _BATCH_ELEMENTS // n_zones))
        workers = _thread_count(n_jobs, n_zones, permutations)
        with ThreadPoolExecutor(workers) as pool:
            for start in range(0, permutations, batch):
                perms = _permuted_indices(
                    generator, n_zones, min(batch, permutations - start)
                )
                # a permutation's value is computed alike in any thread, so the
                # split among threads does not change the results
                shares = np.array_split(perms, workers)
                values = np.concatenate(list(pool.map(evaluate, shares)))
                sim[start : start + values.size] = scale * values
        ei_s, vi_s, se_s, z_s, pz_s = _sim_moments(value, sim, alternative)
        _freeze(sim)
        sim_fields = {
            "sim": sim,
            "p_sim": float(pseudo_p_value(value, sim, alternative)),
            "EI_sim": float(ei_s),
            "VI_sim": float(vi_s),
            "seI_sim": float(se_s),
            "z_sim": float(z_s),
            "p_z_sim": float(pz_s),
        }
    return FlowMoranResult(
        I=float(value),
        EI=ei,
        VI_norm=vi_norm,
        seI_norm=se_norm,
        z_norm=float(z_norm),
        p_norm=float(_normal_p(z_norm, alternative)),
        VI_rand=vi_rand,
        seI_rand=se_rand,
        z_rand=float(z_rand),
        p_rand=float(_normal_p(z_rand, alternative)),
        n=N,
        alternative=alternative,
        permutations=permutations,
        seed=seed,
        transformation=transformation,
        dropped_ids=(),
        null="zone-label permutation (QAP): one permutation of zones applied to rows "
        "and columns of F",
        kind=kind,
        diagonal=diagonal,
        n_zones=n_zones,
        island_flows=int((mask & (system.row_sums == 0)).sum()),
        s0=s0,
        s1=s1,
        s2=s2,
        **sim_fields,
    )


def _flow_weight_rows(
    system: _FlowSystem, origins: NDArray[np.int64], compact: NDArray[np.int64]
) -> tuple[sparse.csr_array, NDArray[np.int64]]:
    """Explicit flow-weight rows for the included flows leaving ``origins``.

    Returns the rows (columns indexed by compact flow number) and the compact
    numbers of the focal flows. Only ``len(origins) * n`` rows exist at a time.
    """
    n = system.G.shape[0]
    block = sparse.kron(system.A[origins], system.B, format="csr")
    focal_full = (origins[:, None] * n + np.arange(n)).ravel()
    keep_rows = compact[focal_full] >= 0
    block = block[np.flatnonzero(keep_rows)].tocoo()
    col = compact[block.col]
    ok = col >= 0
    focal = compact[focal_full[keep_rows]]
    scale = system.G.ravel()[focal_full[keep_rows]]
    rows = sparse.csr_array(
        (block.data[ok] * scale[block.row[ok]], (block.row[ok], col[ok])),
        shape=(focal.size, int(compact.max()) + 1),
    )
    return rows, focal


def local_flow_morans(
    F: ArrayLike,
    w: SpatialWeights,
    *,
    kind: Literal["origin", "destination", "od"] = "od",
    permutations: int = 999,
    rng: np.random.Generator | int | None = None,
    alternative: Alternative = "two-sided",
    transformation: Literal["r", "b", "o"] = "r",
    diagonal: Literal["exclude", "include"] = "exclude",
    islands: Literal["raise", "keep"] = "raise",
    ids: ArrayLike | None = None,
    alpha: float = 0.05,
    fdr: float | None = None,
) -> LocalFlowMoranResult:
    """Local Moran's I of every flow, with conditional-permutation pseudo p-values.

    Parameters
    ----------
    F, w, kind, transformation, diagonal, islands, ids
        As in :func:`flow_morans_i`.
    permutations : int, default 999
        Conditional permutations per flow (positive).
    rng, alternative, alpha, fdr
        As in :func:`local_morans`.

    Returns
    -------
    LocalFlowMoranResult
        ``(n, n)`` matrices; ``Is`` equals ``esda.Moran_Local`` on ``ODW``.

    Raises
    ------
    AlignmentError, ValidationError
        As in :func:`flow_morans_i`.

    Notes
    -----
    The local statistics come from one implicit lag (matrix products). The null is
    esda's conditional randomisation over flows: the focal flow is fixed and its
    neighbours' values are drawn from the other included flows. Flow-weight rows
    are formed one block of origins at a time, never as a whole; the cost is
    O(N * permutations * cardinality): well under a second for the 380 regional
    flows, and growing linearly with the number of flows beyond that.
    """
    _check_options(permutations, alternative, transformation, allow_none=False)
    _check_level(alpha, "alpha")
    _check_level(fdr, "fdr")
    flows, mask, system = _flow_inputs(
        F, w, ids, kind, diagonal, transformation, islands
    )
    n = w.n
    values = flows[mask]
    N = values.size
    z = (values - values.mean()) / values.std()
    Z = np.zeros((n, n))
    Z[mask] = z
    lag = system.lag(Z)
    scale = (N - 1) / float(z @ z)
    local_i = scale * Z * lag
    compact = np.full(n * n, -1, dtype=np.int64)
    compact[np.flatnonzero(mask.ravel())] = np.arange(N)
    generator, seed = _make_rng(rng)
    cardinality = np.where(
        mask,
        _sandwich(
            (system.A != 0).astype(np.float64).tocsr(),
            mask.astype(np.float64),
            (system.B != 0).astype(np.float64).tocsr(),
        ),
        0,
    )
    max_card = max(1, round(cardinality.max()))
    slots = _draw_neighbour_slots(generator, N, min(max_card, N - 1), permutations)
    p_flat = np.full(N, np.nan)
    moments = np.full((5, N), np.nan)
    # bound the (flows in block, permutations) simulation array
    step = max(1, _BATCH_ELEMENTS // (n * permutations))
    for lo in range(0, n, step):
        origins = np.arange(lo, min(lo + step, n))
        rows, focal = _flow_weight_rows(system, origins, compact)
        sims = _conditional_sims(rows, focal, z, z, slots, scale)
        obs = local_i.ravel()[np.flatnonzero(mask.ravel())][focal]
        p_flat[focal] = pseudo_p_value(obs, sims.T, alternative)
        moments[:, focal] = np.vstack(_sim_moments(obs, sims.T, alternative))
    island = mask & (system.row_sums == 0)

    def as_matrix(flat: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.full((n, n), np.nan)
        out[mask] = flat
        return out

    p_sim = as_matrix(p_flat)
    p_sim[island] = np.nan
    q = np.where(mask, _quadrants(Z, lag), 0)
    q[island] = 0
    sig_flat = (
        _bh_significant(p_sim[mask], fdr)
        if fdr is not None
        else np.nan_to_num(p_sim[mask], nan=1.0) <= alpha
    )
    significant = np.zeros((n, n), dtype=bool)
    significant[mask] = sig_flat
    labels = np.where(mask, _labels(q, significant), "")
    labels[island] = _ISLAND
    local_i = np.where(mask, local_i, np.nan)
    ei_s, vi_s, se_s, z_s, pz_s = (as_matrix(m) for m in moments)
    _freeze(local_i, q, p_sim, significant, labels, ei_s, vi_s, se_s, z_s, pz_s)
    return LocalFlowMoranResult(
        ids=w.ids,
        kind=kind,
        diagonal=diagonal,
        Is=local_i,
        q=q.astype(np.int64),
        p_sim=p_sim,
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
        null="conditional randomisation over the included flows",
    )
