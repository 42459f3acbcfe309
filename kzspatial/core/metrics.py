"""Goodness-of-fit metrics of predicted flows: Poisson deviance, SRMSE, SSI, AIC.

Every metric is defined once, as a method of :class:`FitSums`, on a handful of sums
over the scored cells. The sums are additive, so the same definitions serve whole
matrices (:func:`poisson_deviance`, :func:`srmse`, :func:`ssi`,
:func:`kzspatial.core.baselines.compare_models`) and the block-by-block passes of
:func:`kzspatial.core.gravity.fit_gravity`, which add up :func:`fit_sums` of each block
of origin rows. Metric names follow ``spint`` (Oshan 2016).

References
----------
- Oshan, T. M. (2016). A primer for working with the Spatial Interaction modeling
  (SpInt) module in the python spatial analysis library (PySAL). Region, 3(2), R11-R23.
- Cameron, A. C. and Windmeijer, F. A. G. (1996). R-squared measures for count data
  regression models with applications to health-care utilization. Journal of Business
  & Economic Statistics, 14(2), 209-220.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from kzspatial._errors import AlignmentError

__all__ = [
    "FitSums",
    "fit_sums",
    "poisson_deviance",
    "srmse",
    "ssi",
    "unit_deviance",
]


@dataclasses.dataclass(frozen=True)
class FitSums:
    """Sums over scored cells behind the likelihood and the fit metrics, all additive.

    Sums of two disjoint sets of cells are the sums of their union (field by field),
    which is how the row blocks of a gravity fit are combined.

    Attributes
    ----------
    y_total, mu_total : float
        ``sum y`` and ``sum mu``.
    y_log_y : float
        ``sum y log y`` (0 for ``y = 0``).
    y_log_mu : float or None
        ``sum y log mu``; None when the caller has it from sufficient statistics
        (a gravity fit: ``theta'X'y + alpha'O + delta'D``) and supplies it later.
    y_log_ratio : float or None
        ``sum y log(y / mu)``, summed cell by cell where the cells are at hand, so that
        a perfect fit has a deviance of exactly zero; None with ``y_log_mu``.
    log_factorials : float
        ``sum log y!`` (``gammaln(y + 1)`` for real flows).
    squared_residuals : float
        ``sum (y - mu)^2``.
    common : float
        ``sum min(y, mu)``, the numerator of the SSI.
    """

    y_total: float
    mu_total: float
    y_log_y: float
    y_log_mu: float | None
    y_log_ratio: float | None
    log_factorials: float
    squared_residuals: float
    common: float

    def deviance(self) -> float:
        """Poisson deviance ``2 sum(y log(y/mu) - (y - mu))``."""
        return float(2.0 * (self.y_log_ratio - self.y_total + self.mu_total))

    def null_deviance(self, n_cells: int) -> float:
        """Deviance of the intercept-only model, ``mu`` the mean of ``n_cells`` flows."""
        return float(
            2.0 * (self.y_log_y - self.y_total * np.log(self.y_total / n_cells))
        )

    def pseudo_r2(self, n_cells: int) -> float:
        """Deviance-based pseudo-R², ``1 - deviance / null_deviance``.

        Cameron and Windmeijer's R²_DEV for the Poisson model, not McFadden's.
        """
        return float(1.0 - self.deviance() / self.null_deviance(n_cells))

    def llf(self) -> float:
        """Poisson log-likelihood ``sum(y log mu - mu - log y!)``."""
        return float(self.y_log_mu - self.mu_total - self.log_factorials)

    def aic(self, n_params: int) -> float:
        """Akaike information criterion ``-2 llf + 2 n_params``."""
        return float(-2.0 * self.llf() + 2.0 * n_params)

    def srmse(self, n_cells: int) -> float:
        """Standardised RMSE ``sqrt(mean((y - mu)^2)) / mean(y)`` over ``n_cells``."""
        return float(
            np.sqrt(self.squared_residuals / n_cells) / (self.y_total / n_cells)
        )

    def ssi(self) -> float:
        """Sørensen similarity index ``2 sum(min(y, mu)) / (sum(y) + sum(mu))``."""
        return float(2.0 * self.common / (self.y_total + self.mu_total))


def _count_terms(y: NDArray[np.float64]) -> tuple[float, float]:
    """``sum(y log y)`` and ``sum(log y!)`` (``gammaln(y + 1)``) of the flows.

    Integer flows are tabulated first, so the special functions run once per distinct
    value rather than once per cell.
    """
    if y.size == 0:
        return 0.0, 0.0
    peak = float(y.max())
    if peak < 4 * y.size and y.min() >= 0 and np.all(y == np.floor(y)):
        return _tally_terms(np.bincount(y.astype(np.int64).ravel()))
    return float(special.xlogy(y, y).sum()), float(special.gammaln(y + 1.0).sum())


def _tally_terms(tally: NDArray[np.int64]) -> tuple[float, float]:
    """``sum(y log y)`` and ``sum(log y!)`` of integer flows counted by value.

    ``tally[v]`` is the number of flows equal to ``v``; the special functions run
    once per value that occurs.
    """
    present = np.flatnonzero(tally)
    counts, values = tally[present], present.astype(np.float64)
    return (
        float(counts @ special.xlogy(values, values)),
        float(counts @ special.gammaln(values + 1.0)),
    )


def fit_sums(
    y: NDArray[np.float64], mu: NDArray[np.float64], *, with_log_mu: bool = True
) -> FitSums:
    """Sum observed ``y`` and predicted ``mu`` over all cells into :class:`FitSums`.

    Parameters
    ----------
    y, mu : ndarray, same shape
        Observed (``>= 0``) and predicted flows; every cell is scored, so cells outside
        the model must be dropped (or be zero in both) beforehand.
    with_log_mu : bool
        Compute ``sum y log mu`` and ``sum y log(y / mu)``; False leaves them None (two
        ``log`` per cell saved when the caller knows them otherwise).

    Returns
    -------
    FitSums
    """
    y_log_y, log_factorials = _count_terms(y)
    resid = np.subtract(y, mu)
    squared_residuals = float(np.vdot(resid, resid))
    common = float(np.minimum(y, mu, out=resid).sum())
    y_log_mu = y_log_ratio = None
    if with_log_mu:
        # mu = 0 where y > 0: log-likelihood -inf; NaN flows give NaN
        with np.errstate(divide="ignore", invalid="ignore"):
            log_mu_terms = special.xlogy(y, mu)
            y_log_mu = float(log_mu_terms.sum())
            y_log_ratio = float(np.sum(special.xlogy(y, y) - log_mu_terms))
    return FitSums(
        float(y.sum()),
        float(mu.sum()),
        y_log_y,
        y_log_mu,
        y_log_ratio,
        log_factorials,
        squared_residuals,
        common,
    )


def _finite_sums(observed: ArrayLike, fitted: ArrayLike) -> tuple[FitSums, int]:
    """Return the sums over the cells where both arrays are finite, and their number."""
    y = np.asarray(observed, dtype=np.float64)
    mu = np.asarray(fitted, dtype=np.float64)
    if y.shape != mu.shape:
        raise AlignmentError(
            f"observed and fitted differ in shape: {y.shape} vs {mu.shape}"
        )
    modelled = np.isfinite(mu) & np.isfinite(y)
    return fit_sums(y[modelled], mu[modelled]), int(modelled.sum())


def unit_deviance(
    y: NDArray[np.float64], mu: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-cell Poisson deviance ``2 (y log(y/mu) - (y - mu))``, the deviance residual².

    Parameters
    ----------
    y, mu : ndarray, same shape

    Returns
    -------
    ndarray, shape of ``y``
        NaN where either input is NaN.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))


def poisson_deviance(observed: ArrayLike, fitted: ArrayLike) -> float:
    """Poisson deviance ``2 sum(y log(y/mu) - (y - mu))`` over cells with finite ``fitted``.

    Parameters
    ----------
    observed, fitted : array_like, same shape
        Observed and predicted flows; cells where either is NaN (e.g. excluded
        intra-zonal flows) are ignored.

    Returns
    -------
    float
    """
    return _finite_sums(observed, fitted)[0].deviance()


def srmse(observed: ArrayLike, fitted: ArrayLike) -> float:
    """Standardised root mean square error, RMSE divided by the mean observed flow.

    Parameters
    ----------
    observed, fitted : array_like, same shape
        Cells where either is NaN are ignored.

    Returns
    -------
    float
        ``sqrt(mean((y - mu)^2)) / mean(y)``; 0 is a perfect fit.
    """
    sums, n_cells = _finite_sums(observed, fitted)
    return sums.srmse(n_cells)


def ssi(observed: ArrayLike, fitted: ArrayLike) -> float:
    """Sørensen similarity index (common part of commuters, CPC).

    Parameters
    ----------
    observed, fitted : array_like, same shape
        Cells where either is NaN are ignored.

    Returns
    -------
    float
        ``2 sum(min(y, mu)) / (sum(y) + sum(mu))``, in [0, 1]; 1 is a perfect fit.
    """
    return _finite_sums(observed, fitted)[0].ssi()
