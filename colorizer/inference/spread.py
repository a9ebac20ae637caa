"""Spreading colour corrections along objects: an edge-aware linear system, solved to a stated accuracy (NumPy only).

Levin, Lischinski and Weiss (2004) colour a photo from a few scribbles by asking neighbouring pixels that look alike
to take similar colours. Here the unknown is not the colour but its *correction* of the model's colour: at a hinted
pixel it is the hint's a*b* minus the model's, it spreads to neighbours in proportion to how alike they are, and a
pull towards zero keeps the model's own colour wherever no hint reaches. For the corrections d (one value per pixel
and channel) this minimises

    sum over neighbours i~j of w_ij (d_i - d_j)^2  +  HINT_WEIGHT sum_i m_i (d_i - c_i)^2
        +  sum_i a_i (d_i - g_i)^2  +  pull sum_i d_i^2

with w_ij = exp(-(L_i - L_j)^2 / 2 sigma^2) on the 4-neighbour grid, m the hint mask, c the wanted correction, and
(a, g) an optional soft guide (`alike.py`: the hints' corrections carried to pixels that look like
the hinted ones, a their confidence). One sparse, symmetric positive-definite system A d = b.

It is solved by conjugate gradients preconditioned with one multigrid V-cycle: each coarser level is the Galerkin
product P^T A P of the finer one (P joins 2x2 blocks), i.e. the same kind of system with the affinities that cross
between blocks summed, so an edge stays an edge at every level (averaging the lightness instead, as a pyramid would,
lets corrections leak across edges that the fine level then never removes). Damped Jacobi smooths each level, the
coarsest is solved directly. The iteration stops when the preconditioned residual, an estimate of the remaining error
in a*b* units, is below TOLERANCE at every pixel: `tests/test_spread.py` checks the result against a direct sparse
solve of the same system (within 0.5 a*b* units at every pixel).
"""

from __future__ import annotations

import numpy as np

SIGMA = 8.0  # L units: neighbours whose lightness differs by much more than this barely share a correction
HINT_WEIGHT = 10.0  # how firmly a hinted pixel holds its correction
# Through a uniform region a correction fades over about 1 / sqrt(pull) pixels: the pull is set from a length that
# is this fraction of the working size's longer side (README, "How a hint spreads": measured for locality).
LOCAL_REACH = 0.12
# A pixel exactly like a hinted one (affinity 1, `alike.py`) is held to that hint's correction this many times as
# firmly as the pull holds it to none.
ALIKE_FIRMNESS = 300.0
TOLERANCE = 0.01  # a*b* units: the estimated error left at any pixel when the solve stops
ITERATIONS = 60  # at most
COARSEST = 400  # unknowns at which a level is solved directly
SOLVE_SIZE = 256  # the system is solved on a grid halved until its longer side is at most this, then upsampled
SMOOTHING = 1  # damped Jacobi sweeps before and after each coarse correction
DAMPING = 0.7
# Joining blocks with constant values makes a coarse correction too small; scaling it up (symmetric, so the cycle
# stays a preconditioner for conjugate gradients) makes up for that (Vanek's smoothed aggregation does it smoothly).
OVERCORRECTION = 1.5


def pull_for(shape: tuple[int, int]) -> float:
    """The pull that lets a correction fade over LOCAL_REACH x the longer side of a (h, w) grid."""
    return 1.0 / (LOCAL_REACH * max(shape)) ** 2


def affinities(lightness: np.ndarray, sigma: float = SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) L -> weights between horizontal neighbours (h, w - 1) and vertical ones (h - 1, w)."""
    scale = -0.5 / (sigma * sigma)
    horizontal = np.exp(scale * np.square(np.diff(lightness, axis=1)), dtype=np.float32)
    vertical = np.exp(scale * np.square(np.diff(lightness, axis=0)), dtype=np.float32)
    return horizontal, vertical


class Level:
    """A = Laplacian(wx, wy) + diag(extra) on an (h, w) grid: the system of one multigrid level."""

    def __init__(self, wx: np.ndarray, wy: np.ndarray, extra: np.ndarray):
        self.wx, self.wy, self.extra = wx, wy, extra
        degree = extra.copy()
        degree[:, 1:] += wx
        degree[:, :-1] += wx
        degree[1:] += wy
        degree[:-1] += wy
        self.diagonal = degree
        self.inverse = DAMPING / degree

    @property
    def shape(self) -> tuple[int, int]:
        return self.extra.shape

    def apply(self, d: np.ndarray) -> np.ndarray:
        """A d for d of shape (C, h, w)."""
        out = self.diagonal * d
        out[:, :, 1:] -= self.wx * d[:, :, :-1]
        out[:, :, :-1] -= self.wx * d[:, :, 1:]
        out[:, 1:] -= self.wy * d[:, :-1]
        out[:, :-1] -= self.wy * d[:, 1:]
        return out

    def coarser(self) -> Level:
        """P^T A P for P joining 2x2 blocks (the last row or column alone where a side is odd)."""
        h, w = self.shape
        wx = np.pad(self.wx, ((0, h % 2), (0, w % 2)))
        wy = np.pad(self.wy, ((0, h % 2), (0, w % 2)))
        coarse_extra = _block_sum(self.extra)
        coarse_wx = wx[0::2, 1::2] + wx[1::2, 1::2]  # the two fine edges between horizontally adjacent blocks
        coarse_wy = wy[1::2, 0::2] + wy[1::2, 1::2]
        cw, ch = coarse_extra.shape[1], coarse_extra.shape[0]
        return Level(coarse_wx[:, : cw - 1], coarse_wy[: ch - 1], coarse_extra)

    def dense(self) -> np.ndarray:
        """The matrix itself (for the coarsest level)."""
        h, w = self.shape
        index = np.arange(h * w).reshape(h, w)
        matrix = np.diag(self.diagonal.ravel().astype(np.float64))
        for weights, a, b in ((self.wx, index[:, :-1], index[:, 1:]), (self.wy, index[:-1], index[1:])):
            matrix[a.ravel(), b.ravel()] -= weights.ravel()
            matrix[b.ravel(), a.ravel()] -= weights.ravel()
        return matrix


def _block_sum(array: np.ndarray) -> np.ndarray:
    """Sums over 2x2 blocks of the last two axes (an odd last row or column alone): P^T for P joining blocks."""
    h, w = array.shape[-2:]
    array = np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, h % 2), (0, w % 2)])
    return array[..., 0::2, 0::2] + array[..., 1::2, 0::2] + array[..., 0::2, 1::2] + array[..., 1::2, 1::2]


def _prolong(e: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """P e: each coarse value to its 2x2 block."""
    return e.repeat(2, axis=-2).repeat(2, axis=-1)[:, : shape[0], : shape[1]]


class Multigrid:
    """The levels of one system and a symmetric V-cycle over them (a preconditioner for conjugate gradients)."""

    def __init__(self, fine: Level):
        self.levels = [fine]
        while self.levels[-1].extra.size > COARSEST and min(self.levels[-1].shape) > 2:
            self.levels.append(self.levels[-1].coarser())
        self.coarsest = np.linalg.inv(self.levels[-1].dense()).astype(np.float32)  # small: at most COARSEST^2

    def _solve_coarsest(self, r: np.ndarray) -> np.ndarray:
        return (r.reshape(r.shape[0], -1) @ self.coarsest).reshape(r.shape)  # the inverse is symmetric

    def cycle(self, r: np.ndarray, depth: int = 0) -> np.ndarray:
        """An approximation of A^-1 r at level `depth`."""
        level = self.levels[depth]
        if depth == len(self.levels) - 1:
            return self._solve_coarsest(r)
        x = level.inverse * r
        for _ in range(SMOOTHING - 1):
            x += level.inverse * (r - level.apply(x))
        x += OVERCORRECTION * _prolong(self.cycle(_block_sum(r - level.apply(x)), depth + 1), level.shape)
        for _ in range(SMOOTHING):
            x += level.inverse * (r - level.apply(x))
        return x


def solve(
    level: Level, rhs: np.ndarray, tolerance: float = TOLERANCE, iterations: int = ITERATIONS
) -> tuple[np.ndarray, int]:
    """A x = rhs for rhs (C, h, w), each channel on its own: multigrid-preconditioned conjugate gradients from zero.
    Returns x and the iterations it took."""
    preconditioner = Multigrid(level)
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = preconditioner.cycle(r)
    p = z.copy()
    rz = np.einsum("chw,chw->c", r, z)
    for iteration in range(iterations):
        if float(np.abs(z).max()) <= tolerance:
            return x, iteration
        q = level.apply(p)
        alpha = rz / np.maximum(np.einsum("chw,chw->c", p, q), 1e-30)
        x += alpha[:, None, None] * p
        r -= alpha[:, None, None] * q
        z = preconditioner.cycle(r)
        rz_next = np.einsum("chw,chw->c", r, z)
        p = z + (rz_next / np.maximum(rz, 1e-30))[:, None, None] * p
        rz = rz_next
    return x, iterations


def build_system(
    lightness: np.ndarray,
    mask: np.ndarray,
    wanted: np.ndarray,
    pull: float,
    alike: tuple[np.ndarray, np.ndarray] | None = None,
    sigma: float = SIGMA,
) -> tuple[Level, np.ndarray]:
    """The system's matrix (a Level) and right-hand side (2, h, w); see the module's docstring for the terms.
    alike: (confidence a (h, w), corrections g (2, h, w)) of the soft guide, or None."""
    wx, wy = affinities(lightness, sigma)
    extra = HINT_WEIGHT * mask + np.float32(pull)
    rhs = (HINT_WEIGHT * mask) * wanted
    if alike is not None:
        affinity, guide = alike
        firmness = ALIKE_FIRMNESS * pull * affinity
        extra = extra + firmness
        rhs = rhs + firmness * guide
    return Level(wx, wy, extra.astype(np.float32)), rhs.astype(np.float32)


def _halve(array: np.ndarray) -> np.ndarray:
    """Means over 2x2 blocks of the last two axes (an odd last row or column stands alone)."""
    return (_block_sum(array) / _block_sum(np.ones(array.shape[-2:], np.float32))).astype(np.float32)


def _weighted_halve(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 block means of `weights` and the `weights`-weighted means of `values` (C, h, w)."""
    halved = _halve(weights)
    return _halve(values * weights) / np.maximum(halved, 1e-12), halved


def upsample_guided(coarse: np.ndarray, lightness: np.ndarray, coarse_lightness: np.ndarray, sigma: float = SIGMA):
    """Corrections (C, h/2, w/2), solved on every other pixel -> (C, h, w): each fine pixel takes its four nearest
    coarse values with bilinear weights times exp(-(L - L_coarse)^2 / 2 sigma^2), so a correction stays on its side
    of an edge (joint bilateral upsampling, Kopf et al. 2007)."""
    height, width = lightness.shape
    ch, cw = coarse_lightness.shape
    y = np.arange(height, dtype=np.float32) / 2  # coarse pixel j was sampled at fine pixel 2j
    x = np.arange(width, dtype=np.float32) / 2
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    total = np.zeros((coarse.shape[0], height, width), np.float32)
    norm = np.zeros((height, width), np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        rows = np.clip(y0 + dy, 0, ch - 1)
        for dx, wx in ((0, 1 - fx), (1, fx)):
            cols = np.clip(x0 + dx, 0, cw - 1)
            near_l = coarse_lightness[rows][:, cols]
            weight = wy[:, None] * wx[None, :] * np.exp(-np.square(lightness - near_l) * (0.5 / sigma**2))
            weight = weight.astype(np.float32) + 1e-6
            total += weight * coarse[:, rows][:, :, cols]
            norm += weight
    return total / norm


def spread_corrections(
    lightness: np.ndarray,
    mask: np.ndarray,
    wanted: np.ndarray,
    pull: float | None = None,
    alike: tuple[np.ndarray, np.ndarray] | None = None,
    sigma: float = SIGMA,
) -> np.ndarray:
    """Edge-aware spreading of sparse corrections.

    lightness (h, w) in L units; mask (h, w) in [0, 1], 1 where a hint holds; wanted (2, h, w), the correction the
    hinted pixels ask for (elsewhere ignored); pull: towards no correction (default: `pull_for` the grid, local);
    alike: a soft guide (`alike.py`): (affinity (h, w), corrections g (2, h, w)).
    Returns the corrections (2, h, w) float32 everywhere. Above SOLVE_SIZE the system is set up on a grid of half
    the size (block means; a hint's correction is the mean over its hinted pixels) and its solution upsampled along
    the edges (`upsample_guided`).
    """
    lightness = np.asarray(lightness, np.float32)
    mask = np.asarray(mask, np.float32)
    wanted = np.asarray(wanted, np.float32) * (mask > 0)
    if not mask.any() and (alike is None or not alike[0].any()):
        return np.zeros((2, *lightness.shape), np.float32)
    if max(lightness.shape) > SOLVE_SIZE:
        if alike is not None:
            guide, confidence = _weighted_halve(alike[1], alike[0])
            alike = (confidence, guide)
        half_wanted, half_mask = _weighted_halve(wanted, mask)
        # The lightness sampled, not averaged: a block across an edge would join both sides.
        half_lightness = np.ascontiguousarray(lightness[::2, ::2])
        coarse = spread_corrections(half_lightness, half_mask, half_wanted, pull, alike, sigma)
        return upsample_guided(coarse, lightness, half_lightness, sigma)
    pull = pull_for(lightness.shape) if pull is None else pull
    level, rhs = build_system(lightness, mask, wanted, pull, alike, sigma)
    corrections, _ = solve(level, rhs)
    return corrections
