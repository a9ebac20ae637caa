"""The learned hint branch beside the spreading: how far each carries Zhang et al.'s truth hints, how local one click
stays through each, and whether combining them buys anything.

The learned branch is the network's own hint input (hint a, b and mask beside the lightness, trained with simulated
hints); the spreading is what colourising does (`follow_hint_maps`: the hints' corrections carried along edges and
to what looks alike, default reach). Combinations, each from the automatic colour A, the branch's colour B (the
network given the hints) and the spread colour S (A with the hints spread):

- branch, then spread: B, with what B still misses at the hints spread from it;
- spread, plus the branch where the spread did little: S + w (B - A), w falling from 1 to 0 as the spread's own
  correction grows from 0 to 5 ab units;
- inside what the spread reached (its weight w above, turned round: 1 - w), two ways that leave one click's reach
  that of the spread: the average of S and B, and S plus the branch's correction B - A;
- the branch's correction scaled (x 1.5, x 2): does it under-shoot?

Scores: the PSNR gain over A at 10 and 50 truth hints (the sweep of `benchmarks/hints.py`), and the share of the photo
that one contrasting click at the centre changes by more than 5 ab units (quartiles). Validation photos by default:
a way to combine would be chosen there.

    python -m experiments.hint_branch runs/pool/data --model bundled --model runs/pool/stage4.onnx

Writes benchmarks/results/hint-branch.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from skimage.color import rgb2lab

from benchmarks.common import machine, quartiles, table, write_result
from benchmarks.hints import SIZE, sample_hints
from colorizer import Colorizer
from colorizer.inference import DEFAULT_REACH
from colorizer.training.alike_fit import contrasting_click
from colorizer.training.evaluate import evaluation_images
from colorizer.training.metrics import psnr

COUNTS = (10, 50)


def combinations(colorizer: Colorizer, network_input, automatic, features, maps, labels) -> dict[str, np.ndarray]:
    """Each way of using the hints -> its ab (2, h, w)."""
    hinted = network_input.copy()
    hinted[0, 1:] = maps
    branch = colorizer.predict_ab(hinted)[0]
    spread = colorizer.follow_hint_maps(network_input[0], automatic, maps, labels, DEFAULT_REACH, features)
    branch_then_spread = colorizer.follow_hint_maps(network_input[0], branch, maps, labels, DEFAULT_REACH, features)
    spread_did_little = np.clip(1 - np.hypot(*(spread - automatic)) / 5, 0, 1)
    spread_reached = 1 - spread_did_little
    return {
        "spread (what colourising does)": spread,
        "learned branch alone": branch,
        "branch, then spread": branch_then_spread,
        "spread + branch where the spread did little": spread + spread_did_little * (branch - automatic),
        "spread and branch averaged where the spread reached": spread + spread_reached * (branch - spread) / 2,
        "spread + the branch's correction where the spread reached": spread + spread_reached * (branch - automatic),
        "branch's correction x 1.5": automatic + 1.5 * (branch - automatic),
        "branch's correction x 2": automatic + 2 * (branch - automatic),
    }


def measure(photos, colorizer: Colorizer) -> dict[str, dict]:
    """{way: {"gain": {count: mean dB}, "click": [share per photo]}}."""
    gains: dict[str, dict[int, list[float]]] = {}
    clicks: dict[str, list[float]] = {}
    for index, (_, truth) in enumerate(photos):
        truth_lab = rgb2lab(truth)
        network_input = colorizer.network_input(truth, SIZE)
        automatic, features = colorizer.predict_with_features(network_input)
        automatic, features = automatic[0], None if features is None else features[0]
        base = psnr(truth, colorizer.recombine(truth, automatic))
        for count in COUNTS:
            maps, labels = sample_hints(truth_lab, count, np.random.default_rng([0, index, count]))
            for way, ab in combinations(colorizer, network_input, automatic, features, maps, labels).items():
                gains.setdefault(way, {c: [] for c in COUNTS})[count].append(
                    psnr(truth, colorizer.recombine(truth, ab)) - base
                )
        maps, labels = contrasting_click(automatic, "point")
        for way, ab in combinations(colorizer, network_input, automatic, features, maps, labels).items():
            clicks.setdefault(way, []).append(float((np.hypot(*(ab - automatic)) > 5).mean()))
    return {way: {"gain": {c: float(np.mean(v)) for c, v in gains[way].items()}, "click": clicks[way]} for way in gains}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a prepared folder")
    parser.add_argument("--model", action="append", help="an .onnx model or 'bundled' (repeat to compare)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--every", type=int, default=4)
    args = parser.parse_args()
    photos, _ = evaluation_images(args.data, SIZE, splits=(args.split,))
    photos = [(name, image) for name, _, image in photos[:: args.every]]
    started = time.perf_counter()
    rows = []
    for model in args.model or ["bundled"]:
        colorizer = Colorizer.load(None if model == "bundled" else Path(model))
        if not colorizer.takes_hints:
            raise SystemExit(f"{model} has no hint input")
        for way, result in measure(photos, colorizer).items():
            rows.append([model, way, *[f"{result['gain'][c]:+.2f} dB" for c in COUNTS], quartiles(result["click"])])
            print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# The learned hint branch beside the spreading (experiments/hint_branch.py)",
            "",
            machine(),
            "",
            f"{len(photos)} photos of {args.data} ({args.split}), 512 px; {time.perf_counter() - started:.0f} s.",
            "",
            table(["model", "hints", *[f"{c} truth hints" for c in COUNTS], "one click: photo changed"], rows),
        ]
    )
    print(text)
    write_result("hint-branch.md", text)


if __name__ == "__main__":
    main()
