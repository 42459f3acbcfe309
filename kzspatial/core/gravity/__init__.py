r"""Spatial-interaction (gravity) models of the Wilson family, fitted by PPML.

One entry point, :func:`fit_gravity`, fits the unconstrained, production-constrained,
attraction-constrained and doubly-constrained models (Wilson 1971) by Poisson
pseudo-maximum likelihood with a log link (Santos Silva and Tenreyro 2006):

.. math::

    \log \mu_{tij} = \alpha_{ti} + \delta_{tj} + \beta\, g(c_{tij})
        + x_{ti}^\top \gamma_o + z_{tj}^\top \gamma_d

where ``g`` is the decay regressor of :mod:`kzspatial.core.decay` (``log c`` for power decay,
``c`` for exponential decay), ``t`` indexes years of a panel, ``alpha`` are origin(-year)
fixed effects (production and doubly constrained; an intercept and year effects in the
unconstrained model), ``delta`` destination(-year) fixed effects (attraction and doubly
constrained). Metric names follow ``spint`` (Oshan 2016).

Modules
-------
- :mod:`.model`: :func:`fit_gravity`, which validates, fits and assembles the result;
- :mod:`._checks`: input validation, all problems reported at once;
- :mod:`._build`: from the inputs to the design, checked block by block;
- :mod:`.blocks`: the design split into blocks of origin rows and the pure per-block
  passes, combined by a map-reduce (the layout a Dask version schedules);
- :mod:`.engine`: Newton's method with the fixed effects profiled out;
- :mod:`.covariance`: HC0 and cluster-robust sandwich covariances;
- :mod:`.result`: :class:`GravityFit`, its summary, table and ``predict``.

The fit metrics (deviance, SRMSE, SSI, AIC) are those of :mod:`kzspatial.core.metrics`;
:func:`poisson_deviance`, :func:`srmse` and :func:`ssi` are re-exported here.

References
----------
- Wilson, A. G. (1971). A family of spatial interaction models, and associated
  developments. Environment and Planning A, 3(1), 1-32.
- Santos Silva, J. M. C. and Tenreyro, S. (2006). The log of gravity. Review of
  Economics and Statistics, 88(4), 641-658.
- Oshan, T. M. (2016). A primer for working with the Spatial Interaction modeling
  (SpInt) module in the python spatial analysis library (PySAL). Region, 3(2), R11-R23.
"""

from kzspatial.core.gravity._checks import CONSTRAINTS
from kzspatial.core.gravity.model import fit_gravity
from kzspatial.core.gravity.result import GravityFit
from kzspatial.core.metrics import poisson_deviance, srmse, ssi

__all__ = [
    "CONSTRAINTS",
    "GravityFit",
    "fit_gravity",
    "poisson_deviance",
    "srmse",
    "ssi",
]
