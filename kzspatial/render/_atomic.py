"""Atomic file output: nothing a user already has is clobbered or half-written.

:func:`atomic_path` yields a temporary path next to the target and moves it into place with
``os.replace`` only when the block succeeds. :class:`StagedOutputs` does the same for a
whole run: every product is written into a staging folder, and all of them are moved into
place at the end, so an interrupted run leaves earlier outputs untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kzspatial._errors import OverwriteError

__all__ = ["StagedOutputs", "atomic_path"]


@contextlib.contextmanager
def atomic_path(target: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``target`` atomically.

    The path has the target's own name inside a hidden folder next to it, so writers
    that pick a format from the extension, or leave journal files (GDAL), work
    unchanged; the folder is removed whatever happens.

    Raises
    ------
    OverwriteError
        ``target`` exists and ``overwrite`` is False (checked before any work is done).
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OverwriteError(
            f"{target} exists; pass overwrite=True (CLI: --overwrite) to "
            "replace it, or choose another path"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield work_dir / target.name
        os.replace(work_dir / target.name, target)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


class StagedOutputs:
    """Collect a run's outputs in a staging folder and publish them all at the end.

    Parameters
    ----------
    targets : dict of str -> Path
        Final location of every product, by a short name.
    overwrite : bool
        Replace existing targets. Without it, any existing target makes :meth:`check`
        raise before the run starts.
    """

    def __init__(self, targets: dict[str, Path], *, overwrite: bool = False) -> None:
        self.targets = {k: Path(v) for k, v in targets.items()}
        self.overwrite = overwrite
        self._stage: Path | None = None

    def check(self) -> None:
        """Refuse early if outputs exist and overwriting was not requested."""
        existing = [str(p) for p in self.targets.values() if p.exists()]
        if existing and not self.overwrite:
            raise OverwriteError(
                "outputs from an earlier run exist: "
                + ", ".join(existing[:6])
                + (" ..." if len(existing) > 6 else "")
                + "; pass --overwrite to replace them, or --out DIR for a new folder"
            )

    def __enter__(self) -> StagedOutputs:
        self.check()
        common = Path(
            os.path.commonpath([p.parent.resolve() for p in self.targets.values()])
        )
        common.mkdir(parents=True, exist_ok=True)
        self._stage = Path(tempfile.mkdtemp(prefix=".kzspatial-staging-", dir=common))
        return self

    def path(self, name: str) -> Path:
        """Staging path of product ``name`` (write it here during the run)."""
        if self._stage is None:
            raise RuntimeError("use StagedOutputs as a context manager")
        staged = self._stage / name / self.targets[name].name
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._stage is not None
        try:
            if exc_type is None:
                for name, target in self.targets.items():
                    staged = self._stage / name / target.name
                    if not staged.exists():
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if target.is_dir() and staged.is_dir():
                        shutil.rmtree(target)
                    os.replace(staged, target)
        finally:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None
