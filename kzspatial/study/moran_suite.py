"""The Moran suite: spatial autocorrelation of the regional indicators and of the flows.

Global and local Moran's I of every indicator under three weights for the focus year,
global Moran by year in the borders of each year, bivariate Moran of income and
unemployment against the neighbours' net migration, and Moran's I of the OD flows
(raw and gravity residuals). :func:`moran_suite` returns them together as a
:class:`MoranSuite`, which the pipeline, the CLI and the report read by name. Numerics
are in :mod:`kzspatial.core.moran`; nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._constants import YEAR
from kzspatial.core.moran import (
    bivariate_morans_i,
    flow_morans_i,
    local_morans,
    morans_i,
)
from kzspatial.core.weights import SpatialWeights
from kzspatial.datasets.indicators import INDICATOR_LABELS
from kzspatial.datasets.regions import get_region
from kzspatial.geo.weights import weights_from_geodataframe
from kzspatial.study.gravity_suite import (
    GravityResults,
    centre_distances,
    fit_model,
)
from kzspatial.study.inputs import StudyData

__all__ = [
    "STUDY_WEIGHTS",
    "MoranEntry",
    "MoranSuite",
    "autocorrelation_suite",
    "flow_autocorrelation",
    "moran_suite",
    "region_weights",
]

# Short LISA codes used in maps, the GeoPackage and the report.
_LISA_CODES = {
    "High-High": "HH",
    "Low-Low": "LL",
    "Low-High": "LH",
    "High-Low": "HL",
    "Insignificant": "not significant",
}


#: Permutation p-values in every Moran table: ``p_sim`` as esda defines it (one-sided,
#: in the direction of the observed statistic, for the default "two-sided"
#: alternative), the two-sided value, and the alternative the result was computed for.
_P_SIM_COLUMNS = ("p_sim", "p_sim_two_sided", "alternative")

#: The study's weights by name, as kinds of
#: :func:`kzspatial.geo.weights.weights_from_geodataframe`: contiguity (with the enclave
#: cities linked to their oblast), k nearest neighbours, inverse great-circle distance.
STUDY_WEIGHTS = {
    "queen": {"kind": "queen"},
    "knn4": {"kind": "knn", "k": 4},
    "inverse_distance": {"kind": "inverse_distance", "power": 1.0},
}


def region_weights(regions: gpd.GeoDataFrame) -> dict[str, SpatialWeights]:
    """Queen, 4-nearest-neighbour and inverse-distance weights of ``regions``."""
    out = {}
    for name, spec in STUDY_WEIGHTS.items():
        kwargs = {k: v for k, v in spec.items() if k != "kind"}
        out[name] = weights_from_geodataframe(
            regions, spec["kind"], id_col="region_id", **kwargs
        )
    return out


@dataclass(frozen=True, eq=False)
class MoranEntry:
    """Global and local Moran's I of one variable under one weights, for the report."""

    variable: str
    label: str
    weights_name: str
    year: int
    ids: tuple[str, ...]
    names: tuple[str, ...]
    y: np.ndarray
    weights: SpatialWeights
    global_: object
    local: object
    cluster_labels: tuple[str, ...]
    fdr: float | None


def _variable_values(
    indicators: pd.DataFrame, year: int, variable: str, ids: Sequence[str]
) -> np.ndarray | None:
    rows = indicators[indicators[YEAR] == year].set_index("region_id")
    if variable not in rows.columns:
        return None
    values = rows[variable].reindex(list(ids)).to_numpy(float)
    if not np.all(np.isfinite(values)) or np.ptp(values) == 0:
        return None
    return values


def autocorrelation_suite(
    data: StudyData,
    *,
    focus_year: int = 2024,
    permutations: int = 999,
    seed: int = 12345,
    variables: Sequence[str] = tuple(INDICATOR_LABELS),
    fdr: float | None = None,
) -> tuple[list[MoranEntry], pd.DataFrame, pd.DataFrame, dict[str, SpatialWeights]]:
    """Global, local and bivariate Moran's I of the regional indicators.

    Returns
    -------
    entries : list of MoranEntry
        Every available variable × weights for ``focus_year`` (variables missing for
        that year are skipped: e.g. GRP per capita ends in 2022).
    by_year : pandas.DataFrame
        Global Moran (queen weights) for every variable and OD year, each year in the
        borders of its population figures: ``year, configuration, variable, label,
        weights, n, I, EI, z_rand, p_rand, p_sim``.
    bivariate : pandas.DataFrame
        Bivariate Moran of GRP per capita (x) against the net migration rate of the
        neighbours (y), and of unemployment against it, for each year with both.
    weights : dict of str to SpatialWeights
        The focus-year weights (for the report's summary).
    """
    rng = np.random.default_rng(seed)
    weights_by_conf = {
        conf: region_weights(gdf) for conf, gdf in data.regions_by_conf.items()
    }
    conf_of_year = data.indicators.groupby(YEAR)["configuration"].first().to_dict()
    focus_weights = weights_by_conf[conf_of_year[focus_year]]
    # one generator drawn in a fixed order: focus-year entries first, then the years
    entries = _focus_entries(
        data, focus_weights, focus_year, variables, permutations, rng, fdr
    )
    by_year, bivariate = _by_year_tables(
        data, weights_by_conf, conf_of_year, variables, permutations, rng
    )
    return entries, by_year, bivariate, focus_weights


def _focus_entries(
    data, focus_weights, focus_year, variables, permutations, rng, fdr
) -> list[MoranEntry]:
    """Global and local Moran of every available variable × weights in the focus year."""
    entries = []
    for variable in variables:
        for wname, w in focus_weights.items():
            y = _variable_values(data.indicators, focus_year, variable, w.ids)
            if y is None:
                continue
            g = morans_i(y, w, permutations=permutations, rng=rng)
            loc = local_morans(y, w, permutations=permutations, rng=rng, fdr=fdr)
            entries.append(
                MoranEntry(
                    variable=variable,
                    label=INDICATOR_LABELS[variable],
                    weights_name=wname,
                    year=focus_year,
                    ids=w.ids,
                    names=tuple(get_region(r).name_en for r in w.ids),
                    y=y,
                    weights=w,
                    global_=g,
                    local=loc,
                    cluster_labels=tuple(_LISA_CODES[str(lab)] for lab in loc.labels),
                    fdr=fdr,
                )
            )
    return entries


def _by_year_tables(
    data, weights_by_conf, conf_of_year, variables, permutations, rng
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global Moran (queen) of every variable and year, and the bivariate Moran."""
    rows, bivariate = [], []
    for year, conf in sorted(conf_of_year.items()):
        w = weights_by_conf[conf]["queen"]
        for variable in variables:
            y = _variable_values(data.indicators, year, variable, w.ids)
            stats = dict.fromkeys(
                ("I", "EI", "z_rand", "p_rand", *_P_SIM_COLUMNS), np.nan
            )
            if y is not None:  # missing years stay NaN rows so the table shows the gap
                g = morans_i(y, w, permutations=permutations, rng=rng)
                stats = {k: getattr(g, k) for k in stats}
            rows.append(
                {
                    YEAR: year,
                    "configuration": conf,
                    "variable": variable,
                    "label": INDICATOR_LABELS[variable],
                    "weights": "queen",
                    "n": len(w.ids),
                    **stats,
                }
            )
        net = _variable_values(data.indicators, year, "net_rate", w.ids)
        for xname in ("grp_per_capita", "unemployment"):
            x = _variable_values(data.indicators, year, xname, w.ids)
            if x is None or net is None:
                continue
            bv = bivariate_morans_i(x, net, w, permutations=permutations, rng=rng)
            bivariate.append(
                {
                    YEAR: year,
                    "configuration": conf,
                    "x": xname,
                    "y": "net_rate",
                    "weights": "queen",
                    "I": bv.I,
                    **{k: getattr(bv, k) for k in _P_SIM_COLUMNS},
                    "z_sim": bv.z_sim,
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(bivariate)


def flow_autocorrelation(
    data: StudyData,
    gravity: GravityResults | None = None,
    *,
    year: int = 2024,
    permutations: int = 999,
    seed: int = 12345,
) -> pd.DataFrame:
    """Moran's I over the OD flows: raw flows and gravity residuals, three flow weights.

    The default target is the Pearson residuals of the doubly-constrained power model:
    raw flows are dominated by size and distance, which any flow weights pick up. The
    permutation null relabels zones (the same permutation applied to origins and
    destinations, keeping the OD structure), two-sided. Zone weights are 4 nearest
    neighbours: under contiguity the enclave cities have a single neighbour, which leaves
    their flows without neighbouring flows once self-flows are excluded.

    Parameters
    ----------
    data : StudyData
    gravity : GravityResults, optional
        Source of the residuals; without it the doubly-constrained power model of
        ``year`` is fitted alone (the same model, see
        :func:`kzspatial.study.gravity_suite.fit_model`).
    year : int
    permutations : int
    seed : int

    Returns
    -------
    pandas.DataFrame
        ``year, target, flow_weights, weights, n_flows, I, EI, z_rand, p_rand, p_sim,
        null``.
    """
    rng = np.random.default_rng(seed)
    w = weights_from_geodataframe(data.regions, "knn", id_col="region_id", k=4)
    targets = {
        "gravity residuals (doubly/pow, Pearson)": _residuals(data, gravity, year),
        "raw flows": data.matrix(year),
    }
    rows = []
    for target, matrix in targets.items():
        M = np.where(np.isfinite(matrix), matrix, 0.0)
        for kind in ("origin", "destination", "od"):
            r = flow_morans_i(M, w, kind=kind, permutations=permutations, rng=rng)
            rows.append(
                {
                    YEAR: year,
                    "target": target,
                    "flow_weights": kind,
                    "weights": "knn4",
                    "n_flows": r.n,
                    "I": r.I,
                    "EI": r.EI,
                    "z_rand": r.z_rand,
                    "p_rand": r.p_rand,
                    **{k: getattr(r, k) for k in _P_SIM_COLUMNS},
                    "null": r.null,
                }
            )
    return pd.DataFrame(rows)


def _residuals(data, gravity, year) -> np.ndarray:
    """Pearson residuals of the doubly-constrained power model of ``year``."""
    if gravity is not None:
        return gravity.residual_matrix(year)
    _, D = centre_distances(data)
    return fit_model(data, D, year, "doubly", "pow").pearson_resid


@dataclass(frozen=True, eq=False)
class MoranSuite:
    """Every Moran's I of the study, by name.

    Attributes
    ----------
    entries : tuple of MoranEntry
        Global and local Moran of every available variable × weights in the focus year.
    by_year : pandas.DataFrame
        Global Moran (queen) of every variable and OD year.
    bivariate : pandas.DataFrame
        Bivariate Moran of GRP per capita and unemployment against the neighbours' net
        migration rate.
    weights : dict of str to SpatialWeights
        The focus-year weights.
    flow_moran : pandas.DataFrame
        Moran's I of the OD flows (:func:`flow_autocorrelation`).
    """

    entries: tuple[MoranEntry, ...]
    by_year: pd.DataFrame
    bivariate: pd.DataFrame
    weights: dict[str, SpatialWeights]
    flow_moran: pd.DataFrame

    @classmethod
    def from_parts(cls, zones: tuple, flow_moran: pd.DataFrame) -> MoranSuite:
        """Assemble the suite from :func:`autocorrelation_suite` and the flow Moran's I."""
        entries, by_year, bivariate, weights = zones
        return cls(tuple(entries), by_year, bivariate, weights, flow_moran)

    def global_table(self) -> pd.DataFrame:
        """Tabulate the focus-year entries: variable, weights, I, EI, p_rand and p-values."""
        return pd.DataFrame(
            [
                {
                    "variable": e.variable,
                    "weights": e.weights_name,
                    "I": e.global_.I,
                    "EI": e.global_.EI,
                    "p_rand": e.global_.p_rand,
                    **{k: getattr(e.global_, k) for k in _P_SIM_COLUMNS},
                }
                for e in self.entries
            ]
        )


def moran_suite(
    data: StudyData,
    gravity: GravityResults | None = None,
    *,
    focus_year: int = 2024,
    permutations: int = 999,
    seed: int = 12345,
) -> MoranSuite:
    """Compute every Moran's I of the study.

    That is :func:`autocorrelation_suite` and :func:`flow_autocorrelation` of
    ``focus_year``.

    Parameters
    ----------
    data : StudyData
    gravity : GravityResults, optional
        Reused for the flow residuals when already fitted.
    focus_year : int
    permutations : int
        Permutations of every pseudo p-value.
    seed : int
        Seed of each of the two random streams (the results do not depend on the order
        in which the two parts run).

    Returns
    -------
    MoranSuite
    """
    zones = autocorrelation_suite(
        data, focus_year=focus_year, permutations=permutations, seed=seed
    )
    flow_moran = flow_autocorrelation(
        data, gravity, year=focus_year, permutations=permutations, seed=seed
    )
    return MoranSuite.from_parts(zones, flow_moran)
