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

import numpy as np

DEFAULT_SMOOTHING = 0.9  # weight of the motion-compensated history where it holds (0: frame by frame)
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


class TemporalSmoother:
    """Feed it each frame's (L, predicted ab) in order; it returns the ab to show. `cuts` counts the resets."""

    def __init__(self, smoothing: float = DEFAULT_SMOOTHING):
        if not 0 <= smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.smoothing = smoothing
        self.previous_l: np.ndarray | None = None
        self.previous_ab: np.ndarray | None = None
        self.previous_thumbnail: np.ndarray | None = None
        self.cuts = 0
        self._flow = None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None  # pixel coordinates at the working size

    def reset(self) -> None:
        self.previous_l = self.previous_ab = None

    def __call__(self, lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """(h, w) L and (2, h, w) predicted ab -> (2, h, w) ab, consistent with the frames before it."""
        if self.smoothing == 0:
            return ab
        small = thumbnail(lightness)
        if self.previous_l is not None and (
            self.previous_l.shape != lightness.shape or is_scene_cut(self.previous_thumbnail, small)
        ):
            self.cuts += 1
            self.reset()
        if self.previous_l is None:
            result = ab
        else:
            warped_l, warped_ab, inside = self._warp_previous(lightness)
            match = np.exp(-(((lightness - warped_l) / MATCH_SIGMA) ** 2)) * inside  # 1: the history holds here
            history = self.smoothing * match  # (h, w)
            result = (history * warped_ab + (1 - history) * ab).astype(np.float32)
        self.previous_l, self.previous_ab, self.previous_thumbnail = lightness, result, small
        return result

    def _warp_previous(self, lightness: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The previous frame's L and ab moved onto the current frame, and where that warp stays inside it."""
        cv2 = _cv2()
        if self._flow is None:
            self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        height, width = lightness.shape
        pad_y, pad_x = max(0, MIN_FLOW_SIDE - height), max(0, MIN_FLOW_SIDE - width)

        def flow_input(x: np.ndarray) -> np.ndarray:
            u8 = np.clip(x * 2.55, 0, 255).astype(np.uint8)
            return cv2.copyMakeBorder(u8, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE) if pad_y or pad_x else u8

        flow = self._flow.calc(flow_input(lightness), flow_input(self.previous_l), None)  # current -> previous
        flow = np.nan_to_num(flow[:height, :width], nan=0.0, posinf=0.0, neginf=0.0)
        if self._grid is None or self._grid[0].shape != lightness.shape:
            self._grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        map_x, map_y = self._grid[0] + flow[..., 0], self._grid[1] + flow[..., 1]
        inside = ((map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)).astype(np.float32)

        def warp(channel: np.ndarray) -> np.ndarray:
            return cv2.remap(channel, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        warped_ab = np.stack([warp(self.previous_ab[0]), warp(self.previous_ab[1])])
        return warp(self.previous_l), warped_ab, inside
