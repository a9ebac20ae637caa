"""sRGB <-> CIE LAB (D65) in NumPy, for colourising: the inference side's one copy of the colour science.

The constants come from `colorizer.conventions` (shared with the torch code that trains the network). The curves
are lookup tables: 8-bit sRGB -> linear is a 256-entry table, linear -> 8-bit sRGB a 16,384-step table, so no power
function runs per pixel. Full-resolution work runs in strips of rows spread over a few threads: every temporary
array of a strip stays in the CPU cache (about six times faster than whole-image NumPy passes on a 12-MP photo),
memory stays bounded whatever the photo's size, and NumPy releases the GIL so the strips run in parallel.

    pixels (H, W) gray or (H, W, 3) RGB uint8  --lightness-->        L (H, W) float32 in [0, 100]
    L (H, W) + ab (2, h, w) at working size    --colorize_lightness--> (H, W, 3) uint8 RGB
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np

from colorizer.conventions import (
    AB_SCALE,
    L_SCALE,
    LAB_EPSILON,
    LAB_KAPPA,
    LINEAR_KNEE,
    RGB_TO_XYZ,
    SRGB_KNEE,
    WHITE_D65,
)

STRIP_ROWS = 128  # rows per strip: a strip of a 4000-px-wide photo keeps its float32 temporaries in the cache
_ENCODE_STEPS = 1 << 14  # linear light in [0, 1] is quantised to this many steps before the sRGB table
_LIGHTNESS_STEPS = 1 << 16  # luminance Y in [0, 1] likewise, before the L table

_RGB_TO_XYZ = np.array(RGB_TO_XYZ, dtype=np.float64)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = np.array(WHITE_D65, dtype=np.float64)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] -> linear light (float64, exact formula)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= SRGB_KNEE, v / 12.92, ((np.maximum(v, 0) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB in [0, 1] (float64, exact formula)."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= LINEAR_KNEE, v * 12.92, 1.055 * np.maximum(v, 0) ** (1 / 2.4) - 0.055)


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > LAB_EPSILON, np.cbrt(np.maximum(t, LAB_EPSILON)), LAB_KAPPA * t + 16 / 116)


def _lab_f_inverse(f: np.ndarray) -> np.ndarray:
    return np.where(f > 6 / 29, f * f * f, (f - 16 / 116) / LAB_KAPPA)


@cache
def _tables() -> dict[str, np.ndarray]:
    levels = np.arange(256) / 255.0
    linear = srgb_to_linear(levels)
    y = np.linspace(0.0, 1.0, _LIGHTNESS_STEPS + 1)
    step_centres = (np.arange(_ENCODE_STEPS) + 0.5) / _ENCODE_STEPS
    return {
        "linear": linear.astype(np.float32),  # uint8 sRGB -> linear light
        "gray_lightness": (116 * _lab_f(linear) - 16).astype(np.float32),  # uint8 gray -> L
        "lightness": (116 * _lab_f(y) - 16).astype(np.float32),  # quantised Y -> L
        # linear light -> uint8 sRGB: entry i holds the sRGB value of the centre of step i, so truncation indexes it
        "encode": np.clip(np.rint(255 * linear_to_srgb(step_centres)), 0, 255).astype(np.uint8),
        # XYZ relative to the white point -> linear RGB in units of the encode table's steps (rows: R, G, B)
        "xyz_to_steps": _XYZ_TO_RGB * _WHITE * _ENCODE_STEPS,
    }


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="colorizer-strips")


def _in_strips(height: int, work) -> None:
    """Call work(top, bottom) for every strip of rows, in parallel; re-raise the first error."""
    strips = [(top, min(top + STRIP_ROWS, height)) for top in range(0, height, STRIP_ROWS)]
    if len(strips) <= 2:
        for top, bottom in strips:
            work(top, bottom)
        return
    for future in [_pool().submit(work, top, bottom) for top, bottom in strips]:
        future.result()


# --- sRGB -> LAB -------------------------------------------------------------------------------------------------


def lightness(pixels: np.ndarray) -> np.ndarray:
    """(H, W) gray or (H, W, 3) RGB uint8 -> (H, W) float32 CIE L in [0, 100] (what the network sees)."""
    tables = _tables()
    if pixels.ndim == 2:
        return tables["gray_lightness"][pixels]
    out = np.empty(pixels.shape[:2], np.float32)
    linear, weights = tables["linear"], _RGB_TO_XYZ[1].astype(np.float32)

    def work(top: int, bottom: int) -> None:
        strip = pixels[top:bottom]
        y = linear[strip[..., 0]] * weights[0] + linear[strip[..., 1]] * weights[1] + linear[strip[..., 2]] * weights[2]
        index = np.minimum(y * _LIGHTNESS_STEPS + 0.5, _LIGHTNESS_STEPS).astype(np.int32)
        out[top:bottom] = tables["lightness"][index]

    _in_strips(pixels.shape[0], work)
    return out


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 sRGB -> (..., 3) float64 LAB. Exact formulas; for small arrays (hint colours, checks)."""
    xyz = srgb_to_linear(np.asarray(rgb) / 255.0) @ _RGB_TO_XYZ.T / _WHITE
    f = _lab_f(xyz)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


# --- LAB -> sRGB -------------------------------------------------------------------------------------------------


def lab_to_rgb(lightness_: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """L, a, b (same shape, float32) -> (..., 3) uint8 sRGB; colours outside sRGB are clipped."""
    fy = (lightness_ + 16) / 116
    xyz = [_lab_f_inverse(fy + a / 500), _lab_f_inverse(fy), _lab_f_inverse(fy - b / 200)]
    for channel in xyz:
        np.maximum(channel, 0, out=channel)
    tables = _tables()
    out = np.empty((*np.shape(lightness_), 3), np.uint8)
    for c, (kx, ky, kz) in enumerate(tables["xyz_to_steps"].tolist()):  # linear RGB, in encode-table steps
        linear = kx * xyz[0]
        linear += ky * xyz[1]
        linear += kz * xyz[2]
        np.clip(linear, 0, _ENCODE_STEPS - 1, out=linear)
        out[..., c] = tables["encode"][linear.astype(np.int32)]
    return out


def _bilinear_weights(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a bilinear resize with align_corners=False (as torch and OpenCV do it)."""
    source = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0)
    first = np.minimum(source.astype(np.int64), in_size - 1)
    second = np.minimum(first + 1, in_size - 1)
    return first, second, (source - first).astype(np.float32)


def colorize_lightness(lightness_: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """Full-resolution L (H, W) + ab (2, h, w) at any smaller size -> (H, W, 3) uint8 RGB.

    ab is upsampled bilinearly (separably: columns once for the few source rows, then rows per strip) and never
    exists at full resolution as a whole; each strip is converted to sRGB where it stands.
    """
    height, width = lightness_.shape
    x0, x1, wx = _bilinear_weights(width, ab.shape[2])
    rows = ab[:, :, x0] * (1 - wx) + ab[:, :, x1] * wx  # (2, h, W): every source row at full width
    y0, y1, wy = _bilinear_weights(height, ab.shape[1])
    out = np.empty((height, width, 3), np.uint8)

    def work(top: int, bottom: int) -> None:
        w = wy[top:bottom, None]
        a = rows[0, y0[top:bottom]] * (1 - w) + rows[0, y1[top:bottom]] * w
        b = rows[1, y0[top:bottom]] * (1 - w) + rows[1, y1[top:bottom]] * w
        out[top:bottom] = lab_to_rgb(lightness_[top:bottom], a, b)

    _in_strips(height, work)
    return out


BOOST_FULL_CHROMA = 30.0  # ab units: predicted chroma at and above which chroma_boost applies in full


def boost_chroma(ab: np.ndarray, boost: float) -> np.ndarray:
    """ab (B, 2, h, w) or (2, h, w) with its chroma scaled by 1 + boost * min(chroma / BOOST_FULL_CHROMA, 1).

    A regression model hedges toward gray where several colours are plausible; this makes its colour bolder where it
    already commits to one and leaves it near gray where it does not. The hue is unchanged. boost 0: the network's
    own colour."""
    if not boost:
        return ab
    chroma = np.sqrt(np.square(ab).sum(axis=-3, keepdims=True))
    return (ab * (1 + boost * np.minimum(chroma / BOOST_FULL_CHROMA, 1))).astype(np.float32, copy=False)


def gray_preview(pixels: np.ndarray) -> np.ndarray:
    """What the network sees: (H, W, 3) uint8 with the photo's LAB lightness and no colour."""
    return colorize_lightness(lightness(pixels), np.zeros((2, 1, 1), np.float32))


# --- the network's scaling ---------------------------------------------------------------------------------------


def normalize_l(lightness_: np.ndarray) -> np.ndarray:
    return (lightness_ / L_SCALE - 1.0).astype(np.float32)


def denormalize_l(l_norm: np.ndarray) -> np.ndarray:
    return ((l_norm + 1.0) * L_SCALE).astype(np.float32)


def normalize_ab(ab: np.ndarray) -> np.ndarray:
    return (ab / AB_SCALE).astype(np.float32)


def denormalize_ab(ab_norm: np.ndarray) -> np.ndarray:
    return (ab_norm * AB_SCALE).astype(np.float32)
