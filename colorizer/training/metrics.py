"""Image-quality metrics of colorization, on (H, W, 3) uint8 RGB arrays (REFERENCES §5). None needs network weights.

psnr (dB, capped at PSNR_CAP for identical images), ssim (RGB, data_range 255), delta_e (mean CIEDE2000),
colourfulness (Hasler & Süsstrunk 2003), auc (Zhang 2016: fraction of pixels with ab error <= t, mean over
t = 0..150), and what people see:

- vivid_kept: of the true pixels with chroma above VIVID_TRUTH, the share predicted with chroma above VIVID_KEPT
  (the vivid colour a colorizer keeps; NaN where the truth has none)
- warm_cast: mean predicted b* where the truth is neutral (chroma under NEUTRAL): a sepia or brown cast is positive
  (NaN where nothing is neutral)
- skin: pixels whose true colour is a skin tone (the classic YCrCb box, with lightness and chroma bounds); over them,
  skin_delta_e, and the hue of their mean a*b* predicted minus true (skin_hue_shift, degrees: positive is towards
  yellow, "orange skin"), and the chroma ratio (skin_chroma_ratio). NaN where a photo has under SKIN_MIN_SHARE skin.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

PSNR_CAP = 100.0
AUC_MAX_THRESHOLD = 150
VIVID_TRUTH, VIVID_KEPT = 40.0, 20.0  # chroma of a vivid true pixel, and what counts as kept
NEUTRAL = 5.0  # chroma under which a true pixel is neutral (white, gray, black)
SKIN_MIN_SHARE = 0.02  # photos with less skin than this get no skin scores


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


def chroma(lab: np.ndarray) -> np.ndarray:
    return np.hypot(lab[..., 1], lab[..., 2])


def vivid_kept(truth_lab: np.ndarray, prediction_lab: np.ndarray) -> float:
    vivid = chroma(truth_lab) > VIVID_TRUTH
    return float((chroma(prediction_lab)[vivid] > VIVID_KEPT).mean()) if vivid.any() else float("nan")


def warm_cast(truth_lab: np.ndarray, prediction_lab: np.ndarray) -> float:
    neutral = chroma(truth_lab) < NEUTRAL
    return float(prediction_lab[..., 2][neutral].mean()) if neutral.any() else float("nan")


def skin_mask(rgb: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """True where a (true) pixel has a skin tone: Cr 135-175 and Cb 85-135 (YCrCb, the widely used box), L* 20-95,
    chroma 8-60 and a hue between red and yellow (a* > 0, b* > 0), so that gray, sky and foliage never count."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr, cb = (r - y) * 0.713 + 128, (b - y) * 0.564 + 128
    c = chroma(lab)
    return (
        (cr >= 135) & (cr <= 175) & (cb >= 85) & (cb <= 135)
        & (lab[..., 0] >= 20) & (lab[..., 0] <= 95) & (c >= 8) & (c <= 60) & (lab[..., 1] > 0) & (lab[..., 2] > 0)
    )  # fmt: skip


def skin_scores(truth: np.ndarray, truth_lab: np.ndarray, prediction_lab: np.ndarray) -> dict[str, float]:
    skin = skin_mask(truth, truth_lab)
    if skin.mean() < SKIN_MIN_SHARE:
        return {"skin_share": float(skin.mean()), "skin_delta_e": math.nan, "skin_hue_shift": math.nan,
                "skin_chroma_ratio": math.nan}  # fmt: skip
    true_ab, predicted_ab = truth_lab[skin][:, 1:].mean(axis=0), prediction_lab[skin][:, 1:].mean(axis=0)
    true_hue, predicted_hue = (
        np.degrees(np.arctan2(true_ab[1], true_ab[0])),
        np.degrees(np.arctan2(predicted_ab[1], predicted_ab[0])),
    )
    return {
        "skin_share": float(skin.mean()),
        "skin_delta_e": float(deltaE_ciede2000(truth_lab[skin], prediction_lab[skin]).mean()),
        "skin_hue_shift": float((predicted_hue - true_hue + 180) % 360 - 180),
        "skin_chroma_ratio": float(np.hypot(*predicted_ab) / max(np.hypot(*true_ab), 1e-6)),
    }


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
        "vivid_kept": vivid_kept(truth_lab, prediction_lab),
        "warm_cast": warm_cast(truth_lab, prediction_lab),
        **skin_scores(truth, truth_lab, prediction_lab),
    }
