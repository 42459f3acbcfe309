"""What keeps ``kzspatial run`` fast without changing its outputs (issue 16, item 7)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest


@pytest.mark.data
def test_study_data_keeps_the_loaders_attrs_off_the_frames():
    from kzspatial.datasets.population import load_population
    from kzspatial.study.inputs import load_study_data

    data = load_study_data((2023, 2024))
    # nothing for pandas to deep-copy into every derived frame and column
    for frame in (data.population, data.grp, data.unemployment):
        assert frame.attrs == {}
    # ... and nothing lost: the loader's attrs are kept beside the frames
    assert data.loader_attrs["population"] == load_population().attrs
    assert data.loader_attrs["grp"]["source"]["key"] == "grp_per_capita.xlsx"
    assert data.loader_attrs["unemployment"]["national_check"]
    assert data.population.columns.tolist() == load_population().columns.tolist()


# ------------------------------------------------------------------ figure_png
def _savefig_tight(fig, dpi, compress_level: int = 6) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=dpi,
        bbox_inches="tight",
        pil_kwargs={"compress_level": compress_level},
    )
    return buffer.getvalue()


def _pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)


def _labelled_figure(tight: bool = False):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.2))
    ax.plot([0, 1, 2], [3, 1, 2], label="a line")
    ax.set_ylabel("big y", fontsize=30)
    ax.set_xlabel("x label")
    if tight:  # laid out once, then the legend at the figure's foot (axes coordinates)
        fig.tight_layout(rect=(0, 0.1, 1, 1))
        box = ax.get_position()
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, -box.y0 / box.height))
    else:
        ax.legend()
    ax.set_title("title")
    return fig


@pytest.mark.parametrize("dpi", [100, 110])
@pytest.mark.parametrize("tight", [False, True])
def test_figure_png_is_savefigs_tight_picture_to_within_a_pixel(dpi, tight):
    import matplotlib.pyplot as plt
    import numpy as np

    from kzspatial.render._png import _drawn_once, figure_png

    reference = _pixels(_savefig_tight(_labelled_figure(tight), dpi))
    fig = _labelled_figure(tight)
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    assert box.x0 < 0 or tight  # the label sticks out of the figure
    probe = _labelled_figure(tight)
    assert _drawn_once(probe, dpi) is not None  # cropped, not savefig's
    plt.close(probe)
    got = _pixels(figure_png(fig, dpi=dpi))
    assert not plt.fignum_exists(fig.number)  # closed
    # the same size to a pixel (the box's edges fall on other sub-pixel places)
    assert np.abs(np.subtract(got.shape, reference.shape)).max() <= 1
    # every pixel matches one of the reference's within one pixel of it (drawn at a
    # sub-pixel shift); a misplaced element would leave pixels unmatched
    assert _unmatched(got, reference) < 1e-3
    # the comparison can fail: a figure without its legend is another picture (another
    # size, when the legend sits below the axes; other pixels, when inside them)
    fig = _labelled_figure(tight)
    fig.axes[0].get_legend().remove()
    other = _pixels(figure_png(fig, dpi=dpi))
    resized = np.abs(np.subtract(other.shape, reference.shape)).max() > 1
    assert resized or _unmatched(other, reference) > 1e-3


def _unmatched(a, b) -> float:
    """Share of pixels of either picture unlike every pixel of the other within one of it.

    Both ways: an element drawn elsewhere, or missing, leaves pixels of one picture
    unmatched in the other. Compared on the area both pictures cover.
    """
    import numpy as np

    h, w = np.minimum(a.shape, b.shape)

    def one_way(x, y):
        padded = np.pad(y[:h, :w], 1, mode="edge")
        nearest = np.stack(
            [
                np.abs(x[:h, :w] - padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w])
                for dx in (-1, 0, 1)
                for dy in (-1, 0, 1)
            ]
        ).min(axis=0)
        return float((nearest > 96).mean())

    return max(one_way(a, b), one_way(b, a))


def test_figure_png_drawn_again_after_a_change_lays_its_ticks_out_anew():
    import matplotlib.pyplot as plt

    from kzspatial.render._png import figure_png

    # ticks and label boxes are laid out once per drawing, not once per figure: a
    # figure kept and changed draws what a new figure with the change draws
    fig = _labelled_figure()
    figure_png(fig, dpi=100, keep=True)
    for axis in (fig.axes[0].xaxis, fig.axes[0].yaxis):
        assert "_update_ticks" not in vars(axis)  # matplotlib's methods again
    fig.axes[0].set_xlim(-50, 5000)  # other ticks, wider labels
    again = _pixels(figure_png(fig, dpi=100))
    fresh = _labelled_figure()
    fresh.axes[0].set_xlim(-50, 5000)
    assert again.tolist() == _pixels(figure_png(fresh, dpi=100)).tolist()
    plt.close("all")


def test_figure_png_asks_matplotlib_each_layout_answer_once(monkeypatch):
    import matplotlib.axis
    import matplotlib.legend

    from kzspatial.render._png import figure_png

    calls = {"_update_ticks": 0, "_get_ticklabel_bboxes": 0, "_find_best_position": 0}
    for cls in (matplotlib.axis.Axis, matplotlib.legend.Legend):
        for name in calls:
            if hasattr(cls, name):
                method = getattr(cls, name)

                def counted(self, *args, method=method, name=name, **kwargs):
                    calls[name] += 1
                    return method(self, *args, **kwargs)

                monkeypatch.setattr(cls, name, counted)
    fig = _labelled_figure()  # an x and a y axis, a loc="best" legend
    figure_png(fig, dpi=100)
    # once per axis and legend; matplotlib alone asks several times per drawing
    assert calls == {
        "_update_ticks": 2,
        "_get_ticklabel_bboxes": 2,
        "_find_best_position": 1,
    }


def test_figure_png_leaves_figures_it_cannot_crop_to_savefig():
    import matplotlib.pyplot as plt

    from kzspatial.render._png import figure_png

    def figure_legend():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], [0, 1], label="a")
        fig.legend(loc="lower center", bbox_to_anchor=(0.5, -0.1))
        return fig

    def constrained():
        fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
        ax.plot([0, 1], [0, 1])
        return fig

    def huge_label():  # sticks out further than the margin drawn around the figure
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.set_ylabel("label", fontsize=200)
        return fig

    for make in (figure_legend, constrained, huge_label):
        got = figure_png(make(), dpi=100)
        # savefig's own picture, only compressed at figure_png's faster zlib level
        assert _pixels(got).tolist() == _pixels(_savefig_tight(make(), 100)).tolist()
        assert got == _savefig_tight(make(), 100, compress_level=1), make


@pytest.mark.parametrize(
    "values, ticks_on_top",
    [((1.0, 5.0), False), ((1e6, 1e6 + 5), False), ((1.0, 5.0), True)],
)
def test_title_at_top_is_where_matplotlib_places_the_title(values, ticks_on_top):
    import matplotlib.pyplot as plt

    from kzspatial.render._png import figure_png, title_at_top

    def drawn(fixed: bool):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1], values)
        if ticks_on_top:
            ax.xaxis.tick_top()
        if fixed:
            title_at_top(ax, "title")
            # plain numbers on the y axis: no offset text ("1e6") for a title to clear
            fig.canvas.draw()
            assert ax.yaxis.get_offset_text().get_text() == ""
        else:  # matplotlib's own placement, of the same plain y axis
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
            ax.set_title("title", fontsize=9)
        return figure_png(fig, dpi=80)

    assert _pixels(drawn(True)).tolist() == _pixels(drawn(False)).tolist()


# ------------------------------------------------------------------ Forked
def _counting(n):
    import os

    for k in range(n):
        yield (k, os.getpid())


def _failing():
    from kzspatial._errors import ValidationError

    yield 1
    raise ValidationError("bad input in the worker")


class _UnpicklableError(Exception):
    def __init__(self, a, b):  # pickling re-creates it with one argument: fails
        super().__init__(f"{a} and {b}")


def _unpicklable_error():
    raise _UnpicklableError("this", "that")


def _dies():
    import os

    os._exit(3)


def _sleeps():
    import time

    time.sleep(60)
    return "late"


def test_forked_child_sends_its_values_in_order_from_another_process():
    import os

    from kzspatial.render._workers import Forked

    with Forked(_counting, 3) as job:
        values = [job.get() for _ in range(3)]
    assert [k for k, _ in values] == [0, 1, 2]
    assert {pid for _, pid in values} != {os.getpid()}
    with Forked(_counting, 2, fork=False) as job:  # in this process, same values
        assert [job.get() for _ in range(2)] == [(0, os.getpid()), (1, os.getpid())]


def test_forked_child_error_is_raised_in_the_parent_with_its_traceback():
    from kzspatial._errors import ValidationError
    from kzspatial.render._workers import ChildError, Forked

    with Forked(_failing) as job:
        assert job.get() == 1
        with pytest.raises(ValidationError, match="bad input in the worker") as info:
            job.get()
    assert any("_failing" in note for note in info.value.__notes__)
    with Forked(_unpicklable_error) as job:
        with pytest.raises(ChildError, match="_UnpicklableError: this and that"):
            job.get()
    with Forked(_dies) as job:
        with pytest.raises(ChildError, match="exit code 3.*KZSPATIAL_WORKERS=1"):
            job.get()


def _large_then_marks(mark: str):
    from pathlib import Path

    yield b"x" * 4_000_000  # far beyond a pipe's buffer
    Path(mark).write_text("computed on")
    yield "done"


def test_a_child_whose_parent_has_gone_ends_instead_of_waiting(tmp_path):
    from kzspatial.render._workers import Forked

    mark = tmp_path / "mark"
    job = Forked(_large_then_marks, str(mark))
    job._conn.close()  # the parent gone: nobody reads the large value
    job._process.join(timeout=20)
    assert not job._process.is_alive()  # ended, not blocked writing to the pipe
    job.close()


def _unpicklable_value():
    yield lambda: None


def test_a_large_value_does_not_hold_up_the_child(tmp_path):
    import time

    from kzspatial.render._workers import Forked

    mark = tmp_path / "mark"
    with Forked(_large_then_marks, str(mark)) as job:
        deadline = time.monotonic() + 20
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the child went on before this process read its first value
        assert mark.exists()
        assert job.get() == b"x" * 4_000_000
        assert job.get() == "done"


def test_a_value_that_cannot_be_sent_is_an_error_in_the_parent():
    from kzspatial.render._workers import Forked

    with Forked(_unpicklable_value) as job:
        with pytest.raises(Exception, match="pickle|lambda"):
            job.get()


def _echo(receive, first):
    yield first
    yield receive() * 2
    yield receive() * 2


@pytest.mark.parametrize("fork", [True, False])
def test_a_child_with_an_inbox_receives_what_the_parent_sends(fork):
    from kzspatial.render._workers import Forked

    with Forked(_echo, "first", fork=fork, inbox=True) as job:
        assert job.get() == "first"  # computed before anything was sent
        job.send(21)
        job.send("ab")
        assert job.get() == 42
        assert job.get() == "abab"


def test_leaving_the_block_ends_a_child_still_running():
    from kzspatial.render._workers import Forked

    with Forked(_sleeps) as job:
        process = job._process
        assert process.is_alive()
    assert not process.is_alive() and process.exitcode != 0


@pytest.mark.parametrize(("value", "count"), [("1", 1), ("2", 2), ("64", None)])
def test_worker_count_follows_kzspatial_workers_up_to_the_cores(
    monkeypatch, value, count
):
    import os

    from kzspatial.render._workers import worker_count

    monkeypatch.setenv("KZSPATIAL_WORKERS", value)
    expected = count if count is not None else os.cpu_count()
    assert worker_count() == min(expected, os.cpu_count())


@pytest.mark.parametrize("value", ["0", "two", ""])
def test_bad_kzspatial_workers_is_refused(monkeypatch, value):
    from kzspatial._errors import ValidationError
    from kzspatial.render._workers import worker_count

    monkeypatch.setenv("KZSPATIAL_WORKERS", value)
    with pytest.raises(ValidationError, match=f"KZSPATIAL_WORKERS={value!r}"):
        worker_count()


def _freeze_count():
    import gc

    return gc.get_freeze_count()


def test_frozen_heap_freezes_for_the_block_and_its_children_then_unfreezes():
    import gc

    from kzspatial.render._workers import Forked, frozen_heap

    assert gc.get_freeze_count() == 0
    alive = [[k] for k in range(1000)]
    with frozen_heap():
        frozen = gc.get_freeze_count()
        assert frozen >= len(alive)  # the objects alive at entry
        # out of the collector's generations: its passes skip them
        assert not any(o is alive for o in gc.get_objects())
        with Forked(_freeze_count) as job:  # a child forked in the block inherits it
            assert job.get() >= len(alive)
    assert gc.get_freeze_count() == 0
    assert any(o is alive for o in gc.get_objects())
    with pytest.raises(ValueError, match="inside"), frozen_heap():
        raise ValueError("inside")
    assert gc.get_freeze_count() == 0
    with (
        frozen_heap()
    ):  # nested: what was made since is frozen too, until the outer end
        later = [[k] for k in range(1000)]
        with frozen_heap():
            pass
        assert not any(o is later for o in gc.get_objects())
    assert gc.get_freeze_count() == 0
    assert any(o is later for o in gc.get_objects())


def _freezes_its_own_heap():
    import gc

    from kzspatial.render._workers import Forked, frozen_heap

    inherited = gc.get_freeze_count()
    made = [[k] for k in range(1000)]  # made in this worker process
    with frozen_heap():
        frozen = gc.get_freeze_count()
        with Forked(_freeze_count) as job:
            in_grandchild = job.get()
    # still out of the collector's generations after the block
    still_frozen = not any(o is made for o in gc.get_objects())
    return inherited, frozen, in_grandchild, still_frozen, len(made)


def test_frozen_heap_in_a_worker_freezes_what_it_made_for_its_own_children():
    import gc

    from kzspatial.render._workers import Forked, frozen_heap

    with frozen_heap(), Forked(_freezes_its_own_heap) as job:
        inherited, frozen, in_grandchild, still_frozen, made = job.get()
    assert inherited > 0  # the parent's heap, frozen in its block
    assert frozen >= inherited + made  # the worker's own objects frozen too
    assert in_grandchild >= inherited + made  # and a process it forks inherits them
    assert still_frozen  # until the worker ends
    assert gc.get_freeze_count() == 0  # the parent's block unfroze its heap


def test_frozen_heap_leaves_a_callers_frozen_objects_frozen():
    import gc

    from kzspatial.render._workers import frozen_heap

    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()


# ------------------------------------------------------------------ the pipeline's workers
def _run(
    out, monkeypatch, workers: str, products=("report", "study", "tables", "maps")
):
    from kzspatial.study.pipeline import RunOptions, run

    monkeypatch.setenv("KZSPATIAL_WORKERS", workers)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    return run(
        RunOptions(
            out_dir=out,
            permutations=99,
            seed=3,
            cell_km=20.0,
            products=frozenset(products),
        )
    )


@pytest.mark.data
@pytest.mark.slow
def test_run_in_worker_processes_writes_what_one_process_writes(tmp_path, monkeypatch):
    import gc

    # every product a worker process writes: maps, flow sheets, rasters, study report
    products = ("report", "study", "tables", "maps", "flowmap", "kepler", "rasters")
    one = _run(tmp_path / "one", monkeypatch, "1", products)
    two = _run(tmp_path / "two", monkeypatch, "2", products)
    assert gc.get_freeze_count() == 0  # the run's frozen heap released
    files = sorted(
        p.relative_to(tmp_path / "one")
        for p in (tmp_path / "one").rglob("*")
        if p.is_file() and p.suffix in {".csv", ".png", ".html", ".tif"}
    )
    assert {"kepler_flows.csv", "huff_astana.tif"} <= {f.name for f in files}
    assert len([f for f in files if f.suffix == ".png"]) >= 36
    assert any(f.name == "study.html" for f in files)
    for name in files:
        if name.parent.name == "maps":  # folium gives its elements random ids
            continue
        assert (tmp_path / "one" / name).read_bytes() == (
            tmp_path / "two" / name
        ).read_bytes(), name
    assert one.moran.global_table().equals(two.moran.global_table())


@pytest.mark.data
@pytest.mark.slow
# inherited by the forked processes: the one writing the maps, and the one the
# analyses worker forks to draw the report's figures
@pytest.mark.parametrize("step", ["write_maps", "_report_figures"])
def test_an_error_in_a_worker_process_fails_the_run_and_publishes_nothing(
    tmp_path, monkeypatch, step
):
    from kzspatial.study import pipeline

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device (injected in the worker)")

    monkeypatch.setattr(pipeline, step, broken)
    with pytest.raises(OSError, match="disk is full|No space left"):
        _run(tmp_path / "out", monkeypatch, "2")
    assert not (tmp_path / "out" / "tables").exists()
    assert not list((tmp_path / "out").rglob("*.csv"))


@pytest.mark.data
@pytest.mark.slow
def test_rasters_in_the_maps_worker_without_the_maps_inputs(tmp_path, monkeypatch):
    # `kzspatial catchments` (rasters and tables, no gravity models): the worker writes
    # the rasters and does not fit the models the maps would need
    from kzspatial.study import pipeline

    def fits_for_maps(*args, **kwargs):
        raise AssertionError("the maps' inputs computed for a run without maps")

    monkeypatch.setattr(pipeline, "map_inputs", fits_for_maps)
    monkeypatch.setenv("KZSPATIAL_WORKERS", "2")
    result = pipeline.run(
        pipeline.RunOptions(
            out_dir=tmp_path / "out",
            cell_km=20.0,
            products=frozenset({"rasters", "tables"}),
            analyses=frozenset({"catchments"}),
        )
    )
    assert result.gravity is None
    assert (tmp_path / "out" / "huff_astana.tif").is_file()


@pytest.mark.data
@pytest.mark.slow
def test_run_split_over_processes_equals_the_suites_computed_directly(
    tmp_path, monkeypatch
):
    # the worker computes the zone Moran and the study without the gravity models;
    # the pipeline adds the flow Moran and the elasticities: the same as the suites
    from kzspatial.study.moran_suite import moran_suite
    from kzspatial.study.study_suite import study_suite

    result = _run(tmp_path / "out", monkeypatch, "2", products=("report", "study"))
    moran = moran_suite(
        result.data, result.gravity, focus_year=2024, permutations=99, seed=3
    )
    assert result.moran.global_table().equals(moran.global_table())
    assert result.moran.flow_moran.equals(moran.flow_moran)
    assert result.moran.by_year.equals(moran.by_year)
    assert result.moran.bivariate.equals(moran.bivariate)
    study = study_suite(result.data, result.gravity)
    for field in dataclasses.fields(study):
        got, expected = getattr(result.study, field.name), getattr(study, field.name)
        if isinstance(expected, pd.DataFrame):
            assert got.equals(expected), field.name
        else:
            assert got == expected, field.name
    assert not result.study.elasticities.empty


# ------------------------------------------------------------------ the study-data cache
def _same_study_data(a, b) -> bool:
    import dataclasses

    import pandas as pd

    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, pd.DataFrame):
            if not (x.equals(y) and x.attrs == y.attrs):
                return False
        elif (
            isinstance(x, dict)
            and x
            and isinstance(next(iter(x.values())), pd.DataFrame)
        ):
            if x.keys() != y.keys() or not all(x[k].equals(y[k]) for k in x):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.data
def test_study_data_are_read_back_from_the_cache_as_loaded(tmp_path, monkeypatch):
    from kzspatial.study import inputs

    monkeypatch.setenv("KZSPATIAL_CACHE", str(tmp_path))
    monkeypatch.setenv("KZSPATIAL_STUDY_CACHE", "0")
    fresh = inputs.load_study_data((2023, 2024))
    assert not (tmp_path / "study").exists()  # not cached when switched off
    monkeypatch.delenv("KZSPATIAL_STUDY_CACHE")
    first = inputs.load_study_data((2023, 2024))
    assert len(list((tmp_path / "study").glob("study_data_*.pickle"))) == 1

    def no_loading(*args):
        raise AssertionError("loaded again")

    monkeypatch.setattr(inputs, "_load_study_data", no_loading)
    again = inputs.load_study_data((2023, 2024))
    assert again is not first and _same_study_data(again, first)
    assert _same_study_data(again, fresh)
    # other arguments are another entry: loaded, not read back
    with pytest.raises(AssertionError, match="loaded again"):
        inputs.load_study_data((2024,))
    # an unreadable entry is loaded again
    (entry,) = (tmp_path / "study").glob("study_data_*.pickle")
    entry.write_bytes(b"not a pickle")
    with pytest.raises(AssertionError, match="loaded again"):
        inputs.load_study_data((2023, 2024))


@pytest.mark.data
def test_the_loaders_warnings_are_given_again_from_the_cache(tmp_path, monkeypatch):
    from kzspatial.study.inputs import load_study_data

    monkeypatch.setenv("KZSPATIAL_CACHE", str(tmp_path))
    for _ in range(2):  # loaded, then read back
        with pytest.warns(UserWarning, match="contradict the official BNS nets"):
            load_study_data((2022, 2024), include_2022=True)


def test_study_cache_key_follows_the_code_the_registry_and_the_arguments(
    tmp_path, monkeypatch
):
    from kzspatial.study import inputs

    package = tmp_path / "kzspatial"
    (package / "study").mkdir(parents=True)
    (package / "datasets").mkdir()
    (package / "datasets" / "loader.py").write_text("x = 1\n")
    (package / "datasets" / "table.csv").write_text("a\n1\n")
    registry = tmp_path / "registry.toml"
    registry.write_text("[files]\n")
    monkeypatch.setattr(inputs, "__file__", str(package / "study" / "inputs.py"))
    monkeypatch.setattr(inputs, "registry_path", lambda: registry)
    args = (None, "2024", False)
    key = inputs._cache_key(args)
    assert inputs._cache_key(args) == key
    assert inputs._cache_key((None, "2018", False)) != key
    (package / "datasets" / "loader.py").write_text("x = 2\n")
    assert inputs._cache_key(args) != key
    key = inputs._cache_key(args)
    (package / "datasets" / "table.csv").write_text("a\n2\n")
    assert inputs._cache_key(args) != key
    key = inputs._cache_key(args)
    registry.write_text("[files]\n# another checksum\n")
    assert inputs._cache_key(args) != key


# ------------------------------------------------------------------ map geometry, once
def test_map_geometry_is_computed_once_per_content_and_equals_the_direct_way():
    import geopandas as gpd
    import shapely
    from shapely.geometry import box

    from kzspatial.render.maps.layers import _map_geometry, _round_geometry

    squares = gpd.GeoSeries(
        [box(0.123456, 0.0, 1.0, 1.0).buffer(0.1), box(1.0, 0.0, 2.0, 1.0)],
        crs="EPSG:4326",
    )
    direct = _round_geometry(
        squares.to_crs("EPSG:4326").simplify(0.005, preserve_topology=True)
    ).to_numpy()
    first = _map_geometry(squares, 0.005)
    assert all(shapely.equals_exact(first, direct, tolerance=0))
    assert _map_geometry(squares.copy(), 0.005) is first  # same content: kept
    assert _map_geometry(squares, None) is not first  # another tolerance
    moved = gpd.GeoSeries(squares.to_numpy(), crs="EPSG:3857")  # same numbers, metres
    assert not all(shapely.equals_exact(_map_geometry(moved, 0.005), first, 1e-9))
    with pytest.raises(ValueError, match="read-only"):
        first[0] = None  # shared: nobody may change it


# ------------------------------------------------------------------ report figures, reused
def test_report_figures_updated_for_each_entry_equal_figures_made_for_it():
    import kz_synthetic as syn

    from kzspatial.render.report_figures import _Figures, _outlines

    regions = syn.regions()
    kinds = ("HH", "LL", "not significant", "HL", "unknown label")
    entries = [
        syn.moran_entry(
            regions,
            seed=seed,
            labels=tuple(kinds[(i + seed) % len(kinds)] for i in range(len(regions))),
            variable=f"v{seed}",
        )
        for seed in range(4)
    ]
    outlines = {tuple(entries[0].ids): _outlines(regions, entries[0].ids)}
    figures = _Figures(outlines)
    updated = [figures.draw(e) for e in entries]
    figures.close()
    for entry, drawn in zip(entries, updated, strict=True):
        alone = _Figures(outlines)
        assert alone.draw(entry) == drawn  # byte for byte, each of the three
        alone.close()
    # the comparison can fail: entries differ, and so do their figures
    assert all(a != b for a, b in zip(updated[0], updated[1], strict=True))


def test_catchment_unions_are_computed_once_per_set_of_members():
    import shapely
    from shapely.geometry import box

    from kzspatial.geo.grids import _union_of

    parts = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2)]
    key = tuple(shapely.to_wkb(parts))
    union = _union_of(key)
    assert union.equals_exact(shapely.union_all(parts), tolerance=0)
    assert _union_of(tuple(shapely.to_wkb(parts))) is union  # kept
    assert not _union_of(key[:2]).equals(union)  # other members, other union


def test_catchment_history_equals_dissolving_the_regions_by_hub_every_year():
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from shapely.geometry import box

    from kzspatial.datasets.regions import HUB_NAMES
    from kzspatial.study.catchment_suite import CALIBRATED, _history

    hubs = list(HUB_NAMES)  # hub region ids
    others = [f"R{k}" for k in range(6)]
    ids = [*others[:3], *hubs, *others[3:]]
    regions = gpd.GeoDataFrame(
        {"region_id": ids},
        geometry=[box(k, k % 2, k + 1.2, k % 2 + 1) for k in range(len(ids))],
        crs=4326,
    )
    names = list(HUB_NAMES.values())
    rng = np.random.default_rng(7)
    rows = []
    for year in (2010, 2015, 2020, 2024):
        picks = rng.choice(names, size=len(others))
        if year == 2020:  # the same catchments as 2015: unions reused
            picks = rows[-1][1]
        rows.append((year, picks))
    agreement = pd.DataFrame(
        [
            {"year": y, "model": model, "region_id": r, "predicted_hub": h}
            for y, picks in rows
            for model in (CALIBRATED, "mass-only Huff")
            for r, h in zip(others[:-1], picks[:-1], strict=True)  # R5: no hub
        ]
    )
    agreement.loc[agreement["model"] != CALIBRATED, "predicted_hub"] = names[0]
    flow_polygons = gpd.GeoDataFrame(
        {"hub": [hubs[0]], "rule": ["flows"], "year": [2024], "population": [1.0]},
        geometry=[box(0, 0, 1, 1)],
        crs=4326,
    )
    data = type("Data", (), {"regions": regions})()
    history = _history(data, flow_polygons, agreement)
    indexed = regions.set_index("region_id")
    for year, picks in rows:
        hub_of = dict(zip(others[:-1], picks[:-1], strict=True)) | HUB_NAMES
        expected = indexed.assign(hub=indexed.index.map(hub_of)).dissolve("hub")
        got = history[
            (history["year"] == year) & (history["rule"] == "huff_calibrated_regions")
        ]
        assert list(got["hub"]) == list(expected.index)
        for mine, theirs in zip(got.geometry, expected.geometry, strict=True):
            assert mine.equals_exact(theirs, tolerance=0)
    # the comparison can fail: the first two years' catchments differ
    shapes = [
        set(history.loc[history["year"] == y].geometry.to_wkb()) for y in (2010, 2015)
    ]
    assert shapes[0] != shapes[1]
