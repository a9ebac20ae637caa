"""Colour hints: checking every bad-hint case (points, strokes, hostile JSON), where a hint lands (any working size,
after EXIF rotation), spreading along objects and stopping at edges, saturation, the training simulation, a tiny
model that learns to follow hints, and the CLI and HTTP paths."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from colorizer import Colorizer
from colorizer.cli import main
from colorizer.inference.color import rgb_to_lab
from colorizer.inference.hints import MAX_HINTS, Hint, HintError, encode_hints, parse_hints
from colorizer.inference.serve import create_app
from colorizer.prepare import PrepareSettings, run_prepare
from colorizer.training.checkpoint import load_checkpoint, save_checkpoint
from colorizer.training.color import uint8_to_network
from colorizer.training.export import export_onnx
from colorizer.training.heads import RegressionHead
from colorizer.training.hints import simulate_hints
from colorizer.training.model import build_model

RED, BLUE = "#c83c28", "#2850c8"


@pytest.mark.parametrize(
    "hints, message",
    [
        ("[{", "not valid JSON"),
        ('{"x": 1}', "must be a JSON list"),
        ([{"x": 1, "y": 2, "color": "red"}], r"hint 1 .*color must be written #rrggbb"),
        ([{"x": 1, "y": 2, "color": "#12345"}], "hint 1 .*#rrggbb"),
        ([{"x": 1, "y": 2, "color": "#123456"}, {"x": 40, "y": 2, "color": "#123456"}], r"hint 2 .*outside the 40x30"),
        ([{"x": -1, "y": 2, "color": "#123456"}], "outside"),
        ([{"x": 1, "y": 30, "color": "#123456"}], "outside"),
        ([{"x": 1, "y": 2, "color": "#123456", "radius": -3}], "radius must be a number of pixels from 0"),
        ([{"x": 1, "y": 2, "color": "#ff0000\n"}], "#rrggbb"),
        ([{"points": [], "color": "#123456"}], "hint 1 .*points must be a non-empty list"),
        ([{"points": [[1, 2], [3]], "color": "#123456"}], "hint 1 .*point 2 must be a pair"),
        ([{"points": [[1, 2], [50, 3]], "color": "#123456"}], r"hint 1 .*point 2 \(50, 3\) is outside the 40x30"),
        ([{"points": [[1, 2], ["a", 3]], "color": "#123456"}], "point 2 x and y must be numbers"),
        ([{"points": [[1, 2]], "color": "#123456", "x": 3}], "unknown key x .*a stroke has points"),
        ([{"points": [[1, 2]]}], "missing color"),
        ([{"points": [[1, 2]], "color": "#123456", "radius": 1e9}], "radius must be"),
        ([{"points": "1,2", "color": "#123456"}], "points must be a non-empty list"),
        ([{"x": True, "y": 2, "color": "#123456"}], "x and y must be numbers"),
        ([{"x": 1, "color": "#123456"}], "missing y"),
        ([{"x": 1, "y": 2, "color": "#123456", "size": 3}], "unknown key size"),
        ([[1, 2]], "a hint is an object"),
        ([{"x": 1, "y": 2, "color": "#123456"}] * (MAX_HINTS + 1), f"at most {MAX_HINTS}"),
    ],
)
def test_bad_hints_are_refused_with_a_message_naming_them(hints, message):
    with pytest.raises(HintError, match=message):
        parse_hints(hints if isinstance(hints, str) else json.dumps(hints), width=40, height=30)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 5000 + "]" * 5000, "nest more than"),
        ('[{"x": ' + "9" * 5000 + ', "y": 1, "color": "#123456"}]', "cannot be read as JSON"),
        (b"\xff\xfe[]", "not UTF-8"),
    ],
)
def test_hostile_json_is_a_hint_error_not_a_crash(text, message):
    with pytest.raises(HintError, match=message):
        parse_hints(text, width=40, height=30)


def test_a_hints_file_with_a_byte_order_mark_is_read(tmp_path):
    from colorizer.inference.hints import read_hints_file

    path = tmp_path / "photo.hints.json"
    path.write_bytes('[{"x": 1, "y": 2, "color": "#123456"}]'.encode("utf-8-sig"))  # as Windows Notepad saves it
    assert read_hints_file(path, 40, 30)[0].points == ((1.0, 2.0),)


def test_strokes_parse_and_cover_the_line_through_their_points():
    (stroke,) = parse_hints(
        '[{"points": [[10, 20], [300, 20], [300, 200]], "color": "#c83c28", "radius": 4}]', 400, 300
    )
    assert stroke.stroke and stroke.points == ((10.0, 20.0), (300.0, 20.0), (300.0, 200.0)) and stroke.radius == 4
    maps = encode_hints([stroke], 400, 300, (150, 200))  # half scale: half width 2 working pixels
    mask = maps[2] > 0
    assert mask[10, 5:150].all() and mask[10:100, 150].all()  # along both segments
    assert mask[8:13, 50].all() and not mask[6, 50] and not mask[14, 50]  # 2 px either side of the line
    assert not mask[60, 60] and not mask[140, 190]  # nowhere else
    assert np.allclose(maps[:2, mask].T * 110, stroke.ab, atol=0.01)


def test_good_hints_parse_and_keep_their_colour():
    hints = parse_hints(
        '[{"x": 39, "y": 0, "color": "#B0302A", "radius": 0}, {"x": 0.5, "y": 29.9, "color": "#ffffff"}]', 40, 30
    )
    assert hints[0] == Hint.point(39.0, 0.0, "#b0302a", 0) and hints[1].radius is None
    assert np.allclose(hints[0].ab, rgb_to_lab(np.array([176, 48, 42], np.uint8))[1:])
    assert np.abs(hints[1].ab).max() < 0.01  # white has no chroma


@pytest.mark.parametrize("working", [(30, 40), (96, 128), (7, 9)])
def test_a_hint_lands_where_its_x_and_y_say_at_any_working_size(working):
    hint = Hint.point(300.0, 60.0, RED, radius=0)
    maps = encode_hints([hint], 400, 300, working)
    h, w = working
    ys, xs = np.nonzero(maps[2])
    assert (ys.tolist(), xs.tolist()) == ([int(60.5 * h / 300)], [int(300.5 * w / 400)])
    assert np.allclose(maps[:2, ys[0], xs[0]] * 110, hint.ab, atol=1e-3)
    assert maps[:2][:, maps[2] == 0].max() == 0  # nothing outside the hint


def test_radius_scales_with_the_working_size():
    maps = encode_hints(
        [Hint.point(200.0, 150.0, RED, radius=20)], 400, 300, (150, 200)
    )  # half scale: 10 px either side
    assert maps[2].sum() == 21 * 21


def test_training_simulation_follows_the_recipe():
    ab = torch.rand(64, 2, 48, 48) * 2 - 1
    generator = torch.Generator().manual_seed(0)
    hints = simulate_hints(ab, generator)
    counts = [int(hints[b, 2].sum() > 0) for b in range(64)]
    assert 0.7 < np.mean(counts) < 0.98  # about 7 in 8 samples get hints
    b = counts.index(1)
    mask = hints[b, 2] > 0
    assert torch.all(hints[b, :2][:, ~mask] == 0)
    again = simulate_hints(ab, torch.Generator().manual_seed(0))
    assert torch.equal(hints, again)  # seeded: resumed runs see the same hints


def flat(width: int, height: int, colour: str) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory) -> Path:
    """A tiny paper-trunk model that learns to follow hints, exported to ONNX like any trained model.

    It trains on photos of one random colour each: their lightness says nothing of their hue, so only the
    simulated hints can tell the network which colour to paint. A few hundred steps of the library's own pieces
    (the model with hint inputs, the hint simulation, the Huber head) in a plain loop: the training command itself
    runs with --hints in `test_train_with_hints_end_to_end`.
    """
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model, head = build_model("resnet18", input_channels=4), RegressionHead("huber")
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    for _ in range(300):
        colours = torch.randint(30, 226, (16, 3, 1, 1), generator=generator, dtype=torch.uint8)
        l_norm, ab_norm = uint8_to_network(colours.expand(16, 3, 32, 32).contiguous())
        loss = head.loss(model(torch.cat([l_norm, simulate_hints(ab_norm, generator)], dim=1)), ab_norm)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    root = tmp_path_factory.mktemp("hints")
    model_config = {"encoder": "resnet18", "out_channels": 2, "input_channels": 4}
    save_checkpoint(root / "tiny.pt", {"model": model.state_dict(), "model_config": model_config, "head": head.state()})
    export_onnx(root / "tiny.pt", root / "hints.onnx")
    return root / "hints.onnx"


def test_train_with_hints_end_to_end(tmp_path):
    """`colorizer train --hints` writes a hint model; a model trained without hints can start it (--init-from)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        flat(64, 48, ["#c83c28", "#2850c8", "#3c9646"][i % 3]).save(photos / f"p{i}.png")
    run_prepare(photos, tmp_path / "data", PrepareSettings(size=64), val_fraction=0.34, workers=1, progress=False)
    fast = ["--size", "32", "--batch-size", "4", "--workers", "0", "--no-progress", "--samples", "1", "--epochs", "1"]
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "plain"), *fast]) == 0
    hinted = tmp_path / "hinted"
    args = ["train", str(tmp_path / "data"), "--out", str(hinted), "--hints", *fast]
    assert main([*args, "--init-from", str(tmp_path / "plain" / "last.pt")]) == 0
    payload = load_checkpoint(hinted / "last.pt")
    assert payload["model_config"]["input_channels"] == 4 and payload["config"]["hints"] is True
    assert Colorizer.load(hinted / "last.pt").takes_hints
    assert (
        main(["train", str(tmp_path / "data"), "--out", str(hinted), *fast, "--epochs", "2", "--resume"]) == 2
    )  # hints differ


def _mean_ab(image: Image.Image) -> np.ndarray:
    return rgb_to_lab(np.asarray(image.convert("RGB")))[..., 1:].reshape(-1, 2).mean(axis=0)


def _closer_to(ab: np.ndarray, colour: str, other: str) -> bool:
    return np.linalg.norm(ab - Hint.point(0, 0, colour).ab) < np.linalg.norm(ab - Hint.point(0, 0, other).ab)


def test_a_tiny_model_learns_to_follow_hints(hint_model):
    """The learned hint branch alone (the network reads the hints; nothing spread afterwards)."""
    colorizer = Colorizer.load(hint_model, hints_to_network=True)
    assert colorizer.takes_hints
    photo = np.asarray(flat(56, 48, "#808080").convert("L"))  # its colour is not in its lightness

    def branch_ab(colour: str) -> np.ndarray:
        hints = colorizer.hints_for([{"x": 28, "y": 24, "color": colour}], 56, 48)
        return colorizer.predict_ab(colorizer.network_input(photo, 512, hints))[0].reshape(2, -1).mean(axis=1)

    red, blue = branch_ab(RED), branch_ab(BLUE)
    assert _closer_to(red, RED, BLUE) and _closer_to(blue, BLUE, RED), (red, blue)
    assert red[1] - blue[1] > 30  # b*: warm with the red hint, cold with the blue one


def _two_regions(width: int = 160, height: int = 120) -> Image.Image:
    """A gray photo: a darker left part and a lighter right part, split by a strong vertical edge at x = 100,
    with a little noise so the regions are not perfectly flat."""
    rng = np.random.default_rng(0)
    pixels = np.where(np.arange(width)[None, :] < 100, 90, 190) + rng.normal(0, 1.5, (height, width))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")


def _changed(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Pixels whose a*b* moved by more than 5 units."""
    lab = lambda image: rgb_to_lab(np.asarray(image.convert("RGB")))[..., 1:]  # noqa: E731
    return np.linalg.norm(lab(after) - lab(before), axis=-1) > 5


@pytest.mark.parametrize("size", [(160, 120), (161, 121), (321, 241)])  # odd at some level of the solver's pyramid
def test_a_hint_fills_its_region_and_stops_at_a_strong_edge(size):
    colorizer = Colorizer.load()
    photo = _two_regions(*size)
    automatic = colorizer.colorize(photo)
    hinted = colorizer.colorize(photo, hints=[{"x": 30, "y": 60, "color": BLUE}])
    changed = _changed(automatic, hinted)
    assert changed[:, :96].mean() > 0.95, changed[:, :96].mean()  # the whole left region, not a dot
    assert changed[:, 104:].mean() < 0.02, changed[:, 104:].mean()  # nothing beyond the edge
    left = rgb_to_lab(np.asarray(hinted))[:, :96, 1:].reshape(-1, 2).mean(axis=0)
    assert _closer_to(left, BLUE, RED) and left[1] < -20, left  # and blue (b* well below 0)


def test_a_stroke_colours_its_region_through_every_interface(hint_model, tmp_path):
    """The Python API and the CLI (a stroke in NAME.hints.json) give the region under a stroke its colour."""
    stroke = [{"points": [[120, 20], [130, 60], [125, 100]], "color": RED, "radius": 3}]
    colorizer = Colorizer.load()
    photo = _two_regions()
    automatic = colorizer.colorize(photo)
    hinted = colorizer.colorize(photo, hints=stroke)
    changed = _changed(automatic, hinted)
    assert changed[:, 104:].mean() > 0.95 and changed[:, :96].mean() < 0.02
    src = tmp_path / "album"
    src.mkdir()
    photo.save(src / "two.png")
    (src / "two.hints.json").write_text(json.dumps(stroke))
    assert main(["colorize", str(src), "--out", str(tmp_path / "out")]) == 0
    assert _changed(automatic, Image.open(tmp_path / "out" / "two.png"))[:, 104:].mean() > 0.95


def test_saturation_scales_the_colour():
    colorizer = Colorizer.load()
    photo = Image.open(Path(__file__).resolve().parents[1] / "examples" / "windmill.jpg")
    chroma = lambda image: np.linalg.norm(rgb_to_lab(np.asarray(image))[..., 1:], axis=-1).mean()  # noqa: E731
    normal, vivid = chroma(colorizer.colorize(photo)), chroma(colorizer.colorize(photo, saturation=1.5))
    assert 1.35 < vivid / normal < 1.6, (normal, vivid)  # gamut clipping takes a little off the most vivid
    assert chroma(colorizer.colorize(photo, saturation=0)) < 1.0
    with pytest.raises(ValueError, match="saturation must be"):
        colorizer.colorize(photo, saturation=-1)


def test_hints_land_right_after_exif_rotation(hint_model, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 90 wide x 60 high, displayed 60 wide x 90 high
    Image.new("L", (90, 60), 128).save(tmp_path / "rotated.jpg", exif=exif)
    colorizer = Colorizer.load(hint_model)
    from colorizer.images import read_photo

    photo = read_photo(tmp_path / "rotated.jpg")
    assert photo.size == (60, 90)
    hints = colorizer.hints_for([{"x": 50, "y": 10, "color": RED, "radius": 0}], *photo.size)
    maps = encode_hints(hints, *photo.size, colorizer.network_input(photo.pixels, 45).shape[2:])  # 30 x 45
    ys, xs = np.nonzero(maps[2])
    assert (ys.tolist(), xs.tolist()) == ([int(10.5 * 45 / 90)], [int(50.5 * 30 / 60)])


def test_models_without_a_hint_branch_follow_hints_too(tmp_path):
    model_config = {"encoder": "resnet18", "out_channels": 2, "input_channels": 1}
    state = build_model(**model_config).state_dict()
    save_checkpoint(tmp_path / "plain.pt", {"model": state, "model_config": model_config})
    export_onnx(tmp_path / "plain.pt", tmp_path / "plain.onnx")
    colorizer = Colorizer.load(tmp_path / "plain.onnx")
    assert not colorizer.takes_hints
    assert colorizer.colorize(Image.new("L", (40, 30), 128)).size == (40, 30)
    red = colorizer.colorize(Image.new("L", (40, 30), 128), hints=[{"x": 1, "y": 1, "color": RED}])
    assert _closer_to(_mean_ab(red), RED, BLUE)


def test_cli_hints_file_and_hints_beside_photos(hint_model, tmp_path, capsys):
    src = tmp_path / "album"
    src.mkdir()
    for name in ("a", "b", "c", "d"):
        flat(56, 48, "#808080").convert("L").save(src / f"{name}.png")
    (src / "a.hints.json").write_text(json.dumps([{"x": 28, "y": 24, "color": RED}]))  # a's own hints
    (src / "c.hints.json").write_text(json.dumps([{"x": 99, "y": 24, "color": RED}]))  # outside c: c fails
    bad_stroke = [{"x": 2, "y": 2, "color": RED}, {"points": [[1, 1], [20, 20]], "color": "#12"}]
    (src / "d.hints.json").write_text(json.dumps(bad_stroke))  # d fails too, naming its second hint
    shared = tmp_path / "blue.json"
    shared.write_text(json.dumps([{"x": 28, "y": 24, "color": BLUE}]))  # for b, which has none of its own
    out = tmp_path / "out"
    assert main(["colorize", str(src), "--out", str(out), "--model", str(hint_model), "--hints", str(shared)]) == 1
    err = capsys.readouterr().err
    assert "c.png" in err and "hint 1" in err and "outside the 56x48 photo" in err
    assert "d.png" in err and "hint 2" in err and "#rrggbb" in err
    assert not (out / "c.png").exists() and not (out / "d.png").exists()
    assert _closer_to(_mean_ab(Image.open(out / "a.png")), RED, BLUE)
    assert _closer_to(_mean_ab(Image.open(out / "b.png")), BLUE, RED)


def test_http_hints_field(hint_model):
    client = TestClient(create_app(Colorizer.load(hint_model)))
    assert client.get("/api/info").json()["hints"] is True
    buffer = io.BytesIO()
    flat(56, 48, "#808080").convert("L").save(buffer, format="PNG")
    upload = {"file": ("gray.png", buffer.getvalue())}
    red = client.post("/api/colorize", files=upload, data={"hints": json.dumps([{"x": 28, "y": 24, "color": RED}])})
    blue = client.post("/api/colorize", files=upload, data={"hints": json.dumps([{"x": 28, "y": 24, "color": BLUE}])})
    assert red.status_code == blue.status_code == 200
    assert _mean_ab(Image.open(io.BytesIO(red.content)))[1] - _mean_ab(Image.open(io.BytesIO(blue.content)))[1] > 30
    bad = client.post("/api/colorize", files=upload, data={"hints": '[{"x": 16, "y": 24, "color": "crimson"}]'})
    assert bad.status_code == 422 and "hint 1" in bad.json()["detail"] and "#rrggbb" in bad.json()["detail"]
    broken = client.post("/api/colorize", files=upload, data={"hints": "[{"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    for hostile, message in (("[" * 5000 + "]" * 5000, "nest"), ('[{"x": ' + "9" * 5000 + "}]", "JSON")):
        answer = client.post("/api/colorize", files=upload, data={"hints": hostile})
        assert answer.status_code == 422 and message in answer.json()["detail"]
    stroke = [{"points": [[5, 5], [80, 5]], "color": RED}]
    bad_stroke = client.post("/api/colorize", files=upload, data={"hints": json.dumps(stroke)})
    assert bad_stroke.status_code == 422 and "hint 1" in bad_stroke.json()["detail"]
    assert "point 2 (80, 5) is outside" in bad_stroke.json()["detail"]
    good = [{"points": [[5, 5], [50, 40]], "color": RED, "radius": 2}]
    painted = client.post("/api/colorize?saturation=1.2", files=upload, data={"hints": json.dumps(good)})
    assert painted.status_code == 200 and _closer_to(_mean_ab(Image.open(io.BytesIO(painted.content))), RED, BLUE)
    assert client.post("/api/colorize?saturation=9", files=upload).status_code == 422
