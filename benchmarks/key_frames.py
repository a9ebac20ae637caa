"""Key frames: a clip coloured from its lightness with frame 0's true colour as key frame, against automatic colour.

For each clip of `../shared/videos`: frame 0 in its true colour is written as a PNG and given as `--key-frame 0=...`;
the clip is colourised with it and without (the default steady colour), each in one `colorizer colorize` process.
Accuracy: mean CIEDE2000 against the original over every 5th frame (and within the first shot, which frame 0's colour
can reach: a scene cut ends it), frames measured at 320 px wide. Speed: frames/s with one key frame on the clip
scaled to 640x272, process start-up included, both passes.

    python -m benchmarks.key_frames          # prints the tables, writes docs/key-frames.jpg
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000

from benchmarks.common import table
from benchmarks.video_consistency import CLIPS, VIDEOS, lab_frames, speed_clip
from colorizer.inference.temporal import is_scene_cut, thumbnail

ROOT = Path(__file__).resolve().parents[1]
EVERY = 5


def colorize(source: Path, out_dir: Path, *extra: str) -> float:
    """Seconds of one `colorizer colorize` process (start-up included)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "colorizer", "colorize", str(source), "--out", str(out_dir), "--overwrite"]
    subprocess.run([*command, *extra], check=True, capture_output=True)
    return time.perf_counter() - started


def first_frame(source: Path, destination: Path) -> None:
    with av.open(str(source)) as container:
        frame = next(container.decode(container.streams.video[0]))
        Image.fromarray(frame.to_ndarray(format="rgb24")).save(destination)


def first_shot_length(original: list[np.ndarray]) -> int:
    """Frames before the first scene cut, by the same rule the colouriser uses."""
    previous = thumbnail(original[0][..., 0].astype(np.float32))
    for index in range(1, len(original)):
        current = thumbnail(original[index][..., 0].astype(np.float32))
        if is_scene_cut(previous, current):
            return index
        previous = current
    return len(original)


def accuracy(original: list[np.ndarray], output: list[np.ndarray], end: int) -> float:
    assert len(original) == len(output), (len(original), len(output))
    return float(np.mean([deltaE_ciede2000(original[t], output[t]).mean() for t in range(0, end, EVERY)]))


def frames_rgb(path: Path, indices) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
    return [frames[i] for i in indices]


def figure(source: Path, automatic: Path, keyed: Path, shot: int) -> None:
    """Key frame, then three later frames of its shot: automatic | with the key frame | original."""
    from colorizer.figures import comparison_grid

    indices = np.linspace(0, shot - 1, 4).round().astype(int)
    columns = [frames_rgb(p, indices) for p in (automatic, keyed, source)]
    rows = [list(row) for row in zip(*columns, strict=True)]
    labels = ("automatic", "with frame 0 as key frame", "original")
    grid = comparison_grid(rows, labels, height=200)
    grid.save(ROOT / "docs" / "key-frames.jpg", quality=88)


def run(work: Path) -> str:
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in CLIPS:
        source = VIDEOS / name
        key = work / f"{Path(name).stem}.frame-0.png"
        first_frame(source, key)
        automatic, keyed = work / "automatic", work / "keyed"
        seconds_auto = colorize(source, automatic)
        seconds_key = colorize(source, keyed, "--key-frame", f"0={key}")
        stem = Path(name).stem + ".mp4"
        original = lab_frames(source)
        out_auto, out_key = lab_frames(automatic / stem), lab_frames(keyed / stem)
        shot = first_shot_length(original)
        whole = (accuracy(original, out_auto, len(original)), accuracy(original, out_key, len(original)))
        first = (accuracy(original, out_auto, shot), accuracy(original, out_key, shot))
        frames = len(original)
        rows.append(
            [
                name,
                frames,
                shot,
                f"{whole[0]:.2f}",
                f"{whole[1]:.2f}",
                f"{whole[1] / whole[0]:.2f}",
                f"{first[1] / first[0]:.2f}",
                f"{frames / seconds_auto:.1f}",
                f"{frames / seconds_key:.1f}",
            ]
        )
        print(rows[-1], file=sys.stderr, flush=True)
        if name == "vtest.avi":
            figure(source, automatic / stem, keyed / stem, shot)
    clip = work / "film-640x272.mp4"
    frames = speed_clip(VIDEOS / "bigbuckbunny.mp4", clip)
    key = work / "film-640x272.frame-0.png"
    first_frame(clip, key)
    seconds_auto = colorize(clip, work / "speed-automatic")
    seconds_key = colorize(clip, work / "speed-keyed", "--key-frame", f"0={key}")
    return "\n".join(
        [
            "## Key frames (`benchmarks/key_frames.py`)",
            "",
            "Each clip colourised from its lightness, automatically (steady colour) and with frame 0's true colour as "
            "key frame (`--key-frame 0=frame0.png`). Mean CIEDE2000 against the original over every 5th frame, "
            "frames measured at 320 px wide; a scene cut ends the key frame's reach, so the ratio is also given "
            "within the first shot. Frames/s of the whole `colorizer colorize` process, start-up included.",
            "",
            table(
                [
                    "clip",
                    "frames",
                    "first shot",
                    "ΔE automatic",
                    "ΔE with key frame",
                    "ratio",
                    "ratio, first shot",
                    "frames/s automatic",
                    "frames/s with key frame",
                ],
                rows,
            ),
            "",
            f"Speed with one key frame on bigbuckbunny scaled to 640x272 ({frames} frames): "
            f"{frames / seconds_key:.1f} frames/s (automatic {frames / seconds_auto:.1f}), start-up included.",
            "",
            "![key frames](docs/key-frames.jpg)",
            "",
        ]
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(run(Path(tmp)))


if __name__ == "__main__":
    main()
