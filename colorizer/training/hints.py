"""Simulated colour hints for training (Zhang, Zhu et al. 2017), on the training device.

For each image: keep adding a point while a coin comes up "go on" with probability 1 - 1/8 (so no hint at all in
1 sample of 8, about 7 on average); each point is a square patch of side 1-9 px whose centre is drawn from a normal
around the image centre (sd = (side - patch + 1) / 4, clipped), and its hint is the mean true ab over that patch,
written over the whole patch with mask 1. The network learns to spread such a colour along an object and to stop at
its edges. Randomness comes from a generator seeded by the caller (epoch, step, rank), so runs resume exactly.
"""

from __future__ import annotations

import torch

STOP_PROBABILITY = 1 / 8  # chance of stopping before each point: P(no hint) = 1/8, mean 7 points
MAX_PATCH = 9  # patch sides are uniform in 1..MAX_PATCH pixels


def simulate_hints(ab_norm: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(B, 2, H, W) true ab / 110 -> (B, 3, H, W) hint channels: hint a, hint b (both / 110) and the mask."""
    batch, _, height, width = ab_norm.shape
    hints = torch.zeros(batch, 3, height, width, device=ab_norm.device, dtype=ab_norm.dtype)
    uniform = lambda: torch.rand((), generator=generator).item()  # noqa: E731
    for b in range(batch):
        while uniform() >= STOP_PROBABILITY:
            patch = int(torch.randint(1, MAX_PATCH + 1, (), generator=generator))
            patch = min(patch, height, width)
            centre = torch.randn(2, generator=generator)
            top = _clip(height / 2 + centre[0].item() * (height - patch + 1) / 4 - patch / 2, height - patch)
            left = _clip(width / 2 + centre[1].item() * (width - patch + 1) / 4 - patch / 2, width - patch)
            region = (slice(top, top + patch), slice(left, left + patch))
            hints[b, :2, region[0], region[1]] = ab_norm[b, :, region[0], region[1]].mean(dim=(1, 2))[:, None, None]
            hints[b, 2, region[0], region[1]] = 1.0
    return hints


def _clip(value: float, high: int) -> int:
    return int(min(max(round(value), 0), high))


def hint_generator(seed: int, epoch: int, step: int, rank: int = 0) -> torch.Generator:
    """A CPU generator for one batch's hints: the same batch of a resumed run gets the same hints."""
    return torch.Generator().manual_seed(hash((seed, epoch, step, rank)) & 0x7FFFFFFFFFFFFFFF)
