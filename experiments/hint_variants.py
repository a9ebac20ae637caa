"""Variants of how a hint spreads, compared at equal locality: can any buy more 10-hint gain for the same one click?

Each variant (other description weights, local reach, firmness, a cap on each hint's alike area, the learned hint
branch first) has its feature bandwidth re-fitted, by bisection, until one contrasting click at the centre changes a
median TARGET of the photo (the locality of `benchmarks/hints.py`); then Zhang et al.'s 10 truth hints are scored
there (the PSNR gain over the automatic colour, the sweep of `benchmarks/hints.py`). Two rows at fixed, wide
bandwidths show the ceiling of the family when locality is given up. Runs on the validation split, where defaults are
chosen; the network runs once per photo.

    python -m experiments.hint_variants runs/pool/data [--split val] [--every 4] [--target 0.14]
    python -m experiments.hint_variants runs/pool/data --only defaults --only spatial --results hint-variants-spatial.md
    python -m experiments.hint_variants runs/pool/data --only defaults --only firmness --confirm heldout \
        --results hint-variants-firmness.md

--confirm SPLIT scores each variant once more on another split (the held-out sources) at the bandwidth fitted on
the validation split, as the defaults are judged: nothing is chosen there.

Writes benchmarks/results/hint-variants.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from skimage.color import rgb2lab

import colorizer.inference.alike as alike
import colorizer.inference.photos as photos_module
import colorizer.inference.spread as spread
from benchmarks.common import machine, quartiles, table, write_result
from benchmarks.hints import SIZE, sample_hints
from colorizer import Colorizer
from colorizer.inference import DEFAULT_REACH
from colorizer.training.alike_fit import contrasting_click
from colorizer.training.evaluate import evaluation_images
from colorizer.training.metrics import psnr

SETTINGS = {  # variant key -> (module, constant)
    "scales": (alike, "SCALES"),
    "encoder_scale": (alike, "ENCODER_SCALE"),
    "firmness": (spread, "ALIKE_FIRMNESS"),
    "local_reach": (spread, "LOCAL_REACH"),
    "spatial": (alike, "SPATIAL_BANDWIDTH"),
}
VARIANTS = [  # label, settings, how each hint's alike area is bounded (None: not), the learned branch first
    ("today's defaults", {}, None, False),
    ("encoder components weigh more (scale 1.5, now 2.5)", {"encoder_scale": 1.5}, None, False),
    ("encoder components weigh less (scale 4)", {"encoder_scale": 4.0}, None, False),
    ("lightness weighs half (its scales x 2)", {"scales": (12.0, 24.0, 12.0, 1.0, 1.0, 10.0, 10.0)}, None, False),
    ("the network's colour weighs half", {"scales": (6.0, 12.0, 6.0, 1.0, 1.0, 20.0, 20.0)}, None, False),
    ("local reach 0.07 (now 0.12)", {"local_reach": 0.07}, None, False),
    ("local reach 0.18", {"local_reach": 0.18}, None, False),
    ("firmness 1000 (now 300)", {"firmness": 1000.0}, None, False),
    ("firmness 3000", {"firmness": 3000.0}, None, False),
    ("firmness 30", {"firmness": 30.0}, None, False),
    ("each hint's alike area at most 10 % of the photo", {}, 0.10, False),
    (
        "spatial bandwidth 0.5 longer sides at every reach (now 1.0 at the default)",
        {"spatial": (0.5, 0.5)},
        None,
        False,
    ),
    ("spatial bandwidth 0.3", {"spatial": (0.3, 0.3)}, None, False),
    ("spatial bandwidth 0.2", {"spatial": (0.2, 0.2)}, None, False),
    ("the learned hint branch first, then the spread", {}, None, True),
]
CEILING = (0.8, 2.0)  # fixed feature bandwidths, no re-fit: how much a wider alike buys at any locality


class Photo:
    """A photo's truth, network input, automatic colour and encoder features at the sweep's size (run once)."""

    def __init__(self, colorizer: Colorizer, truth: np.ndarray):
        self.truth, self.truth_lab = truth, rgb2lab(truth)
        self.network_input = colorizer.network_input(truth, SIZE)[0]
        ab, features = colorizer.predict_with_features(self.network_input[None])
        self.ab, self.features = ab[0], None if features is None else features[0]
        self.automatic = psnr(truth, colorizer.recombine(truth, self.ab))


def capped_guide(cap: float, shrink: float = 0.8):
    """alike_guide with each hint's feature bandwidth shrunk until its kernel reaches at most `cap` of the photo."""
    original = alike.alike_guide

    def guide(lightness, network_ab, wanted, labels, reach=DEFAULT_REACH, features=None):
        parts = []
        for k in np.unique(labels[labels > 0]):
            only = np.where(labels == k, k, 0)
            factor, saved = 1.0, alike.FEATURE_BANDWIDTH
            try:
                for _ in range(12):
                    alike.FEATURE_BANDWIDTH = (saved[0] * factor, saved[1] * factor)
                    part = original(lightness, network_ab, wanted, only, reach, features)
                    if part is None or (part[0] > 0).mean() <= cap:
                        break
                    factor *= shrink
            finally:
                alike.FEATURE_BANDWIDTH = saved
            if part is not None:
                parts.append(part)
        if not parts:
            return None
        total = sum(p[0] for p in parts)
        return total, sum(p[0] * p[1] for p in parts) / np.maximum(total, 1e-12)

    return guide


def follow(colorizer: Colorizer, photo: Photo, maps, labels, branch: bool) -> np.ndarray:
    network_input, ab = photo.network_input, photo.ab
    if branch:
        network_input = network_input.copy()
        network_input[1:] = maps
        ab = colorizer.predict_ab(network_input[None])[0]
    return colorizer.follow_hint_maps(network_input, ab, maps, labels, DEFAULT_REACH, photo.features)


def click_shares(colorizer: Colorizer, photos: list[Photo], branch: bool) -> list[float]:
    shares = []
    for photo in photos:
        maps, labels = contrasting_click(photo.ab)
        after = follow(colorizer, photo, maps, labels, branch)
        shares.append(float((np.hypot(*(after - photo.ab)) > 5).mean()))
    return shares


def gain(colorizer: Colorizer, photos: list[Photo], count: int, branch: bool) -> float:
    gains = []
    for index, photo in enumerate(photos):
        maps, labels = sample_hints(photo.truth_lab, count, np.random.default_rng([0, index, count]))
        result = follow(colorizer, photo, maps, labels, branch)
        gains.append(psnr(photo.truth, colorizer.recombine(photo.truth, result)) - photo.automatic)
    return float(np.mean(gains))


def with_bandwidth(bandwidth: float) -> None:
    alike.FEATURE_BANDWIDTH = (bandwidth, bandwidth)


def fit_bandwidth(colorizer, photos, target: float, branch: bool, steps: int = 6) -> float:
    """The widest feature bandwidth (bisection in log space over [0.1, 1.5]) whose median click share is <= target."""
    low, high = np.log(0.1), np.log(1.5)
    for _ in range(steps):
        middle = (low + high) / 2
        with_bandwidth(float(np.exp(middle)))
        low, high = (low, middle) if np.median(click_shares(colorizer, photos, branch)) > target else (middle, high)
    return float(np.exp(low))


def measure(colorizer, photos, label, settings, cap, branch, target, confirm=None) -> list[str]:
    """A variant's row: its fitted bandwidth, one click's quartiles and the 10-hint gain on `photos`, then the same
    two at that bandwidth on `confirm` photos (another split) if given."""
    saved = {key: getattr(module, name) for key, (module, name) in SETTINGS.items()}
    saved_bandwidth, saved_guide = alike.FEATURE_BANDWIDTH, photos_module.alike_guide
    try:
        for key, value in settings.items():
            setattr(*SETTINGS[key], value)
        if cap is not None:
            photos_module.alike_guide = capped_guide(cap)
        bandwidth = fit_bandwidth(colorizer, photos, target, branch)
        with_bandwidth(bandwidth)
        shares = click_shares(colorizer, photos, branch)
        row = [label, f"{bandwidth:.2f}", quartiles(shares), f"{gain(colorizer, photos, 10, branch):+.2f} dB"]
        if confirm:
            confirmed = gain(colorizer, confirm, 10, branch)
            row += [quartiles(click_shares(colorizer, confirm, branch)), f"{confirmed:+.2f} dB"]
        return row
    finally:
        for key, (module, name) in SETTINGS.items():
            setattr(module, name, saved[key])
        alike.FEATURE_BANDWIDTH, photos_module.alike_guide = saved_bandwidth, saved_guide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a prepared folder")
    parser.add_argument("--split", default="val")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--target", type=float, default=0.14, help="median one-click share the bandwidth is fit to")
    parser.add_argument("--only", action="append", help="the variants whose label holds this text (repeatable)")
    parser.add_argument("--results", default="hint-variants.md", help="file name in benchmarks/results/")
    parser.add_argument("--confirm", metavar="SPLIT", help="also score each variant on this split, not re-fitted")
    args = parser.parse_args()
    started = time.perf_counter()
    colorizer = Colorizer.load()
    images, _ = evaluation_images(args.data, SIZE, splits=(args.split,))
    photos = [Photo(colorizer, truth) for _, _, truth in images[:: args.every]]
    confirm = None
    if args.confirm:
        others, _ = evaluation_images(args.data, SIZE, splits=(args.confirm,))
        confirm = [Photo(colorizer, truth) for _, _, truth in others]
    rows = []
    chosen = [v for v in VARIANTS if not args.only or any(text in v[0] for text in args.only)]
    for label, settings, cap, branch in chosen:
        rows.append(measure(colorizer, photos, label, settings, cap, branch, args.target, confirm))
        print(rows[-1], flush=True)
    saved = alike.FEATURE_BANDWIDTH
    for bandwidth in () if args.only else CEILING:  # the ceiling rows with the full table only
        with_bandwidth(bandwidth)
        shares = click_shares(colorizer, photos, False)
        rows.append(
            [
                "today's form, wider (no re-fit)",
                f"{bandwidth:.2f}",
                quartiles(shares),
                f"{gain(colorizer, photos, 10, False):+.2f} dB",
            ]
            + (["", ""] if confirm else [])
        )
        print(rows[-1], flush=True)
    alike.FEATURE_BANDWIDTH = saved
    extra = [f"{args.confirm}: one click", f"{args.confirm}: 10 truth hints"] if confirm else []
    text = "\n".join(
        [
            "# How a hint spreads: variants at equal locality (experiments/hint_variants.py)",
            "",
            machine(),
            "",
            f"{len(photos)} photos of {args.data} ({args.split}), {SIZE} px; feature bandwidth re-fit per variant to "
            f"a median one-click share of {args.target:.0%}; {time.perf_counter() - started:.0f} s."
            + (f" Then scored on the {len(confirm)} photos of {args.confirm} at that bandwidth." if confirm else ""),
            "",
            table(["variant", "feature bandwidth", "one click: quartiles", "10 truth hints"] + extra, rows),
            "",
        ]
    )
    print(text)
    write_result(args.results, text)


if __name__ == "__main__":
    main()
