"""The photo pipeline every driver shares: photos batched by working shape, the network, then steering and
recombining. The local engine (`batch.py`), the Ray worker (`cluster/worker.py`) and `Colorizer.colorize_array` keep
only their own input and output around it, so "the same pixels everywhere" holds by construction.

    for prediction in predictions(colorizer, photos, size, batch_size, with_features=reference is not None):
        coloured = finish(colorizer, prediction, saturation, reach, reference)   # (H, W, 3) uint8, full size

`photos` yields (key, pixels, hints): the key is the driver's own (a job, a manifest item), the pixels (H, W) or
(H, W, 3) uint8, the hints already checked against the photo (`Colorizer.hints_for`). Predictions come out in the
order the photos went in, a batch at a time; `finish` is thread-safe (drivers run it in their writing threads).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from colorizer.inference.photos import Colorizer, working_shape


@dataclass
class Prediction:
    """One photo after the network: what steering and recombining need."""

    key: object
    pixels: np.ndarray  # the photo's own pixels (its lightness is kept at full resolution)
    hints: list
    network_input: np.ndarray  # (C, h, w) at the working size
    ab: np.ndarray  # (2, h, w) the network's colour
    features: np.ndarray | None  # the encoder's features, where hints or a reference need them


def predict_batch(
    colorizer: Colorizer,
    items: list[tuple[object, np.ndarray, list]],
    size: int,
    with_features: bool = False,
    temperature: float | None = None,
) -> list[Prediction]:
    """One network run over photos of one working shape. The encoder's features come too where a reference or any
    hint needs them (what a reference is matched by, and how far hints reach to what looks alike)."""
    batch = np.concatenate([colorizer.network_input(pixels, size, hints) for _, pixels, hints in items])
    features = None
    if not with_features and not any(hints for _, _, hints in items):
        ab = colorizer.predict_ab(batch, temperature)  # (B, 2, h, w)
    else:
        ab, features = colorizer.predict_with_features(batch, temperature)
    return [
        Prediction(key, pixels, hints, batch[i], ab[i], None if features is None else features[i])
        for i, (key, pixels, hints) in enumerate(items)
    ]


def predictions(
    colorizer: Colorizer,
    photos: Iterable[tuple[object, np.ndarray, list]],
    size: int,
    batch_size: int,
    with_features: bool = False,
    temperature: float | None = None,
) -> Iterator[Prediction]:
    """The photos through the network, `batch_size` at a time among consecutive photos of one working shape."""
    pending: list[tuple[object, np.ndarray, list]] = []
    for item in photos:
        shape = working_shape(*item[1].shape[:2], size)
        if pending and (len(pending) == batch_size or working_shape(*pending[0][1].shape[:2], size) != shape):
            yield from predict_batch(colorizer, pending, size, with_features, temperature)
            pending = []
        pending.append(item)
    if pending:
        yield from predict_batch(colorizer, pending, size, with_features, temperature)


def finish(colorizer: Colorizer, prediction: Prediction, saturation, reach, reference=None) -> np.ndarray:
    """Steer the network's colour (hints, a reference, the saturation) and recombine it with the photo's own
    full-resolution lightness: (H, W, 3) uint8."""
    height, width = prediction.pixels.shape[:2]
    ab = colorizer.steer(
        prediction.network_input,
        prediction.ab,
        prediction.hints,
        (width, height),
        saturation,
        reference,
        prediction.features,
        reach,
    )
    return colorizer.recombine(prediction.pixels, ab)
