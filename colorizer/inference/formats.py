"""Output formats of `colorizer colorize`: names, file suffixes and how each is saved. Plain Python, so the command
line can list them without importing anything heavy.

PNG is lossless but slow to write for large photos (a 12-MP PNG takes 2-4 s to compress on a laptop CPU, a JPEG
about 0.05 s), so a JPEG input gives a JPEG output unless --format says otherwise.
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
