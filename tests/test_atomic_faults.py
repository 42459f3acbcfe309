"""Transactional outputs under faults: kills at every step, recovery, locks, disk errors.

A run's products (a file, a folder, maps in a second output folder) are published by
:class:`StagedOutputs`. Each test compares the bytes of every file left on disk with the
complete earlier set or the complete new set; no hidden file may remain after recovery.
"""

import errno
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from kzspatial.render._atomic import (
    JOURNAL_NAME,
    LOCK_NAME,
    OutputLockedError,
    OutputWriteError,
    StagedOutputs,
    recover_outputs,
)

KILLED = 77  # exit status of a child ended by the fault hook (os._exit: no clean-up)
FORK = multiprocessing.get_context("fork")

OLD = {
    "gpkg": b"old geopackage",
    "tables": {"a.csv": b"old a", "b.csv": b"old b"},
    "map_2023": b"<html>old 2023</html>",
    "qml": b"<qgis>old</qgis>",  # the new run does not write it
}
NEW = {
    "gpkg": b"new geopackage",
    "tables": {"a.csv": b"new a", "c.csv": b"new c"},
    "map_2023": b"<html>new 2023</html>",
    "map_2024": b"<html>new 2024</html>",  # not in the earlier run
}
# 2 folders, 4 earlier products moved aside, 4 new ones moved in:
# staged, journal, journal copy, 4 backups, 4 installs, commit, 2 cleans, 2 removals
N_STEPS = 1 + 1 + 1 + 4 + 4 + 1 + 2 + 1 + 1
COMMIT = 1 + 1 + 1 + 4 + 4  # index of the step after the commit point


def _targets(root: Path) -> dict[str, Path]:
    out, maps = root / "out", root / "elsewhere" / "maps"
    return {
        "gpkg": out / "kzspatial.gpkg",
        "tables": out / "tables",
        "qml": out / "potential.qml",
        "map_2023": maps / "flows_2023.html",
        "map_2024": maps / "flows_2024.html",
    }


def _write(path: Path, content) -> None:
    if isinstance(content, dict):
        path.mkdir(parents=True, exist_ok=True)
        for name, data in content.items():
            (path / name).write_bytes(data)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root, hidden ones included, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


def _expected(root: Path, contents: dict) -> dict[str, bytes]:
    """The snapshot of ``contents`` written plainly at the targets (in a twin folder)."""
    targets = _targets(root)
    for name, content in contents.items():
        _write(targets[name], content)
    return _snapshot(root)


@pytest.fixture
def sets(tmp_path):
    """(targets, old snapshot, new snapshot); the earlier set is on disk."""
    old = _expected(tmp_path / "old-twin", OLD)
    new = _expected(tmp_path / "new-twin", NEW)
    root = tmp_path / "run"
    for name, content in OLD.items():
        _write(_targets(root)[name], content)
    assert _snapshot(root) == old
    return _targets(root), old, new


def _publish(targets, fault=None) -> None:
    with StagedOutputs(targets, overwrite=True, fault=fault) as stage:
        for name, content in NEW.items():
            _write(stage.path(name), content)
        if fault is not None:
            fault("writing")


def _killer(at: int):
    """A fault hook ending the process at its ``at``-th call (0: while writing)."""
    calls = []

    def fault(step: str) -> None:
        calls.append(step)
        if len(calls) - 1 == at:
            os._exit(KILLED)

    return fault


def _in_child(func, *args) -> int:
    child = FORK.Process(target=func, args=args)
    child.start()
    child.join(60)
    return child.exitcode


def _publish_killed(targets, at) -> None:
    _publish(targets, _killer(at))
    os._exit(0)


def _recover(targets) -> None:
    """Recovery as the next run does it: lock, recover, clean (then release)."""
    with StagedOutputs(targets, overwrite=True).locked():
        pass


def _root(targets) -> Path:
    return targets["gpkg"].parent.parent


def test_steps_of_the_swap(sets):
    targets, _, new = sets
    steps = []
    _publish(targets, steps.append)
    assert len(steps) == 1 + N_STEPS  # "writing" + the swap
    assert steps[0] == "writing" and steps[1] == "staged"
    assert steps[1 + COMMIT] == "commit" and steps[-1] == "remove-journal"
    assert sum(s.startswith("backup-") for s in steps) == 4
    assert sum(s.startswith("install-") for s in steps) == 4
    assert _snapshot(_root(targets)) == new


@pytest.mark.parametrize("at", range(1 + N_STEPS))
def test_kill_at_every_step_then_recover(sets, at):
    """Killed after step ``at`` (0: while writing); the next start recovers."""
    targets, old, new = sets
    assert _in_child(_publish_killed, targets, at) == KILLED
    root = _root(targets)
    lock = targets["gpkg"].parent / LOCK_NAME
    assert lock.exists()  # the dead writer's lock file is left behind...
    _recover(targets)  # ...and does not block: the OS released its flock
    assert _snapshot(root) == (new if at > COMMIT else old)


def _recover_killed(folder, at) -> None:
    recover_outputs(folder, fault=_killer(at))
    os._exit(0)


@pytest.mark.parametrize("at", range(2, N_STEPS))
def test_recovery_killed_at_every_step(sets, at, tmp_path):
    """A kill during recovery is recovered by the next start, at every recovery step.

    The publication is killed after step ``at`` (a journal exists), recovery is killed
    after its step 0, 1, ... until it runs through; each time the next start recovers.
    """
    _, old, new = sets
    attempt = 0
    while True:  # until recovery runs through without reaching the kill step
        work = tmp_path / f"attempt{attempt}"
        twin = _targets(work)
        for name, content in OLD.items():
            _write(twin[name], content)
        assert _in_child(_publish_killed, twin, at) == KILLED
        status = _in_child(_recover_killed, twin["gpkg"].parent, attempt)
        _recover(twin)
        assert _snapshot(work) == (new if at > COMMIT else old)
        if status == 0:
            break
        assert status == KILLED
        attempt += 1
    assert attempt >= 1  # recovery was interrupted at least once


@pytest.mark.parametrize("at", [3, 7, 9, COMMIT + 1, COMMIT + 3])
def test_recovery_from_the_second_folder(sets, at):
    """The journal copy in the maps folder alone recovers the whole set."""
    targets, old, new = sets
    assert _in_child(_publish_killed, targets, at) == KILLED
    outcome = recover_outputs(targets["map_2023"].parent)
    assert outcome == ("rolled forward" if at > COMMIT else "rolled back")
    assert not (targets["gpkg"].parent / JOURNAL_NAME).exists()
    # only the dead run's staging folders and lock files are left; the next start
    # removes them
    left = {k: v for k, v in _snapshot(_root(targets)).items() if ".kzspatial" not in k}
    assert left == (new if at > COMMIT else old)


def test_enospc_at_every_step(sets, caplog):
    """A full disk at any step before the commit leaves the earlier set, after it the new."""
    targets, old, new = sets
    root = _root(targets)
    for at in range(1 + N_STEPS):
        calls = []

        def fault(step, at=at, calls=calls):
            calls.append(step)
            if len(calls) - 1 == at:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        if at <= COMMIT:
            with pytest.raises(OutputWriteError, match="No space left on device while"):
                _publish(targets, fault)
            assert _snapshot(root) == old, calls[-1]
        else:  # published; clean-up failed and is finished by the next start
            _publish(targets, fault)
            assert "cleaning up failed" in caplog.text
            _recover(targets)
            assert _snapshot(root) == new, calls[-1]
            for name, content in OLD.items():  # back to the earlier set
                _write(targets[name], content)
            targets["map_2024"].unlink()
            for extra in targets["tables"].iterdir():
                if extra.name not in OLD["tables"]:
                    extra.unlink()
            assert _snapshot(root) == old


def test_disk_error_while_writing_names_the_target(sets):
    targets, old, _ = sets
    for code, message in [
        (errno.ENOSPC, "No space left on device while writing"),
        (errno.EROFS, "Read-only file system: cannot write"),
        (errno.EACCES, "Permission denied: cannot write"),
    ]:
        with (
            pytest.raises(OutputWriteError, match=message) as info,
            StagedOutputs(targets, overwrite=True) as stage,
        ):
            staged = stage.path("gpkg")
            raise OSError(code, os.strerror(code), str(staged))
        assert info.value.errno == code
        assert info.value.filename == str(targets["gpkg"])
        assert "earlier outputs are intact" in str(info.value)
        assert _snapshot(_root(targets)) == old


def test_gdal_commit_failure_on_a_full_disk(sets, monkeypatch):
    """GDAL says only "Failed to commit transaction": free space decides."""
    import shutil as shutil_module

    targets, old, _ = sets

    class DataSourceError(RuntimeError):  # as pyogrio raises it
        pass

    full = shutil_module.disk_usage(_root(targets))._replace(free=4096)
    monkeypatch.setattr("kzspatial.render._atomic.shutil.disk_usage", lambda path: full)
    with (
        pytest.raises(OutputWriteError, match="No space left on device"),
        StagedOutputs(targets, overwrite=True),
    ):
        raise DataSourceError(
            "sqlite3_exec(COMMIT) failed: Failed to commit transaction"
        )
    assert _snapshot(_root(targets)) == old
    monkeypatch.undo()  # plenty of space: not a disk error, passed on unchanged
    with (
        pytest.raises(DataSourceError, match="Failed to commit"),
        StagedOutputs(targets, overwrite=True),
    ):
        raise DataSourceError("Failed to commit transaction")


def _hold_lock(targets, ready) -> None:
    with StagedOutputs(targets, overwrite=True).locked():
        ready.set()
        time.sleep(60)  # killed by the test


def test_second_run_refused_then_dead_holder_does_not_block(sets):
    targets, old, _ = sets
    ready = FORK.Event()
    child = FORK.Process(target=_hold_lock, args=(targets, ready))
    child.start()
    try:
        assert ready.wait(30)
        for name in ("gpkg", "map_2023"):  # a run into either folder is refused
            folder = targets[name].parent
            with (
                pytest.raises(
                    OutputLockedError,
                    match=rf"^{folder} is in use by another kzspatial run "
                    rf"\(pid {child.pid}\); wait for it",
                ),
                StagedOutputs({name: targets[name]}, overwrite=True),
            ):
                pass
        with pytest.raises(OutputLockedError):
            _publish(targets)
        assert _snapshot(_root(targets)) == {
            **old,
            f"out/{LOCK_NAME}": f"{child.pid}\n".encode(),
            f"elsewhere/maps/{LOCK_NAME}": f"{child.pid}\n".encode(),
        }
        os.kill(child.pid, signal.SIGKILL)  # dies holding the lock
        child.join(30)
        assert (folder / LOCK_NAME).read_text() == f"{child.pid}\n"  # stale
    finally:
        if child.is_alive():
            child.kill()
            child.join(30)
    _publish(targets)  # the dead process's lock is gone with it
    assert not list(_root(targets).rglob(".kzspatial*"))


def test_leftovers_of_a_killed_run_are_removed(sets):
    targets, old, _ = sets
    out = targets["gpkg"].parent
    (out / ".kzspatial-staging-dead" / "new" / "gpkg").mkdir(parents=True)
    (out / ".kzspatial-staging-dead" / "new" / "gpkg" / "kzspatial.gpkg").write_bytes(
        b"x" * 1000
    )
    (out / (JOURNAL_NAME + ".tmp")).write_text("{half a journ")
    _recover(targets)
    assert _snapshot(_root(targets)) == old


def test_folders_created_for_a_failed_run_are_removed(tmp_path):
    target = tmp_path / "new" / "deep" / "out.txt"
    with pytest.raises(KeyboardInterrupt), StagedOutputs({"x": target}) as stage:
        stage.path("x").write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_output_folder_that_is_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    with pytest.raises(OutputWriteError, match="out is not a folder"):
        _recover({"x": tmp_path / "out" / "x.txt"})


def _write_as_nobody(targets, queue) -> None:
    os.setgid(65534)
    os.setuid(65534)
    try:
        _publish(targets)
        queue.put("no error")
    except OutputWriteError as exc:
        queue.put(str(exc))
    except BaseException as exc:  # reported to the test
        queue.put(f"{type(exc).__name__}: {exc}")


def test_folder_without_write_permission(sets):
    targets, old, _ = sets
    out = targets["gpkg"].parent
    queue = FORK.Queue()
    if os.geteuid() == 0:  # root ignores modes: write as nobody (cannot even enter)
        assert _in_child(_write_as_nobody, targets, queue) == 0
        message = queue.get(timeout=10)
    else:
        out.chmod(0o555)
        try:
            with pytest.raises(OutputWriteError) as info:
                _publish(targets)
            message = str(info.value)
        finally:
            out.chmod(0o755)
    maps = targets["map_2023"].parent
    assert message.startswith(("Permission denied: cannot write",)), message
    assert f"{out};" in message or f"{maps};" in message, message
    assert "earlier outputs are intact" in message
    assert _snapshot(_root(targets)) == old


_REAL_FS = """
import json, subprocess, sys
from pathlib import Path
import geopandas as gpd
import numpy as np
from kzspatial.render._atomic import OutputWriteError, StagedOutputs
from kzspatial.render.gpkg import write_geopackage

mnt = Path(sys.argv[1])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
out = mnt / "out"
out.mkdir()
targets = {"gpkg": out / "kzspatial.gpkg", "note": out / "note.txt"}
targets["gpkg"].write_bytes(b"old gpkg")
targets["note"].write_bytes(b"old note")
rng = np.random.default_rng(0)
n = 2000  # about 2 MB of text: more than the file system holds
big = gpd.GeoDataFrame(
    {"text": ["".join(rng.choice(list("abcdefgh"), 1000)) for _ in range(n)]},
    geometry=gpd.points_from_xy(rng.uniform(50, 80, n), rng.uniform(40, 55, n)),
    crs=4326,
)

def attempt():
    try:
        with StagedOutputs(targets, overwrite=True) as stage:
            stage.path("note").write_bytes(b"new note")
            write_geopackage(stage.path("gpkg"), {"big": big})
    except OutputWriteError as exc:
        return str(exc)
    return "no error"

def files():
    return {str(p.relative_to(mnt)): p.read_text() for p in mnt.rglob("*") if p.is_file()}

result = {"full": attempt(), "after_full": files()}
subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
result["readonly"] = attempt()
result["after_readonly"] = files()
print(json.dumps(result))
"""


def test_real_full_disk_and_read_only_file_system(tmp_path):
    """A 1 MB tmpfs in a private mount namespace: GDAL fills it, then it is read-only."""
    import json
    import shutil
    import subprocess
    import sys

    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"no unprivileged mount namespace here: {probe.stderr.decode()}")
    script, mnt = tmp_path / "real_fs.py", tmp_path / "mnt"
    script.write_text(_REAL_FS)
    mnt.mkdir()
    done = subprocess.run(
        [unshare, "--user", "--map-root-user", "--mount", sys.executable, script, mnt],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    old = {"out/kzspatial.gpkg": "old gpkg", "out/note.txt": "old note"}
    assert result["full"] == (
        f"No space left on device while writing {mnt}/out/kzspatial.gpkg; earlier "
        "outputs are intact; free some space or choose another --out / --maps folder"
    )
    assert result["after_full"] == old
    assert result["readonly"].startswith(
        f"Read-only file system: cannot write {mnt}/out; earlier outputs are intact"
    )
    assert result["after_readonly"] == old
