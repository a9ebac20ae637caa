"""Colour from a reference photo: "colour this like that one" (NumPy only).

Where the gray photo and a colour reference show the same content, the photo takes the reference's colour there:
each pixel of a coarse grid on the photo (every `STEP` pixels at the working size) looks for the reference pixels
most like it, and their mean a*b* becomes a colour hint at that grid point, as firm as the match is close. The hints
are then spread along the photo's objects like the user's own (`spread.py`: a correction of the model's colour that
stops at edges), so the model's colour stays wherever nothing matches. Welsh, Ashikhmin and Mueller (2002)
transferred colour by matching lightness statistics in the same way; He et al. (2018) match deep features.

What a pixel is described by (each feature scaled to unit spread over both photos, then weighed):
- its lightness, blurred lightly and over a wider neighbourhood (what it is and what surrounds it),
- the local contrast (texture: grass and sky of the same lightness differ here),
- its place in the frame (a reference of the same scene, a stereo pair or a later frame of a film keeps things near
  where they were; a weak weight, so a reference of another scene still matches by content),
- the network's own colour for the gray version of each (its reading of what the content is: sky, skin, foliage),
- the encoder's features at strides 8 and 16 (the ONNX model's second output, where it has one), reduced to their
  main components over both photos: what the network recognises, before it is turned into colour.
Each kind of feature was measured by leaving it out, on stereo pairs, near-duplicates and film frames
(`benchmarks/reference.py`, README): lightness and texture alone did worst, the encoder's features added most.

Everything here runs at the network's working size: L (h, w) in [0, 100], ab (2, h, w) in LAB units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from colorizer.images import looks_grayscale
from colorizer.inference.color import denormalize_l, rgb_to_lab

STEP = 4  # hints on a grid of every STEP-th pixel of the photo
SAMPLE_STEP = 6  # the reference's pixels matched against: every SAMPLE_STEP-th (4: the same scores, 1.4x the time)
NEIGHBOURS = 8  # reference pixels averaged per match
CHUNK = 2048  # query pixels per distance block (bounds memory: CHUNK x reference samples floats)


class ReferenceError(ValueError):
    """A reference that cannot give colour; the message names it and says why."""


@dataclass
class Reference:
    """A colour photo ready to take colours from, at its working size: L (h, w), its a*b* (2, h, w), the network's
    a*b* for its gray version (2, h, w) and the encoder's features for it (F, h/8, w/8; None for older models)."""

    lightness: np.ndarray
    ab: np.ndarray
    network_ab: np.ndarray
    name: str = "the reference"
    features: np.ndarray | None = None  # the encoder's (F, h/8, w/8), where the model gives them

    @classmethod
    def from_pixels(cls, pixels: np.ndarray, size: int, colorizer, name: str = "the reference") -> Reference:
        """(H, W, 3) uint8 RGB -> a Reference at `colorizer`'s working size for `size`."""
        if pixels.ndim != 3 or looks_grayscale(pixels):
            raise ReferenceError(f"{name}: is a grayscale photo; a reference must be in colour (it gives the colours)")
        network_input = colorizer.network_input(pixels, size)
        height, width = network_input.shape[2:]
        small = np.asarray(Image.fromarray(pixels).resize((width, height), Image.BILINEAR, reducing_gap=2.0))
        ab = np.ascontiguousarray(np.moveaxis(rgb_to_lab(small)[..., 1:], -1, 0), dtype=np.float32)
        lightness = denormalize_l(network_input[0, 0])
        network_ab, features = colorizer.predict_with_features(network_input)
        return cls(lightness, ab, network_ab[0], name, None if features is None else features[0])


@dataclass(frozen=True)
class Weights:
    """How much each feature counts in a match (after scaling each to unit spread)."""

    lightness: float = 1.0
    context: float = 1.0  # lightness over a wider neighbourhood
    texture: float = 1.0  # local contrast
    position: float = 1.0  # x and y in the frame
    network: float = 1.0  # the network's a*b* for the gray version
    encoder: float = 1.0  # the encoder's features (strides 8 and 16), their ENCODER_DIMENSIONS main components


DEFAULT_WEIGHTS = Weights()
ENCODER_DIMENSIONS = 6  # principal components of both photos' encoder features kept for matching
CONFIDENCE_SCALE = 1.0  # a match this many times the median distance away counts for exp(-1/2) of a close one


def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1) x (2r+1) window, edges repeated: running sums along each axis."""
    out = np.asarray(image, np.float64)
    size = 2 * radius + 1
    for axis in (0, 1):
        pad = [(radius, radius) if a == axis else (0, 0) for a in (0, 1)]
        sums = np.insert(np.cumsum(np.pad(out, pad, mode="edge"), axis=axis), 0, 0, axis=axis)
        n = out.shape[axis]
        out = (np.take(sums, np.arange(size, size + n), axis=axis) - np.take(sums, np.arange(n), axis=axis)) / size
    return out.astype(np.float32)


def pixel_features(lightness: np.ndarray, network_ab: np.ndarray) -> np.ndarray:
    """(h, w) L and the network's (2, h, w) ab -> (h, w, 7) unscaled features: L, context L, texture, x, y, a, b."""
    height, width = lightness.shape
    scale = max(height, width)
    fine = _box_blur(lightness, max(1, scale // 256))
    context = _box_blur(lightness, max(2, scale // 24))
    local_mean = _box_blur(lightness, max(2, scale // 64))
    texture = np.sqrt(np.maximum(_box_blur(lightness * lightness, max(2, scale // 64)) - local_mean**2, 0))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([fine, context, texture, x / scale, y / scale, network_ab[0], network_ab[1]], axis=-1)


def encoder_components(
    features: np.ndarray, reference_features: np.ndarray, shape: tuple[int, int], reference_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Both photos' encoder features (F, h/8, w/8) -> their main components over both (ENCODER_DIMENSIONS channels),
    each upsampled to its photo's working size: (h, w, D) and (h', w', D)."""
    channels = features.shape[0]
    rows = [f.reshape(channels, -1).T for f in (features, reference_features)]
    both = np.concatenate(rows)
    mean = both.mean(axis=0)
    centred = (both - mean).astype(np.float64)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # eigenvalues ascending: the main components come last
    components = vectors[:, ::-1][:, :ENCODER_DIMENSIONS]  # (F, D)

    def project(maps: np.ndarray, rows_: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        small = ((rows_ - mean) @ components).reshape(*maps.shape[1:], -1).astype(np.float32)
        step = -(-size[0] // maps.shape[1])  # the features' stride, rounded up
        full = [
            np.asarray(
                Image.fromarray(small[..., d]).resize((maps.shape[2] * step, maps.shape[1] * step), Image.BILINEAR)
            )
            for d in range(small.shape[-1])
        ]
        return np.stack(full, axis=-1)[: size[0], : size[1]]

    return project(features, rows[0], shape), project(reference_features, rows[1], reference_shape)


def _feature_weights(weights: Weights) -> np.ndarray:
    w = weights
    return np.array([w.lightness, w.context, w.texture, w.position, w.position, w.network, w.network], np.float32)


def _feature_spread(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-feature spread over both photos' samples (position: a fixed unit, so 'near' means the same everywhere)."""
    both = np.concatenate([a, b])
    spread = both.std(axis=0) + 1e-3
    spread[3:5] = 0.25  # a quarter of the frame
    spread[5:7] = max(float(spread[5:7].mean()), 4.0)  # a and b share one scale; never below 4 ab units
    return spread


def reference_hints(
    lightness: np.ndarray,
    network_ab: np.ndarray,
    reference: Reference,
    weights: Weights | None = None,
    step: int = STEP,
    features: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Hints from a reference: (mask (h, w) in [0, 1], hinted ab (2, h, w)) for the photo whose L and network ab
    (at the working size) are given; weights: DEFAULT_WEIGHTS unless given; features: the photo's encoder
    features (F, h/8, w/8), used when the reference has them too."""
    weights = weights or DEFAULT_WEIGHTS
    query = pixel_features(lightness, network_ab)
    samples = pixel_features(reference.lightness, reference.network_ab)
    with_encoder = features is not None and reference.features is not None and weights.encoder > 0
    if with_encoder:
        mine, theirs = encoder_components(features, reference.features, lightness.shape, reference.lightness.shape)
        query, samples = np.concatenate([query, mine], -1), np.concatenate([samples, theirs], -1)
    query, samples = query[::step, ::step], samples[::SAMPLE_STEP, ::SAMPLE_STEP]
    sample_ab = np.moveaxis(reference.ab[:, ::SAMPLE_STEP, ::SAMPLE_STEP], 0, -1).reshape(-1, 2)
    grid_shape = query.shape[:2]
    query, samples = query.reshape(-1, query.shape[-1]), samples.reshape(-1, samples.shape[-1])
    spread, weight = _feature_spread(query, samples), _feature_weights(weights)
    if with_encoder:  # one scale for the components (their root mean square), each weighed `encoder`
        spread[7:] = np.sqrt(
            np.square(np.concatenate([query[:, 7:], samples[:, 7:]])).sum(axis=1).mean() / (query.shape[1] - 7)
        )
        weight = np.concatenate([weight, np.full(query.shape[1] - 7, weights.encoder, np.float32)])
    scale = (weight / spread).astype(np.float32)
    query, samples = query * scale, samples * scale
    k = min(NEIGHBOURS, len(samples))
    squared_samples = np.einsum("ij,ij->i", samples, samples)
    matched_ab = np.zeros((len(query), 2), np.float32)
    distance = np.zeros(len(query), np.float32)
    for start in range(0, len(query), CHUNK):
        block = query[start : start + CHUNK]
        rows = np.arange(len(block))
        d2 = block @ samples.T  # |q - s|^2 less |q|^2 (the same for a whole row): -2 q.s + |s|^2
        d2 *= -2
        d2 += squared_samples[None]
        for _ in range(k):  # the k nearest, one at a time (far cheaper than a partial sort of each row)
            nearest = np.argmin(d2, axis=1)
            distance[start : start + CHUNK] += d2[rows, nearest]
            matched_ab[start : start + CHUNK] += sample_ab[nearest]
            d2[rows, nearest] = np.inf
    matched_ab /= k
    distance = np.sqrt(np.maximum(distance / k + np.einsum("ij,ij->i", query, query), 0))
    typical = max(float(np.median(distance)), 1e-6)
    confidence = np.exp(-0.5 * (distance / (CONFIDENCE_SCALE * typical)) ** 2)
    mask = np.zeros(lightness.shape, np.float32)
    hinted = np.zeros((2, *lightness.shape), np.float32)
    mask[::step, ::step] = confidence.reshape(grid_shape)
    hinted[:, ::step, ::step] = np.moveaxis(matched_ab.reshape(*grid_shape, 2), -1, 0)
    return mask, hinted
