"""What each encoder costs to colourise with: network time at the default working size and a 12-MP photo from the
command line (start-up included), on ONNX Runtime, medians of 5; beside its score on the held-out sources.

    python -m experiments.encoder_cost runs/pool/encoders/lite0 runs/pool/encoders/lite1 runs/pool/encoders/lite2

Each RUN holds model.onnx and eval/metrics.json (from recipes/encoders/compare.sh). Writes
benchmarks/results/encoders.md.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import machine, median_time, table
from colorizer import Colorizer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    runs = [Path(p) for p in sys.argv[1:]]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.jpg"
        source = ROOT / "examples" / "originals" / "leuven.jpg"
        Image.open(source).convert("L").resize((4000, 3000), Image.BICUBIC).save(big, quality=92)
        for run in runs:
            model = run / "model.onnx"
            colorizer = Colorizer.load(model)
            network_input = colorizer.network_input(np.asarray(Image.open(big)), 512)
            network = median_time(lambda c=colorizer, n=network_input: c.predict_ab(n), repeats=5)

            def cli(m=model) -> float:
                started = time.perf_counter()
                out = str(Path(tmp) / "out")
                command = [sys.executable, "-m", "colorizer", "colorize", str(big), "--out", out, "--overwrite"]
                subprocess.run([*command, "--model", str(m)], check=True, capture_output=True)
                return time.perf_counter() - started

            cli()
            whole = statistics.median(cli() for _ in range(5))
            metrics = json.loads((run / "eval" / "metrics.json").read_text())
            held = metrics["mean"]
            worst = max((v["model"]["delta_e"] - v["gray"]["delta_e"], k) for k, v in metrics["sources"].items())
            encoder = colorizer.metadata["model_config"]["encoder"]
            rows.append(
                [
                    encoder,
                    f"{held['model']['psnr']:.2f} / {held['model']['delta_e']:.2f}",
                    f"{held['gray']['psnr']:.2f} / {held['gray']['delta_e']:.2f}",
                    f"{worst[0]:+.2f} ({worst[1]})",
                    f"{held['model']['colourfulness'] / held['model']['colourfulness_truth']:.2f}",
                    f"{network * 1000:.0f} ms",
                    f"{whole:.2f} s",
                    f"{model.stat().st_size / 1e6:.1f} MB",
                ]
            )
            print(rows[-1], flush=True)
    header = [
        "encoder",
        "held out: PSNR / ΔE",
        "gray: PSNR / ΔE",
        "worst source: ΔE − gray's",
        "colourfulness ÷ truth",
        "network, 512x384",
        "12-MP JPEG, CLI",
        "ONNX",
    ]
    text = "\n".join(["# Encoders (experiments/encoder_cost.py)", "", machine(), "", table(header, rows), ""])
    (ROOT / "benchmarks" / "results" / "encoders.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
