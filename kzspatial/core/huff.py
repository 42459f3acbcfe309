r"""Calibrated Huff model: hub attractiveness and distance decay fitted to observed choices.

The mass-only Huff model (:func:`kzspatial.core.catchments.huff_probabilities` with
attractiveness taken from population or a gravity model's destination covariates)
assumes what it should measure: how strongly each hub pulls. :func:`fit_hub_choice`
estimates it from where movers actually went. Out-migrants of origin :math:`i` who
moved to one of the hubs chose hub :math:`h` with probability

.. math:: P_{ih} = \frac{\exp(\gamma_h + \beta\, g(d_{ih}))}
                        {\sum_k \exp(\gamma_k + \beta\, g(d_{ik}))},

a multinomial (conditional) logit, i.e. the Huff/MCI model with
:math:`A_h = \exp(\gamma_h)` :cite:`huff1963`, where ``g = log`` for power decay and the
identity for exponential decay. One constant is fixed (:math:`\gamma_{\mathrm{ref}} = 0`);
:math:`\beta` and the other constants are estimated together by maximum likelihood
(Newton's method on the concave log-likelihood), with standard errors from the inverse
observed information. Because every migrant counts as an independent choice, the
model-based standard errors are far too small when choices cluster by origin; the
Pearson dispersion :math:`\phi = \chi^2 / (N_{cells} - N_{origins} - k)` scales them into
quasi-likelihood standard errors, reported alongside.

The same likelihood is a Poisson regression of the counts on origin and hub effects and
:math:`g(d)`, so a Poisson GLM gives the same estimates and standard errors (the tests
check this against statsmodels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kzspatial._errors import AlignmentError, IdentificationError, ValidationError
from kzspatial.core.catchments import HuffResult, huff_probabilities
from kzspatial.core.catchments._checks import _check_cost
from kzspatial.core.decay import decay_regressor

__all__ = [
    "HubChoiceFit",
    "HubChoiceModelCheck",
    "check_hub_choice_models",
    "choice_loglik",
    "fit_hub_choice",
]

_MAX_ITER = 100
_GRAD_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class HubChoiceFit:
    r"""Maximum-likelihood fit of the Huff/MCI hub-choice model.

    Attributes
    ----------
    hubs : tuple of str, length h
    origins : tuple of str, length n
        The choosers (origins) the model was fitted on.
    reference : str
        Hub whose log attractiveness is fixed at 0.
    cost_func : str
        ``"pow"`` or ``"exp"``.
    min_cost : float
        Cost floor applied before ``g``.
    beta : float
        Distance decay (negative = decay).
    log_attractiveness : numpy.ndarray, shape (h,)
        :math:`\gamma_h`, 0 for the reference hub.
    param_names : tuple of str
        ``("beta", "log_A:<hub>", ...)`` for every hub but the reference.
    params, se, se_quasi : numpy.ndarray, shape (k,)
        Estimates, model-based standard errors (inverse observed information) and
        quasi-likelihood standard errors (scaled by ``sqrt(dispersion)``).
    cov : numpy.ndarray, shape (k, k)
        Inverse observed information.
    dispersion : float
        Pearson chi-square over residual degrees of freedom (1 = no overdispersion).
    loglik, loglik_null : float
        Multinomial log-likelihood (without the multinomial coefficient) at the
        estimates and with equal probabilities for every hub.
    n_choices : float
        Movers to a hub, summed over origins.
    n_iter : int
        Newton iterations.
    """

    hubs: tuple[str, ...]
    origins: tuple[str, ...]
    reference: str
    cost_func: str
    min_cost: float
    beta: float
    log_attractiveness: NDArray[np.float64]
    param_names: tuple[str, ...]
    params: NDArray[np.float64]
    se: NDArray[np.float64]
    se_quasi: NDArray[np.float64]
    cov: NDArray[np.float64]
    dispersion: float
    loglik: float
    loglik_null: float
    n_choices: float
    n_iter: int

    @property
    def attractiveness(self) -> dict[str, float]:
        r"""Hub attractiveness :math:`A_h = \exp(\gamma_h)` (1 for the reference hub)."""
        return {
            h: float(np.exp(g))
            for h, g in zip(self.hubs, self.log_attractiveness, strict=True)
        }

    def predict(
        self, cost_to_hubs: ArrayLike, *, dtype=np.float64, **kwargs
    ) -> HuffResult:
        """Huff probabilities of the fitted model for any locations.

        Parameters
        ----------
        cost_to_hubs : array_like, shape (m, h)
            Costs to the hubs, in the units and hub order of the fit.
        dtype : numpy dtype, keyword-only, default float64
        **kwargs
            Passed to :func:`kzspatial.core.catchments.huff_probabilities`
            (e.g. ``max_memory_bytes``).

        Returns
        -------
        HuffResult
        """
        return huff_probabilities(
            cost_to_hubs,
            np.exp(self.log_attractiveness),
            self.beta,
            self.cost_func,
            hubs=self.hubs,
            min_cost=self.min_cost,
            dtype=dtype,
            **kwargs,
        )


def _check_inputs(counts, cost, hubs, origins, reference):
    count = np.asarray(counts, dtype=np.float64)
    dist = np.asarray(cost, dtype=np.float64)
    if count.ndim != 2 or count.shape != dist.shape:
        raise AlignmentError(
            f"counts have shape {count.shape} and cost {dist.shape}; both must be "
            "(origins, hubs)"
        )
    n, h = count.shape
    hub_tuple = tuple(str(x) for x in hubs)
    if len(hub_tuple) != h or len(set(hub_tuple)) != h:
        raise AlignmentError(f"need {h} distinct hub names, got {list(hub_tuple)}")
    if h < 2:
        raise ValidationError("a choice among hubs needs at least two hubs")
    origin_tuple = (
        tuple(f"origin {i}" for i in range(n))
        if origins is None
        else tuple(str(o) for o in origins)
    )
    if len(origin_tuple) != n:
        raise AlignmentError(f"{len(origin_tuple)} origin names for {n} count rows")
    bad = np.flatnonzero(~np.isfinite(count).all(axis=1) | (count < 0).any(axis=1))
    if bad.size:
        raise ValidationError(
            f"counts of origins {[origin_tuple[i] for i in bad[:10]]} are missing or "
            "negative; movers must be finite counts >= 0"
        )
    if reference not in hub_tuple:
        raise ValidationError(
            f"reference hub {reference!r} is not one of the hubs {list(hub_tuple)}"
        )
    if np.any(count.sum(axis=0) == 0):
        empty = [hub_tuple[k] for k in np.flatnonzero(count.sum(axis=0) == 0)]
        raise ValidationError(
            f"no mover chose hubs {empty}; their attractiveness is not identified, "
            "drop them"
        )
    return count, dist, hub_tuple, origin_tuple


def _prepared(counts, cost_to_hubs, hubs, origins, reference, cost_func, min_cost):
    """Check the inputs; return counts, decay regressor, names and the reference's index."""
    ref_name = str(hubs[0]) if reference is None and len(hubs) else str(reference)
    count, cost, hub_tuple, origin_tuple = _check_inputs(
        counts, cost_to_hubs, hubs, origins, ref_name
    )
    _check_cost(cost, hub_tuple, cost_func, min_cost)  # the Huff checks of costs
    x = decay_regressor(cost_func)(np.maximum(cost, min_cost))
    return count, x, hub_tuple, origin_tuple, hub_tuple.index(ref_name)


def _design(x: NDArray, ref: int) -> NDArray[np.float64]:
    """Regressors z_ihk: the decay term and one dummy per non-reference hub."""
    n, h = x.shape
    others = [k for k in range(h) if k != ref]
    z = np.zeros((n, h, h))
    z[:, :, 0] = x
    for j, k in enumerate(others, start=1):
        z[:, k, j] = 1.0
    return z


def _probabilities(z: NDArray, theta: NDArray) -> NDArray[np.float64]:
    util = z @ theta
    util -= util.max(axis=1, keepdims=True)
    np.exp(util, out=util)
    util /= util.sum(axis=1, keepdims=True)
    return util


def choice_loglik(counts: ArrayLike, probabilities: ArrayLike) -> NDArray[np.float64]:
    r"""Multinomial log-likelihood of each origin's choices, :math:`\sum_h c_{ih}\log P_{ih}`.

    Parameters
    ----------
    counts : array_like, shape (n, h)
        Movers from each origin to each hub.
    probabilities : array_like, shape (n, h)
        Model probabilities; rows sum to 1.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Without the multinomial coefficient; cells with no movers add 0.
    """
    c = np.asarray(counts, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if c.shape != p.shape:
        raise AlignmentError(f"counts {c.shape} and probabilities {p.shape} differ")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c > 0, c * np.log(p), 0.0)
    return terms.sum(axis=1)


def fit_hub_choice(
    counts: ArrayLike,
    cost_to_hubs: ArrayLike,
    hubs: Sequence[str],
    *,
    origins: Sequence[str] | None = None,
    reference: str | None = None,
    cost_func: str = "pow",
    min_cost: float = 0.0,
) -> HubChoiceFit:
    r"""Fit hub attractiveness and distance decay to observed choices among hubs.

    Parameters
    ----------
    counts : array_like, shape (n, h)
        Movers from each origin (row) to each hub (column); finite, >= 0. Rows with no
        movers carry no information and are allowed.
    cost_to_hubs : array_like, shape (n, h)
        Cost (km) from each origin to each hub.
    hubs : sequence of str, length h
    origins : sequence of str, length n, optional, keyword-only
        Origin names, for the result and error messages.
    reference : str, optional, keyword-only
        Hub with :math:`\gamma = 0` (default: the first).
    cost_func : {"pow", "exp"}, keyword-only
    min_cost : float, keyword-only, default 0.0
        Cost floor; power decay needs positive costs.

    Returns
    -------
    HubChoiceFit

    Raises
    ------
    ValidationError
        Negative or missing counts (naming the origins), a hub nobody chose, fewer
        than two hubs, bad costs (see
        :func:`kzspatial.core.catchments.huff_probabilities`).
    AlignmentError
        Shapes or names do not match.
    IdentificationError
        Newton's method did not converge (e.g. perfect separation: every mover of
        every origin chose its nearest hub).

    Notes
    -----
    The log-likelihood :math:`\ell = \sum_{ih} c_{ih} \log P_{ih}` is concave in
    :math:`\theta = (\beta, \gamma_{-\mathrm{ref}})`; with :math:`z_{ih}` the regressors
    and :math:`n_i = \sum_h c_{ih}`, the gradient is
    :math:`\sum_{ih}(c_{ih} - n_i P_{ih}) z_{ih}` and the observed information
    :math:`\sum_i n_i [\sum_h P_{ih} z_{ih} z_{ih}^\top - \bar z_i \bar z_i^\top]`.
    """
    count, x, hub_tuple, origin_tuple, ref = _prepared(
        counts, cost_to_hubs, hubs, origins, reference, cost_func, min_cost
    )
    z = _design(x, ref)
    theta, info, loglik, n_iter = _newton(count, z)
    return _result(
        count,
        z,
        theta,
        info,
        loglik,
        hub_tuple,
        origin_tuple,
        ref,
        n_iter,
        cost_func,
        min_cost,
    )


def _newton(count: NDArray, z: NDArray) -> tuple[NDArray, NDArray, float, int]:
    """Maximise the conditional-logit log-likelihood of ``count`` on regressors ``z``.

    Newton's method with step halving; returns the estimates, the observed information
    at the last step, the log-likelihood and the number of steps.
    """
    n_i = count.sum(axis=1)
    theta = np.zeros(z.shape[2])
    loglik = choice_loglik(count, _probabilities(z, theta)).sum()
    n_iter = 0
    while n_iter < _MAX_ITER:
        n_iter += 1
        p = _probabilities(z, theta)
        zbar = np.einsum("ih,ihk->ik", p, z)
        grad = np.einsum("ih,ihk->k", count - n_i[:, None] * p, z)
        second = np.einsum("i,ih,ihk,ihl->kl", n_i, p, z, z)
        info = second - np.einsum("i,ik,il->kl", n_i, zbar, zbar)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as err:
            raise IdentificationError(
                "the hub-choice information matrix is singular: the costs do not vary "
                "across hubs within origins, or too few origins; check cost_to_hubs"
            ) from err
        scale = 1.0
        while True:  # step halving keeps the ascent monotone
            candidate = theta + scale * step
            new = choice_loglik(count, _probabilities(z, candidate)).sum()
            if new >= loglik - 1e-12 * abs(loglik) or scale < 1e-8:
                break
            scale /= 2
        theta, loglik = candidate, new
        if np.max(np.abs(grad)) <= _GRAD_TOL * max(n_i.sum(), 1.0) and scale == 1.0:
            return theta, info, float(loglik), n_iter
    raise IdentificationError(
        f"hub-choice fit did not converge in {_MAX_ITER} Newton steps (gradient "
        f"{np.max(np.abs(grad)):.3g}); a hub may be chosen by all or none of the "
        "movers of every origin"
    )


def _dispersion(count: NDArray, p: NDArray, k: int) -> tuple[float, int]:
    """Pearson chi-square over residual degrees of freedom, and those degrees."""
    n_i = count.sum(axis=1)
    expected = n_i[:, None] * p
    used = n_i > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(expected > 0, (count - expected) ** 2 / expected, 0.0)
    df = int(used.sum()) * (count.shape[1] - 1) - k
    return (float(pearson[used].sum() / df) if df > 0 else float("nan")), df


def _result(
    count, z, theta, info, loglik, hubs, origins, ref, n_iter, cost_func, min_cost
) -> HubChoiceFit:
    """Build the result of :func:`fit_hub_choice`: standard errors and dispersion."""
    p = _probabilities(z, theta)
    n_i = count.sum(axis=1)
    cov = np.linalg.inv(info)
    se = np.sqrt(np.diag(cov))
    dispersion, _ = _dispersion(count, p, theta.size)
    gamma = np.zeros(len(hubs))
    gamma[[k for k in range(len(hubs)) if k != ref]] = theta[1:]
    names = ("beta", *(f"log_A:{hubs[k]}" for k in range(len(hubs)) if k != ref))
    readonly = []
    for a in (gamma, theta.copy(), se, se * np.sqrt(max(dispersion, 1.0)), cov):
        a.flags.writeable = False
        readonly.append(a)
    return HubChoiceFit(
        hubs=hubs,
        origins=origins,
        reference=hubs[ref],
        cost_func=cost_func,
        min_cost=float(min_cost),
        beta=float(theta[0]),
        log_attractiveness=readonly[0],
        param_names=names,
        params=readonly[1],
        se=readonly[2],
        se_quasi=readonly[3],
        cov=readonly[4],
        dispersion=dispersion,
        loglik=float(loglik),
        loglik_null=float(n_i.sum() * -np.log(len(hubs))),
        n_choices=float(n_i.sum()),
        n_iter=n_iter,
    )


@dataclass(frozen=True, eq=False)
class HubChoiceModelCheck:
    r"""One richer hub-choice model tested against the calibrated (common-decay) model.

    Attributes
    ----------
    model : str
        ``"common decay"`` (the calibrated model itself), ``"decay by hub"`` or
        ``"hub preference by origin group"``.
    n_params : int
    loglik : float
    dispersion : float
        Pearson dispersion of this model.
    df_resid : int
    df_extra : int
        Parameters added to the common-decay model (0 for itself).
    f_stat, p_value : float
        Quasi-likelihood F test of the added parameters,
        :math:`F = 2(\ell_1 - \ell_0) / (\mathrm{df_{extra}}\,\hat\phi_1)` on
        (``df_extra``, ``df_resid``) degrees of freedom; NaN for the base model.
    probabilities : numpy.ndarray, shape (n, h)
        In-sample probabilities.
    """

    model: str
    n_params: int
    loglik: float
    dispersion: float
    df_resid: int
    df_extra: int
    f_stat: float
    p_value: float
    probabilities: NDArray[np.float64]


def check_hub_choice_models(
    counts: ArrayLike,
    cost_to_hubs: ArrayLike,
    hubs: Sequence[str],
    *,
    origin_groups: Sequence[str] | None = None,
    origins: Sequence[str] | None = None,
    reference: str | None = None,
    cost_func: str = "pow",
    min_cost: float = 0.0,
) -> tuple[HubChoiceModelCheck, ...]:
    r"""Test whether richer hub-choice models explain the choices better than the calibrated one.

    The calibrated model (:func:`fit_hub_choice`) has one distance decay and one
    attractiveness per hub. Two nested extensions are fitted by maximum likelihood on
    the same counts: ``decay by hub`` (each hub its own decay, e.g. a capital that
    draws from far away) and, when ``origin_groups`` is given, ``hub preference by
    origin group`` (each group of origins its own hub constants). Because movers of an
    origin do not choose independently (the Pearson dispersion is far above 1), the
    added parameters are judged by the quasi-likelihood F test
    :cite:`mccullagh1989`, not by the likelihood-ratio chi-square.

    Parameters
    ----------
    counts, cost_to_hubs, hubs, origins, reference, cost_func, min_cost
        As for :func:`fit_hub_choice`.
    origin_groups : sequence of str, length n, optional, keyword-only
        A group label per origin (e.g. a macro-region), fixed before looking at the
        choices; needs at least two groups.

    Returns
    -------
    tuple of HubChoiceModelCheck
        The common-decay model first, then the extensions.

    Raises
    ------
    AlignmentError
        ``origin_groups`` does not have one label per origin.
    ValidationError, IdentificationError
        As for :func:`fit_hub_choice`; also fewer than two origin groups.
    """
    # scipy.stats.f.sf is this function; scipy.stats costs ~0.6 s to import
    from scipy.special import fdtrc

    count, x, _, origin_tuple, ref = _prepared(
        counts, cost_to_hubs, hubs, origins, reference, cost_func, min_cost
    )
    base = _design(x, ref)
    n, h = x.shape
    designs = {
        "common decay": base,
        "decay by hub": np.concatenate(
            [x[:, :, None] * np.eye(h)[None, :, :], base[:, :, 1:]], axis=2
        ),
    }
    if origin_groups is not None:
        groups = np.asarray([str(g) for g in origin_groups], dtype=object)
        if groups.shape != (n,):
            raise AlignmentError(
                f"origin_groups has {groups.size} labels for {n} origins "
                f"{list(origin_tuple[:5])}...; give one group per origin"
            )
        labels = sorted(set(groups))
        if len(labels) < 2:
            raise ValidationError(
                f"origin_groups has one group {labels}; hub preferences by group need "
                "at least two"
            )
        # the base constants belong to the first group; the others shift them
        extra = [(groups == g)[:, None, None] * base[:, :, 1:] for g in labels[1:]]
        designs["hub preference by origin group"] = np.concatenate(
            [base, *extra], axis=2
        )
    fitted = {}
    for name, z in designs.items():
        theta, _, loglik, _ = _newton(count, z)
        p = _probabilities(z, theta)
        dispersion, df_resid = _dispersion(count, p, theta.size)
        fitted[name] = (z.shape[2], loglik, dispersion, df_resid, p)
    k0, ll0 = fitted["common decay"][:2]
    out = []
    for name, (k, loglik, dispersion, df_resid, p) in fitted.items():
        df_extra = k - k0
        if df_extra and df_resid > 0:
            f_stat = 2 * (loglik - ll0) / (df_extra * dispersion)
            p_value = float(fdtrc(df_extra, df_resid, f_stat))
        else:
            f_stat = p_value = float("nan")
        p.flags.writeable = False
        out.append(
            HubChoiceModelCheck(
                name, k, loglik, dispersion, df_resid, df_extra, f_stat, p_value, p
            )
        )
    return tuple(out)
