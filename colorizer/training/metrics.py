"""Image-quality metrics of colorization, on (H, W, 3) uint8 RGB arrays (REFERENCES §5). None needs network weights.

psnr (dB, capped at PSNR_CAP for identical images), ssim (RGB, data_range 255), delta_e (mean CIEDE2000),
colourfulness (Hasler & Süsstrunk 2003), auc (Zhang 2016: fraction of pixels with ab error <= t, mean over
t = 0..150).
"""

from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0
AUC_MAX_THRESHOLD = 150


def psnr(truth: np.ndarray, prediction: np.ndarray) -> float:
    mse = np.mean((truth.astype(np.float64) - prediction.astype(np.float64)) ** 2)
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, float(10 * np.log10(255.0**2 / mse)))


def ssim(truth: np.ndarray, prediction: np.ndarray) -> float:
    return float(structural_similarity(truth, prediction, channel_axis=2, data_range=255))


def colourfulness(rgb: np.ndarray) -> float:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = np.abs(r - g), np.abs(0.5 * (r + g) - b)
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def auc_from_lab(truth_lab: np.ndarray, prediction_lab: np.ndarray) -> float:
    error = np.linalg.norm(truth_lab[..., 1:] - prediction_lab[..., 1:], axis=-1).ravel()
    thresholds = np.arange(AUC_MAX_THRESHOLD + 1)
    return float(np.mean(np.searchsorted(np.sort(error), thresholds, side="right") / error.size))


def delta_e(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean CIEDE2000 between two (H, W, 3) uint8 RGB images."""
    return float(deltaE_ciede2000(rgb2lab(truth), rgb2lab(prediction)).mean())


def all_metrics(truth: np.ndarray, prediction: np.ndarray) -> dict[str, float]:
    """Every metric of `prediction` against `truth`, converting each to LAB once."""
    truth_lab, prediction_lab = rgb2lab(truth), rgb2lab(prediction)
    return {
        "psnr": psnr(truth, prediction),
        "ssim": ssim(truth, prediction),
        "delta_e": float(deltaE_ciede2000(truth_lab, prediction_lab).mean()),
        "auc": auc_from_lab(truth_lab, prediction_lab),
        "colourfulness": colourfulness(prediction),
        "colourfulness_truth": colourfulness(truth),
    }
