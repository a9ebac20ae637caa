"""Training data already on the device: the whole uint8 cache of the training split in device memory, each step's
random crops and flips taken there by one gather, with no loader processes and no host-to-device copies.

    crops = DeviceCrops(train_set, device)          # once: the cache file -> one flat uint8 tensor on the device
    for rgb in DeviceBatches(crops, sampler, 256):  # (B, 3, S, S) uint8 on the device, like the DataLoader's
        ...

The crops and flips are those of `ColorizationDataset` for the same (seed, epoch, index) (`crop_of`), and the
batches follow the same sampler, so a run gives the same batches either way and resumes exactly. `fits` decides
whether the cache is small enough for a device (a share of its free memory); when it is not, training keeps the
DataLoader over the memory-mapped cache with pinned memory and prefetching.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from colorizer.training.data import ColorizationDataset

DEVICE_SHARE = 0.25  # the cache may take at most this share of a GPU's free memory


def cache_bytes(dataset: ColorizationDataset) -> int:
    return sum(h * w * c for h, w, c in dataset.cache.shapes)


def fits(dataset: ColorizationDataset, device: torch.device) -> bool:
    """Whether the training split's cache should live on `device` (CUDA only, and only within DEVICE_SHARE)."""
    if device.type != "cuda" or dataset.cache is None:
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return cache_bytes(dataset) <= DEVICE_SHARE * free


class DeviceCrops:
    """A dataset's cached photos as one (pixels, 3) uint8 tensor on `device`, cropped and flipped by gathering."""

    def __init__(self, dataset: ColorizationDataset, device: torch.device):
        if dataset.cache is None:
            raise ValueError("DeviceCrops needs the dataset's cache")
        self.dataset, self.device, self.size = dataset, device, dataset.size
        flat = np.memmap(dataset.cache.data_path, dtype=np.uint8, mode="r")
        self.pixels = torch.from_numpy(np.array(flat[: cache_bytes(dataset)])).view(-1, 3).to(device)  # (P, 3)
        shapes = np.array(dataset.cache.shapes, dtype=np.int64)  # (N, 3): height, width, channels
        self.heights, self.widths = shapes[:, 0], shapes[:, 1]
        self.first_pixel = torch.tensor(np.array(dataset.cache.offsets, dtype=np.int64) // 3, device=device)
        self.widths_on_device = torch.tensor(self.widths, device=device)
        steps = torch.arange(self.size, device=device)
        self.rows, self.columns = steps.view(1, -1, 1), steps.view(1, 1, -1)

    def batch(self, indices: list[int]) -> torch.Tensor:
        """The crops of these photos this epoch: (B, 3, S, S) uint8 on the device."""
        crops = [self.dataset.crop_of(i, int(self.heights[i]), int(self.widths[i])) for i in indices]
        top, left, flip = (torch.tensor(v, device=self.device) for v in zip(*crops, strict=True))
        index = torch.tensor(indices, device=self.device)
        width = self.widths_on_device[index].view(-1, 1, 1)
        columns = torch.where(flip.view(-1, 1, 1), self.size - 1 - self.columns, self.columns)  # (B, 1, S)
        pixel = self.first_pixel[index].view(-1, 1, 1) + (top.view(-1, 1, 1) + self.rows) * width
        pixel = pixel + left.view(-1, 1, 1) + columns  # (B, S, S): where each crop pixel lives
        return self.pixels[pixel].permute(0, 3, 1, 2).contiguous()  # (B, 3, S, S), laid out like a loader batch


class DeviceBatches:
    """Batches of `crops` in the order of `sampler` (the DataLoader's), `batch_size` at a time; len() in batches."""

    def __init__(self, crops: DeviceCrops, sampler, batch_size: int):
        self.crops, self.sampler, self.batch_size = crops, sampler, batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self):
        indices = []
        for index in self.sampler:
            indices.append(index)
            if len(indices) == self.batch_size:
                yield self.crops.batch(indices)
                indices = []
        if indices:
            yield self.crops.batch(indices)
