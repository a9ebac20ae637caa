"""Promises a user relies on, each asserted on what they would see (where a colour lands, that it follows motion,
that sound survives, that limits hold), so that breaking one fails here. Each test names the break it guards
against; the README's "Tests" section lists how each was checked by making that break on purpose."""

import io
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from colorizer import Colorizer
from colorizer.cli import main
from colorizer.inference.color import lightness
from colorizer.prepare import PrepareSettings, run_prepare
from colorizer.training.checkpoint import load_checkpoint
from colorizer.training.config import TrainConfig
from colorizer.training.hints import simulate_hints
from colorizer.training.train import train


def _marked_photo(width: int = 90, height: int = 60) -> Image.Image:
    """A gray photo, dark everywhere but a bright block in its stored top-left corner."""
    pixels = np.full((height, width), 40, np.uint8)
    pixels[: height // 4, : width // 4] = 230
    return Image.fromarray(pixels, "L")


def _bright_corner(pixels: np.ndarray) -> str:
    """Which corner of an (H, W) lightness map is the bright one."""
    h, w = pixels.shape[:2]
    corners = {
        "top-left": pixels[: h // 5, : w // 5],
        "top-right": pixels[: h // 5, -w // 5 :],
        "bottom-left": pixels[-h // 5 :, : w // 5],
        "bottom-right": pixels[-h // 5 :, -w // 5 :],
    }
    return max(corners, key=lambda name: corners[name].mean())


# Stored top-left goes where: orientation 6 turns the photo clockwise to show it, 8 counter-clockwise, 3 half round.
ORIENTATIONS = {6: "top-right", 8: "bottom-left", 3: "bottom-right", 1: "top-left"}


@pytest.mark.parametrize("orientation, corner", ORIENTATIONS.items())
def test_exif_orientation_puts_the_photo_upright_in_colorize_and_prepare(tmp_path, orientation, corner):
    """Break: EXIF orientations 6 and 8 swapped -> phone portraits upside down."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    src = tmp_path / "src"
    src.mkdir()
    _marked_photo().save(src / "phone.jpg", exif=exif, quality=95)
    assert main(["colorize", str(src / "phone.jpg"), "--out", str(tmp_path / "out")]) == 0
    coloured = np.asarray(Image.open(tmp_path / "out" / "phone.jpg").convert("RGB"))
    assert coloured.shape[:2] == ((90, 60) if orientation in (6, 8) else (60, 90))
    assert _bright_corner(lightness(coloured)) == corner
    colour = np.asarray(_marked_photo().convert("RGB")) * np.array([1.0, 0.8, 0.6])  # prepare skips gray photos
    Image.fromarray(colour.astype(np.uint8)).save(src / "phone.jpg", exif=exif, quality=95)
    run_prepare(src, tmp_path / "data", PrepareSettings(size=96), 0.0, workers=1, progress=False)
    (record,) = json.loads((tmp_path / "data" / "manifest.json").read_text())["files"]
    left, top, right, bottom = record["box"]
    prepared = np.asarray(Image.open(tmp_path / "data" / record["file"]).convert("L"))[top:bottom, left:right]
    assert _bright_corner(prepared) == corner


# --- steady video colour ------------------------------------------------------------------------------------------


def _square_frames(count: int, step: int, size=(96, 128), side: int = 24) -> list[np.ndarray]:
    """L frames: a bright square on a dark ground, moving right by `step` pixels a frame."""
    frames = []
    for i in range(count):
        frame = np.full(size, 30.0, np.float32)
        frame[36 : 36 + side, 10 + step * i : 10 + step * i + side] = 80.0
        frames.append(frame)
    return frames


def test_steady_colour_follows_a_moving_object_and_leaves_no_trail():
    """Break: flow ignored when warping the history -> colour smeared behind anything that moves."""
    pytest.importorskip("cv2")
    from colorizer.inference.temporal import TemporalSmoother

    smoother = TemporalSmoother(0.9)
    frames = _square_frames(6, step=4)
    for i, frame in enumerate(frames):
        predicted = np.zeros((2, *frame.shape), np.float32)
        if i == 0:  # only the first prediction says the square is red; later the network "forgets"
            predicted[0][frame > 50] = 40.0
        result = smoother(frame, predicted)
    square = frames[-1] > 50
    assert result[0][square].mean() > 20, result[0][square].mean()  # the colour moved with the square
    vacated = (frames[0] > 50) & ~square
    assert np.abs(result[0][vacated]).mean() < 4, np.abs(result[0][vacated]).mean()  # and left nothing behind


def test_steady_colour_lets_new_content_take_its_own_colour():
    """Break: the history always trusted (no match/occlusion weighting) -> colour dragged across new content."""
    pytest.importorskip("cv2")
    from colorizer.inference.temporal import TemporalSmoother

    smoother = TemporalSmoother(0.9)
    first = _square_frames(1, step=0)[0]
    red = np.zeros((2, *first.shape), np.float32)
    red[0][first > 50] = 40.0
    smoother(first, red)
    uncovered = np.full_like(first, 30.0)  # the square is gone: what was behind it shows
    uncovered[:, :6] = 32.0  # (a touch of change elsewhere, so this is not a scene cut)
    blue = np.zeros((2, *first.shape), np.float32)
    blue[1] = -30.0  # the network's colour for the new content
    result = smoother(uncovered, blue)
    where = first > 50
    assert np.abs(result[0][where]).mean() < 6 and result[1][where].mean() < -24, (
        result[0][where].mean(),
        result[1][where].mean(),
    )


# --- videos: rotation and sound ------------------------------------------------------------------------------------


av = pytest.importorskip("av")


def test_rotated_video_frames_reach_the_network_upright(tmp_path, colorizer, monkeypatch):
    """Break: rotated frames not turned upright -> phone videos coloured sideways (the network sees them lying)."""
    from tests.test_video import make_video, read_frames

    stored = np.stack([np.asarray(_marked_photo(64, 48))] * 3, axis=-1)  # bright block at stored top-left
    make_video(tmp_path / "phone.mp4", [stored] * 3, rotation=90)
    seen = []
    original = Colorizer.network_input

    def spy(self, pixels, size, hints=None):
        seen.append(lightness(pixels))
        return original(self, pixels, size, hints)

    monkeypatch.setattr(Colorizer, "network_input", spy)
    colorizer.colorize_video(tmp_path / "phone.mp4", tmp_path / "out.mp4")
    # PyAV's rotation 90 is counter-clockwise: shown upright, the 64 x 48 frame is 48 wide x 64 high, and its
    # stored top-left corner is at the bottom-left.
    assert seen and all(view.shape == (64, 48) for view in seen)
    assert all(_bright_corner(view) == "bottom-left" for view in seen)
    frames, _, info = read_frames(tmp_path / "out.mp4")
    assert info["rotation"] == 90 and frames[0].shape[:2] == (48, 64)  # stored as it came, shown the same way
    assert _bright_corner(lightness(frames[0])) == "top-left"  # and the colour was put back on the stored frame


def _tone_clip(path: Path, codec: str, seconds: float = 1.0, frequency: float = 440.0) -> None:
    frames = [np.asarray(Image.new("RGB", (64, 48), (90, 90, 90)))] * int(10 * seconds)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream(codec, rate=16000)
        sound.layout = "mono"
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        t = np.arange(int(16000 * seconds)) / 16000
        tone = 0.4 * np.sin(2 * np.pi * frequency * t)[None]
        sample_format = "s16" if codec == "pcm_s16le" else sound.codec_context.format.name
        scale, dtype = {"s16": (32767, np.int16), "s32": (2**31 - 1, np.int32)}.get(
            sample_format.rstrip("p"), (1, np.float32)
        )
        for start in range(0, tone.shape[1], 1152):
            chunk = (tone[:, start : start + 1152] * scale).astype(dtype)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), sample_format, "mono")
            frame.sample_rate, frame.pts = 16000, start
            for packet in sound.encode(frame):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)


def _decoded_tone(path: Path) -> tuple[str, float, float]:
    """(codec, seconds of sound, its dominant frequency in Hz)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)]).astype(np.float64)
        rate = stream.rate
        codec = stream.codec_context.codec.canonical_name
    spectrum = np.abs(np.fft.rfft(samples))
    return codec, len(samples) / rate, float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("codec, container, kept_as", [("pcm_s16le", ".mkv", "aac"), ("mp3", ".mkv", "mp3")])
def test_sound_survives_as_sound(tmp_path, colorizer, codec, container, kept_as):
    """Break: audio MP4 cannot hold dropped instead of re-encoded -> silent films where the source had sound."""
    source = tmp_path / f"film{container}"
    _tone_clip(source, codec)
    colorizer.colorize_video(source, tmp_path / "out.mp4")
    name, seconds, frequency = _decoded_tone(tmp_path / "out.mp4")
    assert name == kept_as and 0.9 < seconds < 1.2 and abs(frequency - 440) < 5, (name, seconds, frequency)


# --- training with hints ------------------------------------------------------------------------------------------


def test_simulated_hints_carry_their_own_patch_colour():
    """Break: a hint coloured with the whole image's mean, not its patch's -> a hint model learns the wrong thing."""
    height, width = 64, 96
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ab = torch.stack([xs / width, ys / height]).float()[None].repeat(16, 1, 1, 1)  # a* = x / W, b* = y / H
    hints = simulate_hints(ab, torch.Generator().manual_seed(3))
    mask = hints[:, 2] > 0
    assert mask.sum() > 100
    # Every hinted pixel holds the mean over a patch of at most 9 px around it: within 4.5 px of its own place.
    error_a = (hints[:, 0] - ab[:, 0]).abs()[mask].max() * width
    error_b = (hints[:, 1] - ab[:, 1]).abs()[mask].max() * height
    assert error_a <= 4.5 and error_b <= 4.5, (error_a, error_b)


def test_a_resumed_hints_run_sees_the_same_hints(prepared, tmp_path):
    """Break: training hints not seeded by (seed, epoch, step) -> a resumed --hints run differs from an uninterrupted
    one."""
    base = dict(data=str(prepared), size=32, batch_size=4, workers=0, progress=False, samples=1, hints=True)
    train(TrainConfig(out=str(tmp_path / "whole"), epochs=2, **base))
    train(TrainConfig(out=str(tmp_path / "split"), epochs=1, **base))
    train(TrainConfig(out=str(tmp_path / "split"), epochs=2, resume=True, **base))
    whole, split = (load_checkpoint(tmp_path / run / "last.pt")["model"] for run in ("whole", "split"))
    assert all(torch.equal(whole[k], split[k]) for k in whole)


# --- the server's limits, as the command line sets them ------------------------------------------------------------


@pytest.mark.timeout(120)  # a broken queue bound must fail, not hang
def test_serve_applies_the_limits_its_user_sets(monkeypatch, colorizer):
    """Break: `colorizer serve` ignoring --max-upload-mb, --max-megapixels, --max-queue."""
    import uvicorn

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.update(app=app))
    assert main(["serve", "--max-upload-mb", "0.05", "--max-megapixels", "0.01", "--max-queue", "0"]) == 0
    client = TestClient(served["app"])
    small, noisy = io.BytesIO(), io.BytesIO()
    Image.new("L", (90, 90), 128).save(small, format="PNG")  # 0.008 MP: within the limits
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300), np.uint8)).save(noisy, format="PNG")
    assert client.post("/api/colorize", files={"file": ("s.png", small.getvalue())}).status_code == 200
    too_big = client.post("/api/colorize", files={"file": ("n.png", noisy.getvalue())})  # 90 kB > 0.05 MB
    assert too_big.status_code == 413 and "0.05 MB" in too_big.json()["detail"]
    wide = io.BytesIO()
    Image.new("L", (200, 100), 128).save(wide, format="PNG")  # 0.02 MP > 0.01 MP, a few hundred bytes
    assert client.post("/api/colorize", files={"file": ("w.png", wide.getvalue())}).status_code == 413
    queue = served["app"].state.queue
    with ThreadPoolExecutor(1) as pool:
        with queue.model_lock:  # the model is busy with a first request...
            first = pool.submit(client.post, "/api/colorize", files={"file": ("s.png", small.getvalue())})
            _wait_until(lambda: queue.occupied == 1)
            busy = client.post("/api/colorize", files={"file": ("s.png", small.getvalue())})  # ...none may wait
        assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
        assert first.result(timeout=60).status_code == 200


def _wait_until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
