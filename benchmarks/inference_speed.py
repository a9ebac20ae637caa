"""Where the time of one 12-megapixel photo goes on the ONNX Runtime path: each stage timed on its own."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import PHOTOS, median_time, table
from colorizer.images import read_photo
from colorizer.inference.color import lightness
from colorizer.inference.formats import SAVE_OPTIONS
from colorizer.inference.photos import Colorizer


def run(work: Path) -> str:
    colorizer = Colorizer.load()
    path = work / "twelve-mp-stages.jpg"
    Image.open(PHOTOS / "mate-TwoWings.jpg").convert("RGB").resize((4000, 3000), Image.LANCZOS).convert("L").save(
        path, quality=92
    )
    photo = read_photo(path)
    network_input = colorizer.network_input(photo.pixels, 512)
    ab = colorizer.predict_ab(network_input)[0]
    coloured = colorizer.recombine(photo.pixels, ab)

    def encode(fmt: str):
        options = SAVE_OPTIONS[fmt]
        return lambda: Image.fromarray(coloured).save(io.BytesIO(), format=fmt.upper(), **options)

    hints = [{"x": 300 + 330 * i, "y": 250 + 240 * (i % 5), "color": "#b0302a"} for i in range(10)]
    checked = colorizer.hints_for(hints, 4000, 3000)

    stages = [
        ("decode the gray JPEG (Pillow, one channel)", lambda: read_photo(path)),
        ("full-resolution lightness (256-entry table)", lambda: lightness(photo.pixels)),
        ("network input: resize to 512x384 + lightness", lambda: colorizer.network_input(photo.pixels, 512)),
        ("network, ONNX Runtime (512x384)", lambda: colorizer.predict_ab(network_input)),
        ("ab upsampling + LAB -> sRGB at full resolution", lambda: colorizer.recombine(photo.pixels, ab)),
        (
            "10 hints spread along objects (at 512x384)",
            lambda: colorizer.steer(network_input[0], ab, checked, (4000, 3000)),
        ),
        ("JPEG encode, quality 95", encode("jpeg")),
        ("PNG encode (zlib level 3)", encode("png")),
        ("WebP encode, quality 95", encode("webp")),
    ]
    rows = [[name, f"{median_time(function, repeats=5) * 1000:.0f} ms"] for name, function in stages]
    return "\n".join(
        [
            "### Stages of one 12-MP photo (4000x3000 gray JPEG), median of 5",
            "",
            table(["stage", "time"], rows),
            "",
            f"(Output checked: {coloured.shape[1]}x{coloured.shape[0]}, mean chroma of the result "
            f"{float(np.abs(ab).mean()):.1f} ab units.)",
            "",
        ]
    )


if __name__ == "__main__":
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        print(run(Path(tmp)))
    print(f"({time.perf_counter() - started:.0f} s)")
