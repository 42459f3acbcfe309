"""kzspatial: spatial analysis of internal migration in Kazakhstan.

The public API re-exported here is the numerical core (flows, weights, Moran's I, gravity
models, catchments) and the loaders of the real data; modules such as
:mod:`kzspatial.render.maps`, :mod:`kzspatial.render.gpkg`, :mod:`kzspatial.render.raster`,
:mod:`kzspatial.study.inputs`, the study suites and :mod:`kzspatial.study.pipeline` are
imported explicitly.
"""

from kzspatial._errors import (
    AlignmentError,
    CRSError,
    DataFetchError,
    IdentificationError,
    KzSpatialError,
    OutputLockedError,
    OutputWriteError,
    OverwriteError,
    RegionNameError,
    ValidationError,
)
from kzspatial._show_versions import show_versions
from kzspatial._version import __version__
from kzspatial.core.baselines import (
    compare_models,
    intervening_opportunities,
    radiation,
)
from kzspatial.core.catchments import flow_shares, gravity_potential, huff_probabilities
from kzspatial.core.distance import great_circle_km, great_circle_matrix_km
from kzspatial.core.flows import in_flows, net_migration, out_flows, to_matrix
from kzspatial.core.gravity import GravityFit, fit_gravity
from kzspatial.core.moran import (
    bivariate_morans_i,
    flow_morans_i,
    local_bivariate_morans,
    local_flow_morans,
    local_morans,
    morans_i,
)
from kzspatial.core.weights import SpatialWeights
from kzspatial.datasets.boundaries import (
    load_admin_centres,
    load_boundaries,
    to_equal_area,
)
from kzspatial.datasets.cities import load_cities
from kzspatial.datasets.crosswalk import (
    aggregate_flows,
    aggregate_regions,
    dissolve_regions,
    join_regional,
)
from kzspatial.datasets.fetch import fetch
from kzspatial.datasets.migration import (
    load_monthly_migration,
    load_od_flows,
    read_od_csv,
)
from kzspatial.datasets.population import load_population
from kzspatial.datasets.regional_stats import (
    load_grp_per_capita,
    load_unemployment,
    load_wages_2022,
)
from kzspatial.datasets.regions import resolve

__all__ = [
    "AlignmentError",
    "CRSError",
    "DataFetchError",
    "GravityFit",
    "IdentificationError",
    "KzSpatialError",
    "OutputLockedError",
    "OutputWriteError",
    "OverwriteError",
    "RegionNameError",
    "SpatialWeights",
    "ValidationError",
    "__version__",
    "aggregate_flows",
    "aggregate_regions",
    "bivariate_morans_i",
    "compare_models",
    "dissolve_regions",
    "fetch",
    "fit_gravity",
    "flow_morans_i",
    "flow_shares",
    "gravity_potential",
    "great_circle_km",
    "great_circle_matrix_km",
    "huff_probabilities",
    "in_flows",
    "intervening_opportunities",
    "join_regional",
    "load_admin_centres",
    "load_boundaries",
    "load_cities",
    "load_grp_per_capita",
    "load_monthly_migration",
    "load_od_flows",
    "load_population",
    "load_unemployment",
    "load_wages_2022",
    "local_bivariate_morans",
    "local_flow_morans",
    "local_morans",
    "morans_i",
    "net_migration",
    "out_flows",
    "radiation",
    "read_od_csv",
    "resolve",
    "show_versions",
    "to_equal_area",
    "to_matrix",
]
