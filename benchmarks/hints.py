"""Colour hints, measured: Zhang et al.'s sweep on held-out photo sources, an example figure, and the time hints add.

Sweep protocol (after REFERENCES §10): each held-out photo resized to 512 px on its longer side; N hints sampled
from the truth, each a 6x6 patch whose centre is drawn from a normal around the image centre (sd = side / 4 per
axis, clipped inside), its value the patch's mean ab; PSNR and mean CIEDE2000 of the result against the photo. The
same hint positions (seeded) for every model. The gray baseline and a model trained without hints sit beside it.

    python -m benchmarks.hints --heldout data/heldout --hints-model runs/heldout-hints/best.pt \\
        --plain-model runs/heldout-nohints/best.pt --val data/all --out docs/   # tables; docs/hints-*.png
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage.color import deltaE_ciede2000, rgb2lab

from benchmarks.common import table
from colorizer import Colorizer
from colorizer.inference.color import gray_preview, normalize_ab
from colorizer.training.evaluate import evaluation_images
from colorizer.training.metrics import psnr

COUNTS = (0, 1, 2, 5, 10, 20, 50)
PATCH = 6
SIZE = 512


def sample_hints(truth_lab: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(3, H, W) hint maps (a / 110, b / 110, mask) of `count` 6x6 truth patches placed as in Zhang et al."""
    height, width = truth_lab.shape[:2]
    maps = np.zeros((3, height, width), np.float32)
    for _ in range(count):
        top = int(np.clip(rng.normal(height / 2, height / 4) - PATCH / 2, 0, height - PATCH))
        left = int(np.clip(rng.normal(width / 2, width / 4) - PATCH / 2, 0, width - PATCH))
        patch = truth_lab[top : top + PATCH, left : left + PATCH, 1:].reshape(-1, 2).mean(axis=0)
        maps[:2, top : top + PATCH, left : left + PATCH] = normalize_ab(patch)[:, None, None]
        maps[2, top : top + PATCH, left : left + PATCH] = 1.0
    return maps


def colorize_with_maps(colorizer: Colorizer, rgb: np.ndarray, maps: np.ndarray | None) -> np.ndarray:
    network_input = colorizer.network_input(rgb, SIZE)
    if colorizer.takes_hints and maps is not None:
        network_input[0, 1:] = maps
    return colorizer.recombine(rgb, colorizer.predict_ab(network_input)[0])


def scores(truth: np.ndarray, truth_lab: np.ndarray, result: np.ndarray) -> tuple[float, float]:
    return psnr(truth, result), float(deltaE_ciede2000(truth_lab, rgb2lab(result)).mean())


def sweep(photos, hints_model: Colorizer, plain_model: Colorizer | None, seed: int = 0) -> dict:
    results = {n: [] for n in COUNTS}
    gray, plain = [], []
    for index, (_, truth) in enumerate(photos):
        truth_lab = rgb2lab(truth)
        gray.append(scores(truth, truth_lab, gray_preview(truth)))
        if plain_model is not None:
            plain.append(scores(truth, truth_lab, colorize_with_maps(plain_model, truth, None)))
        for n in COUNTS:
            maps = sample_hints(truth_lab, n, np.random.default_rng([seed, index, n]))
            results[n].append(scores(truth, truth_lab, colorize_with_maps(hints_model, truth, maps)))
    mean = lambda rows: (float(np.mean([r[0] for r in rows])), float(np.mean([r[1] for r in rows])))  # noqa: E731
    return {
        "hints": {n: mean(rows) for n, rows in results.items()},
        "gray": mean(gray),
        "plain": mean(plain) if plain else None,
    }


def sweep_plot(result: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = list(result["hints"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for axis, k, label in (
        (axes[0], 0, "PSNR dB (higher is better)"),
        (axes[1], 1, "mean CIEDE2000 (lower is better)"),
    ):
        axis.plot(range(len(counts)), [result["hints"][n][k] for n in counts], "o-", label="model with hints")
        axis.axhline(result["gray"][k], color="gray", linestyle="--", label="gray baseline")
        if result["plain"] is not None:
            axis.axhline(result["plain"][k], color="tab:orange", linestyle=":", label="model trained without hints")
        axis.set_xticks(range(len(counts)), [str(n) for n in counts])
        axis.set_xlabel("hints sampled from the truth (6x6 patches)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def example_figure(photos, colorizer: Colorizer, path: Path, count: int = 5) -> None:
    """gray | automatic | with a few hints (dots drawn) | original."""
    from colorizer.figures import comparison_grid

    rows = []
    for index, (_, truth) in enumerate(photos):
        truth_lab = rgb2lab(truth)
        maps = sample_hints(truth_lab, count, np.random.default_rng([7, index]))
        hinted = Image.fromarray(colorize_with_maps(colorizer, truth, maps))
        draw = ImageDraw.Draw(hinted)
        ys, xs = np.nonzero(maps[2])
        for y0, x0 in {(y - y % PATCH, x - x % PATCH) for y, x in zip(ys, xs, strict=True)}:
            colour = tuple(int(v) for v in truth[min(y0 + 3, truth.shape[0] - 1), min(x0 + 3, truth.shape[1] - 1)])
            draw.ellipse((x0 - 3, y0 - 3, x0 + PATCH + 3, y0 + PATCH + 3), fill=colour, outline="white", width=2)
        rows.append([gray_preview(truth), colorize_with_maps(colorizer, truth, None), np.asarray(hinted), truth])
    labels = ("gray", "automatic", f"with {count} hints (dots)", "original")
    comparison_grid(rows, labels, height=240).save(path)


def timing(colorizer: Colorizer, work: Path) -> list[list[str]]:
    """CLI (process start included) and HTTP (the page's request) for one 1-MP photo, with and without 10 hints."""
    from fastapi.testclient import TestClient

    from colorizer.inference.serve import create_app

    photo = work / "photo.jpg"
    source = sorted((Path(__file__).resolve().parents[2] / "shared" / "photos").glob("mate-*.jpg"))[0]
    Image.open(source).convert("L").resize((1155, 866)).save(photo, quality=92)
    hints = [{"x": 100 + 90 * i, "y": 100 + 60 * i, "color": "#b0302a"} for i in range(10)]
    (work / "hints.json").write_text(json.dumps(hints))

    def cli(with_hints: bool) -> float:
        extra = ["--hints", str(work / "hints.json")] if with_hints else []
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "colorizer",
                "colorize",
                str(photo),
                "--out",
                str(work / "out"),
                "--overwrite",
                *extra,
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    client = TestClient(create_app(colorizer))
    upload = photo.read_bytes()

    def http(with_hints: bool) -> float:
        data = {"hints": json.dumps(hints)} if with_hints else None
        started = time.perf_counter()
        response = client.post("/api/colorize?format=png", files={"file": ("p.jpg", upload)}, data=data)
        assert response.status_code == 200 and Image.open(io.BytesIO(response.content)).size == (1155, 866)
        return time.perf_counter() - started

    rows = []
    for name, function in (
        ("CLI, 1-MP JPEG, process start included", cli),
        ("web page request, 1-MP JPEG -> PNG", http),
    ):
        function(False)
        without = statistics.median(function(False) for _ in range(5))
        with_hints = statistics.median(function(True) for _ in range(5))
        rows.append([name, f"{without:.2f} s", f"{with_hints:.2f} s"])
    return rows


def sweep_table(result: dict, plain_label: str) -> str:
    rows = [["gray baseline (ab = 0)", "", f"{result['gray'][0]:.2f}", f"{result['gray'][1]:.2f}"]]
    if result["plain"]:
        rows.append([plain_label, "", f"{result['plain'][0]:.2f}", f"{result['plain'][1]:.2f}"])
    rows += [["with hints", n, f"{p:.2f}", f"{d:.2f}"] for n, (p, d) in result["hints"].items()]
    return table(["model", "hints", "PSNR dB", "ΔE2000"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, help="a folder of photos from sources the hints model never saw")
    parser.add_argument("--hints-model", type=Path, help="trained with --hints, without the held-out sources")
    parser.add_argument("--plain-model", type=Path, help="the same recipe trained without hints")
    parser.add_argument("--val", type=Path, help="a prepared folder: sweep, figure and timing of the bundled model")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    if args.heldout:
        photos, _ = evaluation_images(args.heldout, SIZE)  # colour photos at 512 px (grayscale ones left out)
        plain = Colorizer.load(args.plain_model) if args.plain_model else None
        result = sweep(photos, Colorizer.load(args.hints_model), plain)
        sweep_plot(
            result, args.out / "hints-sweep.png", f"{len(photos)} photos of held-out sources (mate, plasma, opencv)"
        )
        print(sweep_table(result, "trained without hints"))
    if args.val:
        import tempfile

        bundled = Colorizer.load()
        images, _ = evaluation_images(args.val, SIZE)
        result = sweep(images, bundled, None)
        sweep_plot(result, args.out / "hints-sweep-val.png", f"bundled model, {len(images)} validation photos")
        print(sweep_table(result, ""))
        example_figure(images[:4], bundled, args.out / "hints-examples.png")
        with tempfile.TemporaryDirectory() as tmp:
            print(table(["request", "no hints", "10 hints"], timing(bundled, Path(tmp))))


if __name__ == "__main__":
    main()
