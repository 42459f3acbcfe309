r"""Catchments of migration hubs: observed flow shares, Huff probabilities, potential.

Pure numpy/scipy core. Two ways of asking "which hub does a place belong to":

- **Flow-based** (observed): :func:`flow_shares` takes an origin-destination matrix of
  migrants and gives every origin's share of its out-migrants that went to each hub,
  the dominant hub and membership under a threshold rule in the spirit of the EU-OECD
  functional-urban-area commuting rule (a place belongs to a core when at least 15 % of
  its out-movers go there) :cite:`dijkstra2019`.
- **Model-based** (predicted): :func:`huff_probabilities` evaluates the Huff model
  :cite:`huff1963` with attractiveness and distance decay taken from a fitted gravity
  model, for any set of locations (regions, districts, grid cells), and
  :func:`gravity_potential` evaluates the Stewart/Hansen potential
  :math:`\sum_j M_j f(d_{ij})`. Both are predictions, not observations.

:func:`catchment_population` sums populations per hub and reports the unassigned rest,
so totals reconcile with the inputs.

Modules: :mod:`~kzspatial.core.catchments.observed` (flow shares),
:mod:`~kzspatial.core.catchments.modelled` (Huff, threshold zones,
potential), :mod:`~kzspatial.core.catchments.population`, and the shared checks in
:mod:`~kzspatial.core.catchments._checks`.
"""

from kzspatial.core.catchments._checks import DEFAULT_MAX_MEMORY_BYTES, check_memory
from kzspatial.core.catchments.modelled import (
    HuffResult,
    gravity_potential,
    huff_probabilities,
    threshold_zones,
)
from kzspatial.core.catchments.observed import (
    DEFAULT_SHARE_THRESHOLD,
    FlowCatchments,
    flow_catchments,
    flow_shares,
)
from kzspatial.core.catchments.population import (
    CatchmentPopulation,
    catchment_population,
)

__all__ = [
    "DEFAULT_MAX_MEMORY_BYTES",
    "DEFAULT_SHARE_THRESHOLD",
    "CatchmentPopulation",
    "FlowCatchments",
    "HuffResult",
    "catchment_population",
    "check_memory",
    "flow_catchments",
    "flow_shares",
    "gravity_potential",
    "huff_probabilities",
    "threshold_zones",
]
