"""Tests of the COG + QML writer: CRS, transform, nodata, palette, tags, style."""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import rasterio
from affine import Affine
from numpy.testing import assert_array_equal
from pyproj import CRS

from kzspatial._errors import OverwriteError, ValidationError
from kzspatial.geo.grids import KZ_AEA
from kzspatial.render.raster import CATEGORY_COLOURS, write_cog

TRANSFORM = Affine(5000.0, 0.0, -1500000.0, 0.0, -5000.0, 840000.0)
HUB_LABELS = {1: "Astana", 2: "Almaty", 3: "Shymkent"}


@pytest.fixture
def classes():
    rng = np.random.default_rng(seed=0)
    band = rng.integers(0, 4, size=(40, 60)).astype(np.uint8)  # 0 = outside
    return band


@pytest.fixture
def probability():
    rng = np.random.default_rng(seed=1)
    band = rng.uniform(0, 1, size=(40, 60)).astype(np.float32)
    band[:5] = np.nan
    return band


def _qml(path):
    root = ET.parse(path.with_suffix(".qml")).getroot()  # valid XML or raises
    assert root.tag == "qgis"
    return root.find("pipe/rasterrenderer")


def test_dominant_hub_band_reads_back(tmp_path, classes):
    path = write_cog(
        tmp_path / "dominant_hub.tif",
        classes,
        TRANSFORM,
        KZ_AEA,
        nodata=0,
        categories=HUB_LABELS,
        description="Dominant hub (Huff model prediction)",
        tags={"model": "huff", "beta": -2.0},
    )
    with rasterio.open(path) as src:
        assert CRS.from_wkt(src.crs.to_wkt()).equals(KZ_AEA)
        assert CRS.from_wkt(src.crs.to_wkt()).name == "KZ Albers Equal Area (kzspatial)"
        assert src.transform == TRANSFORM
        assert src.nodata == 0 and src.dtypes == ("uint8",)
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.compression.value == "DEFLATE"
        colormap = src.colormap(1)
        tags = src.tags()
        assert src.descriptions == ("Dominant hub (Huff model prediction)",)
        assert_array_equal(src.read(1), classes)
    for value, name in HUB_LABELS.items():
        hex_colour = CATEGORY_COLOURS[value - 1].lstrip("#")
        assert colormap[value] == (*bytes.fromhex(hex_colour), 255)
        assert tags[f"class_{value}"] == name
    assert tags["model"] == "huff" and tags["beta"] == "-2.0"
    renderer = _qml(path)
    assert renderer.get("type") == "paletted"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [(e.get("value"), e.get("label")) for e in entries] == [
        ("1", "Astana"),
        ("2", "Almaty"),
        ("3", "Shymkent"),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dominant_hub.qml",
        "dominant_hub.tif",
    ]


def test_explicit_colormap_is_written(tmp_path, classes):
    colours = {1: (255, 0, 0), 2: (0, 255, 0), 3: (0, 0, 255, 128)}
    path = write_cog(
        tmp_path / "d.tif",
        classes,
        TRANSFORM,
        KZ_AEA,
        nodata=0,
        colormap=colours,
        categories=HUB_LABELS,
    )
    with rasterio.open(path) as src:
        assert src.colormap(1)[1] == (255, 0, 0, 255)
        assert src.colormap(1)[3] == (0, 0, 255, 255)  # TIFF palettes carry no alpha
    entry = _qml(path).find("colorPalette/paletteEntry[@value='3']")
    assert (entry.get("color"), entry.get("alpha")) == ("#0000ff", "128")


def test_probability_band_reads_back(tmp_path, probability):
    path = write_cog(
        tmp_path / "p_astana.tif",
        probability,
        TRANSFORM,
        KZ_AEA,
        nodata=np.nan,
        value_range=(0.0, 1.0),
        description="P(Astana)",
    )
    with rasterio.open(path) as src:
        assert math.isnan(src.nodata) and src.dtypes == ("float32",)
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert src.transform == TRANSFORM
        assert_array_equal(src.read(1), probability)  # NaN positions included
    renderer = _qml(path)
    assert renderer.get("type") == "singlebandpseudocolor"
    items = renderer.findall("rastershader/colorrampshader/item")
    assert float(items[0].get("value")) == 0.0 and float(items[-1].get("value")) == 1.0


def test_default_ramp_spans_finite_data(tmp_path, probability):
    path = write_cog(
        tmp_path / "potential.tif", probability * 100, TRANSFORM, KZ_AEA, nodata=np.nan
    )
    shader = _qml(path).find("rastershader/colorrampshader")
    assert float(shader.get("maximumValue")) == pytest.approx(
        np.nanmax(probability * 100)
    )


def test_large_band_gets_overviews(tmp_path):
    band = np.tile(np.arange(1, 4, dtype=np.uint8), (1100, 400))[:, :1100]
    path = write_cog(
        tmp_path / "big.tif", band, TRANSFORM, KZ_AEA, nodata=0, categories=HUB_LABELS
    )
    with rasterio.open(path) as src:
        assert src.overviews(1) == [2, 4]
        assert src.block_shapes == [(512, 512)]


def test_refuses_to_overwrite(tmp_path, classes):
    path = tmp_path / "d.tif"
    write_cog(path, classes, TRANSFORM, KZ_AEA, nodata=0, categories=HUB_LABELS)
    with pytest.raises(
        OverwriteError,
        match=r"d\.tif, .*d\.qml already exist\(s\); pass overwrite=True",
    ):
        write_cog(path, classes, TRANSFORM, KZ_AEA, nodata=0, categories=HUB_LABELS)
    path.unlink()  # the sidecar alone also blocks
    with pytest.raises(OverwriteError, match=r"d\.qml already exist"):
        write_cog(path, classes, TRANSFORM, KZ_AEA, nodata=0, categories=HUB_LABELS)
    write_cog(
        path,
        classes * 0 + 1,
        TRANSFORM,
        KZ_AEA,
        nodata=0,
        categories=HUB_LABELS,
        overwrite=True,
    )
    with rasterio.open(path) as src:
        assert (src.read(1) == 1).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.qml", "d.tif"]


def test_failed_write_leaves_no_file(tmp_path, classes, monkeypatch):
    def open_then_fail(path, *args, **kwargs):
        path.write_bytes(b"half a tiff")
        raise OSError("disk full")

    monkeypatch.setattr("kzspatial.render.raster.rasterio.open", open_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_cog(tmp_path / "d.tif", classes, TRANSFORM, KZ_AEA, nodata=0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("array", "kwargs", "match"),
    [
        (np.zeros((2, 3, 4), np.uint8), {}, "must be 2-D"),
        (
            np.zeros((3, 4), np.float32),
            {"colormap": {1: (1, 2, 3)}},
            "needs a uint8 band",
        ),
        (np.zeros((3, 4), np.uint8), {"blocksize": 100}, "multiple of 16"),
    ],
    ids=["3d", "colormap-on-float", "blocksize"],
)
def test_input_errors(tmp_path, array, kwargs, match):
    with pytest.raises(ValidationError, match=match):
        write_cog(tmp_path / "x.tif", array, TRANSFORM, KZ_AEA, nodata=0, **kwargs)
