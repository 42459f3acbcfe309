"""kzspatial on a Dask cluster: the gravity fit and flow Moran's I beyond one machine.

A layer above the core (it imports dask, distributed, pandas and pyarrow; the core
imports none of them). :func:`fit_gravity` runs the core's PPML engine with its flows
held by the workers in blocks of origin rows: every pass is the core's own block
function as a task, reduced on the cluster, so the estimates equal the in-memory
ones. Install with ``pip install 'kzspatial[distributed]'``.

Modules
-------
- :mod:`.gravity`: :func:`fit_gravity`, :class:`DistributedGravityFit`,
  :func:`to_parquet`;
- :mod:`._runner`: the Dask runner of the gravity engine;
- :mod:`._frames`: a Dask DataFrame of pairs as arrays in row blocks.
"""

from kzspatial.distributed.gravity import DistributedGravityFit, fit_gravity, to_parquet

__all__ = ["DistributedGravityFit", "fit_gravity", "to_parquet"]
