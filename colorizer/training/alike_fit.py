"""Learn what "alike" means when a hint spreads: a linear map of what the model sees at a pixel into a space where
pixels that likely share their true colour lie close (`colorizer fit-alike`).

A hint's colour is carried to the pixels whose description is near its own (`inference/alike.py`). Hand weighted,
that description (lightness, texture, the network's colour, the encoder's main components) says how pixels *look*
alike; what a hint needs is which pixels are likely the *same colour*. So it is learned from training photos: each
photo is cut into the encoder's 8x8 cells; a cell's input is the encoder's features there and its mean lightness,
lightness around, texture and network colour; the truth is its mean a*b*. For random pairs of cells of one photo the
map is fitted so that exp(-|e(x) - e(y)|^2 / 2) predicts exp(-|ab(x) - ab(y)|^2 / 2 tau^2) (binary cross-entropy),
tau = TAU a*b* units. Then it is scaled by the rule the hand-weighted description's bandwidth was chosen by: the
widest "alike" at which one click of a contrasting colour at the centre of a validation photo changes a median of at
most CLICK_SHARE of it (the locality of `benchmarks/hints.py`), so one click stays local.
The result is a small JSON file beside the model (`MODEL.alike.json`, with the model's SHA-256).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from colorizer.inference import DEFAULT_REACH
from colorizer.inference.alike import PIXEL_INPUTS, LearnedAlike, alike_guide, file_sha256
from colorizer.inference.color import denormalize_ab, denormalize_l, normalize_ab
from colorizer.inference.reference import pixel_features
from colorizer.inference.spread import spread_corrections

SIZE = 512  # the working size photos are described at (that of the hints benchmark)
CELL = 8  # the encoder's stride: one row of training data per cell
TAU = 8.0  # a*b* units: how near two true colours are to count as "the same"
DIMENSIONS = 16
STEPS = 1500
PHOTOS_PER_STEP = 16
PAIRS_PER_PHOTO = 1024
CLICK_SHARE = 0.15  # one contrasting click may change at most this median share of a validation photo


def _cell_means(values: np.ndarray, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, C) -> (gh, gw, C) means over CELL x CELL cells (the photo padded to the grid) and each cell's count."""
    height, width, channels = values.shape
    padded = np.zeros((grid[0] * CELL, grid[1] * CELL, channels), np.float32)
    counts = np.zeros((grid[0] * CELL, grid[1] * CELL), np.float32)
    padded[:height, :width], counts[:height, :width] = values, 1
    sums = padded.reshape(grid[0], CELL, grid[1], CELL, channels).sum(axis=(1, 3))
    count = counts.reshape(grid[0], CELL, grid[1], CELL).sum(axis=(1, 3))
    return sums / np.maximum(count, 1)[..., None], count


def _seen(colorizer, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the model sees of a photo at SIZE: lightness (h, w), its ab (2, h, w) and encoder features."""
    network_input = colorizer.network_input(truth, SIZE)
    ab, features = colorizer.predict_with_features(network_input)
    if features is None:
        raise ValueError("this model gives no encoder features (export it again with a current `colorizer export`)")
    return denormalize_l(network_input[0, 0]), ab[0], features[0]


def cells(colorizer, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A colour photo (H, W, 3) uint8 -> the inputs (N, F + 5) and true mean a*b* (N, 2) of its cells (those at
    least half inside the photo)."""
    from skimage.color import rgb2lab

    lightness, ab, features = _seen(colorizer, truth)
    grid = features.shape[1:]
    looks, count = _cell_means(pixel_features(lightness, ab)[..., PIXEL_INPUTS], grid)
    true_ab, _ = _cell_means(rgb2lab(truth)[..., 1:].astype(np.float32), grid)
    inside = count >= CELL * CELL / 2
    inputs = np.concatenate([features.transpose(1, 2, 0), looks], -1)[inside]
    return inputs.astype(np.float32), true_ab[inside].astype(np.float32)


def fit_map(
    inputs: list[np.ndarray],
    truths: list[np.ndarray],
    dimensions: int = DIMENSIONS,
    steps: int = STEPS,
    seed: int = 0,
    tau: float = TAU,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-photo cell inputs and true a*b* -> the map's weights (D, F + 5) and bias (D,), on raw inputs."""
    everything = np.concatenate(inputs)
    mean, spread = everything.mean(axis=0), everything.std(axis=0) + 1e-3
    standard = torch.from_numpy((everything - mean) / spread)
    truth = torch.from_numpy(np.concatenate(truths))
    starts = torch.tensor(np.cumsum([0] + [len(x) for x in inputs]))
    generator = torch.Generator().manual_seed(seed)
    layer, optimizer = new_map(everything.shape[1], dimensions, seed)
    for _ in range(steps):
        # pairs of cells of one photo each: PAIRS_PER_PHOTO pairs in each of PHOTOS_PER_STEP photos
        photo = torch.randint(len(inputs), (PHOTOS_PER_STEP,), generator=generator).repeat_interleave(PAIRS_PER_PHOTO)
        sizes = (starts[photo + 1] - starts[photo]).double()
        first, second = (starts[photo] + (torch.rand(2, len(photo), generator=generator) * sizes).long()).unbind()
        same = torch.exp(-((truth[first] - truth[second]) ** 2).sum(1) / (2 * tau**2))
        distance = ((layer(standard[first]) - layer(standard[second])) ** 2).sum(1)
        predicted = torch.exp(-distance / 2).clamp(1e-6, 1 - 1e-6)
        loss = torch.nn.functional.binary_cross_entropy(predicted, same)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return folded(layer, mean, spread)


def new_map(inputs: int, dimensions: int, seed: int) -> tuple[torch.nn.Linear, torch.optim.Optimizer]:
    """The linear map to fit, seeded, and its optimiser (the same for every way of fitting it)."""
    torch.manual_seed(seed)
    layer = torch.nn.Linear(inputs, dimensions)
    return layer, torch.optim.Adam(layer.parameters(), lr=3e-3, weight_decay=1e-5)


def folded(layer: torch.nn.Linear, mean: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A map fitted on standardised inputs ((x - mean) / spread) as weights and bias on raw ones: e = W' x + b'."""
    weights = layer.weight.detach().numpy() / spread
    bias = layer.bias.detach().numpy() - weights @ mean
    return weights.astype(np.float32), bias.astype(np.float32)


def learned_from_map(weights: np.ndarray, bias: np.ndarray, about: str = "") -> LearnedAlike:
    """Weights on (encoder features, then PIXEL_INPUTS) and bias -> an unscaled LearnedAlike."""
    columns = weights.shape[1] - len(PIXEL_INPUTS)
    return LearnedAlike(weights[:, :columns], weights[:, columns:], bias, 1.0, about)


def contrasting_click(ab: np.ndarray, kind: str = "point") -> tuple[np.ndarray, np.ndarray]:
    """Hint maps and labels at the working size for one click (a 5x5 point at the centre) or one stroke (a line a
    fifth of the width long through the centre, 5 px wide) in a colour contrasting with the model's there: its hue
    turned half way round, chroma at least 50 (blue where the model gives no colour)."""
    _, height, width = ab.shape
    cy, cx = height // 2, width // 2
    if kind == "point":
        covered = (slice(cy - 2, cy + 3), slice(cx - 2, cx + 3))
    else:
        covered = (slice(cy - 2, cy + 3), slice(cx - width // 10, cx + width // 10))
    here = ab[:, covered[0], covered[1]].reshape(2, -1).mean(axis=1)
    chroma = float(np.hypot(*here))
    direction = -here / chroma if chroma > 3 else np.array([0.0, -1.0])
    maps = np.zeros((3, height, width), np.float32)
    labels = np.zeros((height, width), np.int32)
    maps[:2, covered[0], covered[1]] = normalize_ab(direction * max(50.0, chroma))[:, None, None]
    maps[2, covered[0], covered[1]] = 1.0
    labels[covered] = 1
    return maps, labels


def click_share(seen: tuple, learned: LearnedAlike | None, reach: float = DEFAULT_REACH) -> float:
    """The share of a photo (`_seen`) whose a*b* one contrasting click at its centre moves by more than 5 units."""
    lightness, ab, features = seen
    maps, labels = contrasting_click(ab)
    wanted = (denormalize_ab(maps[:2]) - ab) * maps[2]
    guide = alike_guide(lightness, ab, wanted, labels, reach, features, learned)
    moved = spread_corrections(lightness, maps[2], wanted, alike=guide)
    return float((np.hypot(*moved) > 5).mean())


def calibrate(colorizer, photos: list[np.ndarray], learned: LearnedAlike, steps: int = 8) -> LearnedAlike:
    """`learned` with the widest scale (bisection in log space) whose median one-click share over `photos` at the
    default reach stays within CLICK_SHARE: the rule the hand-weighted description's bandwidth was chosen by."""
    seen = [_seen(colorizer, photo) for photo in photos]
    low, high = np.log(0.05), np.log(20.0)  # the description is divided by the scale: larger, a wider "alike"
    for _ in range(steps):
        middle = (low + high) / 2
        trial = LearnedAlike(learned.feature_weights, learned.pixel_weights, learned.bias, float(np.exp(middle)))
        share = float(np.median([click_share(s, trial) for s in seen]))
        low, high = (low, middle) if share > CLICK_SHARE else (middle, high)
    return LearnedAlike(learned.feature_weights, learned.pixel_weights, learned.bias, float(np.exp(low)), learned.about)


def fit_alike(
    colorizer,
    train_photos: list[np.ndarray],
    val_photos: list[np.ndarray],
    about: str = "",
    dimensions: int = DIMENSIONS,
    steps: int = STEPS,
    seed: int = 0,
    progress=None,
) -> LearnedAlike:
    """Fit on `train_photos`, scale on `val_photos` (colour photos as (H, W, 3) uint8)."""
    inputs, truths = [], []
    for number, photo in enumerate(train_photos, 1):
        x, t = cells(colorizer, photo)
        if len(x) >= 2:
            inputs.append(x)
            truths.append(t)
        if progress and (number % 50 == 0 or number == len(train_photos)):
            progress(f"described {number}/{len(train_photos)} training photos")
    if not inputs:
        raise ValueError("no training photo to learn from")
    learned = learned_from_map(*fit_map(inputs, truths, dimensions, steps, seed), about)
    if progress:
        progress(f"fitted on {sum(len(x) for x in inputs)} cells of {len(inputs)} photos; scaling on validation")
    return calibrate(colorizer, val_photos, learned)


def write_sidecar(learned: LearnedAlike, model: Path, path: Path) -> None:
    from colorizer.atomic import atomic_write_text

    atomic_write_text(path, learned.to_json(file_sha256(model)))
