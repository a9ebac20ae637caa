"""Output formats of `colorizer colorize`: names, file suffixes and how each is saved. Plain Python, so the command
line can list them without importing anything heavy.

PNG is lossless but slower to write for large photos than JPEG (BENCHMARKS.md has the times of a 12-MP photo), so
a JPEG input gives a JPEG output unless --format says otherwise. JPEG and WebP cannot hold every size: an output
beyond a format's limit is refused by name before any work is done (`size_problem`).
"""

from __future__ import annotations

FORMATS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}
FORMAT_OF_SUFFIX = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
}
SAVE_OPTIONS = {
    "jpeg": {"quality": 95},
    "webp": {"quality": 95},
    "png": {"compress_level": 3},  # zlib level 3: close to the default's size, about twice as fast
    "tiff": {"compression": "tiff_deflate"},
    "bmp": {},
}
KEEPS_ALPHA = {"png", "webp", "tiff"}
MAX_SIDE = {"jpeg": 65_535, "webp": 16_383}  # pixels a side these formats can hold (the others: beyond any input)


def size_problem(fmt: str, width: int, height: int) -> str | None:
    """Why `fmt` cannot hold a width x height image, or None when it can."""
    limit = MAX_SIDE.get(fmt)
    if limit is None or max(width, height) <= limit:
        return None
    others = ", ".join(f for f in FORMATS if f not in MAX_SIDE)
    return f"{fmt.upper()} holds at most {limit} pixels a side, this image is {width}x{height}: choose {others}"
