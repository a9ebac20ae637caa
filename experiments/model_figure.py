"""The README's sample figure: photos from sources a model never trained on, gray | one model | another | original.

python -m experiments.model_figure DATA OLD.onnx NEW.onnx docs/validation-examples.jpg [--count 6]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from colorizer import Colorizer
from colorizer.figures import comparison_grid
from colorizer.inference.color import gray_preview
from colorizer.training.evaluate import evaluation_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a prepared folder: its held-out split is used")
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--labels", nargs=2, default=["before", "after"])
    args = parser.parse_args()
    photos, _ = evaluation_images(args.data, 384, splits=("heldout",))
    chosen = photos[:: max(1, len(photos) // args.count)][: args.count]
    old, new = Colorizer.load(args.old), Colorizer.load(args.new)
    rows = [[gray_preview(rgb), old.colorize_array(rgb), new.colorize_array(rgb), rgb] for _, _, rgb in chosen]
    labels = ("gray", *args.labels, "original")
    comparison_grid(rows, labels, height=200).convert("RGB").save(args.out, quality=88)
    print(f"wrote {args.out}: {', '.join(name for name, _, _ in chosen)}")


if __name__ == "__main__":
    main()
