"""Shared test helpers: synthetic colour photos (smooth random colour fields) and small prepared folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def colour_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth, saturated random colour field: enough structure to crop, resize and learn from."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.BICUBIC)


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def colorizer():
    """The bundled model, loaded once per test module (a module may change what it holds: not shared wider)."""
    from colorizer.inference.photos import Colorizer

    return Colorizer.load()


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Twelve colour photos of assorted sizes and formats, in two sub-folders."""
    src = tmp_path / "photos"
    (src / "trip").mkdir(parents=True)
    for i in range(12):
        image = colour_photo(120 + 17 * i, 90 + 11 * (i % 5), seed=i)
        folder = src / "trip" if i % 2 else src
        if i % 3 == 0:
            image.save(folder / f"img{i:02d}.JPG", quality=92)
        elif i % 3 == 1:
            image.save(folder / f"img{i:02d}.png")
        else:
            image.save(folder / f"img{i:02d}.webp", quality=90)
    return src


@pytest.fixture
def prepared(photo_folder: Path, tmp_path: Path) -> Path:
    """`photo_folder` prepared at 128 px with a 25 % validation split."""
    from colorizer.prepare import PrepareSettings, run_prepare

    out = tmp_path / "prepared"
    summary = run_prepare(photo_folder, out, PrepareSettings(size=128), val_fraction=0.25, workers=1, progress=False)
    assert not summary["failed"]
    return out
