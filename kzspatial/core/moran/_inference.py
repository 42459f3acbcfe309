"""Inference shared by every Moran statistic: pseudo p-values, moments, randomness.

One place decides what a p-value means (:func:`pseudo_p_value`, :func:`normal_p`),
how permutations are drawn (:func:`make_rng`, :func:`permuted_indices`) and which
fields a global result carries (:func:`analytic_fields`, :func:`sim_fields`). The
vocabulary and ``p_sim`` follow ``esda.moran`` :cite:`rey2010pysal`; the analytic
moments are those of Cliff and Ord :cite:`cliff1981spatial`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from kzspatial._errors import ValidationError

__all__ = [
    "ALTERNATIVES",
    "BATCH_ELEMENTS",
    "PERMUTATION_STATS",
    "Alternative",
    "analytic_fields",
    "bh_significant",
    "check_level",
    "check_options",
    "decision_p",
    "freeze",
    "make_rng",
    "moran_moments",
    "no_sim_fields",
    "normal_p",
    "p_sim_alternative",
    "permuted_indices",
    "pseudo_p_value",
    "sim_fields",
    "sim_moments",
]

Alternative = Literal["two-sided", "greater", "less", "directed"]
ALTERNATIVES = ("two-sided", "greater", "less", "directed")
# elements per permutation batch (bounds temporary memory to ~32 MB of float64)
BATCH_ELEMENTS = 1 << 22
#: statistics every permutation result carries (per unit for the local ones)
PERMUTATION_STATS = (
    "p_sim",
    "p_sim_two_sided",
    "EI_sim",
    "VI_sim",
    "seI_sim",
    "z_sim",
    "p_z_sim",
)


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
        p-values (capped at 1); ``"directed"`` is esda's ``p_sim``: ``larger`` counts
        ``sim >= observed`` and is replaced by ``permutations - larger`` when that is
        smaller, i.e. the one-sided p-value in the tail the statistic falls in
        (``esda.moran.Moran``, ``esda.significance`` ``"directed"``).

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
            f"alternative must be one of {ALTERNATIVES}, got {alternative!r}"
        )
    return (count + 1.0) / (n_perm + 1.0)


def p_sim_alternative(alternative: str) -> str:
    """Alternative of ``p_sim``: the stated direction, otherwise esda's (directed)."""
    return alternative if alternative in ("greater", "less") else "directed"


def decision_p(result: Any) -> Any:
    """Return the pseudo p-value of the test the result's ``alternative`` asks for.

    ``p_sim_two_sided`` for ``"two-sided"``, ``p_sim`` otherwise; significance flags
    are decided on it.
    """
    return result.p_sim_two_sided if result.alternative == "two-sided" else result.p_sim


def normal_p(z: Any, alternative: str) -> Any:
    """Normal-approximation p-value for the same alternatives as pseudo_p_value."""
    if alternative == "greater":
        return special.ndtr(-z)
    if alternative == "less":
        return special.ndtr(z)
    if alternative == "two-sided":
        return 2.0 * special.ndtr(-np.abs(z))
    return special.ndtr(-np.abs(z))  # directed: the tail the statistic falls in


def check_options(
    permutations: int | None,
    alternative: str,
    transformation: str,
    *,
    allow_none: bool = True,
) -> None:
    """Validate the options common to all statistics, reporting every problem."""
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
    if alternative not in ALTERNATIVES:
        problems.append(
            f"alternative must be one of {ALTERNATIVES}, got {alternative!r}"
        )
    if transformation not in ("r", "b", "o"):
        problems.append(
            f"transformation must be 'r', 'b' or 'o' (as given), got {transformation!r}"
        )
    if problems:
        raise ValidationError("; ".join(problems))


def check_level(value: float | None, name: str) -> None:
    """Raise unless ``value`` is None or in (0, 1)."""
    if value is not None and not (0 < value < 1):
        raise ValidationError(f"{name} must be in (0, 1), got {value!r}")


def make_rng(
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


def permuted_indices(rng: np.random.Generator, n: int, count: int) -> NDArray[np.intp]:
    """``count`` independent permutations of ``range(n)``, shape (count, n)."""
    return rng.permuted(np.tile(np.arange(n), (count, 1)), axis=1)


def freeze(*arrays: NDArray[Any] | None) -> None:
    """Make result arrays read-only (results are frozen values)."""
    for arr in arrays:
        if arr is not None:
            arr.flags.writeable = False


def sim_moments(
    observed: Any, sim: NDArray[np.float64], alternative: str
) -> tuple[Any, Any, Any, Any, Any]:
    """Mean, variance (ddof 0), sd of ``sim`` along axis 0, z of ``observed``, its p."""
    ei = sim.mean(axis=0)
    se = sim.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed - ei) / se
    return ei, se**2, se, z, normal_p(z, alternative)


def moran_moments(
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


def analytic_fields(
    value: float,
    n: int,
    moments: tuple[float, float, float],
    z: NDArray[np.float64],
    alternative: str,
) -> dict[str, float]:
    """Compute E[I], the variances, z and p of I under normality and randomisation."""
    ei, vi_norm, vi_rand = moran_moments(n, *moments, z)
    se_norm, se_rand = vi_norm**0.5, vi_rand**0.5
    z_norm, z_rand = (value - ei) / se_norm, (value - ei) / se_rand
    return {
        "EI": ei,
        "VI_norm": vi_norm,
        "seI_norm": se_norm,
        "z_norm": float(z_norm),
        "p_norm": float(normal_p(z_norm, alternative)),
        "VI_rand": vi_rand,
        "seI_rand": se_rand,
        "z_rand": float(z_rand),
        "p_rand": float(normal_p(z_rand, alternative)),
    }


def no_sim_fields() -> dict[str, Any]:
    """Permutation fields of a result computed without permutations (all None)."""
    return dict.fromkeys(("sim", *PERMUTATION_STATS))


def sim_fields(
    value: float, sim: NDArray[np.float64], alternative: str
) -> dict[str, Any]:
    """Permutation fields of a global result from its simulated statistics."""
    ei_s, vi_s, se_s, z_s, pz_s = sim_moments(value, sim, alternative)
    freeze(sim)
    return {
        "sim": sim,
        "p_sim": float(pseudo_p_value(value, sim, p_sim_alternative(alternative))),
        "p_sim_two_sided": float(pseudo_p_value(value, sim, "two-sided")),
        "EI_sim": float(ei_s),
        "VI_sim": float(vi_s),
        "seI_sim": float(se_s),
        "z_sim": float(z_s),
        "p_z_sim": float(pz_s),
    }


def bh_significant(p: NDArray[np.float64], level: float) -> NDArray[np.bool_]:
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
