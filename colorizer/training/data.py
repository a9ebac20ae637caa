"""The training data: a `ColorizationDataset` over a prepared folder, backed by a cache of resized uint8 pixels.

Decoding a 2000-px JPEG costs ~20 ms, far more than a training step can wait for. So each split is decoded once per
training size into `OUT/cache/`: every photo's content (padding cut away) resized so its shorter side equals the
size, stored as raw uint8 in one memory-mapped file. The cache is keyed by the manifest's records, so it is rebuilt
when the prepared data changes and reused otherwise, across epochs and runs.

Crops are always taken inside the photo (never the padding): random crop + horizontal flip for training, the
centre crop for validation. With `scale_jitter` J > 0 (small data needs it) the cache holds each photo with its
shorter side at (1 + J) x size, and a training crop is a random rectangle of side s in [size, (1 + J) x size] and
aspect ratio in [3/4, 4/3], resized to size x size: the network sees objects at varied scales and proportions.
Randomness is derived from (seed, epoch, index), so a run resumed mid-way sees exactly the samples an uninterrupted
run would, whatever the number of loader workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from colorizer.atomic import atomic_path, atomic_write_text
from colorizer.images import open_image, resize_shorter_side
from colorizer.parallel import parallel_map
from colorizer.prepare import load_manifest
from colorizer.training.color import uint8_to_network

CACHE_VERSION = 1


class DataError(Exception):
    """The prepared folder is missing, empty or unusable."""


def split_records(root: Path, split: str) -> list[dict]:
    """The manifest records of one split ("train" or "val") of a prepared folder."""
    manifest = load_manifest(Path(root))
    if manifest is None:
        raise DataError(f"{root} is not a prepared folder (no manifest.json); run `colorizer prepare SRC {root}`")
    records = [r for r in manifest["files"] if r["split"] == split]
    if not records:
        raise DataError(f"{root} has no images in its {split!r} split")
    return records


def load_content(task: tuple[str, list[int], int]) -> np.ndarray:
    """Pool worker: one prepared image's content (padding cut away), shorter side resized to `size`: (H, W, 3) uint8."""
    path, box, size = task
    image = open_image(Path(path), longest_side=max(box[2] - box[0], box[3] - box[1]) * 2)
    with Image.open(path) as header:
        full = header.size[0]
    ratio = image.size[0] / full  # < 1 when the JPEG was decoded at reduced scale
    content = image.convert("RGB").crop(tuple(round(v * ratio) for v in box))
    return np.asarray(resize_shorter_side(content, size))


def cached_size(size: int, scale_jitter: float = 0.0) -> int:
    """The shorter side photos are cached at for training crops of `size` with `scale_jitter`."""
    return round(size * (1 + scale_jitter))


class ImageCache:
    """Resized uint8 photos in one flat memory-mapped file, with an index of their shapes and offsets."""

    def __init__(self, data_path: Path, index: dict):
        self.data_path = data_path
        self.shapes = [tuple(s) for s in index["shapes"]]
        self.offsets = index["offsets"]
        self._data = None  # opened lazily, once per process (DataLoader workers each map it)

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, i: int) -> np.ndarray:
        if self._data is None:
            self._data = np.memmap(self.data_path, dtype=np.uint8, mode="r")
        h, w, c = self.shapes[i]
        return self._data[self.offsets[i] : self.offsets[i] + h * w * c].reshape(h, w, c)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_data": None}


def cache_key(records: list[dict], size: int) -> str:
    identity = [(r["file"], r["sha256"], r["box"]) for r in records]
    return hashlib.sha256(json.dumps([CACHE_VERSION, size, identity]).encode()).hexdigest()[:16]


def open_cache(root: Path, split: str, size: int, workers: int | None = None, progress: bool = True) -> ImageCache:
    """The cache of `split` at `size`, built first if missing or stale (written atomically, old ones removed)."""
    root = Path(root)
    records = split_records(root, split)
    folder = root / "cache"
    stem = f"{split}-{size}-{cache_key(records, size)}"
    data_path, index_path = folder / f"{stem}.u8", folder / f"{stem}.json"
    if not index_path.exists():
        folder.mkdir(exist_ok=True)
        for stale in folder.glob(f"{split}-{size}-*"):
            stale.unlink(missing_ok=True)
        tasks = [(str(root / r["file"]), r["box"], size) for r in records]
        arrays = parallel_map(
            load_content, tasks, workers or os.cpu_count() or 1, f"caching {split} at {size}px", progress
        )
        offsets, shapes, offset = [], [], 0
        with atomic_path(data_path) as tmp, open(tmp, "wb") as f:
            for array in arrays:
                f.write(np.ascontiguousarray(array).tobytes())
                offsets.append(offset)
                shapes.append(list(array.shape))
                offset += array.size
        index = {"files": [r["file"] for r in records], "offsets": offsets, "shapes": shapes}
        atomic_write_text(index_path, json.dumps(index))  # written last: its presence marks a complete cache
    return ImageCache(data_path, json.loads(index_path.read_text()))


class ColorizationDataset(Dataset):
    """(L, ab) pairs from one split of a prepared folder, at `size` x `size` pixels.

    output="lab": (L (1, S, S) in [-1, 1], ab (2, S, S) scaled by 1/110), converted here on the CPU.
    output="rgb": (3, S, S) uint8, for training loops that convert whole batches on the GPU (`uint8_to_network`).
    cache=False decodes the prepared file on every access (slow; kept for comparison and one-off use).
    """

    def __init__(
        self,
        root: Path,
        split: str = "train",
        size: int = 224,
        train: bool | None = None,
        output: str = "lab",
        cache: bool = True,
        seed: int = 0,
        workers: int | None = None,
        progress: bool = True,
        scale_jitter: float = 0.0,
    ):
        if output not in ("lab", "rgb"):
            raise ValueError(f"output must be 'lab' or 'rgb', got {output!r}")
        if scale_jitter < 0:
            raise ValueError(f"scale_jitter must be >= 0, got {scale_jitter}")
        self.root, self.split, self.size, self.output, self.seed = Path(root), split, size, output, seed
        self.train = split == "train" if train is None else train
        self.scale_jitter = scale_jitter if self.train else 0.0
        self.stored_size = cached_size(size, self.scale_jitter)  # shorter side of the cached photos
        self.records = split_records(self.root, split)
        self.cache = open_cache(self.root, split, self.stored_size, workers, progress) if cache else None
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops and flips (call once per epoch, like DistributedSampler.set_epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def content(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 photo content with its shorter side equal to `size`."""
        if self.cache is not None:
            return self.cache[index]
        record = self.records[index]
        return load_content((str(self.root / record["file"]), record["box"], self.stored_size))

    def crop_of(self, index: int, height: int, width: int) -> tuple[int, int, bool]:
        """(top, left, flip) of an image's crop this epoch: random for training, the centre for validation.
        A pure function of (seed, epoch, index), shared with `DeviceCrops` so both give the same batches."""
        size = self.size
        if not self.train:
            return (height - size) // 2, (width - size) // 2, False
        rng = np.random.default_rng([self.seed, self.epoch, index])
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        return top, left, bool(rng.random() < 0.5)

    def jittered_crop(self, index: int, image: np.ndarray) -> np.ndarray:
        """A random rectangle (scale and aspect jitter) resized to size x size, and flipped half the time."""
        height, width = image.shape[:2]
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        side = self.size * (1 + self.scale_jitter * rng.random())
        aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        crop_w = int(np.clip(round(side * np.sqrt(aspect)), self.size // 2, width))
        crop_h = int(np.clip(round(side / np.sqrt(aspect)), self.size // 2, height))
        top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
        crop = Image.fromarray(np.ascontiguousarray(image[top : top + crop_h, left : left + crop_w]))
        crop = np.asarray(crop.resize((self.size, self.size), Image.BILINEAR))
        return crop[:, ::-1] if rng.random() < 0.5 else crop

    def __getitem__(self, index: int):
        image = self.content(index)
        if self.scale_jitter > 0:
            crop = self.jittered_crop(index, image)
        else:
            size = self.size
            top, left, flip = self.crop_of(index, *image.shape[:2])
            crop = image[top : top + size, left : left + size]
            if flip:
                crop = crop[:, ::-1]
        rgb = torch.from_numpy(crop.copy()).permute(2, 0, 1)  # (3, S, S) uint8
        if self.output == "rgb":
            return rgb
        l_norm, ab_norm = uint8_to_network(rgb[None])
        return l_norm[0], ab_norm[0]
