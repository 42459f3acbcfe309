"""The command line on the real data (markers ``cli`` and ``data``): results on stdout,
logs on stderr, a clear exit code on refusal."""

import subprocess
import sys

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
