"""Spreading colour hints along objects: an edge-aware correction of the model's colour (NumPy only).

Levin, Lischinski and Weiss (2004) colour a photo from a few scribbles by asking neighbouring pixels of similar
lightness to take similar colours. Here the unknown is not the colour but its *correction*: at the hinted pixels the
correction is the hint's a*b* minus the model's, and it spreads to the neighbours in proportion to how alike their
lightness is, so it fills the hinted object and stops at its edges. A weak pull towards zero keeps the model's own
colour wherever no hint reaches. For the corrections d (one value per pixel and channel) this minimises

    sum over neighbours i~j of w_ij (d_i - d_j)^2  +  HINT_WEIGHT sum_i m_i (d_i - c_i)^2  +  pull sum_i d_i^2

with w_ij = exp(-(L_i - L_j)^2 / (2 sigma^2)) on the 4-neighbour grid, m the hint mask and c the wanted correction:
one sparse, symmetric positive-definite linear system. It is solved matrix-free with Jacobi-preconditioned
conjugate gradients, coarse to fine: each level of an image pyramid starts from the coarser level's solution,
so the long-range spread is found cheaply where pixels are few and only refined at the working size (to a relative
residual of 1e-3: solving to 1e-5 took 4x longer and changed the hint benchmark by 0.01 dB).

Measured on photos of sources never trained on (benchmarks/hints.py, README): sigma 8 beat 2 and 4 and matched 12
and 16; the pull mattered little between 1e-6 and 1e-4; solving at half the working size scored the same.
"""

from __future__ import annotations

import numpy as np

SIGMA = 8.0  # L units: neighbours whose lightness differs by much more than this barely share a correction
PULL = 1e-5  # per pixel, towards the model's own colour; relative to neighbour weights of at most 1
HINT_WEIGHT = 10.0  # how firmly a hinted pixel holds its correction
COARSEST = 24  # pixels on the shorter side of the pyramid's coarsest level
TOLERANCE = 1e-3  # relative residual at which a level is solved
ITERATIONS = 200  # at most, per level


def affinities(lightness: np.ndarray, sigma: float = SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) L -> weights between horizontal neighbours (h, w - 1) and vertical ones (h - 1, w)."""
    scale = -0.5 / (sigma * sigma)
    horizontal = np.exp(scale * np.square(np.diff(lightness, axis=1)), dtype=np.float32)
    vertical = np.exp(scale * np.square(np.diff(lightness, axis=0)), dtype=np.float32)
    return horizontal, vertical


class System:
    """The linear system of one pyramid level: A d = b for corrections d of shape (2, h, w)."""

    def __init__(self, lightness: np.ndarray, mask: np.ndarray, wanted: np.ndarray, sigma: float, pull: float):
        self.wx, self.wy = affinities(lightness, sigma)
        degree = np.zeros(lightness.shape, np.float32)
        degree[:, 1:] += self.wx
        degree[:, :-1] += self.wx
        degree[1:] += self.wy
        degree[:-1] += self.wy
        self.diagonal = degree + HINT_WEIGHT * mask + pull
        self.rhs = (HINT_WEIGHT * mask) * wanted  # (2, h, w)

    def apply(self, d: np.ndarray) -> np.ndarray:
        out = self.diagonal * d
        flow = self.wx * d[:, :, :-1]
        out[:, :, 1:] -= flow
        flow = self.wx * d[:, :, 1:]
        out[:, :, :-1] -= flow
        flow = self.wy * d[:, :-1]
        out[:, 1:] -= flow
        flow = self.wy * d[:, 1:]
        out[:, :-1] -= flow
        return out

    def solve(self, start: np.ndarray, tolerance: float = TOLERANCE, iterations: int = ITERATIONS) -> np.ndarray:
        """Jacobi-preconditioned conjugate gradients from `start`; both channels at once (same matrix)."""
        x = start.astype(np.float32, copy=True)
        r = self.rhs - self.apply(x)
        target = tolerance * max(float(np.linalg.norm(self.rhs)), 1e-12)
        inverse = 1.0 / self.diagonal
        z = inverse * r
        p = z.copy()
        rz = float(np.vdot(r, z))
        for _ in range(iterations):
            if float(np.linalg.norm(r)) <= target:
                break
            q = self.apply(p)
            alpha = rz / max(float(np.vdot(p, q)), 1e-30)
            x += alpha * p
            r -= alpha * q
            z = inverse * r
            rz_next = float(np.vdot(r, z))
            p = z + (rz_next / max(rz, 1e-30)) * p
            rz = rz_next
        return x


def _halve(array: np.ndarray) -> np.ndarray:
    """Mean over 2x2 blocks of the last two axes (odd edges: the last row/column is kept on its own)."""
    h, w = array.shape[-2:]
    if h % 2:
        array = np.concatenate([array, array[..., -1:, :]], axis=-2)
    if w % 2:
        array = np.concatenate([array, array[..., :, -1:]], axis=-1)
    return 0.25 * (array[..., ::2, ::2] + array[..., 1::2, ::2] + array[..., ::2, 1::2] + array[..., 1::2, 1::2])


def _double(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour 2x upsampling of the last two axes, cropped to `shape`."""
    up = array.repeat(2, axis=-2).repeat(2, axis=-1)
    return np.ascontiguousarray(up[..., : shape[0], : shape[1]])


def spread_corrections(
    lightness: np.ndarray,
    mask: np.ndarray,
    wanted: np.ndarray,
    sigma: float = SIGMA,
    pull: float = PULL,
) -> np.ndarray:
    """Edge-aware spreading of sparse corrections.

    lightness (h, w) in L units; mask (h, w) in [0, 1], 1 where a hint holds; wanted (2, h, w), the correction the
    hinted pixels ask for (elsewhere ignored). Returns the corrections (2, h, w) float32 everywhere.
    """
    lightness = np.asarray(lightness, np.float32)
    mask = np.asarray(mask, np.float32)
    wanted = np.asarray(wanted, np.float32) * (mask > 0)
    if not mask.any():
        return np.zeros((2, *lightness.shape), np.float32)
    levels = [(lightness, mask, wanted)]
    while min(levels[-1][0].shape) >= 2 * COARSEST:
        l_level, m_level, c_level = levels[-1]
        m_half = _halve(m_level)
        c_half = _halve(c_level * m_level) / np.maximum(m_half, 1e-6)  # the hinted pixels' mean correction
        levels.append((_halve(l_level), m_half, c_half))
    corrections = np.zeros_like(levels[-1][2])
    for index in range(len(levels) - 1, -1, -1):
        l_level, m_level, c_level = levels[index]
        if corrections.shape[1:] != l_level.shape:
            corrections = _double(corrections, l_level.shape)
        # A coarse pixel stands for 4^k fine ones but is joined to its neighbours by only 2^k fine edges: its pull
        # and hint weight grow by 2^k against its affinities.
        weight = 2.0**index
        system = System(l_level, m_level * weight, c_level, sigma, pull * weight)
        corrections = system.solve(corrections)
    return corrections
