"""The chroma boost: how bold to make a regression model's colour, chosen on validation photos, checked on held-out.

For each boost, the bundled model's colour (at its working size, the network run once per photo) is scored at 512 px
on a prepared folder's validation split (sources it trained on: where the boost is chosen) and on its held-out
sources (never trained on, nor used to choose). The rule, fixed before looking at the held-out sources: the smallest
ΔE2000 on the validation split among the boosts whose colourfulness reaches 0.75 of the truth's there.

    python -m benchmarks.chroma_boost runs/pool/data [--boosts 0,0.3,0.4,0.5,0.6,0.7] [--uniform 1.2,1.4] [--model M]
        [--chosen boost.json]   # also write the chosen boost and the validation figures (recipes/pool/finish.sh)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import quartiles, table
from colorizer.atomic import atomic_write_text
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


def score(colorizer: Colorizer, photos, boost: float, uniform: float = 1.0) -> dict:
    """Mean PSNR, mean ΔE2000, mean colourfulness ÷ the truth's mean, and per photo: colourfulness ÷ its truth's and
    the truth's colourfulness; with the boost (and a uniform scale, what `--saturation` does) applied."""
    rows = []
    for truth, ab in photos:
        m = all_metrics(truth, colorizer.recombine(truth, boost_chroma(ab, boost) * np.float32(uniform)))
        rows.append((m["psnr"], m["delta_e"], m["colourfulness"], m["colourfulness_truth"]))
    v = np.array(rows)
    return {
        "psnr": v[:, 0].mean(),
        "delta_e": v[:, 1].mean(),
        "colourfulness": v[:, 2].mean() / v[:, 3].mean(),
        "per_photo": v[:, 2] / np.maximum(v[:, 3], 1e-6),
        "truth": v[:, 3],
    }


def per_photo(result: dict) -> str:
    """Quartiles of colourfulness ÷ the truth's per photo, and the median over the most muted third of the truths."""
    muted = result["truth"] <= np.percentile(result["truth"], 100 / 3)
    return f"{quartiles(result['per_photo'], '{:.2f}')} ; {np.median(result['per_photo'][muted]):.2f}"


def _means(result: dict) -> str:
    return f"{result['psnr']:.2f} / {result['delta_e']:.2f} / {result['colourfulness']:.2f}"


def run(
    data: Path, boosts: tuple[float, ...], uniform: tuple[float, ...] = (1.2, 1.4), model=None, chosen_to=None
) -> str:
    colorizer = Colorizer.load(model, chroma_boost=0)
    splits = {split: predictions(colorizer, data, split) for split in ("val", "heldout")}
    results = {b: {split: score(colorizer, photos, b) for split, photos in splits.items()} for b in boosts}
    for b, r in results.items():
        print(b, {split: _means(values) for split, values in r.items()}, file=sys.stderr, flush=True)
    scaled = {u: {split: score(colorizer, photos, 0, u) for split, photos in splits.items()} for u in uniform}
    eligible = [b for b in boosts if results[b]["val"]["colourfulness"] >= WANTED_COLOURFULNESS]
    chosen = min(eligible, key=lambda b: results[b]["val"]["delta_e"]) if eligible else None
    if chosen_to is not None:
        validation = {
            f"{b:g}": {k: float(results[b]["val"][k]) for k in ("psnr", "delta_e", "colourfulness")} for b in boosts
        }
        rule = f"the smallest validation ΔE2000 among boosts reaching {WANTED_COLOURFULNESS} colourfulness"
        atomic_write_text(chosen_to, json.dumps({"chosen": chosen, "rule": rule, "validation": validation}, indent=1))
    rows = [
        [
            f"**{b:g}** (chosen)" if b == chosen else f"{b:g}",
            *(_means(results[b][s]) for s in ("val", "heldout")),
            per_photo(results[b]["heldout"]),
        ]
        for b in boosts
    ]
    rows += [
        [
            f"none, every pixel's chroma x {u:g}",
            *(_means(r) for r in scaled[u].values()),
            per_photo(scaled[u]["heldout"]),
        ]
        for u in uniform
    ]
    return "\n".join(
        [
            "## Chroma boost: bolder colour where the model commits (`benchmarks/chroma_boost.py`)",
            "",
            f"{'Bundled model' if model is None else model} at its working size, the chroma scaled by 1 + boost x "
            f"min(chroma / 30, 1); scored at {SCORED_AT} px: PSNR dB / ΔE2000 / colourfulness ÷ the truth's "
            f"(means). Chosen on the validation split (the smallest ΔE among boosts reaching {WANTED_COLOURFULNESS} "
            f"colourfulness), then checked on the held-out sources ({len(splits['val'])} validation, "
            f"{len(splits['heldout'])} held-out photos of {data}). Per photo: colourfulness ÷ its truth's, quartiles "
            "over the held-out photos; after the semicolon, the median over the third of them whose truth is most "
            "muted (above 1: the boost paints them more colourful than they are).",
            "",
            table(
                ["boost", "validation (trained-on sources)", "held out (never trained on)", "held out, per photo"],
                rows,
            ),
            "",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("runs/pool/data"))
    parser.add_argument("--boosts", default="0,0.3,0.4,0.5,0.6,0.7")
    parser.add_argument("--uniform", default="1.2,1.4", help="uniform chroma scales to compare with (--saturation)")
    parser.add_argument("--model", type=Path, help="model to measure (default: the bundled one)")
    parser.add_argument("--chosen", type=Path, help="write the chosen boost (null: none reaches the colourfulness)")
    args = parser.parse_args()
    boosts = tuple(float(b) for b in args.boosts.split(","))
    print(run(args.data, boosts, tuple(float(u) for u in args.uniform.split(",")), args.model, args.chosen))
