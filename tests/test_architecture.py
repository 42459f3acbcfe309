"""The import contracts of pyproject.toml ``[tool.importlinter]`` hold, and can break.

``lint-imports`` checks the layers (cli > study > render | datasets > geo > core) and
what the core may import; the subprocess probes check what import-linter cannot see:
that numba and libpysal are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import kzspatial.core

ROOT = Path(__file__).resolve().parents[1]

# Runs import-linter's console entry point with the interpreter of the tests, so the
# check needs no PATH set-up; the arguments follow.
LINT_IMPORTS = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; "
    "sys.exit(lint_imports_command())",
    "--no-logo",
    "--no-cache",
]


def _lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LINT_IMPORTS, *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_import_contracts_hold():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


# ------------------------------------------------------------------ the checker can fail
# A miniature package laid out like kzspatial, one module per layer, checked against the
# project's own contracts with the package name swapped.
FAKE = "kzfake"
FAKE_TREE = {
    "__init__.py": f"import {FAKE}.core.stats\nimport {FAKE}.datasets.loader\n",
    "__main__.py": f"import {FAKE}.cli\n",
    "_errors.py": "class FakeError(Exception):\n    pass\n",
    "_constants.py": "ORIGIN = 'origin'\n",
    "_show_versions.py": "import platform\n",
    "_version.py": "import importlib.metadata\n",
    "_frames.py": "def table_to_frame():\n    import pandas\n",
    "cli.py": f"import {FAKE}.study.pipeline\n",
    "study/__init__.py": "",
    "study/pipeline.py": f"import {FAKE}.datasets.loader\nimport {FAKE}.render.maps\n",
    "render/__init__.py": "",
    "distributed/__init__.py": "",
    "render/maps.py": f"import folium\nimport {FAKE}.geo.adapt\n",
    "datasets/__init__.py": "",
    "datasets/loader.py": f"import pandas\nimport {FAKE}.geo.adapt\n",
    "geo/__init__.py": "",
    "geo/adapt.py": f"import geopandas\nimport {FAKE}.core.stats\n",
    "core/__init__.py": "",
    "core/stats.py": textwrap.dedent(
        f"""\
        import numpy
        from {FAKE}._errors import FakeError


        def flow_statistic():
            from {FAKE}.core.moran import _qap
        """
    ),
    "core/moran/__init__.py": "",
    "core/moran/_qap.py": "import numba\n",
}

# (file, line appended, the contract expected to break)
VIOLATIONS = {
    "core imports pandas": ("core/stats.py", "import pandas", "core-pure"),
    "errors import shapely": ("_errors.py", "import shapely", "core-pure"),
    "geo imports render": ("geo/adapt.py", f"import {FAKE}.render.maps", "layers"),
    "render imports datasets": (
        "render/maps.py",
        f"import {FAKE}.datasets.loader",
        "layers",
    ),
    "core imports study": ("core/stats.py", f"import {FAKE}.study.pipeline", "layers"),
    "core imports dask": ("core/stats.py", "import dask", "core-pure"),
    "core imports distributed": (
        "core/stats.py",
        f"import {FAKE}.distributed",
        "layers",
    ),
    "new top-level module outside the layers": ("helpers.py", "", "layers"),
    "study imports numba": ("study/pipeline.py", "import numba", "numba-kernel"),
    "geo imports the kernel": (
        "geo/adapt.py",
        f"from {FAKE}.core.moran import _qap",
        "qap-private",
    ),
    "datasets import matplotlib": (
        "datasets/loader.py",
        "import matplotlib",
        "render-edge",
    ),
}


def _fake_config() -> str:
    """The project's [tool.importlinter] table for the fake package, as TOML."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "importlinter"
    ]

    def rename(value):
        if isinstance(value, str):
            return value.replace("kzspatial", FAKE)
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    # JSON scalars and arrays of strings are valid TOML values.
    lines = ["[tool.importlinter]"]
    lines += [
        f"{key} = {json.dumps(rename(value))}"
        for key, value in config.items()
        if key != "contracts"
    ]
    for contract in config["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines += [
            f"{key} = {json.dumps(rename(value))}" for key, value in contract.items()
        ]
        # The ignored imports name real modules the miniature does not reproduce.
        lines.append('unmatched_ignore_imports_alerting = "none"')
    return "\n".join(lines) + "\n"


def _contract_names() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "importlinter"
    ]
    return {c["id"]: c["name"] for c in config["contracts"]}


@pytest.fixture
def fake_project(tmp_path):
    for rel, source in FAKE_TREE.items():
        path = tmp_path / FAKE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    (tmp_path / "importlinter.toml").write_text(_fake_config())
    return tmp_path


def test_fake_project_keeps_the_contracts(fake_project):
    result = _lint_imports(fake_project, "--config", "importlinter.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    # Every contract of the project ran on the miniature.
    for name in _contract_names().values():
        assert f"{name} KEPT" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("rel", "line", "contract"), VIOLATIONS.values(), ids=list(VIOLATIONS)
)
def test_violation_breaks_a_contract(fake_project, rel, line, contract):
    path = fake_project / FAKE / rel
    path.write_text((path.read_text() if path.exists() else "") + line + "\n")
    result = _lint_imports(fake_project, "--config", "importlinter.toml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{_contract_names()[contract]} BROKEN" in result.stdout, result.stdout


# ------------------------------------------------------------------ lazy imports
def _loaded_after_importing(modules: list[str], watched: list[str]) -> list[str]:
    """Which of ``watched`` a fresh interpreter holds after importing ``modules``."""
    probe = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(set({watched!r}) & set(sys.modules))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


CORE_MODULES = [
    "kzspatial.core",
    *(
        info.name
        for info in pkgutil.walk_packages(kzspatial.core.__path__, "kzspatial.core.")
        # the compiled kernels themselves
        if not info.name.endswith(("._qap", "._kernels"))
    ),
]


def test_core_imports_numba_and_libpysal_lazily():
    # Importing kzspatial.core imports the top-level package too: neither it nor any
    # core module may load numba (seconds of start-up) or libpysal (optional interop).
    assert _loaded_after_importing(CORE_MODULES, ["libpysal", "numba"]) == []


def test_lazy_import_probe_sees_numba():
    # The probe above can fail: importing the kernel loads numba.
    assert _loaded_after_importing(["kzspatial.core.moran._qap"], ["numba"]) == [
        "numba"
    ]


# ------------------------------------------------------------------ module and function size
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 120
LONG_MARK = "# long:"  # followed by the reason the module or function stays long


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from ``def`` to the end of the body, less the docstring's lines."""
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        lines -= first.end_lineno - first.lineno + 1
    return lines


def _size_violations(package: Path) -> list[str]:
    """Modules over MAX_MODULE_LINES and functions over MAX_FUNCTION_LINES of code.

    A function's size counts its code lines only: docstrings (numpydoc sections with
    examples) are long by design. A module or function may stay long when a
    ``# long: <reason>`` comment inside it (for a module: anywhere in it) says why.
    """
    found = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        name = path.relative_to(package.parent).as_posix()
        marked = [
            i for i, line in enumerate(lines, 1) if line.strip().startswith(LONG_MARK)
        ]
        if len(lines) > MAX_MODULE_LINES and not marked:
            found.append(f"{name}: {len(lines)} lines (max {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            size = _code_lines(node)
            if size > MAX_FUNCTION_LINES and not any(
                node.lineno <= i <= node.end_lineno for i in marked
            ):
                found.append(
                    f"{name}:{node.lineno} {node.name}(): {size} code lines "
                    f"(max {MAX_FUNCTION_LINES})"
                )
    return found


def test_no_long_modules_or_functions():
    found = _size_violations(ROOT / "kzspatial")
    assert not found, (
        "split these, or state the reason in a '# long: ...' comment inside them:\n"
        + "\n".join(found)
    )


def test_size_check_can_fail(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    doc = '    """Doc.\n\n' + "    text\n" * 200 + '    """\n'
    (package / "big.py").write_text("x = 0\n" * (MAX_MODULE_LINES + 1))
    (package / "f.py").write_text(f"def f():\n{body}\n\ndef g():\n{doc}    return 1\n")
    (package / "ok.py").write_text(f"def f():\n    {LONG_MARK} a table\n{body}")
    found = _size_violations(package)
    assert found == [
        f"pkg/big.py: {MAX_MODULE_LINES + 1} lines (max {MAX_MODULE_LINES})",
        f"pkg/f.py:1 f(): {MAX_FUNCTION_LINES + 1} code lines (max {MAX_FUNCTION_LINES})",
    ]
