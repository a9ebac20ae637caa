"""sRGB <-> CIE LAB (D65) and the network's scaling of L and ab, in torch (training; inference uses NumPy).

The constants come from `colorizer.conventions`, shared with `colorizer.inference.color`. Every conversion here is
batched, works on any device and keeps float32. Each function sits next to its inverse:

    rgb (B, 3, H, W) in [0, 1]  --rgb_to_lab-->  lab (B, 3, H, W): L in [0, 100], a/b roughly in [-110, 110]
    L   in [0, 100]             --normalize_l-->  [-1, 1]          (network input)
    ab  in [-110, 110]          --normalize_ab--> about [-1, 1]    (network target / output)
"""

from __future__ import annotations

import torch

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

_RGB_TO_XYZ = torch.tensor(RGB_TO_XYZ)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ.double()).float()
_WHITE_D65 = torch.tensor(WHITE_D65)
_EPS, _KAPPA = LAB_EPSILON, LAB_KAPPA


def _apply_matrix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Multiply the channel dimension (dim -3) of (..., 3, H, W) by a 3x3 matrix."""
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x.device, x.dtype), x)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb <= SRGB_KNEE, rgb / 12.92, ((rgb.clamp(min=0) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    return torch.where(linear <= LINEAR_KNEE, linear * 12.92, 1.055 * linear.clamp(min=0) ** (1 / 2.4) - 0.055)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB in [0, 1] -> (..., 3, H, W) CIE LAB (D65): L in [0, 100], a and b unbounded."""
    xyz = _apply_matrix(srgb_to_linear(rgb.float()), _RGB_TO_XYZ)
    xyz = xyz / _WHITE_D65.to(xyz.device).view(3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), _KAPPA * xyz + 16 / 116)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) CIE LAB -> (..., 3, H, W) sRGB clipped to [0, 1] (out-of-gamut colours are clipped)."""
    lightness, a, b = lab.float().unbind(dim=-3)
    fy = (lightness + 16) / 116
    f = torch.stack([fy + a / 500, fy, (fy - b / 200)], dim=-3)
    xyz = torch.where(f > 6 / 29, f**3, (f - 16 / 116) / _KAPPA).clamp(min=0)
    xyz = xyz * _WHITE_D65.to(xyz.device).view(3, 1, 1)
    return linear_to_srgb(_apply_matrix(xyz, _XYZ_TO_RGB)).clamp(0, 1)


def rgb_to_lightness(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) sRGB in [0, 1] -> (..., 1, H, W) L in [0, 100]; cheaper than the full conversion."""
    y = _apply_matrix(srgb_to_linear(rgb.float()), _RGB_TO_XYZ)[..., 1:2, :, :]
    return 116 * torch.where(y > _EPS, y.clamp(min=_EPS) ** (1 / 3), _KAPPA * y + 16 / 116) - 16


def normalize_l(lightness: torch.Tensor) -> torch.Tensor:
    return lightness / L_SCALE - 1.0


def denormalize_l(l_norm: torch.Tensor) -> torch.Tensor:
    return (l_norm + 1.0) * L_SCALE


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_SCALE


def denormalize_ab(ab_norm: torch.Tensor) -> torch.Tensor:
    return ab_norm * AB_SCALE


def uint8_to_network(rgb_uint8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, H, W) uint8 RGB -> (L, ab) for the network: (B, 1, H, W) in [-1, 1] and (B, 2, H, W) ab / 110."""
    lab = rgb_to_lab(rgb_uint8.float() / 255.0)
    return normalize_l(lab[:, :1]), normalize_ab(lab[:, 1:])


def network_to_rgb(l_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """Inverse of `uint8_to_network`: (B, 1, H, W) and (B, 2, H, W) -> (B, 3, H, W) RGB in [0, 1]."""
    lab = torch.cat([denormalize_l(l_norm.float()), denormalize_ab(ab_norm.float())], dim=1)
    return lab_to_rgb(lab)
