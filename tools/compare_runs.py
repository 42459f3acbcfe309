"""Compare two output folders of ``kzspatial run``: what a refactor may and may not change.

Usage::

    python tools/compare_runs.py BEFORE AFTER [--allow-columns p_sim_two_sided,alternative]

Checks, and prints one line per product:

- every CSV under ``tables/`` and ``autocorrelation_files/``: byte-identical, or, when only
  allowed columns were added or changed, equal on all other columns;
- the GeoPackage: the same layers, and per layer the same geometry (WKB) and attribute
  values, allowed columns aside (and the write time ``update_time`` of ``layer_styles``);
- GeoTIFF and QML files: byte-identical;
- HTML files: listed (they embed generated ids and times) but not compared.

Exit status 1 when anything else differs, so the script can gate a refactor.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
from pathlib import Path

import pandas as pd
import pyogrio


def _compare_csv(a: Path, b: Path, allowed: set[str]) -> str | None:
    if filecmp.cmp(a, b, shallow=False):
        return None
    left, right = pd.read_csv(a), pd.read_csv(b)
    extra = set(right.columns) - set(left.columns)
    missing = set(left.columns) - set(right.columns)
    if (extra | missing) - allowed:
        return f"columns differ: +{sorted(extra)} -{sorted(missing)}"
    common = [c for c in left.columns if c in right.columns and c not in allowed]
    if len(left) != len(right):
        return f"rows {len(left)} -> {len(right)}"
    try:
        pd.testing.assert_frame_equal(
            left[common].reset_index(drop=True),
            right[common].reset_index(drop=True),
            check_exact=False,
            rtol=1e-12,
            atol=0,
        )
    except AssertionError as exc:
        return "values differ: " + str(exc).splitlines()[0]
    if not (extra | missing):
        numeric = left[common].select_dtypes("number")
        scale = numeric.abs().where(numeric != 0)
        worst = ((right[numeric.columns] - numeric).abs() / scale).max().max()
        return f"allowed change only: same values, max relative difference {worst:.1e}"
    changed = sorted(
        c
        for c in allowed & set(left.columns) & set(right.columns)
        if not left[c].equals(right[c])
    )
    return f"allowed change only: added {sorted(extra)}, removed {sorted(missing)}, changed {changed}"


def _compare_gpkg(a: Path, b: Path, allowed: set[str]) -> list[str]:
    layers_a = [name for name, _ in pyogrio.list_layers(a)]
    layers_b = [name for name, _ in pyogrio.list_layers(b)]
    out = []
    if sorted(layers_a) != sorted(layers_b):
        out.append(f"gpkg layers differ: {sorted(set(layers_a) ^ set(layers_b))}")
    for layer in sorted(set(layers_a) & set(layers_b)):
        left = pyogrio.read_dataframe(a, layer=layer)
        right = pyogrio.read_dataframe(b, layer=layer)
        cols_a, cols_b = set(left.columns), set(right.columns)
        if (cols_a ^ cols_b) - allowed:
            out.append(f"gpkg {layer}: columns differ {sorted(cols_a ^ cols_b)}")
            continue
        volatile = set()
        if layer == "layer_styles":
            # It records when a style was written, not what it is; a style may name an
            # allowed column (its alias), so those lines are left out of the comparison.
            volatile = {"update_time"}
            for frame in (left, right):
                frame["styleQML"] = [
                    "\n".join(
                        line
                        for line in qml.splitlines()
                        if not any(f'field="{c}"' in line for c in allowed)
                    )
                    for qml in frame["styleQML"]
                ]
        common = [
            c for c in left.columns if c in cols_b and c not in allowed | volatile
        ]
        try:
            if "geometry" in common:
                assert list(left.geometry.to_wkb()) == list(right.geometry.to_wkb())
                common.remove("geometry")
            pd.testing.assert_frame_equal(
                pd.DataFrame(left[common]), pd.DataFrame(right[common])
            )
        except AssertionError as exc:
            out.append(f"gpkg {layer}: differs: {str(exc).splitlines()[:1]}")
            continue
        note = " (allowed columns changed)" if cols_a ^ cols_b else ""
        print(f"same       gpkg:{layer}{note}")
    return out


def _products(folder: Path) -> set[Path]:
    # GDAL writes .aux.xml sidecars when a file is read; they are not products.
    return {
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(".aux.xml")
    }


def main(argv: list[str] | None = None) -> int:
    """Compare the folders named on the command line; 1 when they differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--allow-columns", default="")
    args = parser.parse_args(argv)
    allowed = {c for c in args.allow_columns.split(",") if c}
    problems: list[str] = []
    files_a, files_b = _products(args.before), _products(args.after)
    for rel in sorted(files_a ^ files_b):
        side = "only before" if rel in files_a else "only after"
        problems.append(f"{side}: {rel}")
    for rel in sorted(files_a & files_b):
        a, b = args.before / rel, args.after / rel
        if rel.suffix == ".csv":
            verdict = _compare_csv(a, b, allowed)
            if verdict is None:
                print(f"identical  {rel}")
            elif verdict.startswith("allowed"):
                print(f"changed    {rel}: {verdict}")
            else:
                problems.append(f"{rel}: {verdict}")
        elif rel.suffix == ".gpkg":
            problems += _compare_gpkg(a, b, allowed)
        elif rel.suffix in {".tif", ".qml", ".png"}:
            if filecmp.cmp(a, b, shallow=False):
                print(f"identical  {rel}")
            else:
                problems.append(f"{rel}: bytes differ")
        else:
            print(f"not compared {rel}")
    for line in problems:
        print(f"DIFFERENT  {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
