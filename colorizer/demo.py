"""`make demo` / `python -m colorizer.demo`: colourise the example photos shipped in `examples/` with the bundled model.

Writes each colourised photo to `demo-output/` (the demo's own folder, replaced on every run) and a figure
`demo-output/comparison.png`: original | grayscale | colourised. Offline, CPU only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from colorizer.figures import save_comparison
from colorizer.images import read_photo
from colorizer.inference.batch import colorize_paths
from colorizer.inference.color import gray_preview
from colorizer.inference.photos import Colorizer

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES, OUTPUT = ROOT / "examples", ROOT / "demo-output"


def main() -> int:
    started = time.perf_counter()
    colorizer = Colorizer.load()
    inputs = sorted(p for p in EXAMPLES.iterdir() if p.is_file() and p.suffix.lower() in (".jpg", ".png"))
    summary = colorize_paths(colorizer, [str(p) for p in inputs], OUTPUT, overwrite=True, progress=False)
    if summary.failed:
        print(f"demo: {len(summary.failed)} examples failed: {summary.failed}", file=sys.stderr)
        return 1
    rows = []
    for source, output in zip(inputs, summary.written, strict=True):
        original = EXAMPLES / "originals" / source.name
        truth = read_photo(original if original.exists() else source).rgb
        rows.append([truth, gray_preview(truth), np.asarray(read_photo(output).rgb)])
    save_comparison(rows, OUTPUT / "comparison.png")
    print(f"colourised {len(summary.written)} example photos in {time.perf_counter() - started:.1f} s:")
    for path in summary.written:
        print(f"  {path.relative_to(ROOT)}")
    print(f"  {(OUTPUT / 'comparison.png').relative_to(ROOT)}  (original | grayscale | colourised)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
