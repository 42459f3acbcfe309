"""The documentation site builds without warnings and documents the whole public API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kzspatial

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_api_page_lists_the_top_level_api():
    # docs/api.rst groups the top-level names by topic; a name added to (or removed
    # from) kzspatial.__all__ must be added to (or removed from) the page.
    listed = re.findall(r"^   (\w+)$", (DOCS / "api.rst").read_text(), flags=re.M)
    assert len(listed) == len(set(listed)), "a name is listed twice in docs/api.rst"
    assert set(listed) == set(kzspatial.__all__) - {"__version__"}


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    # The build of the README/CI command, into a temporary folder; -W turns every
    # warning (docstrings included) into a failure, --keep-going reports all of them.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "html" / "architecture.html").is_file()
