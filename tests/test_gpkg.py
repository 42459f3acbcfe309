"""Tests of kzspatial.render.gpkg: round trip, QGIS styles/metadata, validity, atomicity."""

import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import kz_synthetic as syn
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import validate_gpkg_command

from kzspatial._errors import OverwriteError, ValidationError
from kzspatial.geo.crs import KZ_AEA
from kzspatial.render.gpkg import render_default_style, write_geopackage
from kzspatial.render.maps import flow_lines

QMD_URI = "http://mrcc.com/qgis.dtd"


@pytest.fixture(scope="module")
def layers():
    regions = syn.regions()
    flows = syn.od_flows(regions)
    net = (
        flows.groupby("destination")["flow"]
        .sum()
        .sub(flows.groupby("origin")["flow"].sum(), fill_value=0)
    )
    regions["net_migration"] = regions["region_id"].map(net).astype(float)
    regions["fid"] = np.arange(101, 121, dtype=np.int64)  # stable ids, not row numbers
    cities = regions[regions["region_id"].isin(syn.HUB_IDS)].copy()
    cities["geometry"] = cities.representative_point()
    return {
        "regions": regions.to_crs(3857),  # any CRS in, EPSG:4326 out
        "districts": syn.districts(30),
        "cities": cities.drop(columns="fid"),
        "od_flows": flow_lines(regions, flows),
        "catchments": syn.catchments(regions),
        "od_matrix": flows,
        "moran_global": pd.DataFrame(
            {"variable": ["net_migration"], "I": [0.21], "p_sim": [0.03]}
        ),
    }


@pytest.fixture(scope="module")
def gpkg(layers, tmp_path_factory):
    path = tmp_path_factory.mktemp("gpkg") / "out" / "kzspatial.gpkg"
    return write_geopackage(
        path,
        layers,
        equal_area=["regions"],
        metadata={
            "regions": {"title": "Регионы Казахстана", "abstract": "Synthetic — test"}
        },
        provenance={"kzspatial_version": "0.1.0", "seed": 42},
    )


def _gdal_items(path, layer) -> dict:
    # GDAL's own items: it lists other metadata documents (the QMD) as GPKG_METADATA_*
    info = pyogrio.read_info(path, layer=layer)["layer_metadata"] or {}
    return {k: v for k, v in info.items() if not k.startswith("GPKG_METADATA_ITEM")}


def test_gdal_layer_metadata_reads_back_as_pyogrios_own(tmp_path):
    # keys and values with markup, quotes, non-ASCII letters, an empty value: read back
    # as from the metadata pyogrio writes itself (layer_metadata=)
    provenance = {"source": "BNS <\"OD\"> & 'stat'", "регион": "Алматы ü", "empty": ""}
    table = pd.DataFrame({"a": [1, 2]})
    path = write_geopackage(
        tmp_path / "t.gpkg", {"table": table}, provenance=provenance
    )
    reference = tmp_path / "reference.gpkg"
    pyogrio.write_dataframe(
        table, reference, layer="table", driver="GPKG", layer_metadata=provenance
    )
    ours, theirs = _gdal_items(path, "table"), _gdal_items(reference, "table")
    assert {k: ours.get(k) for k in provenance} == {
        k: theirs.get(k) for k in provenance
    }
    assert ours["source"] == provenance["source"]


def _query(path, sql, *args):
    with sqlite3.connect(path) as con:
        rows = con.execute(sql, args).fetchall()
    con.close()
    return rows


def test_layers_and_types(gpkg):
    listed = dict(pyogrio.list_layers(gpkg).tolist())
    assert set(listed) == {
        "regions",
        "regions_kz_aea",
        "districts",
        "cities",
        "od_flows",
        "catchments",
        "od_matrix",
        "moran_global",
        "layer_styles",
    }
    assert listed["od_flows"] == "LineString" and listed["cities"] == "Point"
    assert listed["od_matrix"] is None
    kinds = dict(_query(gpkg, "SELECT table_name, data_type FROM gpkg_contents"))
    assert (
        kinds["od_matrix"]
        == kinds["moran_global"]
        == kinds["layer_styles"]
        == "attributes"
    )
    assert kinds["regions"] == "features"


def test_round_trip_keeps_values_fids_and_cyrillic(gpkg, layers):
    regions = pyogrio.read_dataframe(gpkg, layer="regions", fid_as_index=True)
    assert regions.crs.to_epsg() == 4326
    assert regions.index.tolist() == list(range(101, 121))
    expected = layers["regions"].to_crs(4326)
    assert regions["name_kk"].tolist() == expected["name_kk"].tolist()
    assert regions["name_ru"].iloc[5] == "Западно-Казахстанская область"
    np.testing.assert_allclose(regions["net_migration"], expected["net_migration"])
    assert (
        regions.geometry.reset_index(drop=True)
        .geom_equals(expected.geometry.reset_index(drop=True))
        .all()
    )

    districts = pyogrio.read_dataframe(gpkg, layer="districts", fid_as_index=True)
    assert districts.index.tolist() == list(range(1, 31))  # numbered from 1 when no fid

    od = pyogrio.read_dataframe(gpkg, layer="od_matrix", read_geometry=False)
    pd.testing.assert_frame_equal(od, layers["od_matrix"], check_dtype=False)


def test_equal_area_copy(gpkg):
    copy = pyogrio.read_dataframe(gpkg, layer="regions_kz_aea")
    assert copy.crs.equals(KZ_AEA)
    info = _query(
        gpkg,
        "SELECT srs_name FROM gpkg_spatial_ref_sys s JOIN gpkg_contents c "
        "ON s.srs_id = c.srs_id WHERE c.table_name = 'regions_kz_aea'",
    )
    assert info == [("KZ Albers Equal Area (kzspatial)",)]
    # the writer tells pyogrio the projection has no EPSG code without searching: as
    # pyproj's search finds
    from pyproj import CRS

    from kzspatial.render.gpkg import _EQUAL_AREA_CRS

    assert CRS(KZ_AEA).to_epsg() is None
    assert _EQUAL_AREA_CRS.to_epsg() is None and _EQUAL_AREA_CRS.equals(KZ_AEA)
    # Kazakhstan's area is about 2.7 million km²; the synthetic outline is close to it
    assert 2.0e12 < copy.area.sum() < 3.2e12


def test_geopackage_version_and_validity(gpkg):
    assert _query(gpkg, "PRAGMA user_version") == [(10200,)]
    assert _query(gpkg, "PRAGMA integrity_check") == [("ok",)]
    result = subprocess.run(
        [
            *validate_gpkg_command(),
            "--extra",
            "--warning-as-error",
            str(gpkg),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_styles_follow_qgis_convention(gpkg):
    rows = _query(
        gpkg,
        "SELECT f_table_catalog, f_table_schema, f_table_name, "
        "f_geometry_column, useAsDefault, update_time, styleQML "
        "FROM layer_styles ORDER BY id",
    )
    by_layer = {r[2]: r for r in rows}
    assert set(by_layer) == {
        "regions",
        "regions_kz_aea",
        "districts",
        "cities",
        "od_flows",
        "catchments",
    }
    for catalog, schema, _, geometry_column, default, update_time, qml in rows:
        assert catalog == "" and schema == ""  # '' not NULL: QGIS filters on equality
        assert geometry_column == "geom"
        assert default == 1
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", update_time)
        ET.fromstring(qml.split("\n", 1)[1])  # well-formed XML after the DOCTYPE line
    assert 'type="graduatedSymbol"' in by_layer["regions"][6]
    assert 'attr="net_migration"' in by_layer["regions"][6]
    assert 'type="categorizedSymbol"' in by_layer["catchments"][6]
    flows_qml = by_layer["od_flows"][6]
    assert '"lastvertex"' in flows_qml and '"filled_arrowhead"' in flows_qml
    assert "sqrt(coalesce(&#34;flow&#34;, 0) / " in flows_qml
    assert (
        '<alias field="net_migration" index="6" name="Net migration (persons)"/>'
        in by_layer["regions"][6]
    )


def test_qgis_metadata_and_provenance(gpkg):
    rows = _query(
        gpkg,
        "SELECT r.table_name, m.metadata FROM gpkg_metadata m JOIN "
        "gpkg_metadata_reference r ON r.md_file_id = m.id WHERE "
        "m.md_standard_uri = ? AND r.reference_scope = 'table'",
        QMD_URI,
    )
    documents = {table: ET.fromstring(xml.split("\n", 1)[1]) for table, xml in rows}
    assert set(documents) == {
        "regions",
        "regions_kz_aea",
        "districts",
        "cities",
        "od_flows",
        "catchments",
        "od_matrix",
        "moran_global",
    }
    assert documents["regions"].findtext("title") == "Регионы Казахстана"
    assert documents["regions_kz_aea"].findtext("title") == (
        "Регионы Казахстана (KZ Albers Equal Area)"
    )
    assert documents["regions"].findtext("abstract").startswith("Synthetic — test")
    assert "seed=42" in documents["od_flows"].findtext("abstract")
    # the provenance as GDAL metadata of every layer, as ogrinfo and pyogrio read it:
    # one document, referenced by each layer
    for layer in documents:
        items = _gdal_items(gpkg, layer)
        assert {"kzspatial_version": "0.1.0", "seed": "42"}.items() <= items.items()
    assert pyogrio.read_info(gpkg, layer=layer)["dataset_metadata"]["seed"] == "42"
    gdal_documents = _query(
        gpkg,
        "SELECT m.id, count(*) FROM gpkg_metadata m JOIN gpkg_metadata_reference r "
        "ON r.md_file_id = m.id WHERE m.md_standard_uri = 'http://gdal.org' "
        "AND r.reference_scope = 'table' GROUP BY m.id",
    )
    assert [n for _, n in gdal_documents] == [len(documents)]
    identifiers = dict(_query(gpkg, "SELECT table_name, identifier FROM gpkg_contents"))
    assert identifiers["regions"] == "Регионы Казахстана"


def test_diverging_classes_break_at_zero():
    frame = syn.regions().assign(net_migration=np.linspace(-900.0, 30_000.0, 20))
    root = ET.fromstring(render_default_style("regions", frame).split("\n", 1)[1])
    ranges = root.findall("renderer-v2/ranges/range")
    lowers = [float(r.get("lower")) for r in ranges]
    uppers = [float(r.get("upper")) for r in ranges]
    assert lowers[0] == -900.0 and uppers[-1] == 30_000.0
    assert 0.0 in uppers and 0.0 in lowers
    assert uppers[:-1] == lowers[1:]  # contiguous


def test_custom_style_overrides_default(layers, tmp_path):
    qml = render_default_style("districts", layers["districts"])
    path = write_geopackage(
        tmp_path / "a.gpkg", {"regions": layers["regions"]}, styles={"regions": qml}
    )
    assert _query(path, "SELECT styleQML FROM layer_styles") == [(qml,)]


def test_refuses_to_overwrite(layers, tmp_path):
    path = write_geopackage(tmp_path / "a.gpkg", {"districts": layers["districts"]})
    with pytest.raises(OverwriteError, match="overwrite=True"):
        write_geopackage(path, {"cities": layers["cities"]})
    write_geopackage(path, {"cities": layers["cities"]}, overwrite=True)
    assert pyogrio.list_layers(path)[0][0] == "cities"


def test_interrupted_write_leaves_earlier_file_intact(layers, tmp_path):
    path = write_geopackage(tmp_path / "a.gpkg", {"districts": layers["districts"]})
    before = path.read_bytes()
    failing = pd.DataFrame({"value": np.array([1 + 2j, 3j])})  # complex has no OGR type
    with pytest.raises(NotImplementedError, match="complex128") as caught:
        write_geopackage(
            path, {"cities": layers["cities"], "broken": failing}, overwrite=True
        )
    assert any(
        "left unchanged" in note for note in getattr(caught.value, "__notes__", [])
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.gpkg"
    ]  # no temporary leftovers


def test_validation_reports_every_problem(layers, tmp_path):
    no_crs = layers["districts"].set_crs(None, allow_override=True)
    bad_fid = layers["cities"].assign(fid=[1, 1, 2])
    with pytest.raises(ValidationError) as caught:
        write_geopackage(
            tmp_path / "a.gpkg",
            {
                "Regions": layers["regions"],
                "districts": no_crs,
                "cities": bad_fid,
                "numbers": [1, 2],
            },
            equal_area=["od_matrix"],
            styles={"nowhere": "<qgis/>"},
        )
    message = str(caught.value)
    for expected in (
        "'Regions' is not allowed",
        "'districts' has no CRS",
        "'fid' must hold unique integers",
        "'numbers' is a list",
        "equal_area names 'od_matrix'",
        "styles names unknown layer(s) ['nowhere']",
    ):
        assert expected in message
    assert not (tmp_path / "a.gpkg").exists()
