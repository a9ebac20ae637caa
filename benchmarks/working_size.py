"""The network's working size: colour on photo sources the model never saw, and speed, per size, in one run.

A model colourises at a working size (the longer side its lightness is resized to; the colour is then upsampled to
the photo's own size). This measures, for each size, the colour on the two sources the pool model holds out whole
(urban100, sun-hays80 of `../shared/datasets`: scored at 512 px, gray beside it) and the time of a folder of 1-MP
photos and of one 12-MP photo, in-process. Its table is what the model's recorded working size
(`colorizer export --working-size`) was chosen from.

    python -m benchmarks.working_size [--model M] [--sizes 320,384,448,512]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import PHOTOS, table
from colorizer.inference.batch import colorize_paths
from colorizer.inference.color import gray_preview
from colorizer.inference.photos import Colorizer
from colorizer.training.evaluate import evaluation_images
from colorizer.training.metrics import all_metrics

DATASETS = PHOTOS.parent / "datasets"
HELD_OUT = ("urban100", "sun-hays80")  # never trained on by the pool model (recipes/pool)
SCORED_AT = 512
REPEATS = 3


def held_out_photos() -> list[tuple[str, np.ndarray]]:
    """[(source, (H, W, 3) uint8 at SCORED_AT on the longer side)] of the held-out sources."""
    photos = []
    for source in HELD_OUT:
        images, _ = evaluation_images(DATASETS / source, SCORED_AT)
        photos += [(source, truth) for _, _, truth in images]
    return photos


def colour(colorizer: Colorizer, photos, size: int | None) -> dict:
    """Per source and over all: mean PSNR, ΔE2000, and colourfulness ÷ the truth's (size None: gray)."""
    rows = {}
    for source, truth in photos:
        prediction = gray_preview(truth) if size is None else colorizer.colorize_array(truth, size=size)
        m = all_metrics(truth, prediction)
        rows.setdefault(source, []).append((m["psnr"], m["delta_e"], m["colourfulness"], m["colourfulness_truth"]))
    rows["all"] = [row for source in HELD_OUT for row in rows[source]]
    result = {}
    for source, values in rows.items():
        v = np.array(values)
        result[source] = (v[:, 0].mean(), v[:, 1].mean(), v[:, 2].mean() / v[:, 3].mean())
    return result


def make_inputs(work: Path) -> tuple[Path, Path]:
    folder, photo = work / "one-mp", work / "photo.jpg"
    folder.mkdir(parents=True)
    for name in sorted(p.name for p in PHOTOS.iterdir() if p.suffix == ".jpg")[:16]:
        image = Image.open(PHOTOS / name).convert("RGB").resize((1155, 866), Image.LANCZOS)
        image.convert("L").save(folder / name, quality=92)
    Image.open(PHOTOS / "mate-TwoWings.jpg").convert("L").resize((4000, 3000), Image.LANCZOS).save(photo, quality=92)
    return folder, photo


def speed(colorizer: Colorizer, folder: Path, photo: Path, work: Path, size: int) -> tuple[float, float]:
    """(folder img/s, seconds for the 12-MP photo), medians of REPEATS after a warm-up, decode to saved JPEG."""

    def once(inputs: list[str]) -> float:
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        started = time.perf_counter()
        summary = colorize_paths(colorizer, inputs, out, size=size, progress=False)
        assert not summary.failed, summary.failed
        return time.perf_counter() - started

    once([str(photo)])
    count = len(list(folder.iterdir()))
    rate = float(np.median([count / once([str(folder)]) for _ in range(REPEATS)]))
    single = float(np.median([once([str(photo)]) for _ in range(REPEATS)]))
    return rate, single


def run(model: str | None = None, sizes: tuple[int, ...] = (320, 384, 448, 512)) -> str:
    colorizer = Colorizer.load(model, chroma_boost=0)  # the network's own colour: the size is the network's choice
    photos = held_out_photos()
    gray = colour(colorizer, photos, None)
    rows = [["gray (ab = 0)", *(f"{gray[s][0]:.2f} / {gray[s][1]:.2f}" for s in (*HELD_OUT, "all")), "", "", ""]]
    with tempfile.TemporaryDirectory() as tmp:
        folder, photo = make_inputs(Path(tmp))
        for size in sizes:
            scores = colour(colorizer, photos, size)
            rate, single = speed(colorizer, folder, photo, Path(tmp), size)
            mark = " (recorded)" if size == colorizer.working_size else ""
            rows.append(
                [
                    f"{size}{mark}",
                    *(f"{scores[s][0]:.2f} / {scores[s][1]:.2f}" for s in (*HELD_OUT, "all")),
                    f"{scores['all'][2]:.2f}",
                    f"{rate:.2f}",
                    f"{single:.2f} s",
                ]
            )
            print(rows[-1], file=sys.stderr, flush=True)
    name = model or "bundled model"
    return "\n".join(
        [
            "## Working size: colour on held-out sources and speed (`benchmarks/working_size.py`)",
            "",
            f"{name} (chroma boost 0: the network's own colour); the network at each working size, colour scored "
            f"at {SCORED_AT} px on the sources the pool "
            f"model never trained on ({len(photos)} photos: PSNR dB / ΔE2000); speed in-process, decode to saved JPEG, "
            f"median of {REPEATS}: a folder of 16 one-megapixel JPEGs, one 12-MP JPEG.",
            "",
            table(
                [
                    "working size",
                    *(f"{s}: PSNR / ΔE" for s in HELD_OUT),
                    "both: PSNR / ΔE",
                    "colourfulness ÷ truth",
                    "folder img/s",
                    "12-MP photo",
                ],
                rows,
            ),
            "",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--sizes", default="320,384,448,512")
    args = parser.parse_args()
    print(run(args.model, tuple(int(s) for s in args.sizes.split(","))))
