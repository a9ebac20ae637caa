"""The fixed cases of tests/test_golden.py, coloured by the colorizer importable here, into one .npz:

    python tests/golden/make.py OUT.npz      # in a checkout of the commit the outputs are to be kept from

Generated photos (a smooth colour field, its gray version, a photo with alpha), hints (a point with reach 0, a
stroke, a far-reaching point), a reference photo, and a six-frame clip with a key frame: what every driver shares.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def field(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC))


HINTS = [
    {"x": 30, "y": 20, "color": "#d02020", "reach": 0},
    {"points": [[60, 50], [90, 55], [120, 70]], "color": "#2040c0", "radius": 4},
    {"x": 150, "y": 100, "color": "#30a040", "reach": 0.8},
]


def cases() -> dict[str, np.ndarray]:
    from colorizer import Colorizer

    colorizer = Colorizer.load()
    photo, other = field(200, 140, 1), field(180, 150, 2)
    out = {
        "automatic": colorizer.colorize_array(photo),
        "gray_input": colorizer.colorize_array(np.asarray(Image.fromarray(photo).convert("L"))),
        "saturation": colorizer.colorize_array(photo, saturation=1.4),
        "hints": colorizer.colorize_array(photo, hints=HINTS),
        "hints_reach": colorizer.colorize_array(photo, hints=HINTS[1:], reach=0.2),
        "reference": colorizer.colorize_array(photo, reference=other),
        "working_size": colorizer.colorize_array(photo, size=128),
    }
    with tempfile.TemporaryDirectory() as folder:
        from colorizer.inference.batch import colorize_paths

        src = Path(folder) / "src"
        src.mkdir()
        Image.fromarray(photo).save(src / "a.png")
        Image.fromarray(np.dstack([other, np.full(other.shape[:2], 180, np.uint8)]), "RGBA").save(src / "b.png")
        colorize_paths(colorizer, [str(src)], Path(folder) / "out", progress=False)
        out["batch_a"] = np.asarray(Image.open(Path(folder) / "out" / "a.png"))
        out["batch_b_rgba"] = np.asarray(Image.open(Path(folder) / "out" / "b.png"))
        try:
            import av  # noqa: F401
        except ImportError:
            return out
        clip, key = Path(folder) / "clip.mp4", Path(folder) / "key.png"
        frames = [np.roll(field(160, 96, 3), 4 * i, axis=1) for i in range(6)]
        with av.open(str(clip), "w") as container:
            stream = container.add_stream("mjpeg", rate=10)
            stream.width, stream.height, stream.pix_fmt = 160, 96, "yuvj444p"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())
        Image.fromarray(frames[0]).save(key)
        colorizer.colorize_video(clip, Path(folder) / "clip_colour.mp4", key_frames={0: str(key)})
        with av.open(str(Path(folder) / "clip_colour.mp4")) as container:
            out["video_key_frame"] = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    return out


if __name__ == "__main__":
    np.savez_compressed(sys.argv[1], **cases())
