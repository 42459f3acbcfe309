"""Sandwich covariances of a gravity fit: HC0 and cluster-robust (CRV1).

The fixed effects are profiled out, so every covariance is that of the few ``theta``
(decay and covariates), from score sums computed block by block (:func:`_block_scores`).
Clusters are origin zones, destination zones, or both (Cameron, Gelbach and Miller
2011: origin + destination - origin×destination pair).

References
----------
- Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2011). Robust inference with
  multiway clustering. Journal of Business & Economic Statistics, 29(2), 238-249.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from kzspatial.core.gravity.blocks import (
    _BY_ORIGIN,
    _block_residual_moments,
    _Design,
    _map_reduce,
)
from kzspatial.core.gravity.engine import _Solution

_CLUSTER_SCHEMES = ("origin", "destination", "two-way")


def _std_errors(cov: NDArray[np.float64]) -> NDArray[np.float64]:
    """Square roots of the variances; NaN where a (two-way) variance is negative."""
    variances = np.diag(cov)
    return np.sqrt(variances, out=np.full_like(variances, np.nan), where=variances >= 0)


@dataclasses.dataclass(frozen=True)
class _ScoreSums:
    """Sums of the scores ``r x`` (``r = y - mu``) behind the sandwich meats.

    ``x`` are the columns of the augmented design of :func:`_covariances` (``q`` of
    them), except in ``by_pair``, which is already in theta's coordinates.
    """

    by_origin: NDArray[np.float64] = dataclasses.field(metadata=_BY_ORIGIN)
    by_destination: NDArray[np.float64]  # (T, n, q) sum_i r x; by_origin sum_j r x
    squares: NDArray[np.float64]  # (q, q) sum r^2 x x'
    by_pair: NDArray[np.float64]  # (p, p) sum over pairs of s s', s = sum_t r x_tilde
    n_pairs: int  # pairs modelled in some year (panels; 0 for one year)


def _block_scores(
    d: _Design, mu: NDArray[np.float64], *, to_theta: NDArray[np.float64]
) -> _ScoreSums:
    """Sum the scores of one block of origin rows; a pair lies in its origin's block.

    The residuals and their squares are formed row by row inside the compiled moment
    sweeps; only a panel's pair clusters need them as arrays.
    """
    first, squares = _block_residual_moments(d, mu)
    p = to_theta.shape[0]
    meat_pair, n_pairs = np.zeros((p, p)), 0
    if d.y.shape[0] > 1:
        resid = np.subtract(d.y, mu)
        kp, ko = d.n_pair, d.origin.shape[2]
        by_pair = np.empty((d.y.shape[1] * d.y.shape[2], p))
        x = np.empty_like(resid)  # column k of x_tilde, built in this workspace
        for k in range(p):
            x.fill(0.0)
            for term, weight in enumerate(to_theta[k]):
                if weight == 0:
                    continue
                if term < kp:
                    x += d.pair[term]
                elif term < kp + ko:
                    x += d.origin[..., term - kp, None]
                else:
                    x += d.destination[:, None, :, term - kp - ko]
            by_pair[:, k] = np.multiply(x, resid, out=x).sum(axis=0).ravel()
        meat_pair = by_pair.T @ by_pair
        n_pairs = int(d.modelled().any(axis=0).sum())
    return _ScoreSums(first.row, first.col, squares.gram, meat_pair, n_pairs)


def _covariances(
    d: _Design, sol: _Solution
) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]]]:
    """HC0 and cluster-robust sandwich covariances of theta with the effects profiled out.

    By the partitioned inverse, the theta block of the full sandwich is
    ``H^-1 (sum s s') H^-1`` with scores ``s = (y - mu) x_tilde``, ``x_tilde = x - za_i
    - zb_j`` the regressors minus their projection on the fixed effects. ``x_tilde`` is
    a linear map ``L`` of an augmented design whose zone-level columns include ``-za``
    and ``-zb``, so every meat is ``L (weighted moments) L'`` without forming the
    ``p`` score arrays; only the pair clusters of a panel need them.
    """
    p, kp = d.n_theta, d.n_pair
    ko, kd = d.origin.shape[2], d.destination.shape[2]
    za = sol.partial.za if d.origin_fe else np.zeros((*sol.partial.za.shape[:2], 0))
    zb = (
        sol.partial.zb if d.destination_fe else np.zeros((*sol.partial.zb.shape[:2], 0))
    )
    augmented = dataclasses.replace(
        d,
        origin=np.concatenate([d.origin, -za], axis=2),
        destination=np.concatenate([d.destination, -zb], axis=2),
        names=tuple(f"x{k}" for k in range(p + za.shape[2] + zb.shape[2])),
    )
    ko_aug = ko + za.shape[2]
    to_theta = np.zeros((p, len(augmented.names)))
    to_theta[np.arange(kp + ko), np.arange(kp + ko)] = 1.0
    to_theta[kp + ko + np.arange(kd), kp + ko_aug + np.arange(kd)] = 1.0
    if za.shape[2]:
        to_theta[np.arange(p), kp + ko + np.arange(p)] = 1.0
    if zb.shape[2]:
        to_theta[np.arange(p), kp + ko_aug + kd + np.arange(p)] = 1.0

    bread = np.linalg.inv(sol.partial.hessian)
    sums = _map_reduce(augmented, _block_scores, sol.mu, to_theta=to_theta)
    by_origin = sums.by_origin.sum(axis=0) @ to_theta.T
    by_destination = sums.by_destination.sum(axis=0) @ to_theta.T
    meat_hc0 = to_theta @ sums.squares @ to_theta.T
    if d.y.shape[0] > 1:
        meat_pair, n_pairs = sums.by_pair, sums.n_pairs
    else:
        meat_pair, n_pairs = meat_hc0, d.n_modelled()

    def sandwich(meat: NDArray[np.float64], n_clusters: int) -> NDArray[np.float64]:
        return n_clusters / (n_clusters - 1) * bread @ meat @ bread

    cov_origin = sandwich(
        by_origin.T @ by_origin, int(d.active_origins.any(axis=0).sum())
    )
    cov_destination = sandwich(
        by_destination.T @ by_destination, int(d.active_destinations.any(axis=0).sum())
    )
    clustered = {
        "origin": cov_origin,
        "destination": cov_destination,
        "two-way": cov_origin + cov_destination - sandwich(meat_pair, n_pairs),
    }
    return bread @ meat_hc0 @ bread, clustered
