"""The objective comparison's table from `recipes/more/evaluate.sh`'s results (runs/more/eval-*/metrics.json).

    python recipes/more/table.py bundled bundled-b0 huber huber-colourful huber-rebalanced
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(name: str) -> str:
    result = json.loads(Path(f"runs/more/eval-{name}/metrics.json").read_text())
    model, gray, people = result["mean"]["model"], result["mean"]["gray"], result.get("people", {})
    colour = model["colourfulness"] / model["colourfulness_truth"]
    skin = people.get("model", {})
    return (
        f"| {name} | {model['psnr']:.2f} | {model['delta_e']:.2f} (gray {gray['delta_e']:.2f}) | {colour:.2f} | "
        f"{model['vivid_kept']:.2f} | {model['warm_cast']:+.1f} | {skin.get('delta_e', float('nan')):.2f} "
        f"(gray {people.get('gray', {}).get('delta_e', float('nan')):.2f}) | {skin.get('skin_hue_shift', float('nan')):+.1f}° / "
        f"{skin.get('skin_chroma_ratio', float('nan')):.2f} |"
    )


if __name__ == "__main__":
    print("| model | PSNR dB | ΔE2000 | colourfulness ÷ truth | vivid kept | warm cast (b*) | people: ΔE2000 | skin: hue / chroma |")
    print("|---|---|---|---|---|---|---|---|")
    for name in sys.argv[1:]:
        print(row(name))
