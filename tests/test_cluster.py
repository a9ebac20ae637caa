"""`colorize --engine ray`: a real Ray runtime on this machine (one node, then two), a real S3-compatible server on
127.0.0.1 (moto), real processes killed by their PID. Same pixels as the local engine, every input recorded once,
nothing written twice, sources never touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.inference.batch import colorize_paths
from tests.conftest import colour_photo, tree_hashes

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # real Ray runtimes: deselect with -m "not slow"
pytest.importorskip("pyarrow")

from colorizer.cluster import ClusterError, colorize_dataset  # noqa: E402

RED = "#d02020"


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3-compatible server (moto) on 127.0.0.1, and the variables that point S3 clients at it, set before
    Ray starts so that its workers have them too."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    variables = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    yield variables["AWS_ENDPOINT_URL"]
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture
def local_ray(s3_endpoint):
    """A Ray runtime of this process with 2 CPUs, kept across tests (starting one costs seconds); the two-node test,
    last, makes its own."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray.get_runtime_context().gcs_address


@pytest.fixture(scope="module", autouse=True)
def _shutdown_ray():
    yield
    if ray.is_initialized():
        ray.shutdown()


def archive(root: Path, count: int = 5, size=(96, 72)) -> Path:
    """Photos in two folders, one with its own hints file, one PNG with alpha, and one file that is not a photo."""
    (root / "1950s").mkdir(parents=True)
    for i in range(count):
        folder = root / "1950s" if i % 2 else root
        colour_photo(size[0] + 8 * i, size[1] + 4 * i, seed=i).save(folder / f"scan{i}.jpg", quality=92)
    rgba = np.dstack([np.asarray(colour_photo(80, 60, seed=9)), np.full((60, 80), 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "logo.png")
    (root / "scan0.hints.json").write_text(json.dumps([{"x": 20, "y": 20, "color": RED, "radius": 6}]))
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg at all")
    return root


def manifest_rows(out: Path) -> list[dict]:
    return [json.loads(line) for part in sorted((out / "_manifest").glob("*.jsonl")) for line in part.open()]


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_same_pixels_as_the_local_engine_and_every_input_recorded(tmp_path, local_ray, colorizer):
    src = archive(tmp_path / "src")
    before = tree_hashes(src)
    local = colorize_paths(colorizer, [str(src)], tmp_path / "local", progress=False, compare=True)
    summary = colorize_dataset([str(src)], str(tmp_path / "ray"), workers=2, progress=False, compare=True)

    assert tree_hashes(src) == before  # sources untouched
    assert summary.written == len(local.written) == 6 and summary.failures == 1
    assert "broken.jpg" in summary.failed[0]["source"] and "cannot" in summary.failed[0]["reason"].lower()
    for output in local.written:
        relative = output.relative_to(tmp_path / "local")
        assert np.array_equal(pixels(output), pixels(tmp_path / "ray" / relative)), relative
        figure = output.with_name(f"{output.stem}_compare.png")
        assert np.array_equal(pixels(figure), pixels(tmp_path / "ray" / relative.with_name(figure.name)))
    assert pixels(tmp_path / "ray" / "logo.png").shape[2] == 4  # alpha kept
    # scan0's own hints file made its top-left red
    a, b = pixels(tmp_path / "ray" / "scan0.jpg")[20, 20].astype(int)[:2]
    assert a - b > 60
    rows = manifest_rows(tmp_path / "ray")
    assert Counter(row["status"] for row in rows) == {"written": 6, "failed": 1}
    assert len({row["source"] for row in rows}) == 7
    assert all(row["node"] and row["run"] and row["time"] for row in rows)
    written = [row for row in rows if row["status"] == "written"]
    assert all(row["bytes"] == os.path.getsize(row["output"]) for row in written)


def test_a_rerun_finishes_only_the_rest_and_existing_outputs_are_kept(tmp_path, local_ray):
    src = archive(tmp_path / "src", count=4)
    out = tmp_path / "out"
    (out / "1950s").mkdir(parents=True)
    (out / "1950s" / "scan1.jpg").write_bytes(b"mine")  # there before the run: kept without --overwrite
    first = colorize_dataset([str(src)], str(out), workers=1, progress=False)
    assert (first.written, first.exists, first.failures) == (4, 1, 1)
    assert (out / "1950s" / "scan1.jpg").read_bytes() == b"mine"
    (out / "scan2.jpg").unlink()  # lost since: the record says it was written, the disk says it is not there...
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}
    again = colorize_dataset([str(src)], str(out), workers=1, progress=False)
    assert again.done_before == 3 and again.written == 1  # ...so a rerun writes it again, and only it
    assert (out / "scan2.jpg").is_file()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg") if p.name != "scan2.jpg"} == stamps
    assert any("goes on with an earlier run" in note for note in again.notes)
    other = colorize_dataset([str(src)], str(out), workers=1, progress=False, saturation=0.5, overwrite=True)
    assert other.written == 5 and other.done_before == 0  # other settings: nothing counts as done
    assert (out / "1950s" / "scan1.jpg").read_bytes() != b"mine"


def test_out_as_an_input_folder_and_a_missing_source_are_clear(tmp_path, local_ray):
    src = archive(tmp_path / "src", count=2)
    with pytest.raises(ClusterError, match="is the input folder"):
        colorize_dataset([str(src)], str(src), progress=False)
    summary = colorize_dataset([str(src / "scan0.jpg"), str(tmp_path / "nope")], str(tmp_path / "out"), progress=False)
    assert summary.written == 1 and summary.failed == [
        {"source": str(tmp_path / "nope"), "reason": "no such file or folder"}
    ]
    a, b = pixels(tmp_path / "out" / "scan0.jpg")[20, 20].astype(int)[:2]
    assert a - b > 60  # a single file's hints file beside it is found too


def test_a_worker_killed_mid_run_is_retried_and_nothing_is_written_twice(tmp_path, local_ray):
    psutil = pytest.importorskip("psutil")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(32):
        colour_photo(192, 144, seed=i).save(src / f"p{i:02d}.jpg", quality=90)
    out = tmp_path / "out"
    result = {}
    run = threading.Thread(target=lambda: result.update(s=colorize_dataset([str(src)], str(out), progress=False)))
    run.start()
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.jpg"))) < 4 and run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    before = {p.name: p.stat().st_ino for p in out.glob("*.jpg")}
    victims = [p for p in psutil.process_iter(["cmdline"]) if "ColorizeWorker" in " ".join(p.info["cmdline"] or [])]
    assert victims and run.is_alive(), "the run ended before a worker could be killed"
    os.kill(victims[0].pid, signal.SIGKILL)
    run.join(timeout=180)
    summary = result["s"]
    assert summary.written == 32 and summary.failures == 0
    rows = [row for row in manifest_rows(out) if row["status"] == "written"]
    assert sorted(Counter(row["source"] for row in rows).values()) == [1] * 32  # each input recorded once
    # what was there before the kill was not written again (a rewrite is a new file, a new inode)
    assert {name: (out / name).stat().st_ino for name in before} == before
    assert not list(out.glob(".*.tmp"))


def test_ctrl_c_on_the_driver_then_a_rerun_writes_every_output_once(tmp_path, local_ray):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(24):
        colour_photo(192, 144, seed=i).save(src / f"p{i:02d}.jpg", quality=90)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "colorizer", "colorize", str(src), "--out", str(out), "--engine", "ray"]
    command += ["--workers", "1"]
    env = {**os.environ, "RAY_ADDRESS": local_ray}  # drivers of their own on this test's runtime
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.jpg"))) < 3 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err[-2000:]
    assert "run the same command again" in err
    before = {p.name: p.stat().st_ino for p in out.glob("*.jpg")}
    assert 0 < len(before) < 24
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(list(out.glob("*.jpg"))) == 24 and not list(out.glob(".*.tmp"))
    assert {name: (out / name).stat().st_ino for name in before} == before  # none written again
    written = Counter(row["source"] for row in manifest_rows(out) if row["status"] == "written")
    assert sorted(written.values()) == [1] * 24


def test_a_video_is_one_task_through_the_video_pipeline(tmp_path, local_ray, colorizer):
    pytest.importorskip("av")
    from tests.test_video import make_video, read_frames, scene

    src = tmp_path / "src"
    src.mkdir()
    make_video(src / "reel.mp4", [scene(96, 64, seed=i // 4) for i in range(8)], audio=True)
    colour_photo(90, 60).save(src / "still.jpg")
    summary = colorize_dataset([str(src)], str(tmp_path / "ray"), workers=1, progress=False)
    local = colorize_paths(colorizer, [str(src)], tmp_path / "local", progress=False)
    assert summary.written == 2 and len(local.written) == 2
    ours, _, _ = read_frames(tmp_path / "ray" / "reel.mp4")
    theirs, _, _ = read_frames(tmp_path / "local" / "reel.mp4")
    assert len(ours) == 8 and np.array_equal(np.stack(ours), np.stack(theirs))


def test_s3_round_trip_sources_outputs_and_manifest(tmp_path, local_ray, s3_endpoint, colorizer):
    boto3 = pytest.importorskip("boto3")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="archive")
    src = archive(tmp_path / "src", count=3)
    for path in src.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "archive", f"scans/{path.relative_to(src).as_posix()}")
    summary = colorize_dataset(["s3://archive/scans/"], "s3://archive/colour", workers=2, progress=False)
    assert (summary.written, summary.failures) == (4, 1)
    local = colorize_paths(colorizer, [str(src)], tmp_path / "local", progress=False)
    for output in local.written:
        key = f"colour/{output.relative_to(tmp_path / 'local').as_posix()}"
        (tmp_path / "fetched").write_bytes(s3.get_object(Bucket="archive", Key=key)["Body"].read())
        assert np.array_equal(pixels(tmp_path / "fetched"), pixels(output)), key
    listed = s3.list_objects_v2(Bucket="archive", Prefix="colour/_manifest/")["Contents"]
    parts = [item["Key"] for item in listed if item["Key"].endswith(".jsonl")]
    rows = [json.loads(line) for key in parts for line in s3.get_object(Bucket="archive", Key=key)["Body"].iter_lines()]
    assert Counter(row["status"] for row in rows) == {"written": 4, "failed": 1}
    assert all(row["source"].startswith("s3://archive/scans/") for row in rows)
    again = colorize_dataset(["s3://archive/scans/"], "s3://archive/colour", workers=1, progress=False)
    assert again.done_before == 4 and again.written == 0
    assert len(s3.list_objects_v2(Bucket="archive", Prefix="scans/")["Contents"]) == 6  # sources untouched


def test_two_nodes_share_the_work(tmp_path):
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        cluster.wait_for_nodes()
        src = tmp_path / "src"
        src.mkdir()
        for i in range(32):
            colour_photo(200, 150, seed=i).save(src / f"p{i:02d}.jpg")
        summary = colorize_dataset([str(src)], str(tmp_path / "out"), workers=2, progress=False)
        assert summary.written == 32
        nodes = {row["node"] for row in manifest_rows(tmp_path / "out")}
        assert len(nodes) == 2  # one actor on each node
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_the_light_commands_do_not_load_ray():
    code = "import sys, colorizer.cli as c; c.build_parser(); print(sorted({'ray', 'pyarrow'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
