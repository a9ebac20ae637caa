"""Colour from a reference photo: how close to the truth, against the automatic colour, on photos of one scene.

Two kinds of case, each a target photo coloured from its lightness alone with a colour reference beside it:
- stereo and near-duplicate pairs in `../shared/photos` (OpenCV's samples: a stereo pair, a second stereo pair, the
  Leuven, graffiti and aerial viewpoint pairs, two frames of an optical-flow sequence, a retouched photo), each side
  the reference for the other;
- film frames from `../shared/videos`: frame 0 the reference, the frame 3 s later the target.
Scored by mean CIEDE2000 against the true colour, at 512 px on the longer side, automatic beside it.

    python -m benchmarks.reference                 # prints the table
    python -m benchmarks.reference --sweep         # the feature-weight variants the defaults were chosen from
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000

from benchmarks.common import table
from colorizer.inference import reference as reference_module
from colorizer.inference.color import rgb_to_lab
from colorizer.inference.photos import Colorizer

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "photos"
VIDEOS = ROOT.parent / "shared" / "videos"
PAIRS = [
    ("aloeL.jpg", "aloeR.jpg", "stereo"),
    ("left.jpg", "right.jpg", "stereo"),
    ("leuvenA.jpg", "leuvenB.jpg", "viewpoint"),
    ("graf1.png", "graf3.png", "viewpoint"),
    ("aero1.jpg", "aero3.jpg", "viewpoint"),
    ("rubberwhale1.png", "rubberwhale2.png", "flow frames"),
    ("ela_original.jpg", "ela_modified.jpg", "retouched"),
]
CLIPS = ["vtest.avi", "tree.avi", "bigbuckbunny.mp4"]
LATER_SECONDS = 3.0
SIZE = 512


def shrink(image: Image.Image) -> np.ndarray:
    image = image.convert("RGB")
    scale = SIZE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    return np.asarray(image)


def frames_at(path: Path, seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Frame 0 and the frame `seconds` later at the stream's frame rate (RGB), and that frame's index."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        wanted = round(seconds * float(stream.average_rate or stream.guessed_rate))
        first = later = None
        for index, frame in enumerate(container.decode(stream)):
            if index == 0:
                first = frame.to_ndarray(format="rgb24")
            if index == wanted:
                later = frame.to_ndarray(format="rgb24")
                break
    return shrink(Image.fromarray(first)), shrink(Image.fromarray(later)), wanted


def cases() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(name, kind, target RGB, reference RGB) at 512 px."""
    found = []
    for left, right, kind in PAIRS:
        a, b = (shrink(Image.open(PHOTOS / f"opencv-{n}")) for n in (left, right))
        found.append((f"{left} from {right}", kind, a, b))
        found.append((f"{right} from {left}", kind, b, a))
    for clip in CLIPS:
        first, later, index = frames_at(VIDEOS / clip, LATER_SECONDS)
        found.append((f"{clip} frame {index} from frame 0", "film", later, first))
    return found


def delta_e(truth: np.ndarray, output: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb_to_lab(truth), rgb_to_lab(output)).mean())


def score(colorizer: Colorizer, found) -> list[tuple[str, str, float, float, float]]:
    rows = []
    for name, kind, target, ref in found:
        started = time.perf_counter()
        automatic = colorizer.colorize_array(target, SIZE)
        automatic_seconds = time.perf_counter() - started
        started = time.perf_counter()
        steered = colorizer.colorize_array(target, SIZE, reference=ref)
        seconds = time.perf_counter() - started
        rows.append((name, kind, delta_e(target, automatic), delta_e(target, steered), seconds, automatic_seconds))
    return rows


def summary(rows) -> dict[str, float]:
    by_kind = {}
    for _, kind, auto, ref, *_ in rows:
        by_kind.setdefault("film" if kind == "film" else "pairs", []).append(ref / auto)
    return {kind: float(np.mean(ratios)) for kind, ratios in by_kind.items()}


def sweep(colorizer: Colorizer, found) -> None:
    base = reference_module.DEFAULT_WEIGHTS
    variants = {
        "defaults": base,
        "lightness and texture only": dataclasses.replace(base, position=0.0, network=0.0),
        "+ position": dataclasses.replace(base, network=0.0),
        "+ network colour (no position)": dataclasses.replace(base, position=0.0),
        "position x2": dataclasses.replace(base, position=2 * base.position),
        "position x0.5": dataclasses.replace(base, position=0.5 * base.position),
        "network x2": dataclasses.replace(base, network=2 * base.network),
        "network x0.5": dataclasses.replace(base, network=0.5 * base.network),
        "texture x0": dataclasses.replace(base, texture=0.0),
        "context x0": dataclasses.replace(base, context=0.0),
    }
    for label, weights in variants.items():
        reference_module.DEFAULT_WEIGHTS = weights
        rows = score(colorizer, found)
        print(f"{label:34s}", {k: round(v, 3) for k, v in summary(rows).items()}, flush=True)
    reference_module.DEFAULT_WEIGHTS = base


def run(model: str | None = None) -> str:
    colorizer = Colorizer.load(model)
    rows = score(colorizer, cases())
    ratios = summary(rows)
    body = [
        [name, kind, f"{auto:.2f}", f"{ref:.2f}", f"{ref / auto:.2f}", f"{auto_s * 1000:.0f}", f"{seconds * 1000:.0f}"]
        for name, kind, auto, ref, seconds, auto_s in rows
    ]
    times = np.median([row[4] for row in rows]) * 1000, np.median([row[5] for row in rows]) * 1000
    return "\n".join(
        [
            "## Colour from a reference photo (`benchmarks/reference.py`)",
            "",
            "Each target coloured from its lightness, automatically and with the reference; mean CIEDE2000 against "
            "its true colour at 512 px. The OpenCV pairs are in the training pool (the automatic colour is "
            "flattered there); the films are not.",
            "",
            table(
                ["target from reference", "kind", "ΔE automatic", "ΔE with reference", "ratio", "ms automatic", "ms"],
                body,
            ),
            "",
            "Mean ratio: " + ", ".join(f"{kind} {value:.2f}" for kind, value in ratios.items()),
            "",
            f"Median time of `colorize_array` at 512 px, this CPU: {times[0]:.0f} ms with the reference (its own "
            f"network run, the matching, the spreading), {times[1]:.0f} ms automatic.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    if args.sweep:
        sweep(Colorizer.load(args.model), cases())
    else:
        print(run(args.model))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
