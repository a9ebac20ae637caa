"""Which training photos an epoch sees: every source weighed, so one large source does not take the epoch over.

    source_weights = "cats-dogs=0.25,caltech101=0.5,caltech101-faces=4,bsds500=2"   # TrainConfig / a TOML file
    epoch_images = 3000                                                               # images per epoch (0: all)

A source's share of an epoch is proportional to its photo count times its weight (1 where none is given; 0 leaves
it out). Within a source the photos are drawn without replacement, in an order that changes every epoch, and a
source asked for more photos than it has goes round them again. The draw is a pure function of (seed, epoch), so a
resumed run sees the same epoch, and it is split across processes as DistributedSampler splits its indices.
"""

from __future__ import annotations

import math

import numpy as np
from torch.utils.data import Sampler


class SamplingError(ValueError):
    """A source weight that cannot be read or names no source of the training split."""


def parse_source_weights(text: str) -> dict[str, float]:
    """ "a=0.5,b=2" -> {"a": 0.5, "b": 2.0}; an empty text -> {}."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not sep or not name.strip() or not math.isfinite(weight) or weight < 0:
            raise SamplingError(f"source weight {item!r}: write NAME=WEIGHT with a number >= 0 (e.g. faces=4)")
        weights[name.strip()] = weight
    return weights


def epoch_shares(sources: list[str], weights: dict[str, float], epoch_images: int) -> dict[str, int]:
    """How many photos of each source one epoch draws: proportional to count x weight, summing to epoch_images."""
    names, counts = np.unique(np.asarray(sources), return_counts=True)
    unknown = sorted(set(weights) - set(names.tolist()))
    if unknown:
        raise SamplingError(
            f"source weights name {', '.join(unknown)}, not a source of the training split "
            f"(its sources: {', '.join(names.tolist())})"
        )
    mass = np.array([count * weights.get(name, 1.0) for name, count in zip(names.tolist(), counts, strict=False)])
    if mass.sum() <= 0:
        raise SamplingError("the source weights leave every source out")
    exact = epoch_images * mass / mass.sum()
    shares = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - shares))[: epoch_images - shares.sum()]:  # largest remainders get the rest
        shares[i] += 1
    return dict(zip(names.tolist(), shares.tolist(), strict=False))


class SourceSampler(Sampler):
    """A DistributedSampler for weighed sources: `set_epoch`, then this rank's indices of that epoch."""

    def __init__(
        self,
        sources: list[str],
        weights: dict[str, float],
        epoch_images: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        seed: int = 0,
    ):
        self.sources = np.asarray(sources)
        self.epoch_images = epoch_images or len(sources)
        self.shares = epoch_shares(sources, weights, self.epoch_images)
        self.members = {name: np.flatnonzero(self.sources == name) for name in self.shares}
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0
        self.num_samples = math.ceil(self.epoch_images / num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_indices(self) -> np.ndarray:
        """Every rank's indices of this epoch, shuffled, padded to a multiple of the ranks (as DistributedSampler)."""
        picked = []
        for k, (name, share) in enumerate(sorted(self.shares.items())):
            members = self.members[name]
            # each source's own stream of passes over its photos: epoch e takes its next `share` of them
            start = self.epoch * share
            rounds = range(start // len(members), (start + share - 1) // len(members) + 1) if share else range(0)
            stream = np.concatenate(
                [np.random.default_rng([self.seed, k, r]).permutation(members) for r in rounds] or [members[:0]]
            )
            offset = start - rounds.start * len(members) if share else 0
            picked.append(stream[offset : offset + share])
        order = np.concatenate(picked)
        order = np.random.default_rng([self.seed, self.epoch, 7]).permutation(order)
        total = self.num_samples * self.num_replicas
        if len(order) < total:
            order = np.concatenate([order, order[: total - len(order)]])
        return order

    def __iter__(self):
        return iter(self.epoch_indices()[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples
