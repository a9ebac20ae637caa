"""Both runtimes' colour conversions (torch for training, NumPy for colourising) against scikit-image and each other,
and the network scaling as a round trip."""

import itertools

import numpy as np
import pytest
import torch
from skimage import color as skcolor

from colorizer.inference import color as npcolor
from colorizer.training import color


def _random_and_corner_colours() -> np.ndarray:
    rng = np.random.default_rng(0)
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=3)))
    grays = np.linspace(0, 1, 11)[:, None].repeat(3, axis=1)
    return np.concatenate([rng.random((2000, 3)), corners, grays])  # (N, 3) in [0, 1]


def _as_image(colours: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(colours.T[None, :, :, None]).float()  # (1, 3, N, 1)


def test_rgb_to_lab_matches_skimage():
    colours = _random_and_corner_colours()
    ours = color.rgb_to_lab(_as_image(colours))[0, :, :, 0].T.numpy()
    reference = skcolor.rgb2lab(colours[:, None, :])[:, 0, :]
    assert np.abs(ours - reference).max() < 0.05


def test_lab_to_rgb_matches_skimage():
    colours = _random_and_corner_colours()
    lab = skcolor.rgb2lab(colours[:, None, :])[:, 0, :]
    ours = color.lab_to_rgb(torch.from_numpy(lab.T[None, :, :, None]).float())[0, :, :, 0].T.numpy()
    reference = skcolor.lab2rgb(lab[:, None, :])[:, 0, :]
    assert np.abs(ours - reference).max() < 0.05 / 100  # in [0, 1]: far tighter than one 8-bit step


def test_round_trip_rgb_lab_rgb_within_one_level():
    colours = _random_and_corner_colours()
    back = color.lab_to_rgb(color.rgb_to_lab(_as_image(colours)))[0, :, :, 0].T.numpy()
    assert np.abs(back - colours).max() < 1 / 255


def test_lightness_only_matches_full_conversion():
    rgb = torch.rand(2, 3, 8, 9)
    assert torch.allclose(color.rgb_to_lightness(rgb), color.rgb_to_lab(rgb)[:, :1], atol=1e-4)


def test_batched_and_extra_dims():
    rgb = torch.rand(4, 3, 5, 6)
    lab = color.rgb_to_lab(rgb)
    assert lab.shape == rgb.shape and lab.dtype == torch.float32
    assert torch.allclose(lab[2], color.rgb_to_lab(rgb[2:3])[0], atol=1e-4)  # batching changes float rounding only


def test_network_scaling_round_trip():
    rgb = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    l_norm, ab_norm = color.uint8_to_network(rgb)
    assert l_norm.shape == (3, 1, 16, 16) and ab_norm.shape == (3, 2, 16, 16)
    assert l_norm.min() >= -1 and l_norm.max() <= 1 and ab_norm.abs().max() <= 1
    back = (color.network_to_rgb(l_norm, ab_norm) * 255).round()
    assert (back - rgb.float()).abs().max() <= 1


@pytest.mark.parametrize("x", [torch.tensor([0.0, 50.0, 100.0])])
def test_scaling_inverses(x):
    assert torch.allclose(color.denormalize_l(color.normalize_l(x)), x)
    assert torch.allclose(color.denormalize_ab(color.normalize_ab(x - 50)), x - 50)


# --- the NumPy conversions that colourising uses, against scikit-image and against the torch ones ----------------


def _uint8_colours() -> np.ndarray:
    return np.round(_random_and_corner_colours() * 255).astype(np.uint8)[:, None, :]  # (N, 1, 3)


def test_numpy_lightness_matches_skimage_for_rgb_and_gray():
    colours = _uint8_colours()
    reference = skcolor.rgb2lab(colours)[..., 0]
    assert np.abs(npcolor.lightness(colours) - reference).max() < 0.01
    gray = np.arange(256, dtype=np.uint8)[None]
    gray_reference = skcolor.rgb2lab(np.repeat(gray[..., None], 3, axis=2))[..., 0]
    assert np.abs(npcolor.lightness(gray) - gray_reference).max() < 1e-3
    assert npcolor.lightness(gray).dtype == np.float32


def test_numpy_rgb_to_lab_matches_skimage():
    colours = _uint8_colours()
    assert np.abs(npcolor.rgb_to_lab(colours) - skcolor.rgb2lab(colours)).max() < 1e-3


def test_numpy_round_trip_is_exact_in_gamut():
    colours = _uint8_colours()
    lab = npcolor.rgb_to_lab(colours).astype(np.float32)
    back = npcolor.lab_to_rgb(lab[..., 0], lab[..., 1], lab[..., 2])
    assert back.dtype == np.uint8 and np.abs(back.astype(int) - colours).max() == 0


def test_numpy_and_torch_agree_out_of_gamut_and_on_upsampling():
    """The full-resolution recombination (bilinear ab upsampling + LAB -> sRGB, clipped) against the torch path,
    on a photo tall enough to be converted in several strips by several threads."""
    rng = np.random.default_rng(1)
    height = npcolor.STRIP_ROWS * 4 + 7
    lightness = rng.uniform(0, 100, (height, 83)).astype(np.float32)
    ab = (rng.standard_normal((2, 13, 17)) * 60).astype(np.float32)  # far outside sRGB in places
    ours = npcolor.colorize_lightness(lightness, ab)
    ab_full = torch.nn.functional.interpolate(torch.from_numpy(ab)[None], size=(height, 83), mode="bilinear")
    lab = torch.cat([torch.from_numpy(lightness)[None, None], ab_full], dim=1)
    theirs = (color.lab_to_rgb(lab)[0] * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(ours.astype(int) - theirs).max() <= 1


def test_numpy_scaling_matches_torch_and_inverts():
    values = np.array([0.0, 12.5, 50.0, 100.0], np.float32)
    assert np.allclose(npcolor.normalize_l(values), color.normalize_l(torch.from_numpy(values)).numpy())
    assert np.allclose(npcolor.normalize_ab(values - 50), color.normalize_ab(torch.from_numpy(values - 50)).numpy())
    assert np.allclose(npcolor.denormalize_l(npcolor.normalize_l(values)), values)
    assert np.allclose(npcolor.denormalize_ab(npcolor.normalize_ab(values - 50)), values - 50)


def test_the_chroma_boost_against_values_worked_out_by_hand():
    """boost 0.5, full at chroma 30: c -> c * (1 + 0.5 * min(c / 30, 1)); the hue kept; chroma beyond the cap
    (up to 130) gains exactly 1.5x, not more."""
    from colorizer.inference.color import boost_chroma

    expected = {0: 0.0, 6: 6.6, 15: 18.75, 30: 45.0, 60: 90.0, 100: 150.0, 130: 195.0}
    angles = np.deg2rad([0, 37, 135, 250])
    for chroma, boosted in expected.items():
        for angle in angles:
            ab = np.array([chroma * np.cos(angle), chroma * np.sin(angle)], np.float32).reshape(2, 1, 1)
            out = boost_chroma(ab, 0.5)[:, 0, 0]
            assert abs(np.hypot(*out) - boosted) < 1e-3, (chroma, np.hypot(*out))
            if chroma:
                assert abs(np.arctan2(out[1], out[0]) - np.arctan2(ab[1, 0, 0], ab[0, 0, 0])) < 1e-5
    assert np.array_equal(boost_chroma(np.full((2, 1, 1), 40, np.float32), 0), np.full((2, 1, 1), 40))
