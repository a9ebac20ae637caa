"""Hostile and careless inputs: every one gets a clear error naming it, the rest of the batch goes on, nothing is
left under a final name, sources are never touched, and the server never stores more than its upload limit."""

import asyncio
import io
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from colorizer.cli import main
from colorizer.images import ImageReadError, read_photo
from colorizer.inference.serve import ServeLimits, create_app
from tests.conftest import colour_photo, tree_hashes

# --- the server: uploads are refused before they are stored ------------------------------------------------------


def _call(app, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
    """Send one POST to the ASGI app; returns (status, bytes of the body the app pulled before answering)."""
    pulled, status = 0, None
    pending = list(chunks)

    async def receive():
        nonlocal pulled
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = pending.pop(0)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/colorize",
        "raw_path": b"/api/colorize",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, pulled


def test_an_oversized_upload_is_refused_before_its_body_is_read(colorizer):
    app = create_app(colorizer, ServeLimits(max_upload_mb=1.0))
    boundary = b"x" * 16
    kind = (b"content-type", b"multipart/form-data; boundary=" + boundary)
    huge = b"\0" * (1 << 20)
    status, pulled = _call(app, [kind, (b"content-length", str(300 << 20).encode())], [huge] * 300)
    assert status == 413 and pulled == 0  # refused by its Content-Length, not one byte read
    # Streamed without a length (chunked): cut off once past the limit (1 MB + the hints allowance), not at 300 MB.
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
    status, pulled = _call(app, [kind], [head] + [huge] * 300)
    assert status == 413 and pulled < 8 << 20, pulled


def test_http_format_limits_and_offline_docs(colorizer):
    client = TestClient(create_app(colorizer, ServeLimits(max_megapixels=5)))
    buffer = io.BytesIO()
    Image.new("L", (17_000, 40), 120).save(buffer, format="PNG")
    answer = client.post("/api/colorize?format=webp", files={"file": ("wide.png", buffer.getvalue())})
    assert answer.status_code == 422 and "WEBP holds at most 16383 pixels" in answer.json()["detail"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/colorize" in docs.text and "hints" in docs.text
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()  # nothing to fetch from the internet


def test_serving_beyond_this_machine_warns(monkeypatch, colorizer, capsys):
    import uvicorn

    from colorizer.inference import serve as serve_module

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    serve_module.serve(colorizer, "0.0.0.0", 8000, ServeLimits())
    assert "reachable from other machines" in capsys.readouterr().err
    serve_module.serve(colorizer, "127.0.0.1", 8000, ServeLimits())
    assert "reachable" not in capsys.readouterr().err


# --- numbers on the command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["colorize", "x", "--out", "y", "--batch-size", "0"], "--batch-size: 0 is out of range"),
        (["colorize", "x", "--out", "y", "--batch-size", "-4"], "--batch-size: -4 is out of range"),
        (["colorize", "x", "--out", "y", "--size", "0"], "--size: 0 is out of range: at least 64"),
        (["colorize", "x", "--out", "y", "--size", "-512"], "--size: -512 is out of range"),
        (["colorize", "x", "--out", "y", "--saturation", "nan"], "--saturation: nan is out of range"),
        (["colorize", "x", "--out", "y", "--temperature", "0"], "--temperature: 0 is out of range: above 0"),
        (["prepare", "x", "y", "--size", "0"], "--size: 0 is out of range"),
        (["prepare", "x", "y", "--workers", "0"], "--workers: 0 is out of range"),
        (["serve", "--max-upload-mb", "-1"], "--max-upload-mb: -1 is out of range"),
        (["serve", "--port", "70000"], "--port: 70000 is out of range"),
        (["serve", "--max-queue", "many"], "'many' is not a whole number"),
    ],
)
def test_every_number_is_range_checked(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


# --- photos ------------------------------------------------------------------------------------------------------


def test_a_hints_file_that_breaks_json_fails_its_photo_only(tmp_path, capsys):
    src = tmp_path / "album"
    src.mkdir()
    for name in ("a", "b", "c"):
        colour_photo(48, 36, ord(name)).convert("L").save(src / f"{name}.png")
    (src / "a.hints.json").write_text("[" * 5000 + "]" * 5000)
    (src / "b.hints.json").write_text('[{"x": ' + "7" * 5000 + ', "y": 1, "color": "#123456"}]')
    (src / "c.hints.json").write_bytes('[{"x": 3, "y": 4, "color": "#c83c28"}]'.encode("utf-8-sig"))  # Notepad's BOM
    assert main(["colorize", str(src), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "a.png" in err and "nest more than" in err and "b.png" in err and "cannot be read as JSON" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c.png"]


def test_an_output_beyond_its_format_is_refused_by_name_and_the_rest_goes_on(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.new("L", (20_000, 100), 128).save(src / "banner.png")
    colour_photo(60, 40, 1).save(src / "small.png")
    assert main(["colorize", str(src), "--out", str(tmp_path / "out"), "--format", "webp"]) == 1
    err = capsys.readouterr().err
    assert "banner.png" in err and "WEBP holds at most 16383 pixels a side, this image is 20000x100" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["small.webp"]  # no banner, no temporary


def test_the_stated_pixel_limit_is_the_one_applied(tmp_path):
    """A 95-MP scan is read (Pillow's own 89.5-MP guard does not override the 200-MP limit); beyond a limit the
    refusal says which and by how much."""
    path = tmp_path / "scan.png"
    Image.new("L", (10_000, 9_500), 200).save(path)
    photo = read_photo(path)
    assert photo.size == (10_000, 9_500) and photo.pixels[5000, 5000] == 200
    with pytest.raises(ImageReadError, match="95.0 megapixels, over the limit of 90"):
        read_photo(path, max_pixels=90_000_000)


def test_sources_are_never_outputs(tmp_path, capsys):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    colour_photo(50, 40, 1).convert("L").save(src / "a.png")
    colour_photo(50, 40, 2).convert("L").save(src / "sub" / "b.png")
    before = tree_hashes(src)
    # The input folder as --out (with --overwrite, it would have replaced the sources): refused, nothing written.
    assert main(["colorize", str(src), "--out", str(src), "--overwrite"]) == 2
    assert "is the input folder" in capsys.readouterr().err and tree_hashes(src) == before
    # One photo whose output would land on itself: that photo fails, its source stays.
    os.chdir(src)
    assert main(["colorize", "a.png", "--out", ".", "--overwrite"]) == 1
    assert "would replace it" in capsys.readouterr().err and tree_hashes(src) == before
    # --out inside the input: said, and not searched.
    assert main(["colorize", str(src), "--out", str(src / "coloured")]) == 0
    assert "is inside the input folder" in capsys.readouterr().err
    assert sorted(p.relative_to(src / "coloured").as_posix() for p in (src / "coloured").rglob("*.png")) == [
        "a.png",
        "sub/b.png",
    ]


def test_animated_images_say_only_the_first_frame_is_coloured(tmp_path, capsys):
    frames = [colour_photo(40, 30, i).convert("L").convert("P") for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    assert main(["colorize", str(tmp_path / "anim.gif"), "--out", str(tmp_path / "out")]) == 0
    assert "has 3 frames (animated or multi-page): only the first is colourised" in capsys.readouterr().err


def test_stale_temporaries_of_killed_runs_are_removed(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "deep").mkdir(parents=True)
    dead = 4_000_000  # above any pid_max: no such process
    stale = [out / f".a.png.{dead}.tmp", out / "deep" / f".b.jpg.{dead}.tmp"]
    alive = out / f".c.png.{os.getppid()}.tmp"  # a living process's file is left alone
    mine = out / "notes.tmp"  # not of our naming
    for path in (*stale, alive, mine):
        path.write_bytes(b"partial")
    colour_photo(40, 30, 1).save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "--out", str(out)]) == 0
    assert not any(p.exists() for p in stale) and alive.exists() and mine.exists()
    assert "left by an earlier run that was killed" in capsys.readouterr().err


# --- videos ------------------------------------------------------------------------------------------------------


av = pytest.importorskip("av")


def _clip(path: Path, frames: int = 6, size=(64, 48), streams: int = 1, options: dict | None = None) -> None:
    with av.open(str(path), "w", options=options or {}) as container:
        outs = []
        for _ in range(streams):
            stream = container.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
            outs.append(stream)
        for i in range(frames):
            rgb = np.asarray(colour_photo(*size, seed=i))
            for stream in outs:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")):
                    container.mux(packet)
        for stream in outs:
            for packet in stream.encode(None):
                container.mux(packet)


def _frames(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as container:
        return [(f.width, f.height) for f in container.decode(video=0)]


def test_a_truncated_mp4_is_an_error_unless_partial_output_is_asked_for(tmp_path, capsys):
    whole = tmp_path / "whole.mp4"
    _clip(whole, frames=40, size=(96, 64), options={"movflags": "faststart"})  # the index first, as on the web
    clips = tmp_path / "clips"
    clips.mkdir()
    data = whole.read_bytes()
    (clips / "cut.mp4").write_bytes(data[: len(data) // 2])
    _clip(clips / "fine.mp4")
    out = tmp_path / "out"
    assert main(["colorize", str(clips), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "cut.mp4" in err and "truncated: its index lists 40 frames, only" in err
    assert sorted(p.name for p in out.iterdir()) == ["fine.mp4"]  # nothing under cut's final name
    assert main(["colorize", str(clips / "cut.mp4"), "--out", str(out), "--keep-partial"]) == 0
    assert "(--keep-partial)" in capsys.readouterr().err and 0 < len(_frames(out / "cut.mp4")) < 40


def test_extra_streams_size_changes_and_hints_are_said_not_dropped(tmp_path, capsys):
    _clip(tmp_path / "two.mkv", streams=2)
    path = tmp_path / "resized.mkv"
    with av.open(str(path), "w") as container:  # MJPEG may change frame size from one frame to the next
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        other = av.CodecContext.create("mjpeg", "w")
        other.width, other.height, other.pix_fmt, other.time_base = 80, 40, "yuvj420p", Fraction(1, 10)
        for i in range(6):
            encoder, size = (stream.codec_context, (64, 48)) if i < 3 else (other, (80, 40))
            frame = av.VideoFrame.from_ndarray(np.asarray(colour_photo(*size, seed=i)), format="rgb24")
            frame = frame.reformat(format="yuvj420p")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            for packet in encoder.encode(frame):
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, i, i, Fraction(1, 10)
                container.mux(packet)
    hints = tmp_path / "hints.json"
    hints.write_text(json.dumps([{"x": 1, "y": 1, "color": "#c83c28"}]))
    out = tmp_path / "out"
    args = ["colorize", str(tmp_path / "two.mkv"), str(path), "--out", str(out), "--hints", str(hints)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "has 2 video streams; only the first is colourised" in err
    assert "frame 4 changes size from 64x48 to 80x40" in err
    assert "--hints applies to photos" in err
    assert _frames(out / "resized.mp4") == [(64, 48)] * 6


def test_a_video_write_error_names_the_output(tmp_path, monkeypatch, colorizer):
    from colorizer.inference import video as video_module

    _clip(tmp_path / "in.mp4")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video_module, "_open_output", full_disk)
    destination = tmp_path / "out" / "in.mp4"
    with pytest.raises(video_module.VideoError, match=f"could not write {destination}: .*No space left"):
        colorizer.colorize_video(tmp_path / "in.mp4", destination)
    assert not destination.exists() and not list((tmp_path / "out").iterdir())


# --- round two (issue 27): the newer features under hostile input -------------------------------------------------


def test_a_source_spelt_another_way_is_never_its_own_output(tmp_path, capsys):
    """An absolute path, `..` and a symlink name the same file as the output: refused, the source untouched."""
    src = tmp_path / "photos"
    src.mkdir()
    colour_photo(50, 40, 1).convert("L").save(src / "a.png")
    (tmp_path / "alias").symlink_to(src, target_is_directory=True)
    before = tree_hashes(src)
    os.chdir(src)
    for spelling in (str(src / "a.png"), f"../{src.name}/a.png", str(tmp_path / "alias" / "a.png")):
        assert main(["colorize", spelling, "--out", ".", "--overwrite"]) == 1, spelling
        assert "would replace" in capsys.readouterr().err
    assert tree_hashes(src) == before


def test_a_reference_hints_file_or_key_frame_is_never_written_to(tmp_path, capsys):
    """`colorize old/street.jpg --reference new/street.jpg --out new --overwrite` replaced the reference: no more."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    colour_photo(64, 48, 1).convert("L").save(old / "street.png")
    colour_photo(64, 48, 2).save(new / "street.png")
    (tmp_path / "hints").mkdir()
    hints = tmp_path / "hints" / "street.png"  # a hints file named like the output: odd, but it is the user's
    hints.write_text(json.dumps([{"x": 5, "y": 5, "color": "#b0302a"}]))
    before = {**tree_hashes(new), **tree_hashes(tmp_path / "hints")}
    code = main(["colorize", str(old / "street.png"), "--reference", str(new / "street.png"), "--out", str(new)])
    assert code == 1 and "would replace the reference" in capsys.readouterr().err
    code = main(["colorize", str(old / "street.png"), "--hints", str(hints), "--out", str(hints.parent), "--overwrite"])
    assert code == 1 and "would replace the hints file" in capsys.readouterr().err
    assert {**tree_hashes(new), **tree_hashes(tmp_path / "hints")} == before


@pytest.mark.parametrize("digits", [309, 400])
def test_huge_integers_in_hints_are_a_named_error_not_a_crash(colorizer, digits):
    from colorizer.inference.hints import HintError, parse_hints

    huge = "9" * digits
    for text in (
        f'[{{"x": {huge}, "y": 3, "color": "#b0302a"}}]',
        f'[{{"x": 3, "y": 3, "color": "#b0302a", "radius": {huge}}}]',
        f'[{{"points": [[1, 2], [{huge}, 3]], "color": "#b0302a"}}]',
    ):
        with pytest.raises(HintError, match="hint 1"):
            parse_hints(text, 100, 80)
    client = TestClient(create_app(colorizer))
    buffer = io.BytesIO()
    colour_photo(60, 40, 3).convert("L").save(buffer, format="PNG")
    hints = f'[{{"x": {huge}, "y": 3, "color": "#b0302a"}}]'
    response = client.post("/api/colorize", files={"file": ("a.png", buffer.getvalue())}, data={"hints": hints})
    assert response.status_code == 422 and "hint 1" in response.json()["detail"]


@pytest.mark.parametrize("size", [(2000, 213), (1000, 640), (640, 1000)])
def test_a_reference_with_a_photo_of_any_shape(colorizer, size):
    """Working sides that are not multiples of the encoder's stride (a panorama 2000x213, --size 64) matched fine."""
    width, height = size
    photo = np.asarray(colour_photo(width, height, 4).convert("L"))
    reference = np.asarray(colour_photo(width // 2, height // 2 + 7, 5))
    for working in (64, 384):
        result = colorizer.colorize_array(photo, size=working, reference=reference)
        assert result.shape == (height, width, 3)


# --- round two: bounded work and memory, and a Python API that checks what it is given ---------------------------


@pytest.mark.timeout(45)  # unbounded, 42 such strokes took 73 s (issue 27): bounded, about 3
def test_wide_dense_strokes_cost_a_bounded_time_and_still_cover_their_line(colorizer):
    from PIL import ImageDraw

    from colorizer.inference.hints import _stroke_coverage

    zigzag = [[int(i % 640), int((i * 7) % 480)] for i in range(10_000)]
    hints = [{"points": zigzag, "color": "#2040c0", "radius": 640} for _ in range(40)]
    photo = np.asarray(colour_photo(640, 480).convert("L"))
    colorizer.colorize_array(photo, hints=hints)
    # a wide stroke drawn on the coarser canvas covers what the exact drawing covers, to within its edge
    line = np.array([[20, 30], [200, 60], [120, 250], [350, 200]])
    exact = Image.new("L", (384, 288))
    draw = ImageDraw.Draw(exact)
    draw.line([tuple(p) for p in line], fill=255, width=81, joint="curve")
    for cx, cy in (line[0], line[-1]):
        draw.ellipse((cx - 40, cy - 40, cx + 40, cy + 40), fill=255)
    exact = np.asarray(exact) > 0
    coarse = _stroke_coverage(line, 40, 288, 384)
    assert (exact & coarse).sum() / (exact | coarse).sum() > 0.93


@pytest.mark.parametrize("size", [float("nan"), float("inf"), 1e20, -1, 1, True, "384", 4096, 63])
def test_the_python_api_checks_the_working_size(colorizer, size):
    photo = np.asarray(colour_photo(64, 48).convert("L"))
    with pytest.raises(ValueError, match="size"):
        colorizer.colorize_array(photo, size=size)


def test_the_command_line_refuses_a_working_size_beyond_its_memory_bound(tmp_path, capsys):
    colour_photo(64, 48).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exit_info:
        main(["colorize", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--size", "4096"])
    assert exit_info.value.code == 2 and "at most 2048" in capsys.readouterr().err


def test_a_full_queue_refuses_before_decoding_anything(colorizer, monkeypatch):
    from colorizer.inference import serve

    decoded = []
    real = serve.decode_upload
    monkeypatch.setattr(serve, "decode_upload", lambda data, limits: decoded.append(1) or real(data, limits))
    app = create_app(colorizer, ServeLimits(max_queue=0))
    client = TestClient(app)
    image = io.BytesIO()
    colour_photo(64, 48).save(image, "PNG")
    queue = app.app.state.queue  # BodyLimit wraps the FastAPI app
    with queue.slot():  # a request being served: the queue (0 waiting) is full
        busy = client.post("/api/colorize", files={"file": ("a.png", image.getvalue())})
    assert busy.status_code == 503 and decoded == []
    served = client.post("/api/colorize", files={"file": ("a.png", image.getvalue())})
    assert served.status_code == 200 and decoded == [1]


def test_one_hints_limit_for_files_and_http(colorizer, tmp_path, capsys):
    from colorizer.inference.hints import MAX_HINTS_BYTES

    hint = json.dumps([{"x": 1, "y": 1, "color": "#ff0000"}])
    over = hint + " " * (MAX_HINTS_BYTES + 10 - len(hint))
    far_over = hint + " " * (1_200_000 - len(hint))
    client = TestClient(create_app(colorizer, ServeLimits()))
    image = io.BytesIO()
    colour_photo(64, 48).save(image, "PNG")
    for text in (over, far_over):  # ours, and the multipart parser's own limit: the same words
        answer = client.post("/api/colorize", files={"file": ("a.png", image.getvalue())}, data={"hints": text})
        assert answer.status_code in (413, 422) and "1,000,000 bytes" in answer.json()["detail"]
    colour_photo(64, 48).save(tmp_path / "a.png")
    (tmp_path / "a.hints.json").write_text(over)
    assert main(["colorize", str(tmp_path / "a.png"), "--out", str(tmp_path / "out")]) == 1
    assert "1,000,000" in capsys.readouterr().err


def test_import_colorizer_stays_light_and_offers_colorize_at_module_level(tmp_path):
    import subprocess
    import sys

    code = "import sys, colorizer; print(sorted({'numpy', 'onnxruntime', 'PIL', 'torch'} & set(sys.modules)))"
    light = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "[]"
    import colorizer as package

    photo = np.asarray(colour_photo(64, 48).convert("L"))
    red = package.colorize(photo, hints=[{"x": 32, "y": 24, "color": "#d02020", "radius": 6}])
    assert red.size == (64, 48) and np.asarray(red)[24, 32, 0] > np.asarray(red)[24, 32, 2] + 40
    ready = package.reference(colour_photo(64, 48))
    assert package.colorize(photo, reference=ready).size == (64, 48)


def test_the_python_api_names_what_is_wrong_with_its_arguments(colorizer):
    from colorizer.inference.hints import Hint, HintError
    from colorizer.inference.keyframes import KeyFrameError, KeyFrameSpec

    photo = np.asarray(colour_photo(64, 48).convert("L"))
    for hints, message in [
        ([Hint.point(500, 10, "#ff0000")], "outside the 64x48 photo"),
        ([Hint.point(10, 10, "#ff0000", radius=1e12)], "radius"),
        ([Hint.point(float("nan"), 10, "#ff0000")], "must be numbers"),
        (5, "must be a list of hints"),
    ]:
        with pytest.raises(HintError, match=message):
            colorizer.colorize_array(photo, hints=hints)
    assert colorizer.colorize_array(photo, hints=[Hint.point(np.int64(10), np.float32(5), "#ff0000")]).shape == (
        48,
        64,
        3,
    )
    with pytest.raises(ValueError, match="uint8"):
        colorizer.colorize(photo.astype(np.float32) / 255)
    with pytest.raises(ValueError, match="shape"):
        colorizer.colorize(np.zeros((0, 0), np.uint8))
    with pytest.raises(TypeError, match="not int"):
        colorizer.colorize(7)
    encoded = io.BytesIO()
    colour_photo(64, 48).save(encoded, "PNG")
    assert colorizer.colorize(encoded.getvalue()).size == (64, 48)  # a file's bytes are a photo
    assert colorizer.colorize(photo, reference=encoded.getvalue()).size == (64, 48)
    for frame in (-5.0, float("nan"), -1, True):
        with pytest.raises(KeyFrameError, match="key frame"):
            KeyFrameSpec.from_mapping({frame: "key.png"})
    assert KeyFrameSpec.from_mapping({12.5: "a.png", 3: "b.png"})[0].frame.seconds == 12.5


def test_a_422_names_the_field_without_echoing_what_was_sent(colorizer):
    client = TestClient(create_app(colorizer, ServeLimits()))
    image = io.BytesIO()
    colour_photo(64, 48).save(image, "PNG")
    files = {"file": ("a.png", image.getvalue()), "hints": ("h.json", b'[{"x": 1}]', "application/json")}
    answer = client.post("/api/colorize", files=files)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "hints"] and "input" not in answer.json()["detail"][0]
    assert "UploadFile" not in answer.text and "headers" not in answer.text


def test_nothing_is_decoded_before_the_pixel_limit_refuses_an_upload(colorizer, monkeypatch):
    """The 413 comes from the header: no pixel of the upload is decoded (its load() is never called)."""
    big = io.BytesIO()
    Image.new("L", (3000, 2000), 128).save(big, "PNG")
    from PIL import ImageFile

    loads = []
    real_load = ImageFile.ImageFile.load  # what decodes a file's pixels (PNG, JPEG, ... all inherit it)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: loads.append(image.size) or real_load(image))
    client = TestClient(create_app(colorizer, ServeLimits(max_megapixels=1)))
    answer = client.post("/api/colorize", files={"file": ("big.png", big.getvalue())})
    assert answer.status_code == 413 and "6.0 megapixels" in answer.json()["detail"]
    assert (3000, 2000) not in loads


def test_frame_export_on_a_full_disk_names_the_file(tmp_path, monkeypatch, colorizer):
    pytest.importorskip("av")
    from colorizer.inference import video as video_module

    _clip(tmp_path / "in.mp4")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video_module, "atomic_save", full_disk)
    with pytest.raises(video_module.VideoError, match=r"frame 2: could not write .*in\.frame-2\.png .*No space left"):
        video_module.export_frames(colorizer, tmp_path / "in.mp4", tmp_path / "frames", ["2"])


def test_export_into_a_missing_folder_is_refused_at_once(tmp_path, capsys):
    pytest.importorskip("torch")
    missing = tmp_path / "nowhere" / "m.onnx"
    assert main(["export", str(tmp_path / "best.pt"), str(missing)]) == 2
    assert f"the folder {missing.parent} does not exist" in capsys.readouterr().err


def test_progress_bars_in_a_log_update_now_and_then():
    from colorizer.progress import LOG_INTERVAL, progress_bar

    log = io.StringIO()  # not a terminal
    with progress_bar(range(250), file=log, desc="film.mp4") as bar:
        for _ in bar:
            pass
    assert bar.mininterval == LOG_INTERVAL and log.getvalue().count("\r") < 5


def test_messages_name_what_is_wrong_not_python_internals(colorizer):
    with pytest.raises(ImageReadError) as caught:
        colorizer.colorize(b"not an image at all")
    assert "0x" not in str(caught.value) and "BytesIO" not in str(caught.value)
    client = TestClient(create_app(colorizer, ServeLimits()))
    image = io.BytesIO()
    colour_photo(64, 48).save(image, "PNG")
    for field in ("reach", "saturation", "temperature"):
        answer = client.post(f"/api/colorize?{field}=nan", files={"file": ("a.png", image.getvalue())})
        assert answer.status_code == 422, field
        assert "finite" in answer.text and "less than" not in answer.text, answer.text


def test_numpy_numbers_are_numbers_for_every_setting(colorizer):
    image = np.asarray(colour_photo(96, 64, seed=2))
    hints = [{"x": 20, "y": 20, "color": "#d02020"}]
    plain = colorizer.colorize_array(image, hints=hints, reach=0.5, saturation=1.2)
    numpy = colorizer.colorize_array(image, hints=hints, reach=np.float32(0.5), saturation=np.float64(1.2))
    assert np.array_equal(plain, numpy)


def test_progress_throttling_asks_the_stream_it_writes_to(monkeypatch):
    from colorizer.progress import LOG_INTERVAL, progress_bar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    class Log(io.StringIO):
        def isatty(self):
            return False

    monkeypatch.setattr("sys.stderr", Log())
    monkeypatch.setattr("sys.stdout", Log())
    with progress_bar(total=3, file=Terminal()) as bar:
        assert bar.mininterval < 1  # a terminal: live updates, whatever stdout and stderr are
    monkeypatch.setattr("sys.stderr", Terminal())
    monkeypatch.setattr("sys.stdout", Terminal())
    with progress_bar(total=3, file=Log()) as bar:
        assert bar.mininterval == LOG_INTERVAL  # a log: now and then, though stdout and stderr are terminals
