"""How the learned "alike" description is fitted, compared at equal locality: does fitting it by the spreading itself
beat `colorizer fit-alike`'s pairwise fit?

`fit-alike` fits its map so that the distance between two cells of a photo predicts whether they share their true
colour (binary cross-entropy on random pairs). What the hints need is narrower: given a few hinted cells, the others
should get their true colour from the hints they look like. So the alternative here fits the same linear map by that
objective itself: on each photo a few random cells (3, 10 or 30) are the hints, carrying their true a*b*; every other
cell gets the Nadaraya-Watson average of the hints' colours, weighed by exp(-|e(x) - e(k)|^2 / 2), against a prior
of the network's own colour (weight PRIOR); Huber loss against the truth. A variant also holds each hint's mean
kernel mass at 15 % of the photo, so that the map learns in the locality regime it is used in. Every fit is then
scaled by fit-alike's own rule (one contrasting click changes a median of at most 15 % of a validation photo) and
swept with 10 truth hints on those validation photos (`experiments/hint_variants.py`'s measures), and on as many
other validation photos that did not scale it (a second look: the 40-photo figures vary by photo set).

Other pairwise targets: what "the same true colour" means. tau (how near two true a*b* must be, 8 units in
fit-alike) and chromaticity: a*b* x 50 / (L + 16) instead of a*b*, which a change of light leaves alone, so that dark
pixels, whose a*b* are all small, no longer all count as the same colour.

    python -m experiments.alike_fits runs/pool/data [--every 4] [--every-val 4]

Writes benchmarks/results/alike-fits.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import machine, quartiles, table, write_result
from colorizer import Colorizer
from colorizer.training.alike_fit import TAU, calibrate, cells, fit_map, folded, learned_from_map, new_map
from colorizer.training.evaluate import evaluation_images
from experiments.hint_variants import Photo, click_shares, gain

PRIOR = 0.3  # the network's colour weighs as much as a hint whose kernel is 0.3
HINT_COUNTS = (3, 10, 30)
QUERIES = 384  # cells of a photo scored per step
HUBER = 6.0  # a*b* units


def fit_by_spreading(inputs, truths, mass: float | None = None, dimensions: int = 16, steps: int = 1500, seed: int = 0):
    """Per-photo cell inputs and true a*b* -> the map's weights (D, F + 5) and bias (D,), fitted by the spreading."""
    everything = np.concatenate(inputs)
    mean, spread = everything.mean(axis=0), everything.std(axis=0) + 1e-3
    standard = [torch.from_numpy((x - mean) / spread) for x in inputs]
    true_ab = [torch.from_numpy(t) for t in truths]
    network_ab = [torch.from_numpy(x[:, -2:]) for x in inputs]  # the last two inputs: the network's a and b
    generator = torch.Generator().manual_seed(seed)
    layer, optimizer = new_map(everything.shape[1], dimensions, seed)
    usable = [i for i, x in enumerate(inputs) if len(x) > max(HINT_COUNTS) + 10]
    for _ in range(steps):
        loss = torch.zeros(())
        for _ in range(16):
            photo = usable[int(torch.randint(len(usable), (), generator=generator))]
            count = HINT_COUNTS[int(torch.randint(len(HINT_COUNTS), (), generator=generator))]
            order = torch.randperm(len(standard[photo]), generator=generator)
            hinted, scored = order[:count], order[count : count + QUERIES]
            embedded = layer(standard[photo][torch.cat([hinted, scored])])
            kernel = torch.exp(-(torch.cdist(embedded[count:], embedded[:count]) ** 2) / 2)
            colour = (PRIOR * network_ab[photo][scored] + kernel @ true_ab[photo][hinted]) / (
                PRIOR + kernel.sum(1, keepdim=True)
            )
            loss = loss + torch.nn.functional.huber_loss(colour, true_ab[photo][scored], delta=HUBER)
            if mass is not None:
                loss = loss + 1000 * torch.relu(kernel.mean() - mass) ** 2
        optimizer.zero_grad()
        (loss / 16).backward()
        optimizer.step()
    return folded(layer, mean, spread)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a prepared folder")
    parser.add_argument("--every", type=int, default=4, help="every Nth training photo is fitted on")
    parser.add_argument("--every-val", type=int, default=4, help="every Nth validation photo scales and scores")
    args = parser.parse_args()
    started = time.perf_counter()
    colorizer = Colorizer.load()
    train, _ = evaluation_images(args.data, 512, splits=("train",))
    val, _ = evaluation_images(args.data, 512, splits=("val",))
    described = [cells(colorizer, truth) for _, _, truth in train[:: args.every]]
    inputs, truths = [x for x, _ in described if len(x) >= 2], [t for x, t in described if len(x) >= 2]
    val_truths = [truth for _, _, truth in val[:: args.every_val]]
    photos = [Photo(colorizer, truth) for truth in val_truths]

    others = [Photo(colorizer, truth) for _, _, truth in val[args.every_val // 2 :: args.every_val]]
    # a*b* x 50 / (L + 16): the cell's mean L is the fifth column from the end of its inputs
    chromaticities = [t * (50.0 / (x[:, -5:-4] + 16.0)) for x, t in zip(inputs, truths, strict=True)]

    def by_spreading(mass: float | None = None):
        return learned_from_map(*fit_by_spreading(inputs, truths, mass))

    def pairwise(targets, tau: float = TAU):
        return lambda: learned_from_map(*fit_map(inputs, targets, tau=tau))

    fits = [
        ("the bundled description (fit-alike, pairwise)", lambda: colorizer.session.learned_alike),
        ("pairwise, refitted on these photos", pairwise(truths)),
        ("by the spreading", by_spreading),
        ("by the spreading, kernel mass held at 15 %", lambda: by_spreading(0.15)),
        ("pairwise, tau 5", pairwise(truths, 5.0)),
        ("pairwise, tau 12", pairwise(truths, 12.0)),
        ("pairwise, chromaticity", pairwise(chromaticities)),
        ("pairwise, chromaticity, tau 4", pairwise(chromaticities, 4.0)),
        ("pairwise, chromaticity, tau 5", pairwise(chromaticities, 5.0)),
        ("pairwise, chromaticity, tau 6.5", pairwise(chromaticities, 6.5)),
    ]
    rows = []
    for label, fit in fits:
        learned = fit()
        if learned is None:
            continue
        colorizer.session.learned_alike = calibrate(colorizer, val_truths, learned)
        rows.append([label, f"{colorizer.session.learned_alike.scale:.3f}"])
        for scored in (photos, others):
            shares = click_shares(colorizer, scored, False)
            rows[-1] += [quartiles(shares), f"{gain(colorizer, scored, 10, False):+.2f} dB"]
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            "# The learned alike description: pairwise fit against fitting by the spreading "
            "(experiments/alike_fits.py)",
            "",
            machine(),
            "",
            f"Fitted on {len(inputs)} training photos of {args.data} (every {args.every}th), scaled and scored on "
            f"{len(photos)} of its validation split, 512 px, and scored again on {len(others)} other validation "
            f"photos; {time.perf_counter() - started:.0f} s.",
            "",
            table(["fit", "scale", "one click", "10 truth hints", "other photos: one click", "10 hints"], rows),
            "",
        ]
    )
    print(text)
    write_result("alike-fits.md", text)


if __name__ == "__main__":
    main()
