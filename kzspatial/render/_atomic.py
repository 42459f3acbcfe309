"""Atomic file output: nothing a user already has is clobbered, half-written or mixed.

:func:`atomic_path` yields a temporary path next to one target and moves it into place
with ``os.replace`` only when the block succeeds.

:class:`StagedOutputs` does the same for a whole run, whose products may lie in several
folders (``--out`` and the maps folder, possibly elsewhere), so no single rename can
publish them. It uses a write-ahead journal:

1. :meth:`StagedOutputs.locked` locks every output folder (``fcntl.flock`` on
   ``.kzspatial.lock``, non-blocking: a second run is refused with the folder and the pid
   of the first; the OS drops the lock of a killed process), recovers a journal left by a
   killed run, removes its ``.kzspatial-staging-*`` folders, and refuses existing outputs
   unless overwriting was requested.
2. The run writes every product into a staging folder inside the product's own output
   folder (same file system, so every later move is a rename).
3. Publishing writes the journal atomically (target, staged path and backup path of
   every product) into the first output folder, the decisive copy, and a copy into every
   other output folder; moves each old target aside to its backup and each new product
   in; marks the decisive journal committed (one ``os.replace``: the commit point);
   deletes backups and staging; deletes the copies and then the decisive journal.
4. :func:`recover_outputs` (run by :meth:`~StagedOutputs.locked`) undoes a publication
   that was not committed (backups restored, new products removed) and finishes one that
   was. Every step is idempotent, so recovery may itself be interrupted.

A fault-injection hook (``fault``: called with a step name after every step) lets tests
stop the writer at each step. Disk errors (full disk, quota, read-only file system,
permissions, GDAL's "Failed to commit transaction" on a full disk) become
:class:`OutputWriteError` naming the product and saying that earlier outputs are intact.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from kzspatial._errors import (
    _WRITE_REASONS as _REASONS,
)
from kzspatial._errors import (
    KzSpatialError,
    OutputLockedError,
    OutputWriteError,
    OverwriteError,
)

__all__ = [
    "OutputLockedError",
    "OutputWriteError",
    "StagedOutputs",
    "atomic_path",
    "recover_outputs",
]

logger = logging.getLogger(__name__)

LOCK_NAME = ".kzspatial.lock"
JOURNAL_NAME = ".kzspatial-journal.json"
STAGING_PREFIX = ".kzspatial-staging-"
# Below this much free space, GDAL's bare "Failed to commit transaction" is a full disk.
_LOW_SPACE = 16 * 2**20
Fault = Callable[[str], None]


def _low_space(where: Path) -> bool:
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        return shutil.disk_usage(where).free < _LOW_SPACE
    except OSError:
        return False


def _disk_errno(exc: BaseException, where: Path) -> int | None:
    """Return the errno of a disk error in ``exc`` or its causes (``where``: the file)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        code = getattr(cause, "errno", None)
        if code in _REASONS:
            return code
        text = str(cause).lower()
        if "disk is full" in text or "no space left" in text:
            return errno.ENOSPC
        if "read-only file system" in text or "readonly database" in text:
            return errno.EROFS
        if "failed to commit transaction" in text and _low_space(where):
            return errno.ENOSPC
        cause = cause.__cause__ or cause.__context__
    return None


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
    OutputWriteError
        The disk is full, or the folder read-only or not writable; ``target`` is left
        unchanged.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OverwriteError(
            f"{target} exists; pass overwrite=True (CLI: --overwrite) to "
            "replace it, or choose another path"
        )
    work_dir = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        yield work_dir / target.name
        os.replace(work_dir / target.name, target)
    except Exception as exc:
        # mapped before the partial file is removed: free space is still exhausted
        code = _disk_errno(exc, target)
        if code is None or isinstance(exc, OutputWriteError):
            raise
        raise OutputWriteError(code, target) from exc
    finally:
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif _lexists(path):
        path.unlink()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically and durably (temp file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class _Locks:
    """Exclusive ``flock`` locks on output folders, held until :meth:`release`."""

    def __init__(self) -> None:
        self.fds: dict[Path, int] = {}
        self._created: list[Path] = []

    def _mkdir(self, folder: Path) -> None:
        missing = []
        probe = folder
        while not _lexists(probe) and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise OutputWriteError(errno.ENOTDIR, folder) from exc
        self._created.extend(missing)  # deepest first

    def acquire(self, folder: Path) -> None:
        """Lock ``folder`` (created if missing), or raise naming the pid holding it."""
        if folder in self.fds:
            return
        path = folder / LOCK_NAME
        try:
            self._mkdir(folder)
            while True:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise OutputLockedError(
                        f"{folder} is in use by another kzspatial run (pid {pid}); "
                        "wait for it to finish, or choose another --out / --maps folder"
                    ) from None
                # a holder that finished may have unlinked the file we opened: retry
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(path).st_ino == os.fstat(fd).st_ino:
                        break
                os.close(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            if isinstance(exc, KzSpatialError) or exc.errno not in _REASONS:
                raise
            raise OutputWriteError(exc.errno, folder) from exc
        self.fds[folder] = fd

    def release(self) -> None:
        """Unlock every folder; remove the lock files and folders created but unused."""
        for folder, fd in reversed(self.fds.items()):
            with contextlib.suppress(OSError):
                (folder / LOCK_NAME).unlink()  # still locked: no one else holds it
            os.close(fd)
        self.fds.clear()
        for folder in self._created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: the run wrote nothing there
        self._created.clear()


def _finish(journal: dict, step: Fault) -> None:
    """Delete staging folders (with backups), then the journal copies, decisive last."""
    for i, stage in enumerate(journal["staging"].values()):
        shutil.rmtree(stage, ignore_errors=True)
        step(f"clean-staging-{i}")
    primary = Path(journal["primary"])
    for i, folder in enumerate(journal["staging"]):
        copy = Path(folder) / JOURNAL_NAME
        if copy != primary:
            copy.unlink(missing_ok=True)
            step(f"remove-journal-copy-{i}")
    primary.unlink(missing_ok=True)
    step("remove-journal")


def _roll_back(journal: dict, step: Fault) -> None:
    """Put every old target back and remove the new ones (idempotent)."""
    for entry in reversed(journal["entries"]):
        target, backup = Path(entry["target"]), Path(entry["backup"])
        if entry["had_old"] and not _lexists(backup):
            continue  # the old target was never moved aside
        if _lexists(target):  # a new product moved in
            trash = Path(entry["trash"])
            trash.parent.mkdir(parents=True, exist_ok=True)
            if _lexists(trash):
                _remove(trash)
            os.replace(target, trash)
            step(f"undo-install-{entry['name']}")
        if entry["had_old"]:
            os.replace(backup, target)
            step(f"restore-{entry['name']}")
    _finish(journal, step)


def _no_fault(step: str) -> None:
    pass


def recover_outputs(
    folder: str | os.PathLike[str],
    *,
    fault: Fault | None = None,
    _locks: _Locks | None = None,
) -> str | None:
    """Finish or undo the publication of outputs a killed run left in ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        An output folder; the journal there names every other folder involved, and
        all of them are locked while recovering.
    fault : callable, optional
        Called with a step name after every step (fault injection in tests).

    Returns
    -------
    str or None
        ``"rolled back"`` (the earlier outputs were restored), ``"rolled forward"`` (the
        new outputs were complete; leftovers removed) or None (nothing to recover).

    Raises
    ------
    OutputLockedError
        A folder of the journal is in use by a running kzspatial process.
    """
    step = fault or _no_fault
    folder = Path(folder).resolve()
    path = folder / JOURNAL_NAME
    if not folder.is_dir():
        return None
    locks = _locks or _Locks()
    try:
        locks.acquire(folder)
        path.with_name(JOURNAL_NAME + ".tmp").unlink(missing_ok=True)
        if not path.exists():
            return None
        journal = json.loads(path.read_text(encoding="utf-8"))
        for other in journal["staging"]:
            locks.acquire(Path(other))
        primary = Path(journal["primary"])
        if not primary.exists():  # resolved; only this copy was left to delete
            path.unlink()
            return "rolled forward"
        journal = json.loads(primary.read_text(encoding="utf-8"))
        if journal["state"] == "committed":
            _finish(journal, step)
            outcome = "rolled forward"
        else:
            _roll_back(journal, step)
            outcome = "rolled back"
    finally:
        if _locks is None:
            locks.release()
    logger.warning(
        "recovered the outputs of an interrupted run in %s: %s", folder, outcome
    )
    return outcome


def _remove_leftovers(folder: Path) -> None:
    """Staging folders of killed runs (after recovery nothing in them is needed)."""
    for stale in folder.glob(STAGING_PREFIX + "*"):
        logger.info("removing %s, left by an interrupted run", stale)
        shutil.rmtree(stale, ignore_errors=True)


class StagedOutputs:
    """Collect a run's outputs in staging folders and publish them all at once.

    Parameters
    ----------
    targets : dict of str -> Path
        Final location of every product, by a short name (a file or a folder).
    overwrite : bool
        Replace existing targets. Without it, any existing target makes :meth:`check`
        raise before the run starts.
    fault : callable, optional
        Called with a step name after every step of publishing (fault injection in
        tests; it may raise or end the process).

    Notes
    -----
    Use :meth:`locked` around the whole run (lock, recovery and the existing-output check
    before any work), and the object itself as a context manager around the writing: the
    products written at ``path(name)`` are published on success, discarded otherwise. A
    product that was not written is absent from the new set: an earlier file of that
    name is removed with the rest of the earlier set.
    """

    def __init__(
        self,
        targets: dict[str, Path],
        *,
        overwrite: bool = False,
        fault: Fault | None = None,
    ) -> None:
        self.targets = {k: Path(v) for k, v in targets.items()}
        self.overwrite = overwrite
        self._step = fault or _no_fault
        self._abs = {k: p.parent.resolve() / p.name for k, p in self.targets.items()}
        self._folders = list(dict.fromkeys(p.parent for p in self._abs.values()))
        self._locks = _Locks()
        self._held = contextlib.ExitStack()
        self._stages: dict[Path, Path] = {}

    def check(self) -> None:
        """Refuse early if outputs exist and overwriting was not requested."""
        existing = [str(p) for p in self.targets.values() if _lexists(p)]
        if existing and not self.overwrite:
            raise OverwriteError(
                "outputs from an earlier run exist: "
                + ", ".join(existing[:6])
                + (" ..." if len(existing) > 6 else "")
                + "; pass --overwrite to replace them, or --out DIR for a new folder"
            )

    @contextlib.contextmanager
    def locked(self) -> Iterator[StagedOutputs]:
        """Hold the output folders for a run: lock, recover, clean, then :meth:`check`.

        Raises
        ------
        OutputLockedError
            Another run is writing into one of the folders.
        OutputWriteError
            A folder cannot be created or written (read-only, permissions, a file of
            that name).
        OverwriteError
            Outputs exist and overwriting was not requested.
        """
        if self._locks.fds:  # already held
            yield self
            return
        try:
            for folder in sorted(self._folders):
                self._locks.acquire(folder)
            for folder in self._folders:
                recover_outputs(folder, _locks=self._locks)
                _remove_leftovers(folder)
            self.check()
            yield self
        finally:
            self._locks.release()

    def __enter__(self) -> StagedOutputs:
        self._held.enter_context(self.locked())
        try:
            for folder in self._folders:
                self._stages[folder] = Path(
                    tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder)
                )
        except BaseException as exc:
            self._discard()
            mapped = self._write_error(exc) if isinstance(exc, Exception) else None
            if mapped is None:
                raise
            raise mapped from exc
        return self

    def path(self, name: str) -> Path:
        """Staging path of product ``name`` (write it here during the run)."""
        if not self._stages:
            raise RuntimeError("use StagedOutputs as a context manager")
        staged = self._staged(name)
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def _staged(self, name: str) -> Path:
        target = self._abs[name]
        return self._stages[target.parent] / "new" / name / target.name

    def _journal(self) -> dict:
        entries = []
        for name, target in self._abs.items():
            stage = self._stages[target.parent]
            entries.append(
                {
                    "name": name,
                    "target": str(target),
                    "staged": str(self._staged(name)),
                    "backup": str(stage / "old" / name),
                    "trash": str(stage / "trash" / name),
                    "had_old": _lexists(target),
                    "has_new": _lexists(self._staged(name)),
                }
            )
        return {
            "version": 1,
            "pid": os.getpid(),
            "state": "prepared",
            "primary": str(self._folders[0] / JOURNAL_NAME),
            "staging": {str(f): str(s) for f, s in self._stages.items()},
            "entries": entries,
        }

    def _publish(self) -> None:
        """Swap the staged set in for the old one (see the module docstring)."""
        step = self._step
        journal = self._journal()
        step("staged")
        primary = Path(journal["primary"])
        written = []
        try:
            _write_json(primary, journal)
            written.append(primary)
            step("write-journal")
            for i, folder in enumerate(self._folders[1:], start=1):
                _write_json(folder / JOURNAL_NAME, journal)
                written.append(folder / JOURNAL_NAME)
                step(f"write-journal-copy-{i}")
            for entry in journal["entries"]:
                target = Path(entry["target"])
                if entry["had_old"]:
                    Path(entry["backup"]).parent.mkdir(exist_ok=True)
                    os.replace(target, entry["backup"])
                    step(f"backup-{entry['name']}")
                if entry["has_new"]:
                    os.replace(entry["staged"], target)
                    step(f"install-{entry['name']}")
            journal["state"] = "committed"
            _write_json(primary, journal)
        except BaseException:
            if written:  # the journal tells what to undo
                try:
                    _roll_back(journal, _no_fault)
                except Exception as exc:  # keep the backups for the next start
                    self._stages.clear()
                    logger.error("rolling back failed (%s); the next run will", exc)
            else:
                for path in (primary, primary.with_name(JOURNAL_NAME + ".tmp")):
                    path.unlink(missing_ok=True)
            raise
        self._stages.clear()  # the journal owns them now
        try:
            step("commit")
            _finish(journal, step)
        except Exception as exc:  # the outputs are published; the next run cleans up
            logger.warning("outputs published; cleaning up failed (%s)", exc)

    def _write_error(self, exc: BaseException) -> OutputWriteError | None:
        """``exc`` as an OutputWriteError naming the product, if it is a disk error."""
        code = _disk_errno(exc, self._folders[0])
        if code is None:
            return None
        what = Path(getattr(exc, "filename", None) or self._folders[0])
        for name in self._abs:
            staged = self._staged(name) if self._stages else None
            if staged and (what == staged or staged in what.parents):
                what = self.targets[name]
        return OutputWriteError(code, what)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self._publish()
                except Exception as err:
                    mapped = self._write_error(err)
                    if mapped is None:
                        raise
                    raise mapped from err
            elif isinstance(exc, Exception):
                mapped = self._write_error(exc)
                if mapped is not None:
                    raise mapped from exc
        finally:
            self._discard()

    def _discard(self) -> None:
        """Remove what is still staged and release the folders."""
        for stage in self._stages.values():
            shutil.rmtree(stage, ignore_errors=True)
        self._stages.clear()
        self._held.close()
