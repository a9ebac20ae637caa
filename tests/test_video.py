"""Videos: frames, size, rate, duration and audio kept; lightness kept; steady chroma on a still scene; scene cuts
reset the history; bad inputs; odd sizes, rotation, variable frame rate; Ctrl-C leaves nothing behind. All on clips
the tests make with PyAV."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from colorizer.cli import main  # noqa: E402
from colorizer.inference import video as video_module  # noqa: E402
from colorizer.inference.color import lightness, rgb_to_lab  # noqa: E402
from colorizer.inference.temporal import TemporalSmoother  # noqa: E402
from colorizer.inference.video import VideoError  # noqa: E402
from tests.conftest import colour_photo  # noqa: E402


def scene(width: int, height: int, seed: int) -> np.ndarray:
    return np.asarray(colour_photo(width, height, seed))


def make_video(
    path: Path,
    frames: list[np.ndarray],
    fps: int = 10,
    codec: str = "libx264",
    audio: bool = False,
    rotation: int = 0,
    pts: list[int] | None = None,
) -> None:
    """Write RGB frames (and optionally a tone as AAC) with PyAV."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else ("yuv444p" if width % 2 or height % 2 else "yuv420p")
        if pts is not None:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        if rotation:
            stream.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=8000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            for packet in stream.encode(frame.reformat(format=stream.pix_fmt)):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if sound is not None:
            seconds = len(frames) / fps
            t = np.arange(int(8000 * seconds)) / 8000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for start in range(0, tone.shape[1], 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start : start + 1024]), "fltp", "mono")
                chunk.sample_rate, chunk.pts = 8000, start
                for packet in sound.encode(chunk):
                    container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)


def read_frames(path: Path) -> tuple[list[np.ndarray], list[float], object]:
    """RGB frames, their times in seconds, and the video stream's description."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {
            "rate": stream.average_rate,
            "size": (stream.width, stream.height),
            "audio": [(a.codec_context.name, a.rate) for a in container.streams.audio],
        }
        frames, times, rotations = [], [], []
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.time))
            rotations.append(frame.rotation)
        info["rotation"] = rotations[0] if rotations else 0
    return frames, times, info


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def test_frames_size_rate_duration_and_audio_are_kept(tmp_path, colorizer):
    frames = [scene(96, 64, 1)] * 6 + [scene(96, 64, 2)] * 6
    make_video(tmp_path / "clip.mp4", frames, fps=10, audio=True)
    result = colorizer.colorize_video(tmp_path / "clip.mp4", tmp_path / "out.mp4")
    ours, ours_times, ours_info = read_frames(tmp_path / "out.mp4")
    theirs, their_times, their_info = read_frames(tmp_path / "clip.mp4")
    assert result.frames == len(ours) == len(theirs) == 12
    assert ours_info["size"] == (96, 64) and ours_info["rate"] == 10
    assert np.allclose(ours_times, their_times, atol=1e-3)
    assert ours_info["audio"] == their_info["audio"] == [("aac", 8000)]
    assert audio_payloads(tmp_path / "out.mp4") == audio_payloads(tmp_path / "clip.mp4")  # copied, not re-encoded
    for mine, source in zip(ours, theirs, strict=True):  # lightness kept, within the codec's error
        assert np.abs(lightness(mine) - lightness(source)).mean() < 2.0
    assert np.hypot(*rgb_to_lab(ours[0])[..., 1:].transpose(2, 0, 1)).mean() > 3  # and it is in colour


def _temporal_chroma_change(frames: list[np.ndarray]) -> float:
    ab = np.stack([rgb_to_lab(f)[..., 1:] for f in frames])  # (T, H, W, 2)
    return float(np.linalg.norm(np.diff(ab, axis=0), axis=-1).mean())


def test_a_still_scene_keeps_near_constant_chroma(tmp_path, colorizer):
    rng = np.random.default_rng(0)
    still = scene(128, 96, 3).astype(np.int16)
    frames = [np.clip(still + rng.integers(-6, 7, still.shape), 0, 255).astype(np.uint8) for _ in range(16)]
    make_video(tmp_path / "still.mp4", frames)
    colorizer.colorize_video(tmp_path / "still.mp4", tmp_path / "steady.mp4")
    colorizer.colorize_video(tmp_path / "still.mp4", tmp_path / "each.mp4", smoothing=0)
    steady, each = (
        _temporal_chroma_change(read_frames(tmp_path / "steady.mp4")[0]),
        _temporal_chroma_change(read_frames(tmp_path / "each.mp4")[0]),
    )
    assert steady < 0.5 * each, (steady, each)


def test_a_scene_cut_starts_the_colour_history_afresh():
    smoother = TemporalSmoother(0.8)
    first, second = np.full((32, 48), 30.0, np.float32), np.full((32, 48), 80.0, np.float32)
    first[:, :24] += 20  # some texture for the flow
    for value in (10.0, 12.0, 11.0):
        smoother(first, np.full((2, 32, 48), value, np.float32))
    assert smoother.cuts == 0
    prediction = np.full((2, 32, 48), -40.0, np.float32)
    assert np.array_equal(smoother(second, prediction), prediction)  # nothing carried over the cut
    assert smoother.cuts == 1
    blended = smoother(second, np.full((2, 32, 48), 0.0, np.float32))
    assert -40 < blended.mean() < 0  # within the new scene, history counts again


def test_scene_cuts_are_counted_end_to_end(tmp_path, colorizer):
    make_video(tmp_path / "cut.mp4", [scene(64, 48, 4)] * 5 + [255 - scene(64, 48, 5)] * 5)
    assert colorizer.colorize_video(tmp_path / "cut.mp4", tmp_path / "out.mp4").scene_cuts == 1


def test_odd_sizes_rotation_and_variable_frame_rate(tmp_path, colorizer):
    make_video(tmp_path / "odd.mp4", [scene(65, 47, 6)] * 4)
    colorizer.colorize_video(tmp_path / "odd.mp4", tmp_path / "odd_out.mp4")
    assert read_frames(tmp_path / "odd_out.mp4")[2]["size"] == (65, 47)

    make_video(tmp_path / "rotated.mp4", [scene(64, 48, 7)] * 4, rotation=90)
    colorizer.colorize_video(tmp_path / "rotated.mp4", tmp_path / "rotated_out.mp4")
    info = read_frames(tmp_path / "rotated_out.mp4")[2]
    assert info["size"] == (64, 48) and info["rotation"] == 90  # stored the same way, shown the same way

    times_ms = [0, 40, 200, 240, 600, 1000]
    make_video(tmp_path / "vfr.mkv", [scene(64, 48, i) for i in range(6)], pts=times_ms)
    colorizer.colorize_video(tmp_path / "vfr.mkv", tmp_path / "vfr_out.mp4")
    assert np.allclose(read_frames(tmp_path / "vfr_out.mp4")[1], np.array(times_ms) / 1000, atol=2e-3)


@pytest.mark.parametrize("codec, suffix", [("mpeg4", ".avi"), ("mjpeg", ".mov"), ("libvpx-vp9", ".webm")])
def test_other_containers_and_codecs(tmp_path, colorizer, codec, suffix):
    make_video(tmp_path / f"clip{suffix}", [scene(64, 48, 8)] * 3, codec=codec)
    result = colorizer.colorize_video(tmp_path / f"clip{suffix}", tmp_path / "out.mp4")
    assert result.frames == 3 and read_frames(tmp_path / "out.mp4")[2]["size"] == (64, 48)


def test_bad_videos_are_reported_and_the_rest_goes_on(tmp_path, capsys):
    src = tmp_path / "films"
    src.mkdir()
    make_video(src / "good.mp4", [scene(64, 48, 9)] * 3)
    (src / "notes.mp4").write_text("this is not a video")
    whole = (src / "good.mp4").read_bytes()
    (src / "cut.mp4").write_bytes(whole[: len(whole) // 2])  # truncated: the index at the end is gone
    make_video(tmp_path / "long.mkv", [scene(64, 48, i) for i in range(30)])
    long = (tmp_path / "long.mkv").read_bytes()
    (src / "damaged.mkv").write_bytes(long[: len(long) // 3] + bytes(4000) + long[len(long) // 3 + 4000 :])
    with av.open(str(src / "sound.mp4"), "w") as container:  # audio only
        stream = container.add_stream("aac", rate=8000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    colour_photo(40, 30, 1).convert("L").save(src / "photo.png")
    out = tmp_path / "out"
    assert main(["colorize", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "notes.mp4: not a video we can read" in err
    assert "cut.mp4: not a video we can read" in err
    assert "sound.mp4: has no video stream" in err
    assert (out / "good.mp4").is_file() and (out / "photo.png").is_file()
    for name in ("notes.mp4", "cut.mp4", "sound.mp4"):
        assert not (out / name).exists(), name
    # 4,000 zeroed bytes in the middle of an MKV: FFmpeg skips to the next readable frames, so the film is coloured
    # with the frames that survive (none invented, at their own times) and the hole is said.
    damaged, times, _ = read_frames(out / "damaged.mp4")
    source_frames, source_times, _ = read_frames(src / "damaged.mkv")
    assert len(damaged) == len(source_frames) < 30 and np.allclose(times, source_times, atol=2e-3)
    assert "damaged.mkv: no frames between" in err
    assert not list(out.glob(".*.tmp"))


def test_ctrl_c_mid_video_leaves_no_file_under_the_final_name(tmp_path, colorizer, monkeypatch):
    make_video(tmp_path / "clip.mp4", [scene(64, 48, i) for i in range(8)])
    real, calls = video_module._colorize_frame, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(video_module, "_colorize_frame", interrupted)
    with pytest.raises(KeyboardInterrupt):
        colorizer.colorize_video(tmp_path / "clip.mp4", tmp_path / "out" / "clip.mp4")
    assert not (tmp_path / "out" / "clip.mp4").exists() and not list((tmp_path / "out").glob(".*"))


def test_existing_output_is_not_replaced_without_overwrite(tmp_path, colorizer, capsys):
    make_video(tmp_path / "clip.mp4", [scene(64, 48, 1)] * 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "clip.mp4").write_bytes(b"precious")
    assert main(["colorize", str(tmp_path / "clip.mp4"), "--out", str(out)]) == 0
    assert (out / "clip.mp4").read_bytes() == b"precious" and "exists" in capsys.readouterr().err
    with pytest.raises(VideoError, match="exists"):
        colorizer.colorize_video(tmp_path / "clip.mp4", out / "clip.mp4")
    assert main(["colorize", str(tmp_path / "clip.mp4"), "--out", str(out), "--overwrite"]) == 0
    assert len(read_frames(out / "clip.mp4")[0]) == 2


def test_wide_and_flat_clips_are_coloured_and_the_batch_goes_on(tmp_path):
    """Frames a few dozen pixels high (once a segmentation fault in the optical flow, or NaN colour) are coloured
    like any other, in a subprocess so a crash would fail the test instead of ending the run; the clip after them
    in the batch is processed too."""
    import subprocess
    import sys

    clips = tmp_path / "clips"
    clips.mkdir()
    for width, height in ((2000, 100), (1024, 48), (4000, 2), (1280, 40)):
        base = np.zeros((height, width, 3), np.uint8)
        base[..., 0], base[..., 1] = (np.arange(width) * 3 % 256)[None], 120
        frames = [np.roll(base, 4 * i, axis=1) for i in range(6)]  # moving stripes: the flow has work to do
        make_video(clips / f"a_{width}x{height}.mp4", frames)
    make_video(clips / "z_last.mp4", [scene(64, 48, i) for i in range(4)])
    result = subprocess.run(
        # at 512 the flat clips are 512x26, 512x24 and 512x16 at working size: where the unpadded flow crashed
        [sys.executable, "-m", "colorizer", "colorize", str(clips), "--out", str(tmp_path / "out"), "--size", "512"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for width, height in ((2000, 100), (1024, 48), (4000, 2), (1280, 40)):
        frames, _, _ = read_frames(tmp_path / "out" / f"a_{width}x{height}.mp4")
        source, _, _ = read_frames(clips / f"a_{width}x{height}.mp4")
        assert len(frames) == 6 and frames[0].shape == (height, width, 3)
        assert np.abs(lightness(frames[3]) - lightness(source[3])).mean() < 4  # the frame itself, coloured
    assert len(read_frames(tmp_path / "out" / "z_last.mp4")[0]) == 4
