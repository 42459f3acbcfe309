import pytest

from kzspatial._errors import OverwriteError
from kzspatial.render._atomic import StagedOutputs, atomic_path


def test_atomic_path_refuses_and_replaces(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(OverwriteError, match="exists; pass overwrite=True"):
        with atomic_path(target):
            pass
    with atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_atomic_path_keeps_old_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target, overwrite=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_staged_outputs_all_or_nothing(tmp_path):
    targets = {"x": tmp_path / "out" / "x.txt", "y": tmp_path / "maps" / "y.html"}
    with StagedOutputs(targets) as stage:
        stage.path("x").write_text("1")
        stage.path("y").write_text("2")
    assert targets["x"].read_text() == "1" and targets["y"].read_text() == "2"
    with pytest.raises(OverwriteError, match="earlier run.*--overwrite"):
        StagedOutputs(targets).check()
    with (
        pytest.raises(KeyboardInterrupt),
        StagedOutputs(targets, overwrite=True) as stage,
    ):
        stage.path("x").write_text("new")
        raise KeyboardInterrupt
    assert targets["x"].read_text() == "1"  # earlier output intact
    assert not list(tmp_path.rglob(".kzspatial-staging-*"))
