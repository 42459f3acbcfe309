"""Moran's I for region attributes and for origin-destination flows.

Pure numpy/scipy core (numba lazily, for the flow permutations). Every statistic is a
function returning a frozen result object whose attribute names follow ``esda``
:cite:`rey2010pysal`:

- :func:`morans_i` and :func:`bivariate_morans_i` (global, :mod:`.global_`);
- :func:`local_morans` and :func:`local_bivariate_morans` (LISA with conditional
  permutation :cite:`anselin1995local`, :mod:`.local`);
- :func:`flow_morans_i` and :func:`local_flow_morans` on an ``(n, n)`` flow or residual
  matrix with origin-, destination- or origin-destination-based weights
  :cite:`chun2008modeling` (:mod:`.flow`).

Weights are a :class:`~kzspatial.core.weights.SpatialWeights` or a libpysal ``Graph`` /
``W``. Permutation results are reproducible from ``rng`` (a
:class:`numpy.random.Generator` or an integer seed); the global seed is never touched.
Pseudo p-values come from :func:`pseudo_p_value`: ``p_sim`` is esda's one-sided value,
``p_sim_two_sided`` the two-sided one.
"""

from kzspatial.core.moran._inference import pseudo_p_value
from kzspatial.core.moran._results import (
    FlowMoranResult,
    LocalFlowMoranResult,
    LocalMoranResult,
    MoranBVResult,
    MoranResult,
)
from kzspatial.core.moran.flow import flow_morans_i, local_flow_morans
from kzspatial.core.moran.global_ import bivariate_morans_i, morans_i
from kzspatial.core.moran.local import local_bivariate_morans, local_morans

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
