"""kzspatial on a Dask cluster: the gravity fit and flow Moran's I beyond one machine.

A layer above the core (it imports dask, distributed, pandas and pyarrow; the core
imports none of them). :func:`fit_gravity` runs the core's PPML engine with its flows
held by the workers in blocks of origin rows: every pass is the core's own block
function as a task, reduced on the cluster, so the estimates equal the in-memory
ones. :func:`flow_morans_i` runs the permutation batches of flow Moran's I as tasks,
seeded per batch, with the in-process result. Install with ``pip install 'kzspatial[distributed]'``.

Modules
-------
- :mod:`.gravity`: :func:`fit_gravity`, :class:`DistributedGravityFit`,
  :func:`to_parquet`;
- :mod:`.moran`: :func:`flow_morans_i`, permutation batches as tasks;
- :mod:`._runner`: the Dask runner of the gravity engine;
- :mod:`._frames`: a Dask DataFrame of pairs as arrays in row blocks.
"""

from kzspatial.distributed.gravity import DistributedGravityFit, fit_gravity, to_parquet
from kzspatial.distributed.moran import flow_morans_i

__all__ = ["DistributedGravityFit", "fit_gravity", "flow_morans_i", "to_parquet"]
