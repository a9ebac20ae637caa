"""Where else a hint belongs: its correction carried to the pixels that look like the hinted ones (NumPy only).

A hint's correction spreads locally along edges (`spread.py`); on its own that colours the object under it and the
neighbourhood it touches, not the other caps on the wall or the rest of the sky beyond a branch. Edit propagation in
appearance space (An & Pellacini's AppProp, 2008; Li, Ju & Hu's radial basis functions in feature space, 2010) adds
the missing part: every pixel gets the corrections of the hints whose pixels look like it, weighed by a Gaussian of
the distance between their descriptions,

    g(x) = sum_k w_k(x) c_k / sum_k w_k(x),    w_k(x) = exp(-|f(x) - f_k|^2 / 2 reach_f^2 - |x - x_k|^2 / 2 reach_p^2)

(f: a pixel's description; k runs over a few anchor pixels of each hint, each hint weighing as one; c_k: the colour
the hint asks for, as a correction of the network's colour at x, so alike pixels take the hint's colour, not its
shift). The sum of the weights says how sure that is, and (g, confidence) enter the spreading's system as a soft
guide, so it too stops at edges and fills whole objects.

The description is learned where the model has one (`LearnedAlike`, written by `colorizer fit-alike` beside the
model): a linear map of the encoder's features, lightness, lightness around, texture and the network's colour into a
space where pixels that likely share their true colour lie close, fitted on training photos. Otherwise it is hand
weighted, the same as a reference photo is matched by: lightness, its neighbourhood, texture, the network's colour
and, where the model gives them, the encoder's main feature components.

`reach` in [0, 1] sets how far: 0, only the local spread (the object under the hint); DEFAULT_REACH, pixels that
look much alike and are not far (chosen on validation photos: README, "How a hint spreads"); 1, everything alike
anywhere in the photo.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorizer.inference import DEFAULT_REACH
from colorizer.inference.reference import _principal_components, _project, pixel_features
from colorizer.inference.spread import SOLVE_SIZE, _halve

ANCHORS_PER_HINT = 12  # pixels of each hint whose description and correction are carried
MAX_ANCHORS = 600
# What counts as alike, at reach 1/2: L, L around, texture (L units), position (1: its bandwidth), a and b (ab units).
SCALES = (6.0, 12.0, 6.0, 1.0, 1.0, 10.0, 10.0)
ENCODER_SCALE = 2.5  # the encoder's components, in root mean squares over the photo
# reach -> (a factor on SCALES, the spatial bandwidth in longer sides), geometric from reach 0 to 1
# (measured on validation photos: README, "How a hint spreads"; DEFAULT_REACH 0.5 gives 0.42 and 1.0)
FEATURE_BANDWIDTH = (0.088, 2.0)
SPATIAL_BANDWIDTH = (0.33, 3.0)
CUTOFF = 0.1  # a kernel's weights below this count as nothing (a compact kernel: alike or not, no faint tint)
LEARNED_FORMAT, LEARNED_VERSION = "colorizer-alike", 1
MAX_LEARNED_DIMS = 64  # a learned description has 16; more is a tampered file that would cost seconds and GBs
MAX_LEARNED_BRACKETS = 1000  # "[" in the whole file (16 dimensions need about 40)
LEARNED_SCALE_RANGE = (1e-3, 1e3)  # fitted scales are near 1 (the bundled model's: 0.63)
PIXEL_INPUTS = (0, 1, 2, 5, 6)  # the columns of `pixel_features` a learned description reads: L, around, texture, a, b


@dataclass(frozen=True)
class LearnedAlike:
    """A learned description: e = feature_weights @ encoder features + pixel_weights @ (L, L around, texture, a, b) +
    bias, in units where exp(-|e(x) - e(y)|^2 / 2) says how likely x and y share their true colour, divided by
    `scale` so that at every reach a hint's alike area is as large as the hand-weighted description's on
    validation photos (`colorizer.training.alike_fit`). Stored as JSON beside the model (`MODEL.alike.json`) with
    the SHA-256 of the model it was fitted for."""

    feature_weights: np.ndarray  # (D, F)
    pixel_weights: np.ndarray  # (D, 5)
    bias: np.ndarray  # (D,)
    scale: float = 1.0
    about: str = ""

    def embed(self, lightness: np.ndarray, network_ab: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(h, w) L, (2, h, w) network ab, (F, h/8, w/8) encoder features -> (h, w, D) learned description."""
        projected = _project(features, np.zeros(features.shape[0], np.float32), self.feature_weights.T, lightness.shape)
        pixels = pixel_features(lightness, network_ab)[..., PIXEL_INPUTS]
        return ((projected + pixels @ self.pixel_weights.T + self.bias) / self.scale).astype(np.float32)

    def to_json(self, model_sha256: str) -> str:
        return json.dumps(
            {
                "format": LEARNED_FORMAT,
                "version": LEARNED_VERSION,
                "model_sha256": model_sha256,
                "about": self.about,
                "scale": self.scale,
                "feature_weights": np.round(self.feature_weights, 7).tolist(),
                "pixel_weights": np.round(self.pixel_weights, 7).tolist(),
                "bias": np.round(self.bias, 7).tolist(),
            }
        )

    @classmethod
    def from_json(cls, text: str, name: str = "alike description", feature_channels: int | None = None) -> LearnedAlike:
        """Parse (JSON only: loading never executes code); ValueError naming what is wrong. Checked before use: its
        nesting, its shapes (against the model's `feature_channels` where known), at most MAX_LEARNED_DIMS
        dimensions, finite weights, and a scale (a JSON number) within LEARNED_SCALE_RANGE."""
        if text.count("[") > MAX_LEARNED_BRACKETS or max_nesting(text) > 8:
            raise ValueError(f"{name}: not a readable learned description (nested too deep or too large)")
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            if (
                raw.get("format") != LEARNED_FORMAT
                or not isinstance(raw.get("version", 0), int)
                or raw.get("version", 0) > LEARNED_VERSION
            ):
                raise ValueError(f"not a {LEARNED_FORMAT} file of version <= {LEARNED_VERSION}")
            if isinstance(raw["scale"], bool) or not isinstance(raw["scale"], (int, float)):
                raise ValueError(f"its scale is {raw['scale']!r}, not a number")
            learned = cls(
                np.asarray(raw["feature_weights"], np.float32),
                np.asarray(raw["pixel_weights"], np.float32),
                np.asarray(raw["bias"], np.float32),
                float(raw["scale"]),
                str(raw.get("about", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
            raise ValueError(f"{name}: not a readable learned description ({err})") from None
        dims = learned.bias.shape
        if (
            learned.bias.ndim != 1
            or learned.feature_weights.ndim != 2
            or learned.feature_weights.shape[0] != dims[0]
            or learned.pixel_weights.shape != (dims[0], len(PIXEL_INPUTS))
            or not all(np.isfinite(a).all() for a in (learned.feature_weights, learned.pixel_weights, learned.bias))
        ):
            raise ValueError(f"{name}: its weights have the wrong shapes or are not finite numbers")
        if feature_channels is not None and learned.feature_weights.shape[1] != feature_channels:
            raise ValueError(
                f"{name}: its weights take {learned.feature_weights.shape[1]} features, the model gives "
                f"{feature_channels}"
            )
        if not 1 <= dims[0] <= MAX_LEARNED_DIMS:
            raise ValueError(f"{name}: {dims[0]} dimensions, where at most {MAX_LEARNED_DIMS} are read")
        low, high = LEARNED_SCALE_RANGE
        if not low <= learned.scale <= high:
            raise ValueError(f"{name}: its scale {learned.scale!r} is outside {low:g} to {high:g}")
        return learned


def sidecar_path(model: Path) -> Path:
    """Where a model's learned description lives: beside it, MODEL.alike.json."""
    return model.with_name(model.stem + ".alike.json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def max_nesting(text: str) -> int:
    """How deep the brackets of a JSON text go (counted before parsing it, so a hostile file cannot recurse)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def load_learned(model: Path, feature_channels: int | None = None) -> LearnedAlike | None:
    """The learned description beside `model` if there is one and it was fitted for this very model (its SHA-256);
    otherwise None (a warning says why when a file is there but cannot be used): hints then use the hand-weighted
    description."""
    path = sidecar_path(model)
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        learned = LearnedAlike.from_json(text, str(path), feature_channels)
        fitted_for = json.loads(text).get("model_sha256")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        warnings.warn(f"{err}; hints use the hand-weighted description", stacklevel=2)
        return None
    if fitted_for != file_sha256(model):
        warnings.warn(
            f"{path} was fitted for another model than {model}; hints use the hand-weighted description "
            f"(fit one for this model: colorizer fit-alike DATA --model {model})",
            stacklevel=2,
        )
        return None
    return learned


def check_reach(reach) -> float:
    """A reach as a float in [0, 1]; a clear ValueError otherwise (every interface calls this)."""
    number = isinstance(reach, (int, float, np.integer, np.floating)) and not isinstance(reach, (bool, np.bool_))
    if not number or not 0 <= float(reach) <= 1:
        raise ValueError(f"reach must be a number from 0 (this object) to 1 (everything alike), got {reach!r}")
    return float(reach)


def _bandwidths(reach: float) -> tuple[float, float]:
    """A reach in (0, 1] -> the factor on SCALES and the spatial bandwidth (each geometric between its ends)."""
    (lo_f, hi_f), (lo_p, hi_p) = FEATURE_BANDWIDTH, SPATIAL_BANDWIDTH
    return lo_f * (hi_f / lo_f) ** float(reach), lo_p * (hi_p / lo_p) ** float(reach)


def describe(
    lightness: np.ndarray,
    network_ab: np.ndarray,
    features: np.ndarray | None = None,
    learned: LearnedAlike | None = None,
) -> np.ndarray:
    """(h, w, 2 + D) descriptions: x and y in longer sides (the spatial bandwidth applies to them), then what a pixel
    looks like in units where a difference of 1 is "as different as it counts": the learned description where
    there is one (and the encoder's features), else L, L around, texture, the network's a and b (in SCALES) and the
    encoder's main components in units of their root mean square."""
    pixels = pixel_features(lightness, network_ab)  # L, context, texture, x, y, a, b
    position = pixels[..., 3:5]
    if learned is not None and features is not None and learned.feature_weights.shape[1] != features.shape[0]:
        warnings.warn(
            f"the learned alike description takes {learned.feature_weights.shape[1]} features, the model gives "
            f"{features.shape[0]}; hints use the hand-weighted description",
            stacklevel=2,
        )
        learned = None
    if learned is not None and features is not None:
        return np.concatenate([position, learned.embed(lightness, network_ab, features)], -1).astype(np.float32)
    looks = pixels[..., PIXEL_INPUTS] / np.array([SCALES[i] for i in PIXEL_INPUTS], np.float32)
    if features is not None:
        components = _principal_components(features.reshape(features.shape[0], -1).T)
        projected = _project(features, *components, lightness.shape)
        rms = np.sqrt(np.square(projected).mean()) + 1e-6
        looks = np.concatenate([looks, projected / (rms * ENCODER_SCALE)], -1)
    return np.concatenate([position / SCALES[3], looks], -1).astype(np.float32)


def anchors(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) hint labels (0: none, k: hint k) -> flat pixel indices of up to ANCHORS_PER_HINT pixels of each hint
    and each one's weight (1 / the hint's anchors)."""
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat)
    starts = np.concatenate([[0], np.cumsum(counts)])
    hints = np.flatnonzero(counts[1:]) + 1
    per_hint = max(1, min(ANCHORS_PER_HINT, MAX_ANCHORS // max(len(hints), 1)))
    chosen, weights = [], []
    for k in hints:
        members = order[starts[k] : starts[k + 1]]
        picked = members[np.linspace(0, len(members) - 1, min(per_hint, len(members))).round().astype(int)]
        chosen.append(picked)
        weights.append(np.full(len(picked), 1.0 / len(picked), np.float32))
    if not chosen:
        return np.zeros(0, int), np.zeros(0, np.float32)
    return np.concatenate(chosen), np.concatenate(weights)


def alike_guide(
    lightness: np.ndarray,
    network_ab: np.ndarray,
    wanted: np.ndarray,
    labels: np.ndarray,
    reach: float | np.ndarray = DEFAULT_REACH,
    features: np.ndarray | None = None,
    learned: LearnedAlike | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The soft guide for `spread.spread_corrections`: (confidence (h, w), corrections g (2, h, w)), or None when
    no hint reaches beyond its object. lightness (h, w) and network_ab (2, h, w) at the working size; wanted
    (2, h, w) the corrections the hinted pixels ask for; labels (h, w) int, which hint covers each pixel (0: none);
    reach: one for all hints, or one per hint (an array indexed by label, entry 0 unused); learned: the model's
    learned description (None: hand weighted)."""
    picked, weights = anchors(labels)
    if not len(picked):
        return None
    reaches = np.broadcast_to(np.asarray(reach, np.float32), (int(labels.max()) + 1,))[labels.ravel()[picked]]
    keep = reaches > 0
    if not keep.any():
        return None
    picked, weights, reaches = picked[keep], weights[keep], reaches[keep]
    height, width = lightness.shape
    full_ab = network_ab
    step = 2 if max(height, width) > SOLVE_SIZE else 1  # described on the grid the spreading solves on
    if step == 2:
        lightness, network_ab = _halve(lightness), _halve(network_ab)
    described = describe(lightness, network_ab, features, learned)
    rows = described.reshape(-1, described.shape[-1])
    grid_width = described.shape[1]
    anchor_rows = rows[(picked // width) // step * grid_width + (picked % width) // step]
    anchor_colours = (wanted + full_ab).reshape(2, -1)[:, picked].T  # (M, 2): the colours the hints ask for
    kernel = np.empty((len(rows), len(picked)), np.float32)
    for value in np.unique(reaches):  # one block of anchors per reach (usually one)
        chosen = np.flatnonzero(reaches == value)
        feature_bandwidth, spatial_bandwidth = _bandwidths(value)
        scale = np.full(rows.shape[1], 1.0 / feature_bandwidth, np.float32)
        scale[:2] = 1.0 / spatial_bandwidth
        query, anchor = rows * scale, anchor_rows[chosen] * scale
        block = query @ (-2 * anchor.T)
        block += np.einsum("ij,ij->i", query, query)[:, None]
        block += np.einsum("ij,ij->i", anchor, anchor)[None]
        np.maximum(block, 0, out=block)
        block *= -0.5
        np.exp(block, out=block)
        block -= CUTOFF
        np.maximum(block, 0, out=block)
        kernel[:, chosen] = block * (weights[chosen] / (1 - CUTOFF))[None]
    total = kernel.sum(axis=1)
    colours = (kernel @ anchor_colours) / np.maximum(total, 1e-12)[:, None]
    shape = described.shape[:2]
    colours = colours.T.reshape(2, *shape).repeat(step, axis=1).repeat(step, axis=2)[:, :height, :width]
    total = total.reshape(shape).repeat(step, axis=0).repeat(step, axis=1)[:height, :width]
    guide = np.where(total > 0, colours - full_ab, 0)  # as corrections of the network's colour at each pixel
    return np.ascontiguousarray(total, np.float32), np.ascontiguousarray(guide, np.float32)
