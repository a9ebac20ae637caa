"""What "alike" means for a hint: alike pixels take the hint's colour (not its shift), and the learned description
(`colorizer fit-alike`) learns which pixels share their true colour, is used only with the model it was fitted for,
and is refused when damaged."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from colorizer import Colorizer
from colorizer.cli import main
from colorizer.inference.alike import LearnedAlike, alike_guide, load_learned, sidecar_path
from colorizer.inference.session import BUNDLED_MODEL
from colorizer.inference.spread import spread_corrections
from colorizer.training.alike_fit import fit_map


def _two_alike_disks() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lightness (h, w) of two identical light disks on a dark ground, the network's ab (2, h, w): the disks a
    little different in colour (a* 10 and 18), and the disks' masks."""
    height, width = 120, 200
    y, x = np.mgrid[0:height, 0:width]
    left = (y - 60) ** 2 + (x - 50) ** 2 < 25**2
    right = (y - 60) ** 2 + (x - 150) ** 2 < 25**2
    lightness = np.where(left | right, 70.0, 30.0).astype(np.float32)
    ab = np.zeros((2, height, width), np.float32)
    ab[0][left], ab[0][right] = 10.0, 18.0
    return lightness, ab, left, right


def test_alike_pixels_take_the_hint_s_colour_not_its_shift():
    """A blue click on the left disk: the alike right disk turns the same blue, although the network had coloured
    it differently (carrying the click's shift would leave it 8 a* units off)."""
    lightness, ab, left, right = _two_alike_disks()
    target = np.array([-20.0, -40.0], np.float32)
    mask = np.zeros(lightness.shape, np.float32)
    mask[58:63, 48:53] = 1
    labels = mask.astype(np.int32)
    wanted = (target[:, None, None] - ab) * mask
    guide = alike_guide(lightness, ab, wanted, labels, 1.0)
    result = ab + spread_corrections(lightness, mask, wanted, alike=guide)
    right_colour = result[:, right].mean(axis=1)
    assert np.abs(right_colour - target).max() < 2.5, right_colour
    assert np.abs(result[:, ~left & ~right]).max() < 5  # the ground keeps its colour


def test_fitting_learns_which_cells_share_their_true_colour():
    """Cells whose inputs carry their class in two of eight columns (the rest noise): after fitting, cells of one
    true colour lie close in the learned space and cells of different colours far apart, on photos not fitted on."""
    rng = np.random.default_rng(0)
    colours = np.array([[40, 10], [-30, 20], [0, -40], [0, 0]], np.float32)

    def photo(cells: int = 300):
        kind = rng.integers(0, 4, cells)
        inputs = rng.normal(0, 1, (cells, 8)).astype(np.float32)
        inputs[:, 0] += 3 * (kind % 2)
        inputs[:, 1] += 3 * (kind // 2)
        return inputs, colours[kind] + rng.normal(0, 2, (cells, 2)).astype(np.float32), kind

    fitted = [photo() for _ in range(20)]
    weights, bias = fit_map([p[0] for p in fitted], [p[1] for p in fitted], dimensions=4, steps=300)
    inputs, _, kind = photo()
    embedded = inputs @ weights.T + bias
    near = np.exp(-np.square(embedded[:, None] - embedded[None]).sum(-1) / 2)
    same = kind[:, None] == kind[None]
    assert near[same].mean() > 0.5 and near[~same].mean() < 0.15, (near[same].mean(), near[~same].mean())


def _copy_of_bundled(tmp_path: Path) -> Path:
    model = tmp_path / "model.onnx"
    shutil.copyfile(BUNDLED_MODEL, model)
    sidecar_path(model).unlink(missing_ok=True)
    return model


def test_fit_alike_writes_a_description_used_with_its_model_only(prepared, tmp_path, capsys):
    model = _copy_of_bundled(tmp_path)
    assert main(["fit-alike", str(prepared), "--model", str(model), "--steps", "20", "--every-val", "1"]) == 0
    sidecar = sidecar_path(model)
    learned = load_learned(model)
    assert learned is not None and learned.scale > 0 and learned.bias.shape == (16,)
    assert Colorizer.load(model).session.learned_alike is not None
    before = sidecar.read_bytes()
    assert main(["fit-alike", str(prepared), "--model", str(model), "--steps", "20"]) != 0  # never overwritten
    assert "--force" in capsys.readouterr().err and sidecar.read_bytes() == before
    other = tmp_path / "other.onnx"  # the same file under another name is the same model: its hash is the key
    shutil.copyfile(model, other)
    shutil.copyfile(sidecar, sidecar_path(other))
    assert load_learned(other) is not None
    changed = bytearray(model.read_bytes())
    changed[-1] ^= 1  # another model (one byte different) must not take it
    other.write_bytes(bytes(changed))
    with pytest.warns(UserWarning, match="fitted for another model"):
        assert load_learned(other) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: "{not json",
        lambda raw: json.dumps({**raw, "format": "something else"}),
        lambda raw: json.dumps({**raw, "bias": raw["bias"][:-1]}),
        lambda raw: json.dumps({**raw, "scale": -1}),
        lambda raw: json.dumps({**raw, "feature_weights": [[float("nan")] * 152] * 16}).replace("NaN", "1e999"),
    ],
)
def test_a_damaged_description_is_refused_with_a_warning_and_hints_still_work(tmp_path, damage):
    model = _copy_of_bundled(tmp_path)
    rng = np.random.default_rng(0)
    good = LearnedAlike(rng.normal(size=(16, 152)), rng.normal(size=(16, 5)), np.zeros(16), 1.0)
    from colorizer.training.alike_fit import write_sidecar

    write_sidecar(good, model, sidecar_path(model))
    assert load_learned(model) is not None
    raw = json.loads(sidecar_path(model).read_text())
    sidecar_path(model).write_text(damage(raw))
    with pytest.warns(UserWarning, match="alike"):
        colorizer = Colorizer.load(model)
    assert colorizer.session.learned_alike is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        photo = np.full((60, 80, 3), 128, np.uint8)
        colorizer.colorize(photo, hints=[{"x": 40, "y": 30, "color": "#2040c0"}])
