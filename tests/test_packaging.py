import re
import subprocess
import sys
from pathlib import Path

import pytest

import kzspatial

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_cmd = [
        line for block in commands for line in block.splitlines() if "pytest" in line
    ]
    assert test_cmd, "README must show the test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd[-1].strip() in ci.splitlines()
    # the docstring examples of the package run too
    assert re.search(r"--doctest-modules\b.*\bkzspatial\b", test_cmd[-1])


def test_version_and_show_versions(capsys):
    assert kzspatial.__version__
    kzspatial.show_versions()
    out = capsys.readouterr().out
    for name in (
        "GDAL",
        "PROJ",
        "GEOS",
        "pyogrio",
        "libpysal",
        "esda",
        "folium",
        "rasterio",
    ):
        assert name in out


@pytest.mark.cli
@pytest.mark.parametrize(
    "cmd",
    [["kzspatial"], [sys.executable, "-m", "kzspatial"]],
    ids=["script", "module"],
)
def test_cli_help(cmd):
    result = subprocess.run(
        [*cmd, "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "data" in result.stdout
