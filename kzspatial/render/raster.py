"""Cloud-Optimised GeoTIFF output with QGIS sidecar styles (edge module: writes disk).

One variable per single-band file (CONVENTIONS 5): QGIS shows multi-band float rasters
as RGB composites. Files are written with GDAL's COG driver through rasterio (deflate,
predictor, internal tiles and overviews), atomically (temporary file in the target
folder, then :func:`os.replace`), and never over an existing file unless asked. Next to
each ``name.tif`` a ``name.qml`` is written, which QGIS loads automatically: a paletted
renderer with class labels for categorical bands (e.g. the dominant hub), a
single-band pseudocolour ramp for continuous ones (probabilities, potential).
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import ArrayLike

from kzspatial._errors import OverwriteError, ValidationError
from kzspatial.render._atomic import atomic_path

__all__ = ["CATEGORY_COLOURS", "CONTINUOUS_RAMP", "write_cog"]

CATEGORY_COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8", "#ff9896", "#98df8a", "#ffbb78",
    "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d", "#393b79",
)  # fmt: skip
"""Default class colours (d3 category20 order, hubs first), cycled beyond 20."""

CONTINUOUS_RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
"""Viridis stops for continuous bands (perceptually uniform, colour-blind safe)."""

_QML_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
_QGIS_VERSION = "3.22.0"  # oldest QGIS we target (Debian bookworm)


def _hex_to_rgba(colour: str) -> tuple[int, int, int, int]:
    value = colour.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16), 255)


def _rgba_to_hex(rgba: tuple[int, ...]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgba[:3])


def _category_colours(
    categories: Mapping[int, str],
    colormap: Mapping[int, tuple[int, ...]] | None,
) -> dict[int, tuple[int, int, int, int]]:
    if colormap is not None:
        return {int(v): (*tuple(c), 255)[:4] for v, c in colormap.items()}
    return {
        int(v): _hex_to_rgba(CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)])
        for k, v in enumerate(sorted(categories))
    }


def _qml_root() -> tuple[ET.Element, ET.Element]:
    root = ET.Element(
        "qgis", version=_QGIS_VERSION, styleCategories="AllStyleCategories"
    )
    pipe = ET.SubElement(root, "pipe")
    return root, pipe


def _qml_tail(root: ET.Element, pipe: ET.Element) -> str:
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(
        pipe,
        "huesaturation",
        saturation="0",
        grayscaleMode="0",
        colorizeOn="0",
        colorizeRed="255",
        colorizeGreen="128",
        colorizeBlue="128",
        colorizeStrength="100",
    )
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    return _QML_DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


def _min_max_origin(renderer: ET.Element, limits: str) -> None:
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (
        ("limits", limits),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Estimated"),
        ("cumulativeCutLower", "0.02"),
        ("cumulativeCutUpper", "0.98"),
        ("stdDevFactor", "2"),
    ):
        ET.SubElement(origin, tag).text = text


def _paletted_qml(
    categories: Mapping[int, str], colours: Mapping[int, tuple[int, ...]]
) -> str:
    root, pipe = _qml_root()
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        type="paletted",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
    )
    ET.SubElement(renderer, "rasterTransparency")
    _min_max_origin(renderer, "None")
    palette = ET.SubElement(renderer, "colorPalette")
    for value in sorted(categories):
        rgba = colours[value]
        ET.SubElement(
            palette,
            "paletteEntry",
            value=str(value),
            color=_rgba_to_hex(rgba),
            alpha=str(rgba[3]),
            label=str(categories[value]),
        )
    return _qml_tail(root, pipe)


def _pseudocolour_qml(low: float, high: float) -> str:
    root, pipe = _qml_root()
    renderer = ET.SubElement(
        pipe,
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
        classificationMin=repr(low),
        classificationMax=repr(high),
    )
    ET.SubElement(renderer, "rasterTransparency")
    _min_max_origin(renderer, "None")  # use the stored classification, not statistics
    shader = ET.SubElement(
        ET.SubElement(renderer, "rastershader"),
        "colorrampshader",
        colorRampType="INTERPOLATED",
        classificationMode="1",
        clip="0",
        minimumValue=repr(low),
        maximumValue=repr(high),
    )
    for value, colour in zip(
        np.linspace(low, high, len(CONTINUOUS_RAMP)), CONTINUOUS_RAMP, strict=True
    ):
        ET.SubElement(
            shader,
            "item",
            value=repr(float(value)),
            color=colour,
            alpha="255",
            label=f"{float(value):.4g}",
        )
    return _qml_tail(root, pipe)


def write_cog(
    path: str | os.PathLike,
    array: ArrayLike,
    transform: Affine,
    crs,
    *,
    nodata: float,
    colormap: Mapping[int, tuple[int, ...]] | None = None,
    categories: Mapping[int, str] | None = None,
    description: str | None = None,
    tags: Mapping[str, object] | None = None,
    value_range: tuple[float, float] | None = None,
    overwrite: bool = False,
    blocksize: int = 512,
) -> Path:
    """Write one band as a Cloud-Optimised GeoTIFF plus a QGIS ``.qml`` sidecar.

    Parameters
    ----------
    path : str or path-like
        Output ``.tif``; the style goes to the same name with suffix ``.qml``. The
        folder is created if missing.
    array : array_like, shape (rows, cols)
        Values; float bands (probabilities, potential) are usually float32 with NaN
        nodata, categorical bands uint8 with nodata 0.
    transform : affine.Affine
        Pixel-to-CRS transform, e.g. ``NationalGrid.transform``.
    crs : pyproj.CRS, rasterio CRS or str
        e.g. :data:`kzspatial.geo.grids.KZ_AEA`.
    nodata : float, keyword-only
        Value marking cells outside the study area (NaN allowed for floats).
    colormap : mapping of int to (r, g, b[, a]), optional, keyword-only
        Colour table (uint8 bands only); written into the GeoTIFF (TIFF palettes are
        opaque RGB: alpha survives only in the ``.qml``).
    categories : mapping of int to str, optional, keyword-only
        Class labels (e.g. hub names). Stored as tags ``class_<value>=<label>``; the
        sidecar becomes a paletted style with these labels. Colours default to
        :data:`CATEGORY_COLOURS` when ``colormap`` is not given.
    description : str, optional, keyword-only
        Band description (shown by QGIS and ``gdalinfo``).
    tags : mapping of str to object, optional, keyword-only
        Dataset tags (model, parameters, version, caveats), stored as strings.
    value_range : (float, float), optional, keyword-only
        Colour-ramp limits of continuous bands; default the data's finite min and max.
    overwrite : bool, keyword-only, default False
        Replace an existing ``.tif``/``.qml``.
    blocksize : int, keyword-only, default 512
        Internal tile size in pixels (a multiple of 16, at least 128).

    Returns
    -------
    pathlib.Path
        The written ``.tif``.

    Raises
    ------
    OverwriteError
        The ``.tif`` or ``.qml`` exists and ``overwrite`` is False.
    ValidationError
        ``array`` is not 2-D; a colour table on a non-uint8 band; a bad blocksize.

    Notes
    -----
    Overviews are resampled with ``nearest`` for categorical bands and ``average``
    for continuous ones. The temporary file is renamed into place only once GDAL has
    finished writing, so readers never see a half-written COG.
    """
    target = Path(path)
    sidecar = target.with_suffix(".qml")
    existing = [str(p) for p in (target, sidecar) if p.exists()]
    if existing and not overwrite:
        raise OverwriteError(
            f"{', '.join(existing)} already exist(s); pass overwrite=True to replace "
            "or choose another path"
        )
    band = np.asarray(array)
    if band.ndim != 2:
        raise ValidationError(
            f"write_cog writes one band: array must be 2-D, got {band.shape}"
        )
    categorical = colormap is not None or categories is not None
    if colormap is not None and band.dtype != np.uint8:
        raise ValidationError(
            f"a colour table needs a uint8 band, got {band.dtype}; cast class codes "
            "with .astype('uint8')"
        )
    if blocksize < 128 or blocksize % 16:
        raise ValidationError(
            f"blocksize must be a multiple of 16 and at least 128, got {blocksize}"
        )
    is_float = np.issubdtype(band.dtype, np.floating)

    profile = {
        "driver": "COG",
        "width": band.shape[1],
        "height": band.shape[0],
        "count": 1,
        "dtype": band.dtype.name,
        "crs": crs if isinstance(crs, str) else rasterio.crs.CRS.from_wkt(crs.to_wkt()),
        "transform": transform,
        "nodata": nodata,
        "compress": "DEFLATE",
        "predictor": "FLOATING_POINT" if is_float else "STANDARD",
        "blocksize": blocksize,
        "overview_resampling": "nearest" if categorical else "average",
        "bigtiff": "IF_SAFER",
    }
    dataset_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if categorical:
        labels = categories or {v: str(v) for v in colormap}
        colours = _category_colours(labels, colormap)
        dataset_tags.update({f"class_{v}": str(label) for v, label in labels.items()})
        qml = _paletted_qml(labels, colours)
    else:
        if value_range is None:
            finite = band[np.isfinite(band)] if is_float else band
            if nodata is not None and not (is_float and math.isnan(nodata)):
                finite = finite[finite != nodata]
            value_range = (
                (float(finite.min()), float(finite.max()))
                if finite.size
                else (0.0, 1.0)
            )
        qml = _pseudocolour_qml(*map(float, value_range))

    def write_tif(tmp: Path) -> None:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(band, 1)
            if description:
                dst.set_band_description(1, description)
            if dataset_tags:
                dst.update_tags(**dataset_tags)
            if categorical and band.dtype == np.uint8:
                dst.write_colormap(1, colours)

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, overwrite=True) as tmp:  # existence checked above
        write_tif(tmp)
    with atomic_path(sidecar, overwrite=True) as tmp:
        tmp.write_text(qml, encoding="utf-8")
    return target
