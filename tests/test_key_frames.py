"""Key frames: a colour the model would never choose, given for one frame, is carried through its shot (forwards and
backwards along the motion) and stops at a scene cut; hints as a key frame; frames taken out with --frame; bad key
frames named. On clips made here."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av")
pytest.importorskip("cv2")

from colorizer.cli import main  # noqa: E402
from colorizer.inference.color import lab_to_rgb, lightness, rgb_to_lab  # noqa: E402
from colorizer.inference.keyframes import FrameSpec, KeyFrameError, KeyFrameSpec  # noqa: E402
from colorizer.inference.video import VideoError  # noqa: E402
from tests.test_video import make_video, read_frames  # noqa: E402

MAGENTA_AB = (70.0, -55.0)  # far from anything the model paints on a gray texture
SHOT = 12


def texture(width: int, height: int, seed: int) -> np.ndarray:
    """A gray, structured scene (blurred noise plus bars) the optical flow can follow."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(40, 220, (height // 8, width // 8), dtype=np.uint8))
    field = np.asarray(coarse.resize((width, height), Image.BICUBIC), np.float32)
    bars = 30 * np.sin(np.arange(width) / (5 + seed))[None]
    return np.clip(field + bars, 0, 255).astype(np.uint8)


def gray_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def clip_frames(width: int = 160, height: int = 96) -> list[np.ndarray]:
    """SHOT frames of one scene panning 2 px a frame, then SHOT frames of another: one cut at frame SHOT."""
    first = texture(width + 2 * 2 * SHOT, height, 1)
    second = texture(width, height, 7) // 3 + 150  # brighter and flatter: a cut for the detector
    shot_one = [gray_rgb(first[:, 2 * t : 2 * t + width]) for t in range(SHOT)]
    shot_two = [gray_rgb(np.roll(second, 2 * t, axis=1)) for t in range(SHOT)]
    return shot_one + shot_two


def tinted(rgb: np.ndarray, ab=MAGENTA_AB) -> np.ndarray:
    """The frame with its own lightness and the given a*b* everywhere."""
    lab = rgb_to_lab(rgb)
    return lab_to_rgb(lab[..., 0], np.full(lab.shape[:2], ab[0]), np.full(lab.shape[:2], ab[1]))


def mean_ab(frame: np.ndarray) -> np.ndarray:
    return rgb_to_lab(frame)[..., 1:].reshape(-1, 2).mean(axis=0)


def is_magenta(frame: np.ndarray) -> bool:
    a, b = mean_ab(frame)
    return a > 35 and b < -25


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path_factory.mktemp("clip")
    frames = clip_frames()
    make_video(folder / "film.mp4", frames)
    return folder / "film.mp4", read_frames(folder / "film.mp4")[0]


def test_the_model_alone_never_paints_this_colour(clip, colorizer, tmp_path):
    path, _ = clip
    colorizer.colorize_video(path, tmp_path / "auto.mp4")
    assert not any(is_magenta(f) for f in read_frames(tmp_path / "auto.mp4")[0])


def test_a_key_frame_colour_is_carried_forwards_through_its_shot_and_stops_at_the_cut(clip, colorizer, tmp_path):
    path, decoded = clip
    Image.fromarray(tinted(decoded[0])).save(tmp_path / "key.png")
    result = colorizer.colorize_video(path, tmp_path / "out.mp4", key_frames={0: tmp_path / "key.png"})
    out = read_frames(tmp_path / "out.mp4")[0]
    assert result.frames == 2 * SHOT and result.scene_cuts == 1
    for index in range(SHOT):  # the whole first shot keeps the key frame's colour
        assert is_magenta(out[index]), (index, mean_ab(out[index]))
        assert np.abs(lightness(out[index]) - lightness(decoded[index])).mean() < 2.0  # on the frame's own lightness
    assert not any(is_magenta(f) for f in out[SHOT:])  # the cut ends its reach


def test_a_key_frame_colour_is_carried_backwards_to_the_start_of_its_shot(clip, colorizer, tmp_path):
    path, decoded = clip
    last = SHOT - 1
    Image.fromarray(tinted(decoded[last])).save(tmp_path / "key.png")
    colorizer.colorize_video(path, tmp_path / "out.mp4", key_frames={str(last): tmp_path / "key.png"})
    out = read_frames(tmp_path / "out.mp4")[0]
    for index in range(SHOT):
        assert is_magenta(out[index]), (index, mean_ab(out[index]))
    assert not any(is_magenta(f) for f in out[SHOT:])


def test_two_key_frames_of_one_shot_blend_the_nearer_weighing_more(clip, colorizer, tmp_path):
    path, decoded = clip
    Image.fromarray(tinted(decoded[0])).save(tmp_path / "first.png")
    Image.fromarray(tinted(decoded[SHOT - 1], (-60.0, 50.0))).save(tmp_path / "last.png")  # green
    keys = {0: tmp_path / "first.png", SHOT - 1: tmp_path / "last.png"}
    colorizer.colorize_video(path, tmp_path / "out.mp4", key_frames=keys)
    a = [mean_ab(f)[0] for f in read_frames(tmp_path / "out.mp4")[0][:SHOT]]
    assert a[0] > 50 and a[SHOT - 1] < -40  # each key frame its own colour
    assert all(x > y for x, y in zip(a[1:], a[2:-1], strict=False)), a  # from one to the other, monotonically
    assert a[2] > 25 and a[SHOT - 3] < -20  # near a key frame, mostly its colour


def test_the_carried_colour_follows_the_motion(colorizer, tmp_path):
    """Half the key frame magenta, half green: as the scene pans, the boundary moves with it."""
    width, height, step = 160, 96, 3
    wide = texture(width + step * 10, height, 3)
    frames = [gray_rgb(wide[:, step * (10 - t) : step * (10 - t) + width]) for t in range(10)]  # content moves right
    make_video(tmp_path / "pan.mp4", frames)
    decoded = read_frames(tmp_path / "pan.mp4")[0]
    key = tinted(decoded[0])
    key[:, width // 2 :] = tinted(decoded[0], (-60.0, 50.0))[:, width // 2 :]
    Image.fromarray(key).save(tmp_path / "key.png")
    colorizer.colorize_video(tmp_path / "pan.mp4", tmp_path / "out.mp4", key_frames={0: tmp_path / "key.png"})
    last = read_frames(tmp_path / "out.mp4")[0][9]
    a = rgb_to_lab(last)[..., 1].mean(axis=0)  # a* per column
    boundary = width // 2 + 9 * step  # where the key frame's boundary has moved to
    assert a[8 : width // 2].mean() > 35
    assert a[width // 2 + 6 : boundary - 6].mean() > 35  # green in the key frame's place, magenta now: it moved
    assert a[boundary + 6 :].mean() < -25


def test_hints_for_a_frame_work_as_a_key_frame(clip, colorizer, tmp_path):
    path, _ = clip
    hints = tmp_path / "frame0.hints.json"
    hints.write_text('[{"points": [[5, 48], [155, 48]], "color": "#d000d0", "radius": 60}]')
    assert main(["colorize", str(path), "--key-frame", f"0={hints}", "--out", str(tmp_path / "out")]) == 0
    out = read_frames(tmp_path / "out" / "film.mp4")[0]
    assert all(mean_ab(f)[0] > 25 for f in out[:SHOT]), [mean_ab(f) for f in out[:SHOT]]
    assert not any(mean_ab(f)[0] > 25 for f in out[SHOT:])


def test_frame_out_and_back_in(clip, tmp_path):
    """--frame writes the frame as a photo (the page's input); coloured, it comes back as a key frame by time."""
    path, decoded = clip
    assert main(["colorize", str(path), "--frame", "0.5s", "--out", str(tmp_path / "frames")]) == 0
    exported = tmp_path / "frames" / "film.frame-5.png"  # 0.5 s at 10 frames/s
    frame = np.asarray(Image.open(exported).convert("RGB"))
    assert frame.shape == decoded[5].shape
    assert np.abs(lightness(frame) - lightness(decoded[5])).mean() < 2.0
    Image.fromarray(tinted(frame)).resize((80, 48)).save(tmp_path / "fixed.png")  # smaller, same aspect: accepted
    code = main(["colorize", str(path), "--key-frame", f"0.5s={tmp_path / 'fixed.png'}", "--out", str(tmp_path / "o")])
    assert code == 0
    out = read_frames(tmp_path / "o" / "film.mp4")[0]
    assert all(is_magenta(f) for f in out[:SHOT])  # frame 5 keyed: 0-4 backwards, 6-11 forwards


def test_frame_specs():
    assert FrameSpec.parse("120") == FrameSpec(index=120)
    assert FrameSpec.parse("12.5s") == FrameSpec(seconds=12.5)
    assert FrameSpec.parse(" 3 s") == FrameSpec(seconds=3.0)
    assert FrameSpec(seconds=1.0).matches(10, 0.96, 0.1) and not FrameSpec(seconds=1.0).matches(9, 0.9, 0.1)
    for bad in ("-1", "abc", "1.5", "s", ""):
        with pytest.raises(KeyFrameError, match="not a frame"):
            FrameSpec.parse(bad)
    with pytest.raises(KeyFrameError, match="FRAME=IMAGE"):
        KeyFrameSpec.parse("frame0.png")
    specs = KeyFrameSpec.from_mapping({0: "a.png", "2.5s": "b.png", 3.0: "c.hints.json"})
    assert [s.frame for s in specs] == [FrameSpec(index=0), FrameSpec(seconds=2.5), FrameSpec(seconds=3.0)]
    assert specs[2].is_hints and not specs[0].is_hints


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, f: Image.fromarray(f).save(d / "k.png"), "grayscale"),
        (lambda d, f: Image.fromarray(tinted(f)).resize((100, 100)).save(d / "k.png"), "same aspect"),
        (lambda d, f: (d / "k.png").write_bytes(b"not an image"), "not a readable image"),
    ],
    ids=["grayscale", "other-aspect", "not-an-image"],
)
def test_bad_key_frames_are_named(clip, colorizer, tmp_path, make, message):
    path, decoded = clip
    make(tmp_path, decoded[0])
    with pytest.raises(VideoError, match=message) as caught:
        colorizer.colorize_video(path, tmp_path / "out.mp4", key_frames={0: tmp_path / "k.png"})
    assert "key frame 0=" in str(caught.value)
    assert not (tmp_path / "out.mp4").exists()


def test_key_frame_beyond_the_end_is_named_and_nothing_is_written(clip, tmp_path, capsys):
    path, decoded = clip
    Image.fromarray(tinted(decoded[0])).save(tmp_path / "key.png")
    out = tmp_path / "out"
    assert main(["colorize", str(path), "--key-frame", f"30={tmp_path / 'key.png'}", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "key frame 30=" in err and "beyond the video's end (it has 24 frames" in err
    assert not (out / "film.mp4").exists()
    assert main(["colorize", str(path), "--key-frame", "0=missing.png", "--out", str(out)]) == 2
    assert "key frame 0=missing.png: no such file" in capsys.readouterr().err
    assert main(["colorize", str(path), "--frame", "99", "--out", str(out)]) == 1
    assert "frame 99: beyond the video's end" in capsys.readouterr().err


def test_memory_does_not_grow_with_the_frames_before_a_key_frame(colorizer, tmp_path):
    """The lightness of a long shot and the colour carried back through it are kept on disk (issue 27: they grew by
    about 0.7 MB a frame in memory)."""
    import tracemalloc

    from colorizer.inference.video import _scan_key_frames

    scene = texture(160 + 2 * 200, 96, 1)
    peaks = {}
    for length in (30, 150):
        frames = [gray_rgb(scene[:, t : t + 160]) for t in range(length)]  # one slow pan: one shot
        path = tmp_path / f"pan{length}.mp4"
        make_video(path, frames)
        Image.fromarray(tinted(frames[-1])).save(tmp_path / "key.png")
        specs = KeyFrameSpec.from_mapping({length - 1: tmp_path / "key.png"})
        tracemalloc.start()
        keys = _scan_key_frames(av, colorizer, path, 160, specs, progress=False)
        peaks[length] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(keys.backward) == length - 1  # every frame before the key has its carried colour...
        later, store, row = keys.backward[0]
        assert later == length - 1 and store[row].shape == (3, 96, 160)  # ...on disk
    # 120 more frames held in memory would add 120 x 61 kB = 7.3 MB at this size
    assert peaks[150] - peaks[30] < 1_500_000, peaks


def test_frames_before_the_first_of_two_key_frames_take_the_first_ones_colour(clip, colorizer, tmp_path):
    """Keys at 4 (magenta) and 10 (green) in one shot: frames 0-3 take frame 4's colour, carried back to them, not
    frame 10's carried across frame 4."""
    path, decoded = clip
    Image.fromarray(tinted(decoded[4])).save(tmp_path / "four.png")
    Image.fromarray(tinted(decoded[10], (-60.0, 50.0))).save(tmp_path / "ten.png")
    colorizer.colorize_video(
        path, tmp_path / "out.mp4", key_frames={4: tmp_path / "four.png", 10: tmp_path / "ten.png"}
    )
    out = read_frames(tmp_path / "out.mp4")[0]
    for index in range(4):
        assert is_magenta(out[index]), (index, mean_ab(out[index]))
    a, b = mean_ab(out[10])
    assert a < -30 and b > 25  # and frame 10 its own green


def test_key_images_are_decoded_once_a_file_and_kept_at_the_working_size(colorizer, tmp_path):
    from colorizer.inference.keyframes import KeyFrameScan

    Image.fromarray(tinted(gray_rgb(texture(1200, 900, 3)))).save(tmp_path / "big.png")
    specs = KeyFrameSpec.from_mapping({i * 10: tmp_path / "big.png" for i in range(5)})
    scan = KeyFrameScan(specs, colorizer, "film.mp4", 1 / 25, 384)
    kept = [scan.images[spec] for spec in specs]
    assert all(pixels.shape == (288, 384, 3) and size == (1200, 900) for pixels, size in kept)
    assert all(pixels is kept[0][0] for pixels, _ in kept)  # one decoding for the five


def test_a_key_frame_on_a_clip_of_odd_size(colorizer, tmp_path):
    frames = [gray_rgb(texture(161 + 2 * 8, 97, 1)[:, 2 * t : 2 * t + 161]) for t in range(8)]
    make_video(tmp_path / "odd.mp4", frames)
    decoded = read_frames(tmp_path / "odd.mp4")[0]
    Image.fromarray(tinted(decoded[3])).save(tmp_path / "key.png")
    colorizer.colorize_video(tmp_path / "odd.mp4", tmp_path / "out.mp4", key_frames={3: tmp_path / "key.png"})
    out = read_frames(tmp_path / "out.mp4")[0]
    assert out[0].shape[:2] == (97, 161) and all(is_magenta(frame) for frame in out), [mean_ab(f) for f in out]
