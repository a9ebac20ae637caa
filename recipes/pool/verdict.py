"""Does a newly trained pool model beat the bundled one? Compares two `colorizer evaluate` metrics.json files.

The decision uses the validation split only (the trained-on sources' validation photos, where the epoch and the boost
were chosen): the new model is bundled if its ΔE2000 there is lower and its colourfulness still reaches 0.75 of the
truth's. The held-out sources (never trained on, nor used to choose) are then reported against the issue's targets,
not used to decide.

    python recipes/pool/verdict.py NEW/metrics.json [recipes/pool/logs/eval-384-boost.json] [--out verdict.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELD_OUT = " (held out)"  # how `colorizer evaluate` marks a held-out source
WANTED_COLOURFULNESS = 0.75
TARGET_DELTA_E = 9.5  # held out, issue 28


def pooled(metrics: dict, held_out: bool) -> dict:
    """Image-weighted means over the validation sources (held_out=False) or the held-out ones."""
    sources = {name: s for name, s in metrics["sources"].items() if name.endswith(HELD_OUT) == held_out}
    images = sum(s["images"] for s in sources.values())
    mean = {
        key: sum(s["model"][key] * s["images"] for s in sources.values()) / images
        for key in ("psnr", "delta_e", "colourfulness", "colourfulness_truth")
    }
    return {"images": images, **mean, "colourfulness_ratio": mean["colourfulness"] / mean["colourfulness_truth"]}


def verdict(new: dict, bundled: dict) -> dict:
    val_new, val_old = pooled(new, False), pooled(bundled, False)
    wins = val_new["delta_e"] < val_old["delta_e"] and val_new["colourfulness_ratio"] >= WANTED_COLOURFULNESS
    held_new, held_old = pooled(new, True), pooled(bundled, True)
    per_source = {
        name: {"new": new["sources"][name]["model"]["delta_e"], "bundled": s["model"]["delta_e"]}
        for name, s in bundled["sources"].items()
        if name in new["sources"]
    }
    no_source_worse = all(v["new"] <= v["bundled"] for v in per_source.values()) if per_source else None
    return {
        "bundle": wins,
        "validation": {"new": val_new, "bundled": val_old},
        "held_out": {"new": held_new, "bundled": held_old},
        "held_out_targets": {
            f"delta_e <= {TARGET_DELTA_E}": held_new["delta_e"] <= TARGET_DELTA_E,
            f"colourfulness >= {WANTED_COLOURFULNESS}": held_new["colourfulness_ratio"] >= WANTED_COLOURFULNESS,
            "no source worse (ΔE2000)": no_source_worse,
        },
        "delta_e_per_source": per_source,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("bundled", type=Path, nargs="?", default=Path("recipes/pool/logs/eval-384-boost.json"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = verdict(json.loads(args.new.read_text()), json.loads(args.bundled.read_text()))
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    v = result["validation"]
    print(
        f"validation ΔE2000 {v['new']['delta_e']:.3f} (bundled {v['bundled']['delta_e']:.3f}), colourfulness "
        f"{v['new']['colourfulness_ratio']:.2f}: {'bundle it' if result['bundle'] else 'keep the bundled model'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
