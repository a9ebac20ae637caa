"""The numbers both runtimes must agree on: CIE LAB (sRGB, D65) and the network's scaling of L and ab.

Plain Python, no NumPy or torch: `colorizer.training.color` (torch, for training) and `colorizer.inference.color`
(NumPy, for colourising) each build their conversion from these constants, and a test checks the two against each
other and against scikit-image.

    L  in [0, 100]             --> L / L_SCALE - 1   in [-1, 1]      (network input)
    ab in about [-110, 110]    --> ab / AB_SCALE     about [-1, 1]   (network target and output)
"""

from __future__ import annotations

# sRGB primaries with the D65 white point (the same constants as scikit-image): linear RGB -> XYZ.
RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
WHITE_D65 = (0.95047, 1.0, 1.08883)

SRGB_KNEE = 0.04045  # sRGB value below which the transfer curve is linear (value / 12.92)
LINEAR_KNEE = 0.0031308  # the same knee on the linear side
LAB_EPSILON = (6 / 29) ** 3  # 0.008856: where the LAB cube root switches to its linear segment
LAB_KAPPA = 1 / (3 * (6 / 29) ** 2)  # 7.787: slope of that linear segment

L_SCALE = 50.0  # L in [0, 100] <-> [-1, 1]
AB_SCALE = 110.0  # ab in about [-110, 110] <-> about [-1, 1]

# Colour hints (models trained with `--hints`): the network input is 4 channels,
#   0: L / L_SCALE - 1      1: hint a / AB_SCALE      2: hint b / AB_SCALE      3: mask (1 where a hint is, else 0)
# with a and b 0 wherever the mask is 0. Both runtimes build their hint maps to this layout.
HINT_INPUT_CHANNELS = 4

# The working size (the network's longer side) anything accepts: the network's memory grows with the working pixels:
# on a 12-MP photo 2048 peaks at 3.1 GB, 4096 at 11.9 GB (README, "Bad input"). A photo is never upscaled.
MIN_WORKING_SIZE, MAX_WORKING_SIZE = 64, 2048
