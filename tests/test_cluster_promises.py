"""What the cluster engine promises beyond the same pixels (hardening, round three), on a real Ray runtime: reruns
decided by the disk and the latest row, one run per destination, the model's learned "alike" travelling with it,
manifests edited by hand, resource requests checked up front, and every number checked before anything starts."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.inference.batch import colorize_paths
from colorizer.inference.photos import Colorizer
from colorizer.inference.session import BUNDLED_MODEL
from tests.conftest import colour_photo, tree_hashes

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from colorizer.cluster import (  # noqa: E402
    ClusterError,
    colorize_dataset,
    manifest,  # noqa: E402
)
from colorizer.cluster.storage import locate  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


def photos(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        colour_photo(80 + 8 * i, 60, seed=i).save(folder / f"p{i}.png")
    return folder


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(int)


def test_a_rerun_with_the_first_settings_after_other_settings_wrote_over_them_is_not_done(tmp_path):
    src, out = photos(tmp_path / "src"), tmp_path / "out"
    first = colorize_dataset([str(src)], str(out), workers=1, progress=False)
    assert first.written == 3
    saved = {p.name: pixels(p) for p in out.glob("*.png")}
    second = colorize_dataset([str(src)], str(out), workers=1, progress=False, saturation=1.5, overwrite=True)
    assert second.written == 3
    third = colorize_dataset([str(src)], str(out), workers=1, progress=False)
    assert third.done_before == 0 and third.exists == 3  # the 1.5 outputs are there: kept, and said so
    fourth = colorize_dataset([str(src)], str(out), workers=1, progress=False, overwrite=True)
    assert fourth.written == 3 and fourth.done_before == 0
    for name, expected in saved.items():
        assert np.array_equal(pixels(out / name), expected), name  # the first settings' pixels again
    fifth = colorize_dataset([str(src)], str(out), workers=1, progress=False, overwrite=True)
    assert fifth.done_before == 3 and fifth.written == 0  # --overwrite never writes an output of this run twice


def test_a_rerun_with_another_reach_is_not_done(tmp_path):
    src, out = photos(tmp_path / "src", 2), tmp_path / "out"
    (src / "p0.hints.json").write_text(json.dumps([{"x": 20, "y": 20, "color": "#2040d0"}]))
    assert colorizer_run(src, out).written == 2
    other = colorizer_run(src, out, reach=0.9, overwrite=True)
    assert other.done_before == 0 and other.written == 2


def colorizer_run(src: Path, out: Path, **settings):
    return colorize_dataset([str(src)], str(out), workers=1, progress=False, **settings)


def test_a_second_run_on_one_destination_stops_at_once_naming_the_first(tmp_path):
    src, out = photos(tmp_path / "src", 1), tmp_path / "out"
    with manifest.lock(locate(out)), pytest.raises(ClusterError, match="being written by another run"):
        colorize_dataset([str(src)], str(out), workers=1, progress=False)
    assert colorize_dataset([str(src)], str(out), workers=1, progress=False).written == 1  # released


def test_the_models_learned_alike_travels_with_it_and_decides_the_settings_key(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    colour_photo(120, 90, seed=3).save(src / "p.png")
    (src / "p.hints.json").write_text(json.dumps([{"x": 30, "y": 30, "color": "#2040d0", "reach": 0.8}]))
    model = tmp_path / "M.onnx"
    shutil.copy(BUNDLED_MODEL, model)
    shutil.copy(BUNDLED_MODEL.with_name(BUNDLED_MODEL.stem + ".alike.json"), tmp_path / "M.alike.json")
    local = colorize_paths(Colorizer.load(model), [str(src)], tmp_path / "local", progress=False)
    assert len(local.written) == 1
    colorize_dataset([str(src)], str(tmp_path / "ray"), model=str(model), workers=1, progress=False)
    assert np.array_equal(pixels(tmp_path / "ray" / "p.png"), pixels(tmp_path / "local" / "p.png"))
    # without its description the same hint reaches elsewhere: other pixels, and not "done" under the old key
    (tmp_path / "M.alike.json").unlink()
    again = colorize_dataset(
        [str(src)], str(tmp_path / "ray"), model=str(model), workers=1, progress=False, overwrite=True
    )
    assert again.done_before == 0 and again.written == 1
    assert not np.array_equal(pixels(tmp_path / "ray" / "p.png"), pixels(tmp_path / "local" / "p.png"))


@pytest.mark.parametrize(
    "line",
    ["[1, 2]", '{"source": ["a"], "output": "x", "status": "written", "run": "r"}', "null",
     '{"output": "x", "status": "written", "run": "r"}', "[" * 100_000, b"\xff\xfe not utf-8"],
)  # fmt: skip
def test_a_manifest_edited_by_hand_is_read_around_not_a_traceback(tmp_path, line):
    src, out = photos(tmp_path / "src", 2), tmp_path / "out"
    assert colorize_dataset([str(src)], str(out), workers=1, progress=False).written == 2
    part = out / "_manifest" / "part-99999999T999999-1-000000.jsonl"
    part.write_bytes(line if isinstance(line, bytes) else line.encode())
    again = colorize_dataset([str(src)], str(out), workers=1, progress=False)
    assert again.done_before == 2 and again.failures == 0
    assert any("not manifest rows" in note for note in again.notes)


def test_resource_requests_that_cannot_be_met_are_refused_before_the_run(tmp_path):
    src = photos(tmp_path / "src", 1)
    with pytest.raises(ClusterError, match="no node of the cluster has that many CPUs"):
        colorize_dataset([str(src)], str(tmp_path / "a"), cpus_per_worker=3, progress=False)
    with pytest.raises(ClusterError, match="no GPU"):
        colorize_dataset([str(src)], str(tmp_path / "b"), device="cuda", progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"workers": 0}, "workers must be"), ({"workers": -1}, "workers must be"), ({"cpus_per_worker": 0}, "cpus_per"),
     ({"cpus_per_worker": -1}, "cpus_per"), ({"cpus_per_worker": math.nan}, "cpus_per")],
)  # fmt: skip
def test_engine_numbers_are_checked_before_anything_starts(tmp_path, kwargs, message):
    src = photos(tmp_path / "src", 1)
    with pytest.raises(ClusterError, match=message):
        colorize_dataset([str(src)], str(tmp_path / "out"), progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "settings, message",
    [({"saturation": math.nan}, "saturation"), ({"reach": math.nan}, "reach"), ({"reach": 2.0}, "reach"),
     ({"reach": -1}, "reach"), ({"reach": "far"}, "reach"), ({"size": 5}, "out of range"),
     ({"size": 100_000}, "out of range"), ({"batch_size": 0}, "batch_size"), ({"smoothing": 1.0}, "smoothing")],
)  # fmt: skip
def test_tampered_settings_are_refused_by_name_before_ray_starts(tmp_path, settings, message):
    src = photos(tmp_path / "src", 1)
    with pytest.raises(ClusterError, match=message):
        colorize_dataset([str(src)], str(tmp_path / "out"), progress=False, **settings)
    assert not (tmp_path / "out").exists()
    from colorizer.inference.batch import BatchError

    with pytest.raises(BatchError, match=message):  # the local engine, the same check
        colorize_paths(Colorizer.load(), [str(src)], tmp_path / "local", progress=False, **settings)


def test_out_naming_a_file_and_a_glob_matching_nothing_fail_before_any_write(tmp_path):
    src = photos(tmp_path / "src", 1)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ClusterError, match="is a file, not a folder"):
        colorize_dataset([str(src)], str(tmp_path / "afile"), progress=False)
    summary = colorize_dataset([str(tmp_path / "none*.jpg")], str(tmp_path / "out"), progress=False)
    assert summary.failures == 1 and "no file matches" in summary.failed[0]["reason"]
    assert not (tmp_path / "out").exists()  # no _manifest/ for a run that had nothing to do
    assert tree_hashes(src)


@pytest.mark.parametrize(
    "tamper, why",
    [(lambda d: d.update(scale="1e-30"), "not a number"), (lambda d: d.update(scale=1e-30), "outside"),
     (lambda d: d.update(feature_weights=[[0.0] * 100] * 16), "takes 100 features"),
     (lambda d: d.update(bias=[0.0] * 3000, feature_weights=[[0.0] * 152] * 3000,
                         pixel_weights=[[0.0] * 5] * 3000), "too large"),
     (lambda d: d.update(bias=[0.0] * 65, feature_weights=[[0.0] * 152] * 65,
                         pixel_weights=[[0.0] * 5] * 65), "dimensions"), (None, "nested too deep")],
)  # fmt: skip
def test_a_tampered_alike_file_falls_back_with_a_warning(tmp_path, tamper, why):
    model = tmp_path / "M.onnx"
    shutil.copy(BUNDLED_MODEL, model)
    data = json.loads(BUNDLED_MODEL.with_name(BUNDLED_MODEL.stem + ".alike.json").read_text())
    if tamper is None:
        text = '{"format": "colorizer-alike", "version": 1, "x": ' + "[" * 100_000 + "}"
    else:
        tamper(data)
        text = json.dumps(data)
    image = np.asarray(colour_photo(96, 64, seed=1))
    hints = [{"x": 20, "y": 20, "color": "#d02020", "reach": 0.7}]
    hand_weighted = Colorizer.load(model).colorize_array(image, hints=hints)  # no description beside it yet
    (tmp_path / "M.alike.json").write_text(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        coloured = Colorizer.load(model).colorize_array(image, hints=hints)
    assert any(why in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert np.array_equal(coloured, hand_weighted)  # the same pixels as with no description at all


def test_a_failed_upload_to_an_object_store_is_recorded_as_failed(tmp_path, monkeypatch):
    """The worker, called as Ray calls it, writing to a remote destination whose upload fails: the row says failed,
    naming the output, and no row says written."""
    import pyarrow.fs as pafs

    from colorizer.cluster.storage import Location
    from colorizer.cluster.worker import ColorizeWorker, WorkerSettings
    from colorizer.inference.options import ColorizeOptions

    src = photos(tmp_path / "src", 2)
    marker = tmp_path / "marker"
    marker.write_text("{}")
    remote = Location(pafs.LocalFileSystem(), str(tmp_path / "bucket"), "s3://bucket/colour")
    monkeypatch.setattr(Location, "is_local", property(lambda self: self.uri.startswith("/")))  # the bucket: remote

    def refuse(*args, **kwargs):
        raise OSError("AWS Error ACCESS_DENIED during PutObject operation")

    monkeypatch.setattr(pafs, "copy_files", refuse)
    settings = WorkerSettings(
        roots=[locate(src)], destination=remote, marker=locate(marker), run="key", options=ColorizeOptions(size=64)
    )
    worker = ColorizeWorker(settings)
    batch = {"root": np.array([0, 0]), "relative": np.array(["p0.png", "p1.png"]), "hints": np.array(["", ""]),
             "problem": np.array(["", ""])}  # fmt: skip
    rows = worker(batch)
    assert list(rows["status"]) == ["failed", "failed"]
    assert all("could not write s3://bucket/colour/" in error and "ACCESS_DENIED" in error for error in rows["error"])


def test_ctrl_c_while_ray_starts_stops_cleanly(tmp_path):
    """Ctrl-C while the driver starts its own Ray runtime (its first Ray process is up): exit status 130 and the
    rerun advice. (By hand, `colorizer colorize DIR --out OUT --engine ray` interrupted 3 s in crashed at exit with a
    segmentation fault when Ray's start-up was interrupted half way; it is now held until Ray is up. This test has not
    reproduced that crash, so it guards the exit status only.)"""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = photos(tmp_path / "src", 4)
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    command = [sys.executable, "-m", "colorizer", "colorize", str(src), "--out", str(tmp_path / "out")]
    psutil = pytest.importorskip("psutil")
    driver = subprocess.Popen([*command, "--engine", "ray"], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and driver.poll() is None:
        names = [child.name() for child in psutil.Process(driver.pid).children(recursive=True)]
        if any("gcs_server" in name or "raylet" in name for name in names):
            break  # ray.init is under way
        time.sleep(0.05)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, (driver.returncode, err[-1500:])
    assert "run the same command again" in err or "interrupted" in err
