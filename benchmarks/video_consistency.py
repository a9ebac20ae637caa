"""Video: flicker and accuracy of frame-by-frame colour vs steady colour on `../shared/videos`, and speed.

Each colour clip is colourised twice from its lightness alone (the network never sees its colour): `--smoothing 0`
(every frame on its own, as DeOldify and DDColor do) and the default (flow-guided history). Then, decoding the
original and the output in step:

- flicker: mean |ab(t) - ab(t-1)| of the output over the pixels where the original stays put (its L changes by less
  than 2 and its ab by less than 2 between the two frames), in LAB units;
- accuracy: mean CIEDE2000 of output vs original, every 5th frame;
- speed: frames/s of `colorizer colorize` on the whole clip, process start-up included.

    python -m benchmarks.video_consistency          # prints the tables, writes docs/video-*.png
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from skimage.color import deltaE_ciede2000

from benchmarks.common import table
from colorizer.inference.color import rgb_to_lab
from colorizer.inference.options import DEFAULT_SMOOTHING

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "videos"
CLIPS = ["vtest.avi", "tree.avi", "bigbuckbunny.mp4"]
MEASURE_WIDTH = 320  # metrics on frames scaled to this width (the colour is smooth; this keeps LAB cheap)
STILL_L, STILL_AB = 2.0, 2.0


def colorize(source: Path, destination: Path, smoothing: float) -> float:
    """Seconds of one `colorizer colorize` process (start-up included)."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "colorizer",
            "colorize",
            str(source),
            "--out",
            str(destination.parent),
            "--smoothing",
            str(smoothing),
            "--overwrite",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def lab_frames(path: Path) -> list[np.ndarray]:
    """Every frame as LAB (H, W, 3) float64, scaled to MEASURE_WIDTH."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            height = round(frame.height * MEASURE_WIDTH / frame.width)
            small = frame.reformat(width=MEASURE_WIDTH, height=height, format="rgb24").to_ndarray()
            frames.append(rgb_to_lab(small))
    return frames


def metrics(original: list[np.ndarray], output: list[np.ndarray]) -> dict:
    assert len(original) == len(output), (len(original), len(output))
    changes, still = [], 0
    for t in range(1, len(original)):
        d_l = np.abs(original[t][..., 0] - original[t - 1][..., 0])
        d_ab = np.linalg.norm(original[t][..., 1:] - original[t - 1][..., 1:], axis=-1)
        mask = (d_l < STILL_L) & (d_ab < STILL_AB)
        still += mask.mean()
        changes.append(np.linalg.norm(output[t][..., 1:] - output[t - 1][..., 1:], axis=-1)[mask])
    accuracy = [float(deltaE_ciede2000(original[t], output[t]).mean()) for t in range(0, len(original), 5)]
    return {
        "flicker": float(np.concatenate(changes).mean()),
        "delta_e": float(np.mean(accuracy)),
        "still_share": still / (len(original) - 1),
    }


def still_patch(original: list[np.ndarray], side: int = 12) -> tuple[int, int]:
    """Top-left corner of the side x side patch whose original colour and lightness move least over the clip."""
    stack = np.stack([f for f in original])  # (T, H, W, 3)
    variation = stack.std(axis=0).sum(axis=-1)
    chroma = np.linalg.norm(stack[..., 1:].mean(axis=0), axis=-1)
    score = variation - 0.05 * chroma  # still, and preferably coloured
    height, width = score.shape
    best, corner = np.inf, (0, 0)
    for y in range(0, height - side, side // 2):
        for x in range(0, width - side, side // 2):
            value = score[y : y + side, x : x + side].mean()
            if value < best:
                best, corner = value, (y, x)
    return corner


def figures(name: str, original: Path, each: Path, steady: Path, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labs = {k: lab_frames(p) for k, p in (("original", original), ("frame by frame", each), ("steady", steady))}
    y, x = still_patch(labs["original"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=100)
    for label, frames in labs.items():
        patch = np.array([f[y : y + 12, x : x + 12, 1:].mean(axis=(0, 1)) for f in frames])
        axes[0].plot(patch[:, 0], label=label)
        axes[1].plot(patch[:, 1], label=label)
    for ax, channel in zip(axes, ("a*", "b*"), strict=True):
        ax.set_xlabel("frame")
        ax.set_ylabel(f"{channel} of a still 12x12 patch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"{name}: chroma of one still region over time")
    fig.tight_layout()
    fig.savefig(out_dir / "video-still-region.png")
    plt.close(fig)
    from colorizer.figures import comparison_grid

    indices = np.linspace(0, len(labs["original"]) - 1, 4).round().astype(int)
    columns = []
    for path in (original, each, steady):
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
        columns.append([frames[i] for i in indices])
    rows = [list(row) for row in zip(*columns, strict=True)]  # one row per moment, one column per version
    grid = comparison_grid(rows, ("original", "frame by frame", "steady (this project)"), height=240)
    grid.save(out_dir / "video-frames.jpg", quality=88)


def speed_clip(source: Path, destination: Path, width: int = 640, height: int = 272) -> int:
    """The HD clip scaled to 640x272 (a typical old-film frame size), as H.264: the speed target's input."""
    with av.open(str(source)) as src, av.open(str(destination), "w") as dst:
        stream = dst.add_stream("libx264", rate=src.streams.video[0].average_rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        count = 0
        for frame in src.decode(src.streams.video[0]):
            for packet in stream.encode(frame.reformat(width=width, height=height, format="yuv420p")):
                dst.mux(packet)
            count += 1
        for packet in stream.encode(None):
            dst.mux(packet)
    return count


def run(work: Path) -> str:
    work.mkdir(parents=True, exist_ok=True)
    rows, speed_rows = [], []
    for name in CLIPS:
        source = VIDEOS / name
        each, steady = work / "each" / f"{Path(name).stem}.mp4", work / "steady" / f"{Path(name).stem}.mp4"
        seconds_each = colorize(source, each, 0.0)
        seconds_steady = colorize(source, steady, DEFAULT_SMOOTHING)
        original = lab_frames(source)
        m_each, m_steady = metrics(original, lab_frames(each)), metrics(original, lab_frames(steady))
        frames = len(original)
        rows.append(
            [
                name,
                frames,
                f"{m_each['still_share']:.0%}",
                f"{m_each['flicker']:.2f}",
                f"{m_steady['flicker']:.2f}",
                f"{m_steady['flicker'] / m_each['flicker']:.2f}",
                f"{m_each['delta_e']:.2f}",
                f"{m_steady['delta_e']:.2f}",
            ]
        )
        speed_rows.append([name, f"{frames / seconds_each:.1f}", f"{frames / seconds_steady:.1f}"])
        print(rows[-1], speed_rows[-1], file=sys.stderr, flush=True)
        if name == "vtest.avi":
            figures(name, source, each, steady, ROOT / "docs")
    clip = work / "film-640x272.mp4"
    frames = speed_clip(VIDEOS / "bigbuckbunny.mp4", clip)
    seconds_each = colorize(clip, work / "speed-each" / "film-640x272.mp4", 0.0)
    seconds_steady = colorize(clip, work / "speed-steady" / "film-640x272.mp4", DEFAULT_SMOOTHING)
    speed_rows.append(
        ["bigbuckbunny scaled to 640x272", f"{frames / seconds_each:.1f}", f"{frames / seconds_steady:.1f}"]
    )
    return "\n".join(
        [
            "## Video: steady colour (`benchmarks/video_consistency.py`)",
            "",
            "Each colour clip of `../shared/videos` colourised from its lightness with `--smoothing 0` (frame by "
            f"frame) and the default {DEFAULT_SMOOTHING}. Flicker: mean ab change between consecutive output frames "
            "over the pixels "
            "where the original's L and ab each move by less than 2 (share of such pixels in the third column). "
            "Accuracy: mean CIEDE2000 against the original, every 5th frame. Frames measured at 320 px wide.",
            "",
            table(
                [
                    "clip",
                    "frames",
                    "still pixels",
                    "flicker, frame by frame",
                    "flicker, steady",
                    "ratio",
                    "ΔE2000, frame by frame",
                    "ΔE2000, steady",
                ],
                rows,
            ),
            "",
            "Speed of `colorizer colorize CLIP`, process start-up included (this CPU, working size 512):",
            "",
            table(["clip", "frame by frame, frames/s", "steady, frames/s"], speed_rows),
            "",
            "![frames](docs/video-frames.jpg)  ![still region](docs/video-still-region.png)",
            "",
        ]
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(run(Path(tmp)))
