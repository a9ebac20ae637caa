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
MAX_QUERIES = 1024  # Matcher: grid points matched per photo at most (a film frame's budget)
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
        ab = np.ascontiguousarray(np.moveaxis(lab_at(pixels, width, height)[..., 1:], -1, 0))
        lightness = denormalize_l(network_input[0, 0])
        network_ab, features = colorizer.predict_with_features(network_input)
        return cls(lightness, ab, network_ab[0], name, None if features is None else features[0])


def lab_at(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> LAB (height, width, 3) float32, resized as the network input is (bilinear)."""
    small = np.asarray(Image.fromarray(pixels).resize((width, height), Image.BILINEAR, reducing_gap=2.0))
    return rgb_to_lab(small).astype(np.float32)


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


def _principal_components(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) feature rows -> their mean (F,) and main components (F, ENCODER_DIMENSIONS)."""
    mean = rows.mean(axis=0)
    centred = (rows - mean).astype(np.float64)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # eigenvalues ascending: the main components come last
    return mean, vectors[:, ::-1][:, :ENCODER_DIMENSIONS]


def _project(maps: np.ndarray, mean: np.ndarray, components: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Encoder features (F, h/8, w/8) -> their components, upsampled to the working size (h, w, D)."""
    small = ((maps.reshape(maps.shape[0], -1).T - mean) @ components).reshape(*maps.shape[1:], -1).astype(np.float32)
    # the features' stride: the smallest whole step that covers both sides (a short side may have been padded more)
    step = max(-(-size[0] // maps.shape[1]), -(-size[1] // maps.shape[2]))
    full = [
        np.asarray(Image.fromarray(small[..., d]).resize((maps.shape[2] * step, maps.shape[1] * step), Image.BILINEAR))
        for d in range(small.shape[-1])
    ]
    return np.stack(full, axis=-1)[: size[0], : size[1]]


def _feature_weights(weights: Weights, encoder_dimensions: int) -> np.ndarray:
    w = weights
    pixel = [w.lightness, w.context, w.texture, w.position, w.position, w.network, w.network]
    return np.array(pixel + [w.encoder] * encoder_dimensions, np.float32)


def _feature_spread(rows: np.ndarray) -> np.ndarray:
    """Per-feature spread of sample rows (position: a fixed unit, so 'near' means the same everywhere; a and b one
    scale, never below 4 ab units; the encoder's components one scale, their root mean square)."""
    spread = rows.std(axis=0) + 1e-3
    spread[3:5] = 0.25  # a quarter of the frame
    spread[5:7] = max(float(spread[5:7].mean()), 4.0)
    if rows.shape[1] > 7:
        spread[7:] = np.sqrt(np.square(rows[:, 7:]).sum(axis=1).mean() / (rows.shape[1] - 7)) + 1e-3
    return spread


def _nearest(query: np.ndarray, samples: np.ndarray, sample_ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scaled query rows (N, F) against scaled sample rows (M, F): the mean ab of each query's NEIGHBOURS nearest
    samples (N, 2) and their root mean squared distance (N,)."""
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
    distance = np.sqrt(np.maximum(distance / k + np.einsum("ij,ij->i", query, query), 0))
    return matched_ab / k, distance


def _as_hints(shape, step, where, matched_ab, confidence) -> tuple[np.ndarray, np.ndarray]:
    """Matches at the grid points `where` (a boolean mask of the grid) -> (mask (h, w), hinted ab (2, h, w))."""
    mask = np.zeros(shape, np.float32)
    hinted = np.zeros((2, *shape), np.float32)
    grid_mask = mask[::step, ::step]  # views: writing them writes the full arrays
    grid_ab = hinted[:, ::step, ::step]
    grid_mask[where] = confidence
    grid_ab[:, where] = matched_ab.T
    return mask, hinted


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
    features (F, h/8, w/8), used when the reference has them too (their components found over both photos)."""
    weights = weights or DEFAULT_WEIGHTS
    query = pixel_features(lightness, network_ab)
    samples = pixel_features(reference.lightness, reference.network_ab)
    if features is not None and reference.features is not None and weights.encoder > 0:
        channels = features.shape[0]
        both = np.concatenate([f.reshape(channels, -1).T for f in (features, reference.features)])
        mean, components = _principal_components(both)
        query = np.concatenate([query, _project(features, mean, components, lightness.shape)], -1)
        samples = np.concatenate(
            [samples, _project(reference.features, mean, components, reference.lightness.shape)], -1
        )
    query, samples = query[::step, ::step], samples[::SAMPLE_STEP, ::SAMPLE_STEP]
    sample_ab = np.moveaxis(reference.ab[:, ::SAMPLE_STEP, ::SAMPLE_STEP], 0, -1).reshape(-1, 2)
    where = np.ones(query.shape[:2], bool)
    query, samples = query.reshape(-1, query.shape[-1]), samples.reshape(-1, samples.shape[-1])
    scale = _feature_weights(weights, query.shape[1] - 7) / _feature_spread(np.concatenate([query, samples]))
    matched_ab, distance = _nearest(query * scale, samples * scale, sample_ab)
    typical = max(float(np.median(distance)), 1e-6)
    confidence = np.exp(-0.5 * (distance / (CONFIDENCE_SCALE * typical)) ** 2)
    return _as_hints(lightness.shape, step, where, matched_ab, confidence)


class Matcher:
    """A reference prepared once for many photos of its scene (the frames of a film's shot): its samples described
    and scaled once, the encoder's components taken from the reference alone, and a match's confidence measured
    against the reference's own typical match distance. `hints` then matches only the grid points asked for."""

    def __init__(self, reference: Reference, weights: Weights | None = None, step: int = STEP):
        self.weights, self.step = weights or DEFAULT_WEIGHTS, step
        described = pixel_features(reference.lightness, reference.network_ab)
        self.encoder = None
        if reference.features is not None and self.weights.encoder > 0:
            channels = reference.features.shape[0]
            self.encoder = _principal_components(reference.features.reshape(channels, -1).T)
            encoded = _project(reference.features, *self.encoder, reference.lightness.shape)
            described = np.concatenate([described, encoded], -1)
        samples = described[::SAMPLE_STEP, ::SAMPLE_STEP].reshape(-1, described.shape[-1])
        self.scale = (_feature_weights(self.weights, samples.shape[1] - 7) / _feature_spread(samples)).astype(
            np.float32
        )
        self.samples = samples * self.scale
        self.sample_ab = np.moveaxis(reference.ab[:, ::SAMPLE_STEP, ::SAMPLE_STEP], 0, -1).reshape(-1, 2)
        # the typical distance of a good match: the reference's own pixels between the samples, matched against them
        own = described[1::SAMPLE_STEP, 1::SAMPLE_STEP].reshape(-1, described.shape[-1]) * self.scale
        self.typical = max(float(np.median(_nearest(own, self.samples, self.sample_ab)[1])), 1e-6)

    def hints(
        self, lightness: np.ndarray, network_ab: np.ndarray, features: np.ndarray | None, where: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mask, hinted ab) at the grid points of `where` ((h, w) boolean, read every `step` pixels) only."""
        grid = where[:: self.step, :: self.step].copy()
        found = np.flatnonzero(grid)
        if len(found) > MAX_QUERIES:  # an even subset: the spreading fills in between
            grid.flat[np.setdiff1d(found, found[:: -(-len(found) // MAX_QUERIES)])] = False
        if not grid.any():
            return np.zeros(lightness.shape, np.float32), np.zeros((2, *lightness.shape), np.float32)
        query = pixel_features(lightness, network_ab)
        if self.encoder is not None and features is not None:
            query = np.concatenate([query, _project(features, *self.encoder, lightness.shape)], -1)
        elif self.encoder is not None:  # a frame without features cannot be matched by them: weigh them out
            query = np.concatenate([query, np.zeros((*lightness.shape, ENCODER_DIMENSIONS), np.float32)], -1)
        query = query[:: self.step, :: self.step][grid] * self.scale
        matched_ab, distance = _nearest(query, self.samples, self.sample_ab)
        confidence = np.exp(-0.5 * (distance / (CONFIDENCE_SCALE * self.typical)) ** 2)
        return _as_hints(lightness.shape, self.step, grid, matched_ab, confidence)
