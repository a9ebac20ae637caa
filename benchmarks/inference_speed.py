"""`colorizer colorize` speed with the bundled model: a 12-megapixel photo end to end, and a folder of 1-MP photos."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from benchmarks.common import PHOTOS, median_time, table
from colorizer.batch import colorize_paths
from colorizer.colorize import Colorizer


def _photo(name: str, size: tuple[int, int]) -> Image.Image:
    return Image.open(PHOTOS / name).convert("RGB").resize(size, Image.LANCZOS)


def run(work: Path) -> str:
    colorizer = Colorizer.load()
    big = work / "twelve-mp"
    big.mkdir(exist_ok=True)
    _photo("mate-TwoWings.jpg", (4000, 3000)).convert("L").save(big / "photo.jpg", quality=92)

    def end_to_end():
        shutil.rmtree(work / "out-12mp", ignore_errors=True)
        colorize_paths(colorizer, [str(big / "photo.jpg")], work / "out-12mp", progress=False)

    total = median_time(end_to_end, repeats=3)
    rgb = np.array(Image.open(big / "photo.jpg").convert("RGB"))
    l_norm = colorizer.network_input(rgb, 512)
    network = median_time(lambda: colorizer.predict_ab(l_norm), repeats=5)

    folder = work / "one-mp"
    folder.mkdir(exist_ok=True)
    names = sorted(p.name for p in PHOTOS.iterdir() if p.suffix == ".jpg")[:16]
    for name in names:
        _photo(name, (1155, 866)).convert("L").save(folder / name, quality=92)

    def whole_folder():
        shutil.rmtree(work / "out-1mp", ignore_errors=True)
        colorize_paths(colorizer, [str(folder)], work / "out-1mp", progress=False)

    folder_rate = len(names) / median_time(whole_folder, repeats=3)
    precision_rows = _precision_rows(rgb)
    return "\n".join(
        [
            "## Colourising (bundled model, CPU, working size 512)",
            "",
            table(
                ["what", "figure"],
                [
                    ["12-MP photo (4000x3000 JPEG), decode -> saved JPEG", f"{total:.2f} s"],
                    ["  of which the network (512x384 input)", f"{network:.2f} s ({network / total:.0%})"],
                    ["folder of 16 one-megapixel photos (1155x866)", f"{folder_rate:.2f} images/s"],
                ],
            ),
            "",
            "Network precision on this CPU (one 512x384 input; colour difference of the results, CIEDE2000):",
            "",
            table(["precision", "network s", "ΔE vs fp32 mean / max"], precision_rows),
            "",
        ]
    )


def _precision_rows(rgb: np.ndarray) -> list[list]:
    rows, outputs = [], {}
    for precision in ("fp32", "bf16"):
        colorizer = Colorizer.load(precision=precision)
        l_norm = colorizer.network_input(rgb, 512)
        seconds = median_time(lambda c=colorizer, x=l_norm: c.predict_ab(x), repeats=3)
        small = np.array(Image.fromarray(rgb).resize((1024, 768)))
        outputs[precision] = rgb2lab(colorizer.colorize_rgb(small))
        difference = deltaE_ciede2000(outputs["fp32"], outputs[precision])
        rows.append([precision, f"{seconds:.2f}", f"{difference.mean():.2f} / {difference.max():.1f}"])
    return rows


if __name__ == "__main__":
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        print(run(Path(tmp)))
    print(f"({time.perf_counter() - started:.0f} s)")
