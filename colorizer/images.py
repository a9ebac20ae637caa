"""Reading photos safely: every file format and mode we accept, EXIF orientation, a pixel limit, fast downscaling.

The one place that turns a file on disk into 8-bit RGB (plus alpha, if any). `prepare`, the Dataset and
`colorize` all read images through here, so they agree on what a photo is.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from colorizer.atomic import atomic_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 200_000_000  # refuse to decode images beyond this (decompression bombs)
# Pillow's own guard (a warning at 89.5 MP, an error at twice that) would override the limit this project states and
# lets users set (`--max-pixels`, `--max-megapixels`): `open_image` checks that limit itself, from the header, before
# anything is decoded, so Pillow's is switched off.
Image.MAX_IMAGE_PIXELS = None
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class ImageReadError(Exception):
    """A file that is not a readable image; the message says why."""


@dataclass
class Photo:
    """A decoded photo: its pixels ((H, W) uint8 for a grayscale file, (H, W, 3) RGB otherwise), its alpha (H, W)
    uint8 or None, whether its file was grayscale, and its format."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    grayscale_mode: bool
    format: str | None
    frames: int = 1  # an animated GIF/WebP or multi-page TIFF has more; the first is the photo

    @property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB (a gray photo's channel repeated)."""
        return self.pixels if self.pixels.ndim == 3 else np.repeat(self.pixels[..., None], 3, axis=2)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as displayed."""
        return self.pixels.shape[1], self.pixels.shape[0]


def find_images(
    root: Path,
    exclude: Path | None = None,
    extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
    problems: list[tuple[Path, str]] | None = None,
) -> list[Path]:
    """All files under `root` with one of `extensions` (recursive, any letter case, links followed, each real folder
    once), sorted; nothing under `exclude` is listed. Files with those extensions that cannot be read (dangling links,
    link loops, devices) and folders reached twice are left out, and named in `problems` (path, reason) if given."""
    from colorizer.sources import walk_folder

    def note(path: Path, reason: str) -> None:
        if problems is not None and (path.name.lower().endswith(extensions) or os.path.isdir(path)):
            problems.append((path, reason))

    found = []
    for folder, names in walk_folder(root, exclude, note):
        found += [folder / name for name in names if name.lower().endswith(extensions)]
    return sorted(found)


def open_image(
    path: Path | BinaryIO, max_pixels: int = DEFAULT_MAX_PIXELS, longest_side: int | None = None
) -> Image.Image:
    """Open and fully decode `path`, upright (EXIF orientation applied).

    With `longest_side`, a JPEG is decoded at a reduced scale (1/2, 1/4, 1/8) that still leaves at least that many
    pixels on its longer side, so downscaling does not pay for pixels it throws away.
    """
    if isinstance(path, (str, Path)) and Path(path).stat().st_size == 0:
        raise ImageReadError("empty file (0 bytes)")
    try:
        image = Image.open(path)
    except Exception as err:  # PIL raises several types for files it cannot identify
        what = str(err) if isinstance(path, (str, Path)) else str(err).replace(repr(path), "(bytes given)")
        raise ImageReadError(f"not a readable image ({type(err).__name__}: {what})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageReadError(
            f"too large to decode safely: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the limit "
            f"of {max_pixels / 1e6:g}"
        )
    if longest_side is not None and image.format == "JPEG" and max(width, height) > longest_side:
        scale = longest_side / max(width, height)
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        frames = getattr(image, "n_frames", 1)
        image.load()
        upright = ImageOps.exif_transpose(image)
        upright.info["frames"] = frames
        return upright
    except Exception as err:
        raise ImageReadError(f"corrupt or truncated image ({type(err).__name__}: {err})") from None


def to_photo(image: Image.Image) -> Photo:
    """Any PIL mode -> 8-bit gray or RGB (+ alpha). Palette, LA/RGBA, CMYK and 16-bit images are all handled."""
    mode = image.mode
    alpha = None
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A"))
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image).astype(np.float64)
        if values.max(initial=0) > 255:  # 16-bit data
            values = values / 257.0
        pixels = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    elif image.mode in ("1", "L", "LA", "La"):
        pixels = np.array(image.convert("L"))  # one channel: a third of the memory and work of RGB
    else:
        pixels = np.array(image.convert("RGB"))  # writable: torch.from_numpy needs that
    return Photo(np.ascontiguousarray(pixels), alpha, mode in _GRAY_MODES, image.format)


def read_photo(
    path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, longest_side: int | None = None, data: bytes | None = None
) -> Photo:
    """`open_image` + `to_photo`, with the file's format kept. With `data`, those are the file's bytes (read from
    elsewhere, e.g. an object store) and `path` only names it."""
    if data is not None and not data:
        raise ImageReadError("empty file (0 bytes)")
    image = open_image(path if data is None else io.BytesIO(data), max_pixels, longest_side)
    photo = to_photo(image)
    photo.format = image.format or Image.registered_extensions().get(Path(path).suffix.lower())
    photo.frames = int(image.info.get("frames", 1))
    return photo


def looks_grayscale(rgb: np.ndarray) -> bool:
    """True when an RGB photo carries no real colour (a gray photo saved as RGB, allowing for JPEG noise)."""
    step = max(1, max(rgb.shape[:2]) // 256)
    small = rgb[::step, ::step].astype(np.int16)
    chroma = np.max(np.abs(small - small[..., [1, 2, 0]]), axis=2)
    return float(chroma.mean()) < 3.0 and float(np.percentile(chroma, 99)) < 12.0


def resize_longer_side(image: Image.Image, size: int) -> Image.Image:
    """Resize so the longer side is `size` pixels, keeping the aspect ratio (at least 1 pixel each way)."""
    width, height = image.size
    scale = size / max(width, height)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if new_size == image.size else image.resize(new_size, Image.LANCZOS, reducing_gap=3.0)


def resize_shorter_side(image: Image.Image, size: int) -> Image.Image:
    """Resize so the shorter side is `size` pixels, keeping the aspect ratio."""
    width, height = image.size
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    return image if new_size == image.size else image.resize(new_size, Image.LANCZOS, reducing_gap=3.0)


def atomic_save(image: Image.Image, path: Path, format: str, **params) -> None:
    """Write `image` to `path` through a temporary file in the same folder, so a crash never leaves half a file."""
    with atomic_path(path) as tmp:
        image.save(tmp, format=format, **params)
