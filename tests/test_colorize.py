"""`colorizer colorize` and the Python API (ONNX Runtime): full resolution, orientation, lightness, modes, failures,
no overwrite."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.cli import main
from colorizer.inference.color import gray_preview, rgb_to_lab
from tests.conftest import colour_photo, tree_hashes

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _lab(image: Image.Image) -> np.ndarray:
    return rgb_to_lab(np.asarray(image.convert("RGB"))).transpose(2, 0, 1)  # (3, H, W)


def _assert_same_lightness(source: Image.Image, result: Image.Image) -> None:
    difference = np.abs(_lab(source)[0] - _lab(result)[0])
    assert difference.mean() < 0.5 and np.percentile(difference, 99) < 2.0


@pytest.mark.parametrize("size", [(333, 217), (217, 333), (31, 17)])
def test_output_keeps_size_and_lightness(colorizer, size):
    source = colour_photo(*size, seed=3)
    result = colorizer.colorize(source.convert("L"))
    assert result.size == size and result.mode == "RGB"
    _assert_same_lightness(source.convert("L"), result)


def test_colour_input_is_turned_gray_first(colorizer):
    source = colour_photo(120, 80, seed=5)
    rgb = np.asarray(source)
    gray = gray_preview(rgb)  # the same LAB lightness, no colour
    assert np.allclose(colorizer.network_input(rgb, 512), colorizer.network_input(gray, 512), atol=0.01)
    difference = np.abs(np.asarray(colorizer.colorize(source)).astype(int) - np.asarray(colorizer.colorize(gray)))
    assert difference.mean() < 4.0


def test_twelve_megapixel_photo(colorizer, tmp_path):
    colour_photo(4000, 3000, seed=1).convert("L").save(tmp_path / "big.jpg", quality=90)
    assert main(["colorize", str(tmp_path / "big.jpg"), "--out", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "big.jpg") as result, Image.open(tmp_path / "big.jpg") as source:
        assert result.size == (4000, 3000)
        _assert_same_lightness(source.resize((800, 600)), result.resize((800, 600)))
        # The colour is the model's for this photo (not gray, not another's): as colourised from a small copy.
        small = colorizer.colorize(source.resize((1000, 750), Image.BILINEAR)).resize((200, 150), Image.BOX)
        full = _lab(result.resize((200, 150), Image.BOX))[1:]
        assert np.linalg.norm(full, axis=0).mean() > 5  # coloured
        assert np.linalg.norm(full - _lab(small)[1:], axis=0).mean() < 2.5


def test_modes_and_orientation(colorizer, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 90x60, displayed upright as 60 wide x 90 high
    colour_photo(90, 60, 1).save(src / "rotated.jpg", exif=exif)
    rgba = colour_photo(50, 40, 2).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((50, 40)))
    rgba.save(src / "alpha.png")
    gray16 = (np.asarray(colour_photo(45, 35, 3).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(src / "sixteen.png")
    colour_photo(41, 29, 4).convert("P", palette=Image.ADAPTIVE).save(src / "palette.png")
    assert main(["colorize", str(src), "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    with Image.open(out / "rotated.jpg") as result:
        assert result.size == (60, 90) and result.getexif().get(0x0112) in (None, 1)
    with Image.open(out / "alpha.png") as result:
        assert result.mode == "RGBA" and result.size == (50, 40)
        assert np.array_equal(np.asarray(result.getchannel("A")), np.asarray(rgba.getchannel("A")))
    with Image.open(out / "sixteen.png") as result:
        assert result.size == (45, 35) and result.mode == "RGB"
        _assert_same_lightness(Image.fromarray((gray16 // 257).astype(np.uint8)), result)
    with Image.open(out / "palette.png") as result:
        assert result.size == (41, 29)


def test_folder_tree_mirrored_corrupt_file_reported_sources_untouched(tmp_path, capsys):
    src = tmp_path / "album"
    (src / "1950s" / "summer").mkdir(parents=True)
    colour_photo(64, 48, 1).convert("L").save(src / "a.png")
    colour_photo(64, 48, 2).convert("L").save(src / "1950s" / "b.jpg")
    colour_photo(80, 48, 3).convert("L").save(src / "1950s" / "summer" / "c.webp")
    (src / "1950s" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    before = tree_hashes(src)
    out = src / "coloured"  # inside the input tree, but named explicitly: allowed, and never read back as input
    status = main(["colorize", str(src), "--out", str(out), "--compare"])
    captured = capsys.readouterr()
    assert status == 1
    assert "broken.jpg" in captured.err and "1 of 4 files failed" in captured.err
    for name in ("a.png", "1950s/b.jpg", "1950s/summer/c.webp", "a_compare.png"):
        assert (out / name).is_file(), name
    assert {k: v for k, v in tree_hashes(src).items() if not k.startswith("coloured")} == before


def test_never_overwrites_without_the_flag(tmp_path, capsys):
    colour_photo(40, 30, 1).convert("L").save(tmp_path / "photo.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo.png").write_bytes(b"precious")
    assert main(["colorize", str(tmp_path / "photo.png"), "--out", str(out)]) == 0
    assert (out / "photo.png").read_bytes() == b"precious"
    assert "exists" in capsys.readouterr().err
    assert main(["colorize", str(tmp_path / "photo.png"), "--out", str(out), "--overwrite", "--format", "jpeg"]) == 0
    assert (out / "photo.png").read_bytes() == b"precious" and (out / "photo.jpg").is_file()
    assert main(["colorize", str(tmp_path / "photo.png"), "--out", str(out), "--overwrite"]) == 0
    with Image.open(out / "photo.png") as result:
        assert result.size == (40, 30)
    assert not list(out.glob(".*.tmp"))


def test_missing_input_and_missing_model_are_clear_errors(tmp_path, capsys):
    assert main(["colorize", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "out")]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["colorize", str(EXAMPLES / "camera.png"), "--out", str(tmp_path), "--model", "x.pt"]) == 2
    assert "x.pt does not exist" in capsys.readouterr().err


def test_python_api_accepts_pil_numpy_and_paths(colorizer):
    from_path = colorizer.colorize(EXAMPLES / "windmill.jpg")
    from_array = colorizer.colorize(np.asarray(Image.open(EXAMPLES / "windmill.jpg")))
    from_pil = colorizer.colorize(Image.open(EXAMPLES / "windmill.jpg"))
    assert from_path.size == from_array.size == from_pil.size == (320, 240)
    assert np.array_equal(np.asarray(from_path), np.asarray(from_pil))
    assert np.array_equal(np.asarray(from_array), np.asarray(from_pil))  # the same colour, not just the same size
    pixels = colorizer.colorize_array(np.asarray(Image.open(EXAMPLES / "windmill.jpg").convert("L")))
    assert pixels.shape == (240, 320, 3) and np.abs(pixels.astype(int) - np.asarray(from_pil)).max() <= 1
    assert np.linalg.norm(_lab(from_pil)[1:], axis=0).mean() > 5  # and it is colour


def test_bundled_model_metadata_and_real_colour(colorizer):
    metadata = colorizer.metadata
    assert metadata["model_config"]["encoder"] == "efficientnet-lite0"
    assert metadata["colorizer_version"] and metadata["config"]["size"] > 0
    mean = metadata["metrics"]["mean"]
    assert mean["model"]["delta_e"] < mean["gray"]["delta_e"]
    result = colorizer.colorize(EXAMPLES / "windmill.jpg")  # grass and sky
    lab = _lab(result)
    assert np.isfinite(lab).all()
    chroma = np.hypot(lab[1], lab[2])
    assert chroma.mean() > 5.0, chroma.mean()
    height = lab.shape[1]
    assert lab[1, int(height * 0.9) :].mean() < -2  # grass: green (a < 0)
    assert lab[2, : int(height * 0.2)].mean() < 0  # sky: blue (b < 0)
