"""A reference photo: the photo takes the reference's colours where their content matches (a generated pair: the same
scene, moved, in colours the model would not choose), through the Python API, the CLI, the HTTP API and the page;
bad references named."""

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from colorizer import Colorizer
from colorizer.cli import main
from colorizer.inference.color import lab_to_rgb, rgb_to_lab
from colorizer.inference.photos import ReferenceError
from colorizer.inference.reference import Reference
from colorizer.inference.serve import ServeLimits, create_app
from tests.test_serve import PIXELS_OF_RESULT, browser, live_server  # noqa: F401  (fixtures)

RED_AB, BLUE_AB = (55.0, 35.0), (5.0, -45.0)


def scene(width: int, height: int, shift: int, seed: int = 0) -> np.ndarray:
    """A smooth bright sky over dark rough ground, the horizon wavy; `shift` moves the scene sideways.
    Returns L (H, W) in [0, 100]."""
    rng = np.random.default_rng(seed)
    x = np.arange(width)[None, :] + shift
    y = np.arange(height)[:, None]
    horizon = height * 0.45 + 6 * np.sin(x / 17.0)
    ground = y > horizon
    sky = 82 - 10 * y / height + np.zeros_like(x, float)
    rough = 30 + 12 * np.sin(x / 2.3) * np.cos(y / 1.7) + rng.normal(0, 4, (height, width))
    return np.where(ground, rough, sky)


def coloured(lightness: np.ndarray) -> np.ndarray:
    """The scene with a blue sky and red ground (a* and b* by region)."""
    ground = lightness < 55
    a = np.where(ground, RED_AB[0], BLUE_AB[0])
    b = np.where(ground, RED_AB[1], BLUE_AB[1])
    return lab_to_rgb(lightness, a, b)


def gray(lightness: np.ndarray) -> np.ndarray:
    return lab_to_rgb(lightness, np.zeros_like(lightness), np.zeros_like(lightness))


def regions(photo_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return photo_l > 60, photo_l < 50


def region_ab(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb)[..., 1:][mask].mean(axis=0)


@pytest.fixture(scope="module")
def pair():
    target_l, reference_l = scene(240, 160, 0), scene(300, 180, 25, seed=1)  # moved, other size and aspect
    return gray(target_l), coloured(reference_l), target_l


def follows_reference(rgb: np.ndarray, target_l: np.ndarray) -> bool:
    sky, ground = regions(target_l)
    sky_ab, ground_ab = region_ab(rgb, sky), region_ab(rgb, ground)
    return bool(sky_ab[1] < -25 and ground_ab[0] > 30 and ground_ab[1] > 15)


def test_the_photo_takes_the_reference_colours_where_the_content_matches(colorizer, pair):
    target, reference, target_l = pair
    automatic = np.asarray(colorizer.colorize(target))
    assert not follows_reference(automatic, target_l)  # the model alone does not paint red ground
    steered = np.asarray(colorizer.colorize(target, reference=reference))
    assert follows_reference(steered, target_l), (
        region_ab(steered, regions(target_l)[0]),
        region_ab(steered, regions(target_l)[1]),
    )
    assert np.abs(rgb_to_lab(steered)[..., 0] - target_l).mean() < 1.0  # the photo's own lightness
    ready = colorizer.reference(reference)  # prepared once, reused
    assert np.array_equal(np.asarray(colorizer.colorize(target, reference=ready)), steered)


def test_a_model_without_encoder_features_still_follows_a_reference(pair, tmp_path):
    """Models exported before the features output: matched by lightness, texture, place and colour alone."""
    import onnx

    from colorizer.inference.session import BUNDLED_MODEL

    target, reference, target_l = pair
    proto = onnx.load(str(BUNDLED_MODEL))
    kept = [output for output in proto.graph.output if output.name == "ab"]
    del proto.graph.output[:]
    proto.graph.output.extend(kept)
    onnx.save(proto, str(tmp_path / "older.onnx"))
    older = Colorizer.load(tmp_path / "older.onnx")
    assert not older.session.has_features
    assert follows_reference(np.asarray(older.colorize(target, reference=reference)), target_l)


def test_a_matcher_prepared_once_matches_only_where_asked(colorizer, pair):
    """What key frames use for the pixels whose carried colour was lost: the reference prepared once, matched at
    the grid points asked for (at most MAX_QUERIES of them), each with the reference's colour for its content."""
    from colorizer.inference.color import denormalize_l
    from colorizer.inference.reference import MAX_QUERIES, STEP, Matcher

    target, reference, target_l = pair
    matcher = Matcher(colorizer.reference(reference))
    network_input = colorizer.network_input(target, 512)
    ab, features = colorizer.predict_with_features(network_input)
    lightness = denormalize_l(network_input[0, 0])
    sky, ground = regions(lightness)
    mask, hinted = matcher.hints(lightness, ab[0], features[0], ground)  # only the ground asked for
    assert mask[sky].max() == 0 and (mask[ground] > 0).sum() > 0
    assert np.median(hinted[0][mask > 0.3]) > 30  # red: the reference's ground
    everywhere = np.ones(lightness.shape, bool)
    mask, _ = matcher.hints(lightness, ab[0], features[0], everywhere)
    assert 0 < (mask > 0).sum() <= MAX_QUERIES < everywhere[::STEP, ::STEP].sum()


def test_user_hints_win_over_the_reference(colorizer, pair):
    target, reference, target_l = pair
    hint = [{"points": [[10, 140], [230, 140]], "color": "#20a040", "radius": 12}]  # green on the ground
    both = np.asarray(colorizer.colorize(target, reference=reference, hints=hint))
    under = np.zeros(target_l.shape, bool)
    under[134:147, 20:220] = True
    assert region_ab(both, under)[0] < -5  # under the stroke: green, not the reference's red
    away = np.zeros(target_l.shape, bool)
    away[95:110, 20:220] = True
    assert region_ab(both, away & regions(target_l)[1])[0] > 25  # the rest of the ground still follows the reference


def test_bad_references_are_named(colorizer, pair, tmp_path):
    target, reference, _ = pair
    Image.fromarray(gray(scene(50, 40, 0))).save(tmp_path / "gray.png")
    (tmp_path / "notes.png").write_bytes(b"not an image")
    with pytest.raises(ReferenceError, match="gray.png: is a grayscale photo"):
        colorizer.colorize(target, reference=tmp_path / "gray.png")
    with pytest.raises(ReferenceError, match="notes.png: not a readable image"):
        colorizer.colorize(target, reference=str(tmp_path / "notes.png"))


def test_reference_on_the_command_line(pair, tmp_path, capsys):
    target, reference, target_l = pair
    Image.fromarray(target).save(tmp_path / "old.png")
    Image.fromarray(reference).save(tmp_path / "ref.jpg", quality=95)
    assert (
        main(
            [
                "colorize",
                str(tmp_path / "old.png"),
                "--reference",
                str(tmp_path / "ref.jpg"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert follows_reference(np.asarray(Image.open(tmp_path / "o" / "old.png")), target_l)
    Image.fromarray(gray(scene(50, 40, 0))).convert("L").save(tmp_path / "gray.png")
    code = main(
        ["colorize", str(tmp_path / "old.png"), "--reference", str(tmp_path / "gray.png"), "--out", str(tmp_path / "p")]
    )
    assert code == 2 and "reference" in capsys.readouterr().err and not (tmp_path / "p").exists()


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_reference_in_the_http_api(colorizer, pair):
    target, reference, target_l = pair
    client = TestClient(create_app(colorizer, ServeLimits(max_upload_mb=1.0, max_megapixels=2.0)))
    files = {"file": ("old.png", _png(target)), "reference": ("ref.png", _png(reference))}
    response = client.post("/api/colorize", files=files)
    assert response.status_code == 200
    assert follows_reference(np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")), target_l)
    calls = []
    prepare = colorizer.reference

    def counted(image, *args, **kwargs):
        if not isinstance(image, Reference):  # a prepared one passes straight through
            calls.append(1)
        return prepare(image, *args, **kwargs)

    colorizer.reference = counted
    try:  # the page sends the same reference with every hint change: it is prepared once
        again = client.post("/api/colorize", files=files, data={"hints": '[{"x": 5, "y": 5, "color": "#204080"}]'})
        assert again.status_code == 200 and calls == []
    finally:
        del colorizer.reference
    refused = client.post(
        "/api/colorize", files={"file": ("old.png", _png(target)), "reference": ("r.png", _png(target))}
    )
    assert refused.status_code == 422 and refused.json()["detail"].startswith("reference: is a grayscale photo")
    broken = client.post("/api/colorize", files={"file": ("old.png", _png(target)), "reference": ("r.png", b"junk")})
    assert broken.status_code == 415 and broken.json()["detail"].startswith("reference:")


def test_reference_upload_on_the_page(live_server, browser, pair, tmp_path):  # noqa: F811
    target, reference, target_l = pair
    Image.fromarray(target).save(tmp_path / "old.png")
    Image.fromarray(reference).save(tmp_path / "ref.png")
    page = browser.new_page()
    page.goto(live_server)
    page.set_input_files("#files", str(tmp_path / "old.png"))
    page.wait_for_function("document.querySelector('.result .status').textContent === 'done'", timeout=60_000)
    height, width = target_l.shape

    def result() -> np.ndarray:
        rgba = np.array(page.evaluate(PIXELS_OF_RESULT), np.uint8).reshape(height, width, 4)
        return np.ascontiguousarray(rgba[..., :3])

    assert not follows_reference(result(), target_l)
    page.set_input_files("#reference", str(tmp_path / "ref.png"))  # every photo on the page follows it
    page.wait_for_function(
        "document.querySelector('.result').dataset.busy === '0'"
        " && document.querySelector('.result .status').textContent === 'done'",
        timeout=60_000,
    )
    page.wait_for_timeout(200)
    assert follows_reference(result(), target_l)
    page.click("#clear-reference")
    page.wait_for_function("document.querySelector('.result').dataset.busy === '0'", timeout=60_000)
    page.wait_for_timeout(200)
    assert not follows_reference(result(), target_l)
