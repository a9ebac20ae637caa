"""Output heads: what the network's last layer predicts, its loss, and how it becomes ab again.

    regression      2 channels = ab / 110, MSE (the paper) or Huber loss; two Huber variants that commit to colour:
                    "huber-colourful" adds a one-sided colourfulness term (each image's chroma spread and mean,
                    penalised only where the prediction has less than the truth; ab clamped to the gamut's box),
                    "huber-rebalanced" weighs each pixel by the rarity of its true colour (the classification
                    head's rebalancing weights, capped at REBALANCE_CAP).
    classification  Q channels = logits over the in-gamut bins of a 10-unit ab grid (Zhang, Isola & Efros 2016):
                    soft-encoded targets (5 nearest bins, Gaussian sigma 5), class rebalancing from the training
                    set's smoothed colour prior (lambda 0.5), annealed-mean decoding at a temperature (0.38).

A head is rebuilt from `head.state()`, which every checkpoint stores (tensors and numbers only: weights_only-safe),
so colorize and evaluate handle either kind without flags.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from colorizer.training.color import AB_SCALE, rgb_to_lab

GRID = 10.0  # ab bin width
SIGMA = 5.0  # Gaussian of the soft encoding and of the prior's smoothing, in ab units
NEIGHBOURS = 5  # bins each pixel's target is spread over
REBALANCE_LAMBDA = 0.5
DEFAULT_TEMPERATURE = 0.38
GRAY_THRESHOLD = 5.0  # images whose |a| and |b| stay below this everywhere carry no colour to learn
HUBER_DELTA = 1.0 / AB_SCALE  # one ab unit (SIGGRAPH17), on the network's ab / 110 scale
COLOURFUL_WEIGHT = 0.5  # the colourfulness term beside the Huber loss (both on the ab / 110 scale; DDColor's weight)
REBALANCE_CAP = 10.0  # "huber-rebalanced": no pixel weighs more than this (rare colours are few and noisy)


@functools.lru_cache(maxsize=1)
def ab_bins(samples_per_channel: int = 128) -> torch.Tensor:
    """(Q, 2) centres of the 10-unit ab cells that hold at least one sRGB colour (any lightness), sorted."""
    levels = torch.linspace(0, 1, samples_per_channel)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1, 1)
    ab = rgb_to_lab(rgb)[1:].reshape(2, -1).T
    cells = torch.unique(torch.round(ab / GRID), dim=0)
    return (cells * GRID).float()


def soft_encode(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) ab in LAB units -> (B, Q, H, W): Gaussian weights on the NEIGHBOURS nearest bins, summing to 1."""
    pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    distances = torch.cdist(pixels, bins.to(ab))  # (N, Q)
    nearest, index = distances.topk(NEIGHBOURS, dim=1, largest=False)
    weights = torch.softmax(-(nearest**2) / (2 * SIGMA**2), dim=1)
    encoded = torch.zeros_like(distances).scatter_(1, index, weights)
    batch, _, height, width = ab.shape
    return encoded.reshape(batch, height, width, -1).permute(0, 3, 1, 2)


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) ab -> (B, H, W) index of the nearest bin."""
    pixels = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    return torch.cdist(pixels, bins.to(ab)).argmin(dim=1).reshape(ab.shape[0], *ab.shape[2:])


def smoothed_prior(counts: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Empirical bin distribution, smoothed by a Gaussian (sigma 5) over the ab plane, summing to 1."""
    kernel = torch.exp(-(torch.cdist(bins, bins) ** 2) / (2 * SIGMA**2))
    smoothed = kernel @ (counts / counts.sum())
    return smoothed / smoothed.sum()


def rebalancing_weights(prior: torch.Tensor, lam: float = REBALANCE_LAMBDA) -> torch.Tensor:
    """w proportional to ((1 - lam) p + lam / Q)^-1, scaled so that its expectation under the prior is 1."""
    weights = 1.0 / ((1 - lam) * prior + lam / prior.numel())
    return weights / (prior * weights).sum()


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, temperature: float) -> torch.Tensor:
    """(B, Q, H, W) logits -> (B, 2, H, W) ab: the expectation over bins of softmax(logits / T)."""
    probabilities = torch.softmax(logits.float() / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", probabilities, bins.to(probabilities))


def prior_from_images(images, bins: torch.Tensor, step: int = 4) -> torch.Tensor:
    """The smoothed colour prior of an iterable of (H, W, 3) uint8 photos (every `step`-th pixel each way)."""
    counts = torch.zeros(len(bins))
    for image in images:
        rgb = torch.from_numpy(np.ascontiguousarray(image[::step, ::step])).permute(2, 0, 1)[None].float() / 255
        index = nearest_bin(rgb_to_lab(rgb)[:, 1:], bins)
        counts += torch.bincount(index.flatten(), minlength=len(bins)).float()
    return smoothed_prior(counts, bins)


def colourfulness_ab(ab: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) ab -> (B,) colourfulness in the ab plane (Hasler & Suesstrunk's form: spread + 0.3 x mean)."""
    spread = ab.std(dim=(2, 3)).norm(dim=1)
    mean = ab.mean(dim=(2, 3)).norm(dim=1)
    return spread + 0.3 * mean


class RegressionHead:
    """ab / 110 directly; loss 'mse' (the paper), 'huber' (delta = 1 ab unit), or a Huber variant that commits to
    colour ('huber-colourful', 'huber-rebalanced', which needs the training split's colour prior)."""

    def __init__(self, loss: str = "mse", prior: torch.Tensor | None = None):
        if loss == "huber-rebalanced" and prior is None:
            raise ValueError("huber-rebalanced needs the training split's colour prior")
        self.loss_name, self.prior = loss, None if prior is None else prior.float()
        self.out_channels = 2
        if self.prior is not None:
            self.bins = ab_bins()
            weights = rebalancing_weights(self.prior).clamp(max=REBALANCE_CAP)
            self.weights = weights / (self.prior * weights).sum()

    def loss(self, prediction: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
        prediction = prediction.float()
        if self.loss_name == "mse":
            return F.mse_loss(prediction, ab_norm)
        huber = F.huber_loss(prediction, ab_norm, delta=HUBER_DELTA, reduction="none") / HUBER_DELTA
        if self.loss_name == "huber-rebalanced":
            pixel_weights = self.weights.to(ab_norm)[nearest_bin(ab_norm * AB_SCALE, self.bins)]  # (B, H, W)
            return (huber * pixel_weights[:, None]).mean()
        if self.loss_name == "huber-colourful":
            # on the network's ab / 110 scale, as the Huber loss divided by its delta is (beyond one ab unit, it is
            # the error less half a unit)
            deficit = colourfulness_ab(ab_norm) - colourfulness_ab(prediction.clamp(-1, 1))
            return huber.mean() + COLOURFUL_WEIGHT * F.relu(deficit).mean()
        return huber.mean()

    def decode(self, prediction: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        return prediction.float()

    def state(self) -> dict:
        state = {"kind": "regression", "loss": self.loss_name}
        return state if self.prior is None else {**state, "prior": self.prior}


class ClassificationHead:
    """Logits over quantised ab bins, rebalanced cross-entropy on soft targets, annealed-mean decoding."""

    def __init__(self, bins: torch.Tensor, prior: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE):
        self.bins, self.prior, self.temperature = bins.float(), prior.float(), float(temperature)
        self.weights = rebalancing_weights(self.prior)
        self.out_channels = len(bins)
        self.loss_name = "classification"

    def loss(self, logits: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
        ab = ab_norm * AB_SCALE  # (B, 2, H, W) in LAB units
        targets = soft_encode(ab, self.bins)
        pixel_weights = self.weights.to(ab)[nearest_bin(ab, self.bins)]  # (B, H, W)
        colourful = (ab.abs().amax(dim=(1, 2, 3)) >= GRAY_THRESHOLD).to(ab)  # gray images get no weight
        pixel_weights = pixel_weights * colourful[:, None, None]
        cross_entropy = -(targets * torch.log_softmax(logits.float(), dim=1)).sum(dim=1)
        return (cross_entropy * pixel_weights).sum() / pixel_weights[0].numel() / len(ab)

    def decode(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """(B, Q, H, W) logits -> (B, 2, H, W) ab / 110."""
        return annealed_mean(logits, self.bins, temperature or self.temperature) / AB_SCALE

    def state(self) -> dict:
        return {"kind": "classification", "bins": self.bins, "prior": self.prior, "temperature": self.temperature}


def head_from_state(state: dict | None):
    """Rebuild the head a checkpoint recorded (checkpoints without one are the paper's MSE regression)."""
    if not state or state["kind"] == "regression":
        return RegressionHead((state or {}).get("loss", "mse"), (state or {}).get("prior"))
    return ClassificationHead(state["bins"], state["prior"], state["temperature"])
