"""The command line on the real data (markers ``cli`` and ``data``): results on stdout,
logs on stderr, a clear exit code on refusal."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.cli, pytest.mark.data]


def kzspatial(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "kzspatial", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_data_check_prints_verdicts():
    out = kzspatial("data", "check")
    assert out.returncode == 0, out.stderr
    lines = {
        line.split()[0]: line
        for line in out.stdout.splitlines()
        if line.strip()[:4].isdigit()
    }
    assert lines["2024"].rstrip().endswith("agrees")
    assert "differs for 2 regions" in lines["2023"]
    assert lines["2022"].rstrip().endswith("contradicts")


@pytest.mark.parametrize(
    "command",
    [
        ["run"],
        ["gravity"],
        ["moran"],
        ["catchments"],
        ["map"],
        ["export"],
        ["report", "autocorrelation"],
        ["data", "check"],
        ["study"],
        ["check-published"],
    ],
)
def test_every_command_has_help(command):
    out = kzspatial(*command, "--help")
    assert out.returncode == 0 and "Usage" in out.stdout


def test_map_writes_then_refuses_to_overwrite(tmp_path):
    first = kzspatial(
        "map", "--year", "2024", "--out", "o", "--mode", "net", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert "map_2024" in first.stdout and (tmp_path / "o/maps/flows_2024.html").exists()
    html = (tmp_path / "o/maps/flows_2024.html").read_text(encoding="utf-8")
    assert "Largest net moves between regions, 2024" in html
    second = kzspatial("map", "--year", "2024", "--out", "o", cwd=tmp_path)
    assert second.returncode == 2
    assert "--overwrite" in second.stderr and second.stdout == ""
    assert (tmp_path / "o/maps/flows_2024.html").read_text(encoding="utf-8") == html
    assert (tmp_path / "o/maps/flows.html").exists()  # the explorer, on by default
    third = kzspatial(
        "map", "--year", "2024", "--out", "p", "--no-explorer", cwd=tmp_path
    )
    assert third.returncode == 0, third.stderr
    assert "explorer" not in third.stdout
    assert not (tmp_path / "p/maps/flows.html").exists()


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "published"


def test_check_published_prints_and_writes_the_comparison(tmp_path):
    out = kzspatial(
        "check-published",
        str(EXAMPLES / "study_table6_published_figures.csv"),
        "--out-csv",
        str(tmp_path / "check.csv"),
    )
    assert out.returncode == 0, out.stderr
    printed = list(csv.DictReader(io.StringIO(out.stdout), delimiter="\t"))
    written = list(
        csv.DictReader(
            io.StringIO((tmp_path / "check.csv").read_text(encoding="utf-8"))
        )
    )
    assert len(printed) == len(written) > 0
    rows = [
        r
        for r in printed
        if r["variable"] == "internal_migration"
        and r["year"] in {"2022", "2023", "2024"}
    ]
    assert len(rows) == 6 and all(r["flagged"] == "True" for r in rows)
    assert "differ from every official concept" in out.stderr
    again = kzspatial(
        "check-published",
        str(EXAMPLES / "study_table6_published_figures.csv"),
        "--out-csv",
        str(tmp_path / "check.csv"),
    )
    assert again.returncode == 2 and "exists" in again.stderr


def test_check_published_names_the_bad_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("year,variable,value,unit\n2024,internal_migration,lots,thousand\n")
    out = kzspatial("check-published", str(bad))
    assert out.returncode == 2
    assert "line 2, column 'value'" in out.stderr and out.stdout == ""


def test_export_formats(tmp_path):
    bad = kzspatial("export", "--format", "shapefile", "--out", "o", cwd=tmp_path)
    assert bad.returncode == 2 and "--format shapefile is unknown" in bad.stderr
    out = kzspatial(
        "export",
        "--format",
        "flowmap",
        "-f",
        "kepler",
        "--year",
        "2024",
        "--out",
        "o",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o/flowmap_blue/flows.csv").exists()
    assert (tmp_path / "o/kepler_flows.csv").exists()
    assert not (tmp_path / "o/kzspatial.gpkg").exists()


@pytest.mark.slow
def test_study_writes_the_report_and_only_its_tables(tmp_path):
    out = kzspatial("study", "--out", "o", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Karaganda region" in out.stdout and "refuted" in out.stdout
    assert (tmp_path / "o/study.html").exists()
    tables = {p.stem for p in (tmp_path / "o/tables").glob("*.csv")}
    assert {"study_national", "study_typology", "study_published_check"} <= tables
    assert not any(t.startswith(("gravity_", "moran_")) for t in tables)
