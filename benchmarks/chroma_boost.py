"""The chroma boost: how bold to make a regression model's colour, chosen on validation photos, checked on held-out.

For each boost, the bundled model's colour (at its working size, the network run once per photo) is scored at 512 px
on a prepared folder's validation split (sources it trained on: where the boost is chosen) and on its held-out
sources (never trained on, nor used to choose). The rule, fixed before looking at the held-out sources: the smallest
ΔE2000 on the validation split among the boosts whose colourfulness reaches 0.75 of the truth's there.

    python -m benchmarks.chroma_boost runs/pool/data [--boosts 0,0.3,0.4,0.5,0.6,0.7] [--uniform 1.2,1.4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import table
from colorizer.inference.color import boost_chroma
from colorizer.inference.photos import Colorizer
from colorizer.training.evaluate import evaluation_images
from colorizer.training.metrics import all_metrics

SCORED_AT = 512
WANTED_COLOURFULNESS = 0.75


def predictions(colorizer: Colorizer, data: Path, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(truth at SCORED_AT, the network's own ab at the working size)] of a split."""
    images, _ = evaluation_images(data, SCORED_AT, (split,))
    return [(truth, colorizer.session.predict_ab(colorizer.network_input(truth, None))[0]) for _, _, truth in images]


def score(colorizer: Colorizer, photos, boost: float, uniform: float = 1.0) -> tuple[float, float, float]:
    """Mean PSNR, mean ΔE2000, and mean colourfulness ÷ the truth's mean, with the boost (and a uniform scale, what
    `--saturation` does) applied."""
    rows = []
    for truth, ab in photos:
        m = all_metrics(truth, colorizer.recombine(truth, boost_chroma(ab, boost) * np.float32(uniform)))
        rows.append((m["psnr"], m["delta_e"], m["colourfulness"], m["colourfulness_truth"]))
    v = np.array(rows)
    return v[:, 0].mean(), v[:, 1].mean(), v[:, 2].mean() / v[:, 3].mean()


def run(data: Path, boosts: tuple[float, ...], uniform: tuple[float, ...] = (1.2, 1.4)) -> str:
    colorizer = Colorizer.load(chroma_boost=0)
    splits = {split: predictions(colorizer, data, split) for split in ("val", "heldout")}
    results = {b: {split: score(colorizer, photos, b) for split, photos in splits.items()} for b in boosts}
    for b, r in results.items():
        print(b, r, file=sys.stderr, flush=True)
    scaled = {u: {split: score(colorizer, photos, 0, u) for split, photos in splits.items()} for u in uniform}
    eligible = [b for b in boosts if results[b]["val"][2] >= WANTED_COLOURFULNESS]
    chosen = min(eligible, key=lambda b: results[b]["val"][1]) if eligible else None
    rows = [
        [
            f"**{b:g}** (chosen)" if b == chosen else f"{b:g}",
            *(f"{results[b][s][0]:.2f} / {results[b][s][1]:.2f} / {results[b][s][2]:.2f}" for s in ("val", "heldout")),
        ]
        for b in boosts
    ]
    rows += [
        [f"none, every pixel's chroma x {u:g}", *(f"{r[0]:.2f} / {r[1]:.2f} / {r[2]:.2f}" for r in scaled[u].values())]
        for u in uniform
    ]
    return "\n".join(
        [
            "## Chroma boost: bolder colour where the model commits (`benchmarks/chroma_boost.py`)",
            "",
            f"Bundled model at its working size, the chroma scaled by 1 + boost x min(chroma / 30, 1); scored at "
            f"{SCORED_AT} px: PSNR dB / ΔE2000 / colourfulness ÷ the truth's. Chosen on the validation split (the "
            f"smallest ΔE among boosts reaching {WANTED_COLOURFULNESS} colourfulness), then checked on the held-out "
            f"sources ({len(splits['val'])} validation, {len(splits['heldout'])} held-out photos of {data}).",
            "",
            table(["boost", "validation (trained-on sources)", "held out (never trained on)"], rows),
            "",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("runs/pool/data"))
    parser.add_argument("--boosts", default="0,0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--uniform", default="1.2,1.4", help="uniform chroma scales to compare with (--saturation)")
    args = parser.parse_args()
    print(
        run(
            args.data, tuple(float(b) for b in args.boosts.split(",")), tuple(float(u) for u in args.uniform.split(","))
        )
    )
