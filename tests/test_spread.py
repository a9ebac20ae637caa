"""How a hint spreads (`spread.py`, `alike.py`): the solver solves its own system, one click stays on its object,
alike things follow as far as the reach says, on photos of odd sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from PIL import Image

from colorizer import Colorizer
from colorizer.cli import main
from colorizer.inference.alike import alike_guide
from colorizer.inference.color import rgb_to_lab
from colorizer.inference.spread import Level, build_system, solve, spread_corrections

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _direct(level: Level, rhs: np.ndarray) -> np.ndarray:
    """The same system solved by a sparse LU factorisation (SciPy), channel by channel."""
    h, w = level.shape
    index = np.arange(h * w).reshape(h, w)
    rows, cols, values = [index.ravel()], [index.ravel()], [level.diagonal.ravel().astype(np.float64)]
    for weights, a, b in ((level.wx, index[:, :-1], index[:, 1:]), (level.wy, index[:-1], index[1:])):
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
        values += [-weights.ravel(), -weights.ravel()]
    matrix = scipy.sparse.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))))
    factor = scipy.sparse.linalg.splu(matrix)
    return np.stack([factor.solve(channel.ravel().astype(np.float64)).reshape(h, w) for channel in rhs])


def _textured_scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Lightness (h, w): a bright disk, a mid bar and a dark ground, with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    lightness = np.full((height, width), 30.0)
    lightness[(y - height * 0.4) ** 2 + (x - width * 0.3) ** 2 < (0.2 * min(height, width)) ** 2] = 72.0
    lightness[:, int(width * 0.7) : int(width * 0.8)] = 50.0
    return (lightness + rng.normal(0, 2, lightness.shape)).astype(np.float32)


@pytest.mark.parametrize("shape", [(120, 161), (241, 199), (97, 250)])
def test_the_solver_agrees_with_a_direct_sparse_solve(shape):
    height, width = shape
    lightness = _textured_scene(height, width)
    rng = np.random.default_rng(1)
    mask = np.zeros(shape, np.float32)
    wanted = np.zeros((2, *shape), np.float32)
    labels = np.zeros(shape, np.int32)
    for number in range(1, 4):
        top, left = int(rng.integers(0, height - 5)), int(rng.integers(0, width - 5))
        mask[top : top + 5, left : left + 5] = 1
        wanted[:, top : top + 5, left : left + 5] = rng.normal(0, 40, (2, 1, 1))
        labels[top : top + 5, left : left + 5] = number
    model_ab = np.zeros((2, *shape), np.float32)
    guide = alike_guide(lightness, model_ab, wanted, labels, 0.6)
    for pull, alike in ((None, None), (None, guide), (1e-4, guide)):
        from colorizer.inference.spread import pull_for

        level, rhs = build_system(lightness, mask, wanted, pull_for(shape) if pull is None else pull, alike)
        ours, _ = solve(level, rhs)
        exact = _direct(level, rhs)
        assert np.abs(ours - exact).max() < 0.5, (pull, np.abs(ours - exact).max())


def _disk_photo(height: int = 241, width: int = 321) -> Image.Image:
    """A light disk (L about 70) on a dark background (L about 34): the disk is the minority of the photo."""
    y, x = np.mgrid[0:height, 0:width]
    inside = (y - 120) ** 2 + (x - 160) ** 2 < 60**2
    gray = np.where(inside, 172, 82).astype(np.uint8)
    return Image.fromarray(gray, "L"), inside


def _changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    lab = lambda image: rgb_to_lab(np.asarray(image.convert("RGB")))[..., 1:]  # noqa: E731
    return np.linalg.norm(lab(after) - lab(before), axis=-1) > 5


def test_one_click_colours_the_small_disk_under_it_and_nothing_beyond():
    colorizer = Colorizer.load()
    photo, inside = _disk_photo()
    automatic = colorizer.colorize(photo)
    clicked = colorizer.colorize(photo, hints=[{"x": 160, "y": 120, "color": "#c02020"}])
    changed = _changed(automatic, clicked)
    assert changed[inside].mean() >= 0.9, changed[inside].mean()
    edge = np.zeros_like(inside)  # the two pixels either side of the edge are the upsampling's to blend
    edge[1:-1, 1:-1] = inside[:-2, 1:-1] ^ inside[2:, 1:-1] | inside[1:-1, :-2] ^ inside[1:-1, 2:]
    beyond = ~inside & ~edge
    assert changed[beyond].mean() <= 0.02, changed[beyond].mean()
    disk_ab = rgb_to_lab(np.asarray(clicked))[inside][:, 1:].mean(axis=0)
    assert disk_ab[0] > 25, disk_ab  # and red: a* well above 0


def _two_disks(reach_photo_width: int = 401) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """Two identical light disks far apart on a dark ground."""
    height, width = 201, reach_photo_width
    y, x = np.mgrid[0:height, 0:width]
    left = (y - 100) ** 2 + (x - 80) ** 2 < 40**2
    right = (y - 100) ** 2 + (x - (width - 80)) ** 2 < 40**2
    gray = np.where(left | right, 170, 60).astype(np.uint8)
    return Image.fromarray(gray, "L"), left, right


def test_reach_takes_a_click_from_its_object_to_everything_alike():
    colorizer = Colorizer.load()
    photo, left, right = _two_disks()
    automatic = colorizer.colorize(photo)
    click = {"x": 80, "y": 100, "color": "#2040c0"}
    shares = {}
    for reach in (0.0, None, 1.0):
        changed = _changed(automatic, colorizer.colorize(photo, hints=[click], reach=reach))
        shares[reach] = (changed[left].mean(), changed[right].mean(), changed[~left & ~right].mean())
    assert all(share[0] > 0.9 for share in shares.values()), shares  # the clicked disk, at every reach
    assert shares[0.0][1] < 0.05, shares  # reach 0: only the object under the click
    assert shares[None][1] > 0.8 and shares[1.0][1] > 0.9, shares  # the default and 1: the alike disk follows
    # the ground does not at the default (at reach 1, "all that may share the colour", a gray ground may: the
    # learned description cannot tell a drawing's gray ground from its gray disks by their colour)
    assert shares[0.0][2] < 0.05 and shares[None][2] < 0.05, shares


def test_a_hint_s_own_reach_overrides_the_call_s():
    colorizer = Colorizer.load()
    photo, left, right = _two_disks()
    automatic = colorizer.colorize(photo)
    own = colorizer.colorize(photo, hints=[{"x": 80, "y": 100, "color": "#2040c0", "reach": 0}], reach=1.0)
    assert _changed(automatic, own)[right].mean() < 0.05


def test_one_click_on_a_real_photo_stays_local():
    """The windmill example: one click of a contrasting colour at the centre colours what is under it, a small
    part of the photo, not the whole photo as a global shift would."""
    colorizer = Colorizer.load()
    photo = Image.open(EXAMPLES / "windmill.jpg")
    width, height = photo.size
    automatic = colorizer.colorize(photo)
    centre = rgb_to_lab(np.asarray(automatic))[height // 2, width // 2, 1:]
    opposite = "#c0307a" if centre[1] > 0 else "#d0a020"  # away from the model's colour there
    clicked = colorizer.colorize(photo, hints=[{"x": width // 2, "y": height // 2, "color": opposite}])
    changed = _changed(automatic, clicked)
    assert changed[height // 2 - 3 : height // 2 + 4, width // 2 - 3 : width // 2 + 4].all()
    assert 0.002 < changed.mean() < 0.25, changed.mean()


def test_reach_in_the_hints_file_and_on_the_command_line(tmp_path, capsys):
    photo, left, right = _two_disks()
    src = tmp_path / "album"
    src.mkdir()
    photo.save(src / "disks.png")
    (src / "disks.hints.json").write_text(json.dumps([{"x": 80, "y": 100, "color": "#2040c0"}]))
    automatic = Colorizer.load().colorize(photo)
    assert main(["colorize", str(src), "--out", str(tmp_path / "local"), "--hint-reach", "0"]) == 0
    assert main(["colorize", str(src), "--out", str(tmp_path / "far"), "--hint-reach", "1"]) == 0
    local = _changed(automatic, Image.open(tmp_path / "local" / "disks.png"))
    far = _changed(automatic, Image.open(tmp_path / "far" / "disks.png"))
    assert local[left].mean() > 0.9 and local[right].mean() < 0.05
    assert far[right].mean() > 0.9
    with pytest.raises(SystemExit) as refused:
        main(["colorize", str(src), "--out", str(tmp_path / "bad"), "--hint-reach", "2"])
    assert refused.value.code == 2
    assert "--hint-reach: 2 is out of range" in capsys.readouterr().err


def test_spread_corrections_without_hints_is_zero():
    assert not spread_corrections(np.zeros((40, 50)), np.zeros((40, 50)), np.zeros((2, 40, 50))).any()


def test_a_wide_hint_does_not_widen_the_others():
    """Reach is per hint: a yellow hint on the ground reaching far (0.5) beside a blue one of reach 0 on the left
    disk leaves the right disk as the yellow one alone leaves it (widening the blue one too would turn it blue).
    (At reach 1 the yellow ground hint goes over both disks, the blue one's own included: issue 41's reach scale.)"""
    colorizer = Colorizer.load()
    photo, left, right = _two_disks()
    blue = {"x": 80, "y": 100, "color": "#2040c0", "reach": 0}
    yellow = {"x": photo.size[0] // 2, "y": 15, "color": "#d0a020", "reach": 0.5}
    alone = rgb_to_lab(np.asarray(colorizer.colorize(photo, hints=[yellow])))
    both = rgb_to_lab(np.asarray(colorizer.colorize(photo, hints=[blue, yellow])))
    assert both[left][:, 2].mean() < -20  # the blue disk is blue
    assert abs(both[right][:, 2].mean() - alone[right][:, 2].mean()) < 2  # and no blue went to the right disk
