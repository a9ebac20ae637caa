"""Where else a hint belongs: its correction carried to the pixels that look like the hinted ones (NumPy only).

A hint's correction spreads locally along edges (`spread.py`); on its own that colours the object under it and the
neighbourhood it touches, not the other caps on the wall or the rest of the sky beyond a branch. Edit propagation in
appearance space (An & Pellacini's AppProp, 2008; Li, Ju & Hu's radial basis functions in feature space, 2010) adds
the missing part: every pixel gets the corrections of the hints whose pixels look like it, weighed by a Gaussian of
the distance between their descriptions,

    g(x) = sum_k w_k(x) c_k / sum_k w_k(x),    w_k(x) = exp(-|f(x) - f_k|^2 / 2 reach_f^2 - |x - x_k|^2 / 2 reach_p^2)

(f: a pixel's description, the same as a reference photo is matched by: lightness, its neighbourhood, texture, the
network's colour and, where the model gives them, the encoder's main feature components; k runs over a few anchor
pixels of each hint, each hint weighing as one). The sum of the weights says how sure that is, and (g, confidence)
enter the spreading's system as a soft guide, so it too stops at edges and fills whole objects.

`reach` in [0, 1] sets how far: 0, only the local spread (the object under the hint); DEFAULT_REACH, pixels that
look much alike and are not far (chosen on validation photos: README, "How a hint spreads"); 1, everything alike
anywhere in the photo.
"""

from __future__ import annotations

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


def check_reach(reach) -> float:
    """A reach as a float in [0, 1]; a clear ValueError otherwise (every interface calls this)."""
    if isinstance(reach, bool) or not isinstance(reach, (int, float)) or not 0 <= reach <= 1:
        raise ValueError(f"reach must be a number from 0 (this object) to 1 (everything alike), got {reach!r}")
    return float(reach)


def _bandwidths(reach: float) -> tuple[float, float]:
    """A reach in (0, 1] -> the factor on SCALES and the spatial bandwidth (each geometric between its ends)."""
    (lo_f, hi_f), (lo_p, hi_p) = FEATURE_BANDWIDTH, SPATIAL_BANDWIDTH
    return lo_f * (hi_f / lo_f) ** float(reach), lo_p * (hi_p / lo_p) ** float(reach)


def describe(lightness: np.ndarray, network_ab: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
    """(h, w, D) descriptions in units of SCALES (a difference of 1 in a column is "as different as it counts"): L,
    L around, texture, x, y (in longer sides: the spatial bandwidth applies to them), the network's a and b, then
    the encoder's main components in units of their root mean square."""
    described = pixel_features(lightness, network_ab)  # L, context, texture, x, y, a, b
    if features is not None:
        components = _principal_components(features.reshape(features.shape[0], -1).T)
        projected = _project(features, *components, lightness.shape)
        rms = np.sqrt(np.square(projected).mean()) + 1e-6
        described = np.concatenate([described, projected / (rms * ENCODER_SCALE)], -1)
    described[..., :7] /= np.array(SCALES, np.float32)
    return described.astype(np.float32)


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
) -> tuple[np.ndarray, np.ndarray] | None:
    """The soft guide for `spread.spread_corrections`: (confidence (h, w), corrections g (2, h, w)), or None when
    no hint reaches beyond its object. lightness (h, w) and network_ab (2, h, w) at the working size; wanted
    (2, h, w) the corrections the hinted pixels ask for; labels (h, w) int, which hint covers each pixel (0: none);
    reach: one for all hints, or one per hint (an array indexed by label, entry 0 unused)."""
    picked, weights = anchors(labels)
    if not len(picked):
        return None
    reaches = np.broadcast_to(np.asarray(reach, np.float32), (int(labels.max()) + 1,))[labels.ravel()[picked]]
    keep = reaches > 0
    if not keep.any():
        return None
    picked, weights, reaches = picked[keep], weights[keep], reaches[keep]
    height, width = lightness.shape
    step = 2 if max(height, width) > SOLVE_SIZE else 1  # described on the grid the spreading solves on
    if step == 2:
        lightness, network_ab = _halve(lightness), _halve(network_ab)
    described = describe(lightness, network_ab, features)
    rows = described.reshape(-1, described.shape[-1])
    grid_width = described.shape[1]
    anchor_rows = rows[(picked // width) // step * grid_width + (picked % width) // step]
    anchor_corrections = wanted.reshape(2, -1)[:, picked].T  # (M, 2)
    kernel = np.empty((len(rows), len(picked)), np.float32)
    for value in np.unique(reaches):  # one block of anchors per reach (usually one)
        chosen = np.flatnonzero(reaches == value)
        feature_bandwidth, spatial_bandwidth = _bandwidths(value)
        scale = np.full(rows.shape[1], 1.0 / feature_bandwidth, np.float32)
        scale[3:5] = 1.0 / spatial_bandwidth
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
    guide = (kernel @ anchor_corrections) / np.maximum(total, 1e-12)[:, None]
    shape = described.shape[:2]
    guide = guide.T.reshape(2, *shape).repeat(step, axis=1).repeat(step, axis=2)
    total = total.reshape(shape).repeat(step, axis=0).repeat(step, axis=1)
    full_height, full_width = labels.shape
    return (
        np.ascontiguousarray(total[:full_height, :full_width], np.float32),
        np.ascontiguousarray(guide[:, :full_height, :full_width], np.float32),
    )
