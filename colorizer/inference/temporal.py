"""Steady colour for video: a flow-guided running average of the predicted chroma, reset at scene cuts.

Colouring each frame on its own makes still surfaces flicker: the network's guess for a wall moves by a few ab
units from frame to frame though nothing changed. Here each frame's prediction is blended with the previous
frame's result, carried along the motion: dense optical flow (OpenCV's DIS, on the lightness at working size) warps
the previous chroma onto the current frame, and where the warp holds (the warped lightness matches the current one)
the history weighs `smoothing`; where it does not (occlusions, new content, fast motion) the current prediction
wins. So a still wall converges to one colour while a walking person keeps their colour as they move. A scene cut
(the lightness changes wholesale) starts the history afresh.

Everything runs at the network's working size, on (h, w) float32 arrays: L in [0, 100], ab in LAB units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colorizer.inference.options import DEFAULT_SMOOTHING

CUT_THRESHOLD = 14.0  # mean |L change| (LAB units, on a 64-px thumbnail) above which a frame starts a new scene
MATCH_SIGMA = 5.0  # L units: how far the warped lightness may differ before the history is trusted less
# DIS flow needs room for its patches and pyramid: on frames only a few dozen pixels high (a 2000x100 clip is 512x26
# at working size) OpenCV crashes or returns NaN. Frames are padded (edges repeated) to this many pixels a side.
MIN_FLOW_SIDE = 64


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError("videos need the video extra: pip install 'photo-colorizer[video]'") from None
    return cv2


def thumbnail(lightness: np.ndarray, side: int = 64) -> np.ndarray:
    """A small copy of L for cut detection (area averaging)."""
    cv2 = _cv2()
    height, width = lightness.shape
    scale = side / max(height, width)
    return cv2.resize(lightness, (max(1, round(width * scale)), max(1, round(height * scale))), cv2.INTER_AREA)


def is_scene_cut(previous: np.ndarray, current: np.ndarray) -> bool:
    """True when the lightness changed wholesale (a cut), not just where something moved; both are thumbnails."""
    return float(np.abs(current - previous).mean()) > CUT_THRESHOLD


@dataclass
class Warp:
    """How the previous frame maps onto the current one: per-pixel source coordinates, where they stay inside the
    frame, and the previous frame's lightness moved there (compare it with the current L to see where it holds)."""

    map_x: np.ndarray
    map_y: np.ndarray
    inside: np.ndarray  # (h, w) float32, 1 where the source lies inside the previous frame
    previous_l: np.ndarray  # (h, w) the previous frame's L, warped

    def __call__(self, channels: np.ndarray) -> np.ndarray:
        """(..., h, w) values of the previous frame -> the same moved onto the current frame."""
        cv2 = _cv2()
        flat = channels.reshape(-1, *channels.shape[-2:])
        moved = [cv2.remap(c, self.map_x, self.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for c in flat]
        return np.stack(moved).reshape(channels.shape)


class Motion:
    """Feed it each frame's L in order (either direction in time); for each it returns the Warp from the frame fed
    before, or None at the first frame and at a scene cut. `cuts` counts the cuts."""

    def __init__(self):
        self.previous_l: np.ndarray | None = None
        self.previous_thumbnail: np.ndarray | None = None
        self.cuts = 0
        self._flow = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None  # pixel coordinates at the working size

    def __call__(self, lightness: np.ndarray) -> Warp | None:
        small = thumbnail(lightness)
        previous, previous_small = self.previous_l, self.previous_thumbnail
        self.previous_l, self.previous_thumbnail = lightness, small
        if previous is None:
            return None
        if previous.shape != lightness.shape or is_scene_cut(previous_small, small):
            self.cuts += 1
            return None
        return self._warp(previous, lightness)

    def _warp(self, previous: np.ndarray, lightness: np.ndarray) -> Warp:
        cv2 = _cv2()
        if self._flow is None:
            self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        height, width = lightness.shape
        pad_y, pad_x = max(0, MIN_FLOW_SIDE - height), max(0, MIN_FLOW_SIDE - width)

        def flow_input(x: np.ndarray) -> np.ndarray:
            u8 = np.clip(x * 2.55, 0, 255).astype(np.uint8)
            return cv2.copyMakeBorder(u8, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE) if pad_y or pad_x else u8

        flow = self._flow.calc(flow_input(lightness), flow_input(previous), None)  # current -> previous
        flow = np.nan_to_num(flow[:height, :width], nan=0.0, posinf=0.0, neginf=0.0)
        if self._grid is None or self._grid[0].shape != lightness.shape:
            self._grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        map_x, map_y = self._grid[0] + flow[..., 0], self._grid[1] + flow[..., 1]
        inside = ((map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)).astype(np.float32)
        warp = Warp(map_x, map_y, inside, previous)
        warp.previous_l = warp(previous)
        return warp


class TemporalSmoother:
    """Feed it each frame's (L, predicted ab) in order; it returns the ab to show. `cuts` counts the resets.

    `motion` can be shared: call `blend(L, ab, motion(L))` instead, when something else needs the same warp."""

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING):
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.motion = Motion()
        self.previous_ab: np.ndarray | None = None

    @property
    def cuts(self) -> int:
        return self.motion.cuts

    def __call__(self, lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """(h, w) L and (2, h, w) predicted ab -> (2, h, w) ab, consistent with the frames before it."""
        if self.smoothing == 0:
            return ab
        return self.blend(lightness, ab, self.motion(lightness))

    def blend(self, lightness: np.ndarray, ab: np.ndarray, warp: Warp | None) -> np.ndarray:
        """The prediction blended with the previous result moved along `warp` (None: a start, nothing to blend)."""
        if self.smoothing == 0:
            return ab
        if warp is None or self.previous_ab is None:
            result = ab
        else:
            match = np.exp(-(((lightness - warp.previous_l) / MATCH_SIGMA) ** 2)) * warp.inside  # 1: history holds
            history = self.smoothing * match  # (h, w)
            result = (history * warp(self.previous_ab) + (1 - history) * ab).astype(np.float32)
        self.previous_ab = result
        return result
