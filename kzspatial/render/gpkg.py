"""One self-describing GeoPackage per run, opening styled in plain QGIS.

What :func:`write_geopackage` produces, following the conventions verified for this
project (``docs/CONVENTIONS.md`` section 1):

- GeoPackage 1.2 (``user_version=10200``): GDAL 3.12 in the pyogrio wheel writes 1.4 by
  default, which the GDAL 3.6 inside QGIS 3.22 reports as "only partially supported".
- Spatial layers in EPSG:4326, optionally with an equal-area copy ``<name>_kz_aea`` in a
  custom Albers projection for Kazakhstan (0.8° maximum angular distortion over the
  country).
- Snake_case layer names; a stable int64 ``fid`` (taken from the frame when present);
  plain DataFrames become attribute tables.
- A QGIS ``layer_styles`` table with a default QML per layer, which QGIS applies on
  opening. Defaults come from the Jinja templates in ``kzspatial/styles/`` and are
  filled from the data (class breaks, categories, the largest flow).
- QGIS-format (QMD) layer metadata with title and abstract, which QGIS shows in the
  layer's metadata tab; provenance also goes into GDAL layer metadata (read by ogrinfo
  and pyogrio).
- Atomic: written into a temporary folder next to the target, then moved into place, so
  an interrupted run leaves an earlier file intact.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import CRS

from kzspatial._errors import OverwriteError, ValidationError
from kzspatial.geo.crs import KZ_AEA
from kzspatial.render._atomic import atomic_path
from kzspatial.render._clock import build_time, fixed_build_time

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "EQUAL_AREA_SUFFIX",
    "HISTORY_TEMPORAL",
    "OD_FLOWS_TOP_N",
    "od_flows_rule",
    "render_default_style",
    "write_geopackage",
]

EQUAL_AREA_SUFFIX = "_kz_aea"

_LAYER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RESERVED = re.compile(r"^(gpkg_|rtree_|sqlite_|layer_styles$)")
_QGIS_MD_URI = "http://mrcc.com/qgis.dtd"
#: ``md_standard_uri`` of GDAL's own metadata (what ``layer_metadata=`` writes).
_GDAL_MD_URI = "http://gdal.org"
_GEOMETRY_COLUMN = "geom"  # what GDAL names the geometry column of a GPKG layer

# Human field names, shown by QGIS through the QML <aliases>.
_ALIASES = {
    "region_id": "Region code",
    "name_en": "Name (English)",
    "name_kk": "Name (Kazakh)",
    "name_ru": "Name (Russian)",
    "population": "Population (persons)",
    "population_allocated": "Population allocated from the regional totals through "
    "settlement points (persons; not an official count)",
    "net_migration": "Net migration (persons)",
    "net_migration_rate": "Net migration rate (per 1,000)",
    "inflow": "Arrivals (persons)",
    "outflow": "Departures (persons)",
    "origin": "Origin",
    "destination": "Destination",
    "flow": "Migrants (persons)",
    "fitted": "Fitted (gravity model)",
    "residual": "Residual (observed − fitted)",
    "year": "Year",
    "hub": "Hub",
    "lisa_cluster": "LISA cluster",
    "lisa_p_sim": "LISA pseudo p-value",
    "lisa_net_rate_p": "LISA pseudo p-value, one-sided (esda p_sim)",
    "lisa_net_rate_p_two_sided": "LISA pseudo p-value, two-sided",
    "p_sim": "Permutation p-value, one-sided in the direction of I (esda p_sim)",
    "p_sim_two_sided": "Permutation p-value, two-sided",
    "alternative": "Alternative hypothesis of the p-values",
}
_TITLES = {
    "regions": "Regions of Kazakhstan",
    "districts": "Districts of Kazakhstan",
    "cities": "Cities",
    "od_flows": "Origin–destination migration flows",
    "catchments": "Catchments of the hubs",
}
# ColorBrewer RdBu (6 classes), each side ordered from zero outwards.
_LOSS_COLORS = ["253,219,199,255", "239,138,98,255", "178,24,43,255"]
_GAIN_COLORS = ["209,229,240,255", "103,169,207,255", "33,102,172,255"]
# ColorBrewer Set2 with some transparency, as in the HTML maps.
_CATEGORY_COLORS = [
    "102,194,165,190",
    "252,141,98,190",
    "141,160,203,190",
    "231,138,195,190",
    "166,216,84,190",
    "255,217,47,190",
    "229,196,148,190",
    "179,179,179,190",
]
_FLOW_COLOR = "37,37,37,255"
# Polygon layers graduated in diverging colours (zero-centred) on a signed field.
_DIVERGING_FIELDS = {"regions": "net_migration", "scenario_nets": "net_change"}
#: QGIS temporal properties of the year-by-year layers (mode "start and end date/time
#: from expressions", QGIS >= 3.18): a feature of ``year`` Y covers
#: [Y-01-01 00:00, (Y+1)-01-01 00:00), the end excluded (limitMode 0).
HISTORY_TEMPORAL = {
    "start_expression": 'make_datetime("year", 1, 1, 0, 0, 0)',
    "end_expression": 'make_datetime("year" + 1, 1, 1, 0, 0, 0)',
}
# Layers whose default style carries HISTORY_TEMPORAL.
_TEMPORAL_LAYERS = frozenset({"catchments_history"})
#: Flows drawn by the default ``od_flows`` style (the web map's default top N too).
OD_FLOWS_TOP_N = 60


@cache
def _templates() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("kzspatial.render", "styles"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def _field_aliases(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # QGIS counts the fid as field 0 of a GeoPackage layer.
    columns = [
        c
        for c in frame.columns
        if c not in ("fid", getattr(frame, "_geometry_column_name", None))
    ]
    return [
        {"name": c, "index": i, "alias": _ALIASES[c]}
        for i, c in enumerate(columns, start=1)
        if c in _ALIASES
    ]


def _nice(value: float) -> float:
    """Round to 2 significant digits, for class breaks people can read."""
    if value == 0:
        return 0.0
    return float(round(value, 1 - int(np.floor(np.log10(abs(value))))))


def _diverging_classes(values: pd.Series) -> list[dict[str, Any]]:
    """Up to three classes per side of zero, split at the terciles of each side.

    Zero is always a break, so colours change sign exactly where net migration does;
    each side gets its own breaks because gains concentrate in a few cities while losses
    are spread out.
    """
    finite = values[np.isfinite(values)].to_numpy(dtype=np.float64)
    classes: list[dict[str, Any]] = []
    for sign, colors in ((-1.0, _LOSS_COLORS), (1.0, _GAIN_COLORS)):
        magnitudes = sign * finite[sign * finite > 0]
        if magnitudes.size == 0:
            continue
        # rounded outwards at the 6 decimals the QML writes, so the extreme value
        # stays inside the outermost class
        top = float(np.ceil(magnitudes.max() * 1e6) / 1e6)
        inner = sorted({_nice(q) for q in np.quantile(magnitudes, [1 / 3, 2 / 3])})
        edges = [0.0, *(b for b in inner if 0 < b < top), top]
        # The outermost class always gets the strongest colour.
        palette = colors[len(colors) - (len(edges) - 1) :]
        for color, near, far in zip(palette, edges[:-1], edges[1:], strict=True):
            lower, upper = sorted((sign * near, sign * far))
            classes.append(
                {
                    "lower": f"{lower:.6f}",
                    "upper": f"{upper:.6f}",
                    "label": f"{_nice(lower):,.0f} – {_nice(upper):,.0f}",
                    "color": color,
                }
            )
    return sorted(classes, key=lambda c: float(c["lower"]))


def od_flows_rule(flows: pd.Series, top_n: int = OD_FLOWS_TOP_N) -> tuple[int, float]:
    """Return the number of flows and the threshold of the default ``od_flows`` rule.

    The rule draws ``flow >= threshold``, where the threshold is the ``top_n``-th
    largest flow of the layer (more flows are drawn only when flows tie with it).

    Parameters
    ----------
    flows : pandas.Series
        The layer's flows.
    top_n : int
        How many of the largest flows the rule draws.

    Returns
    -------
    n_drawn : int
        Flows the rule draws.
    threshold : float
        Smallest flow drawn (0 when the layer has at most ``top_n`` flows).
    """
    values = pd.to_numeric(flows, errors="coerce").dropna().sort_values(ascending=False)
    if len(values) <= top_n:
        return len(values), 0.0
    threshold = float(values.iloc[top_n - 1])
    return int((values >= threshold).sum()), threshold


def render_default_style(name: str, frame: pd.DataFrame) -> str | None:
    """Default QML for a layer, filled from its data, or None when there is no default.

    Parameters
    ----------
    name : str
        Layer name; an equal-area copy (``<name>_kz_aea``) gets the style of ``<name>``.
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        The layer's data (used for class breaks, categories and the largest flow).

    Returns
    -------
    str or None
        QML text for QGIS 3.22+: ``regions`` graduated on ``net_migration`` and
        ``scenario_nets`` on ``net_change`` (diverging, zero-centred), labelled by
        name, ``od_flows*`` rule-based, drawing the :data:`OD_FLOWS_TOP_N` largest flows
        (:func:`od_flows_rule`; a second rule, switched off, holds the others) with
        width ∝ √flow and an arrowhead at the destination, ``catchments``
        categorised by ``hub``, ``catchments_*`` with ``hub, rule, year``
        rule-based on one rule and year (``catchments_history`` also with the
        QGIS temporal properties :data:`HISTORY_TEMPORAL`), ``districts`` and
        ``cities`` plain. None for
        attribute tables, other layers, and layers lacking the styled column.
    """
    if not hasattr(frame, "geometry"):
        return None
    base = name.removesuffix(EQUAL_AREA_SUFFIX)
    fields = _field_aliases(frame)
    env = _templates()
    diverging = _DIVERGING_FIELDS.get(base)
    if diverging is not None and diverging in frame:
        classes = _diverging_classes(pd.to_numeric(frame[diverging], errors="coerce"))
        if classes:
            return env.get_template("regions.qml.j2").render(
                field=diverging,
                classes=classes,
                fields=fields,
                label_field=next(
                    (c for c in ("name_en", "name", "region_id") if c in frame), None
                ),
            )
    if base in ("regions", "districts"):
        return env.get_template("districts.qml.j2").render(fields=fields)
    if base.startswith("od_flows") and "flow" in frame:
        largest = float(pd.to_numeric(frame["flow"], errors="coerce").max())
        largest = largest if np.isfinite(largest) and largest > 0 else 1.0
        share = f'sqrt(coalesce("flow", 0) / {largest:.6g})'
        n_drawn, threshold = od_flows_rule(frame["flow"])
        return env.get_template("od_flows.qml.j2").render(
            field="flow",
            threshold=f"{threshold:.10g}",
            largest_label=f"{n_drawn} largest flows (≥ {threshold:,.0f})",
            other_label=f"other {len(frame) - n_drawn} flows (tick to draw)",
            color=_FLOW_COLOR,
            fields=fields,
            width_expression=f"0.05 + 2.6 * {share}",
            head_expression=f"0.4 + 3.6 * {share}",
        )
    if base.startswith("catchments_") and {"hub", "rule", "year"} <= set(frame):
        return _history_style(frame, env, fields, temporal=base in _TEMPORAL_LAYERS)
    if base == "catchments" and "hub" in frame:
        hubs = sorted(frame["hub"].dropna().astype(str).unique())
        categories = [
            {"value": h, "color": _CATEGORY_COLORS[i % len(_CATEGORY_COLORS)]}
            for i, h in enumerate(hubs)
        ]
        return env.get_template("catchments.qml.j2").render(
            field="hub", categories=categories, fields=fields
        )
    if base == "cities":
        return env.get_template("cities.qml.j2").render(fields=fields)
    return None


def _history_style(frame: pd.DataFrame, env, fields, *, temporal: bool) -> str:
    """Rule-based QML drawing one rule of one year (``attrs`` default_rule/_year).

    Without those attributes: the latest year and its first rule. With ``temporal``
    the QML also holds QGIS temporal properties (:data:`HISTORY_TEMPORAL`): with the
    temporal controller on, each year of the rule is drawn in its own frame.
    """
    year = int(frame.attrs.get("default_year", frame["year"].max()))
    shown = frame[frame["year"] == year]
    rule = str(frame.attrs.get("default_rule", shown["rule"].iloc[0]))
    hubs = sorted(frame["hub"].dropna().astype(str).unique())
    categories = [
        {"value": h, "color": _CATEGORY_COLORS[i % len(_CATEGORY_COLORS)]}
        for i, h in enumerate(hubs)
    ]
    return env.get_template("catchments_history.qml.j2").render(
        categories=categories,
        fields=fields,
        rule=rule,
        year=year,
        temporal=temporal,
        # @map_start_time is NULL unless the map has a time range
        year_filter=f'("year" = {year} OR @map_start_time IS NOT NULL)'
        if temporal
        else f'"year" = {year}',
        year_label=f"{year}; every year with the temporal controller"
        if temporal
        else str(year),
        **HISTORY_TEMPORAL,
    )


def _validate(
    layers: Mapping[str, pd.DataFrame],
    *,
    equal_area: Collection[str],
    styles: Mapping[str, str],
    metadata: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Names of the layers to write; one ValidationError lists every problem."""
    problems: list[str] = []
    if not layers:
        problems.append("layers is empty; pass e.g. {'regions': regions_gdf}")
    # An equal-area copy follows its source layer.
    names = [
        n
        for name in layers
        for n in (
            (name, f"{name}{EQUAL_AREA_SUFFIX}") if name in equal_area else (name,)
        )
    ]
    for name, frame in layers.items():
        if (
            not isinstance(name, str)
            or not _LAYER_NAME.match(name)
            or _RESERVED.match(name)
        ):
            problems.append(
                f"layer name {name!r} is not allowed: use lowercase snake_case ASCII "
                "starting "
                "with a letter (at most 63 characters), not "
                "gpkg_*/rtree_*/sqlite_*/layer_styles"
            )
        if not isinstance(frame, pd.DataFrame):
            problems.append(
                f"layer {name!r} is a {type(frame).__name__}, not a (Geo)DataFrame"
            )
            continue
        if hasattr(frame, "geometry") and frame.crs is None:
            problems.append(
                f"layer {name!r} has no CRS; set it, e.g. .set_crs('EPSG:4326')"
            )
        if "fid" in frame.columns:
            fid = frame["fid"]
            if (
                not pd.api.types.is_integer_dtype(fid)
                or fid.isna().any()
                or fid.duplicated().any()
            ):
                problems.append(
                    f"layer {name!r}: column 'fid' must hold unique integers"
                )
    for name in equal_area:
        if not hasattr(layers.get(name), "geometry"):
            problems.append(f"equal_area names {name!r}, which is not a spatial layer")
    if len(set(names)) != len(names):
        problems.append(
            f"duplicate layer names: {sorted(n for n in names if names.count(n) > 1)}"
        )
    for what, mapping in (("styles", styles), ("metadata", metadata)):
        unknown = sorted(set(mapping) - set(names))
        if unknown:
            problems.append(
                f"{what} names unknown layer(s) {unknown}; layers are {names}"
            )
    titles = [_title(n, metadata) for n in names]
    if len(set(titles)) != len(titles):
        problems.append(
            "layer titles must be unique (GeoPackage identifiers); got "
            f"{sorted(t for t in titles if titles.count(t) > 1)}"
        )
    if problems:
        raise ValidationError("write_geopackage: " + "; ".join(problems))
    return names


def _entry(name: str, metadata: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    """Metadata of a layer; an equal-area copy inherits its source layer's."""
    return metadata.get(name) or metadata.get(name.removesuffix(EQUAL_AREA_SUFFIX), {})


def _title(name: str, metadata: Mapping[str, Mapping[str, Any]]) -> str:
    if "title" in metadata.get(name, {}):
        return str(metadata[name]["title"])
    base = name.removesuffix(EQUAL_AREA_SUFFIX)
    title = str(
        metadata.get(base, {}).get("title", _TITLES.get(base, base.replace("_", " ")))
    )
    return f"{title} (KZ Albers Equal Area)" if base != name else title


def _with_fid(frame: pd.DataFrame) -> pd.DataFrame:
    if "fid" in frame.columns:
        return frame.assign(fid=frame["fid"].astype(np.int64))
    # Row order gives a stable fid; callers wanting ids to survive re-ordering pass
    # their own.
    return frame.assign(fid=np.arange(1, len(frame) + 1, dtype=np.int64))


def _ensure_metadata_tables(con: sqlite3.Connection) -> None:
    con.executescript(
        """
        CREATE TABLE IF NOT EXISTS gpkg_metadata (
          id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,
          md_scope TEXT NOT NULL DEFAULT 'dataset',
          md_standard_uri TEXT NOT NULL,
          mime_type TEXT NOT NULL DEFAULT 'text/xml',
          metadata TEXT NOT NULL DEFAULT '');
        CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (
          reference_scope TEXT NOT NULL,
          table_name TEXT,
          column_name TEXT,
          row_id_value INTEGER,
          timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
          md_file_id INTEGER NOT NULL,
          md_parent_id INTEGER,
          CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
          CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES
          gpkg_metadata(id));
        """
    )
    for table in ("gpkg_metadata", "gpkg_metadata_reference"):
        exists = con.execute(
            "SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = "
            "'gpkg_metadata'",
            (table,),
        ).fetchone()
        if not exists:
            con.execute(
                "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, "
                "definition, scope) VALUES (?, NULL, 'gpkg_metadata', "
                "'http://www.geopackage.org/spec120/#extension_metadata', "
                "'read-write')",
                (table,),
            )


def _gdal_metadata_xml(items: Mapping[str, str]) -> str:
    """``items`` in GDAL's metadata document (``GDALMultiDomainMetadata``, default domain)."""
    from xml.etree import ElementTree

    root = ElementTree.Element("GDALMultiDomainMetadata")
    domain = ElementTree.SubElement(root, "Metadata")
    for key, value in items.items():
        ElementTree.SubElement(domain, "MDI", key=key).text = value
    ElementTree.indent(root)
    return (
        ElementTree.tostring(root, encoding="unicode", short_empty_elements=False)
        + "\n"
    )


def _write_layer_metadata(
    path: Path,
    names: list[str],
    metadata: Mapping[str, Mapping[str, Any]],
    provenance: Mapping[str, str],
) -> None:
    """Write the layers' metadata into gpkg_metadata, each with its reference rows.

    Per layer a QMD document (title, abstract, keywords: QGIS's metadata tab); and the
    provenance as GDAL layer metadata (what ogrinfo and pyogrio read), one document
    referenced by every layer. pyogrio's ``layer_metadata=`` would write a copy per
    layer, and GDAL looks through the documents already written at each one: 0.3–0.6 s
    of the GeoPackage's ~1.2 s (measured).
    """
    template = _templates().get_template("layer_metadata.qmd.j2")
    provenance_text = "; ".join(f"{k}={v}" for k, v in provenance.items())
    timestamp = _gpkg_time(build_time())

    def document(uri: str, text: str) -> int:
        cursor = con.execute(
            "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, "
            "metadata) VALUES ('dataset', ?, 'text/xml', ?)",
            (uri, text),
        )
        return cursor.lastrowid

    def refer(name: str, document_id: int) -> None:
        con.execute(
            "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, "
            "timestamp, md_file_id) VALUES ('table', ?, ?, ?)",
            (name, timestamp, document_id),
        )

    with sqlite3.connect(path) as con:
        _ensure_metadata_tables(con)
        gdal = (
            document(_GDAL_MD_URI, _gdal_metadata_xml(provenance))
            if provenance
            else None
        )
        for name in names:
            entry = _entry(name, metadata)
            abstract = str(entry.get("abstract", ""))
            if provenance_text:
                abstract = f"{abstract}\n\nProvenance: {provenance_text}".strip()
            qmd = template.render(
                identifier=name,
                title=_title(name, metadata),
                abstract=abstract,
                language=str(entry.get("language", "en")),
                keywords=[
                    str(k) for k in entry.get("keywords", ("migration", "Kazakhstan"))
                ],
            )
            refer(name, document(_QGIS_MD_URI, qmd))
            if gdal is not None:
                refer(name, gdal)
    con.close()


def _layer_styles_frame(styles: Mapping[str, str], spatial: set[str]) -> pd.DataFrame:
    now = pd.Timestamp(build_time())
    return pd.DataFrame(
        [
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": layer,
                "f_geometry_column": _GEOMETRY_COLUMN if layer in spatial else "",
                "styleName": f"kzspatial default ({layer})"[:30],
                "styleQML": qml,
                "styleSLD": "",
                "useAsDefault": True,
                "description": "Generated by kzspatial",
                "owner": "",
                "ui": "",
                "update_time": now,
            }
            for layer, qml in styles.items()
        ]
    )


class _WithoutEpsgCode(CRS):
    """:data:`KZ_AEA`, answering at once that it has no EPSG code.

    pyogrio asks ``to_epsg()`` of every layer's CRS to write it. kzspatial's equal-area
    projection is its own, with no code (a test checks that pyproj's search finds
    none), and the search through the EPSG database takes ~0.1 s of the GeoPackage's
    ~1 s. The file is the same.
    """

    def to_epsg(self, min_confidence: int = 70) -> int | None:
        """None from the default confidence up; pyproj's search below it."""
        if min_confidence >= 70:
            return None
        return super().to_epsg(min_confidence)


_EQUAL_AREA_CRS = _WithoutEpsgCode(KZ_AEA)


def write_geopackage(
    path: str | os.PathLike[str],
    layers: Mapping[str, pd.DataFrame],
    *,
    equal_area: Collection[str] = (),
    styles: Mapping[str, str] | None = None,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    provenance: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write layers into one GeoPackage that opens styled and documented in QGIS.

    Parameters
    ----------
    path : str or os.PathLike
        Output ``.gpkg``; parent directories are created.
    layers : mapping of str to GeoDataFrame or DataFrame
        Layer name (lowercase snake_case) to data, written in this order. GeoDataFrames
        become spatial layers in EPSG:4326 (reprojected as needed); DataFrames become
        attribute tables. An integer ``fid`` column is used as the feature id, otherwise
        rows are numbered from 1.
    equal_area : collection of str, optional
        Spatial layers to copy as ``<name>_kz_aea`` in :data:`kzspatial.geo.crs.KZ_AEA`, for areas
        and densities.
    styles : mapping of str to str, optional
        QML text per layer, overriding the default styles (see
        :func:`render_default_style`).
    metadata : mapping of str to mapping, optional
        Per layer ``{"title": ..., "abstract": ..., "keywords": [...], "language":
        ...}``. Titles default to a description of the known layers and must be unique.
    provenance : mapping, optional
        E.g. kzspatial version, input hashes, parameters, seed. Written as GDAL metadata
        on the dataset and on every layer, and appended to each QGIS abstract.
    overwrite : bool, default False
        Replace an existing file; otherwise an existing ``path`` raises.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OverwriteError
        If ``path`` exists and ``overwrite`` is False.
    ValidationError
        On bad layer names, non-frames, missing CRSs, bad ``fid`` columns, unknown layer
        names in ``equal_area``/``styles``/``metadata``, or duplicate titles (all
        reported together).

    Notes
    -----
    QGIS applies the default style of each layer from the ``layer_styles`` table and
    reads the title and abstract from QGIS-format metadata in ``gpkg_metadata``. The
    file is GeoPackage 1.2 and passes GDAL's ``validate_gpkg``.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OverwriteError(f"{target} exists; pass overwrite=True to replace it")
    styles = dict(styles or {})
    metadata = dict(metadata or {})
    provenance = {str(k): str(v) for k, v in (provenance or {}).items()}
    names = _validate(layers, equal_area=equal_area, styles=styles, metadata=metadata)

    frames: dict[str, pd.DataFrame] = {}
    for name, frame in layers.items():
        frame = _with_fid(frame)
        if hasattr(frame, "geometry"):
            frame = frame.to_crs("EPSG:4326")
        frames[name] = frame
        if name in equal_area:
            frames[f"{name}{EQUAL_AREA_SUFFIX}"] = frame.to_crs(KZ_AEA).set_crs(
                _EQUAL_AREA_CRS, allow_override=True
            )
    spatial = {n for n, f in frames.items() if hasattr(f, "geometry")}
    all_styles = {
        n: qml
        for n in names
        if (qml := styles.get(n) or render_default_style(n, frames[n])) is not None
    }

    try:
        with atomic_path(target, overwrite=True) as partial:  # existence checked above
            _write_layers(
                partial, names, frames, metadata, provenance, all_styles, spatial
            )
    except BaseException as err:
        err.add_note(f"kzspatial: {target} was left unchanged")
        raise
    return target


def _gpkg_time(when) -> str:
    """``when`` as GeoPackage writes times: ``2024-01-31T12:00:00.000Z``."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@contextlib.contextmanager
def _gdal_options():
    """GDAL options while the layers are written into the staged file.

    GDAL stamps ``gpkg_contents.last_change`` with SOURCE_DATE_EPOCH when set, and
    SQLite does not flush the file to disk after each of the ~40 layers
    (``OGR_SQLITE_SYNCHRONOUS=OFF``: the same bytes; on a busy disk the flushes took
    seconds): the file is a staged copy published whole (``atomic_path``), like
    every other product of a run.
    """
    import pyogrio

    options = {"OGR_SQLITE_SYNCHRONOUS": "OFF"}
    fixed = fixed_build_time()
    if fixed is not None:
        options["OGR_CURRENT_DATE"] = _gpkg_time(fixed)
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


def _write_layers(partial, names, frames, metadata, provenance, all_styles, spatial):
    """Every layer, the QGIS styles and the QGIS metadata into the new file ``partial``."""
    with _gdal_options():
        _write_frames(partial, names, frames, metadata, provenance, all_styles, spatial)
    _write_layer_metadata(partial, names, metadata, provenance)


def _write_frames(partial, names, frames, metadata, provenance, all_styles, spatial):
    import pyogrio

    for i, name in enumerate(names):
        entry = _entry(name, metadata)
        pyogrio.write_dataframe(
            frames[name],
            partial,
            layer=name,
            driver="GPKG",
            dataset_options={"VERSION": "1.2"} if i == 0 else None,
            dataset_metadata=(provenance or None) if i == 0 else None,
            layer_options={
                "FID": "fid",
                "IDENTIFIER": _title(name, metadata),
                "DESCRIPTION": str(entry.get("abstract", "")),
            },
        )
    if all_styles:
        pyogrio.write_dataframe(
            _layer_styles_frame(all_styles, spatial),
            partial,
            layer="layer_styles",
            driver="GPKG",
            layer_options={"FID": "id"},
        )
