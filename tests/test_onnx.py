"""The ONNX path: export keeps the metadata, both heads export, PyTorch and ONNX Runtime agree on real photos,
checkpoints load on the fly, damaged and foreign model files get clear errors, and colourising never needs torch."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

from colorizer import Colorizer
from colorizer.cli import main
from colorizer.inference.color import boost_chroma
from colorizer.inference.session import BUNDLED_MODEL, ModelError, ModelSession
from colorizer.training import color
from colorizer.training.checkpoint import load_checkpoint, model_from_checkpoint
from colorizer.training.export import onnx_bytes
from colorizer.training.heads import head_from_state
from tests.conftest import colour_photo

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BUNDLED_CHECKPOINT = ROOT / "recipes" / "bundled-model.pt"  # the training checkpoint the bundled ONNX came from
FAST = ["--size", "32", "--batch-size", "4", "--workers", "0", "--no-progress", "--samples", "2", "--epochs", "1"]


def _torch_colorize(payload: dict, rgb: np.ndarray, size: int = 512) -> np.ndarray:
    """The reference: the checkpoint's network in PyTorch with torch LAB, as training's sample grids compute it."""
    model, head = model_from_checkpoint(payload), head_from_state(payload.get("head"))
    photo = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    height, width = rgb.shape[:2]
    scale = min(1.0, size / max(height, width))
    small = np.asarray(Image.fromarray(rgb).resize((round(width * scale), round(height * scale)), Image.BILINEAR))
    small_l = color.rgb_to_lightness(torch.from_numpy(np.array(small)).permute(2, 0, 1)[None] / 255)
    inputs = color.normalize_l(small_l)
    if model.input_channels > 1:  # a model that takes hints, given none
        inputs = torch.cat([inputs, inputs.new_zeros(1, model.input_channels - 1, *inputs.shape[2:])], dim=1)
    with torch.no_grad():
        ab = color.denormalize_ab(head.decode(model(inputs)))
    ab = torch.from_numpy(boost_chroma(ab.numpy(), payload.get("chroma_boost") or 0.0))  # the model's recorded boost
    ab = torch.nn.functional.interpolate(ab, size=(height, width), mode="bilinear")
    lab = torch.cat([color.rgb_to_lightness(photo), ab], dim=1)
    return (color.lab_to_rgb(lab)[0] * 255).round().byte().permute(1, 2, 0).numpy()


@pytest.mark.parametrize("name", ["windmill.jpg", "squirrel.jpg", "leuven.jpg", "camera.png"])
def test_pytorch_and_onnx_runtime_agree_on_the_example_photos(name):
    payload = load_checkpoint(BUNDLED_CHECKPOINT)
    rgb = np.array(Image.open(EXAMPLES / name).convert("RGB"))
    colorizer = Colorizer.load()
    theirs = _torch_colorize(payload, rgb, colorizer.working_size)
    ours = colorizer.colorize_array(rgb)
    difference = deltaE_ciede2000(rgb2lab(theirs), rgb2lab(ours)).mean()
    # Measured: 0.008-0.023 on these photos (float rounding of two runtimes). A resize filter other than bilinear
    # for the network input, or any change in the colour pipeline, moves this far past the bound.
    assert difference < 0.05, f"mean CIEDE2000 between the runtimes: {difference:.4f} (measured 0.008-0.023)"


def test_bundled_onnx_is_the_bundled_checkpoint():
    session = ModelSession.load()
    payload = load_checkpoint(BUNDLED_CHECKPOINT)
    assert session.metadata["model_config"] == payload["model_config"]
    assert session.metadata["metrics"] == payload["metrics"]
    assert session.metadata["config"] == payload["config"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request) -> dict[str, Path]:
    """Tiny runs with each kind of head, trained by the real CLI."""
    from colorizer.prepare import PrepareSettings, run_prepare

    root = tmp_path_factory.mktemp("onnx")
    photos = root / "photos"
    photos.mkdir()
    for i in range(6):
        colour_photo(96 + 8 * i, 80, seed=i).save(photos / f"p{i}.png")
    run_prepare(photos, root / "data", PrepareSettings(size=96), val_fraction=0.34, workers=1, progress=False)
    runs = {}
    for loss in ("huber", "classification"):
        runs[loss] = root / loss
        assert main(["train", str(root / "data"), "--out", str(runs[loss]), "--loss", loss, *FAST]) == 0
    return runs


@pytest.mark.parametrize("loss", ["huber", "classification"])
def test_export_keeps_metadata_and_matches_the_checkpoint(trained, tmp_path, loss):
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"mean": {"model": {"delta_e": 1.5}}}))
    model = tmp_path / "model.onnx"
    assert main(["export", str(trained[loss] / "best.pt"), str(model), "--metrics", str(metrics)]) == 0
    assert main(["export", str(trained[loss] / "best.pt"), str(model)]) == 2  # never overwrites
    session = ModelSession.load(model)
    payload = load_checkpoint(trained[loss] / "best.pt")
    assert (
        session.metadata["config"] == payload["config"] and session.metadata["head"]["kind"] == payload["head"]["kind"]
    )
    assert session.metadata["metrics"] == {"mean": {"model": {"delta_e": 1.5}}}
    assert session.has_temperature == (loss == "classification")
    l_norm = np.random.default_rng(0).uniform(-1, 1, (2, 1, 40, 52)).astype(np.float32)  # not a multiple of 32
    with torch.no_grad():
        reference = color.denormalize_ab(
            head_from_state(payload["head"]).decode(
                model_from_checkpoint(payload)(torch.from_numpy(l_norm)), 0.5 if loss == "classification" else None
            )
        ).numpy()
    ours = session.predict_ab(l_norm, temperature=0.5)
    assert ours.shape == (2, 2, 40, 52) and np.abs(ours - reference).max() < 1e-2
    # the encoder's features ride along (what a reference photo is matched by), cropped like ab
    both, features = session.predict(l_norm, temperature=0.5, features=True)
    assert session.has_features and np.array_equal(both, ours)
    model = model_from_checkpoint(payload).eval()
    stride = model.encoder.stride  # padded as the session pads
    padded = torch.nn.functional.pad(torch.from_numpy(l_norm), (0, -52 % stride, 0, -40 % stride), mode="replicate")
    with torch.no_grad():
        finest = model.encoder(padded)[0 if len(model.encoder(padded)) == 1 else 2]  # stride 8
    assert features.shape == (2, finest.shape[1], 5, 7)  # ceil(40 / 8) x ceil(52 / 8)
    assert np.abs(features[:, : finest.shape[1]] - finest[..., :5, :7].numpy()).max() < 1e-3


def _exported(best: Path, folder: Path, *flags: str) -> tuple[Colorizer, Colorizer, Colorizer]:
    """`best` exported with FLAGS as ONNX and as a stripped checkpoint, and as ONNX without them: all three loaded."""
    assert main(["export", str(best), str(folder / "flagged.onnx"), *flags]) == 0
    assert main(["export", str(best), str(folder / "flagged.pt"), *flags]) == 0
    assert main(["export", str(best), str(folder / "plain.onnx")]) == 0
    return tuple(Colorizer.load(folder / name) for name in ("flagged.onnx", "flagged.pt", "plain.onnx"))


def test_export_records_the_working_size_a_model_colourises_at(trained, tmp_path):
    sized, sized_pt, plain = _exported(trained["huber"] / "best.pt", tmp_path, "--working-size", "64")
    assert sized.working_size == 64 and sized_pt.working_size == 64
    assert plain.working_size == 512  # none recorded: the inference default
    photo = np.asarray(colour_photo(300, 200, seed=3))
    assert sized.network_input(photo, None).shape[-2:] == (43, 64)  # the recorded size when a call gives none
    assert np.array_equal(sized.colorize_array(photo), sized.colorize_array(photo, size=64))
    assert not np.array_equal(sized.colorize_array(photo), sized.colorize_array(photo, size=256))
    assert Colorizer.load().working_size == 384  # the bundled model's, measured (README: the bundled model)


def test_export_records_the_chroma_boost_and_it_makes_committed_colour_bolder(trained, tmp_path):
    bold, bold_pt, plain = _exported(trained["huber"] / "best.pt", tmp_path, "--chroma-boost", "0.5")
    assert bold.chroma_boost == 0.5 and bold_pt.chroma_boost == 0.5
    assert plain.chroma_boost == 0.0 and Colorizer.load(tmp_path / "flagged.onnx", chroma_boost=0).chroma_boost == 0
    network_input = bold.network_input(np.asarray(colour_photo(96, 64, seed=5)), None)
    raw, boosted = plain.predict_ab(network_input)[0], bold.predict_ab(network_input)[0]
    gain = np.hypot(*boosted) / np.maximum(np.hypot(*raw), 1e-6)
    expected = 1 + 0.5 * np.minimum(np.hypot(*raw) / 30, 1)
    assert np.allclose(gain, expected, atol=1e-3)
    assert np.allclose(bold.predict_with_features(network_input)[0][0], boosted)  # the path references take
    moved = np.hypot(*raw) > 1
    hue = np.angle(raw[0] + 1j * raw[1]) - np.angle(boosted[0] + 1j * boosted[1])
    assert np.abs(np.angle(np.exp(1j * hue[moved]))).max() < 1e-4  # the hue stays
    with pytest.raises(ValueError, match="chroma_boost"):
        Colorizer.load(tmp_path / "flagged.onnx", chroma_boost=3)
    # the bundled model's, chosen on validation photos (README, "Vivid colour"), and what its colour carries
    bundled, photo = Colorizer.load(), np.asarray(Image.open(EXAMPLES / "windmill.jpg").convert("RGB"))
    assert bundled.chroma_boost == 0.3
    lab_bold = rgb2lab(bundled.colorize_array(photo))
    lab_raw = rgb2lab(Colorizer.load(chroma_boost=0).colorize_array(photo))
    ratio = np.hypot(lab_bold[..., 1], lab_bold[..., 2]).mean() / np.hypot(lab_raw[..., 1], lab_raw[..., 2]).mean()
    assert 1.05 < ratio < 1.3  # measured 1.14; at most 1 + B where every pixel is committed


def test_a_checkpoint_loads_directly_and_colourises(trained):
    colorizer = Colorizer.load(trained["huber"] / "last.pt")
    assert colorizer.colorize(colour_photo(70, 50)).size == (70, 50)


def test_damaged_and_foreign_models_are_clear_errors(tmp_path):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(BUNDLED_MODEL.read_bytes()[:100_000])
    with pytest.raises(ModelError, match="damaged.onnx is not a readable ONNX model"):
        Colorizer.load(damaged)
    import onnx
    from onnx import TensorProto, helper

    identity = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
    )
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(identity), foreign)
    with pytest.raises(ModelError, match="foreign.onnx is an ONNX model, but not a colorizer model"):
        Colorizer.load(foreign)
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    with pytest.raises(ModelError, match="notes.pt is not a readable checkpoint"):
        Colorizer.load(text)


def test_onnx_bytes_of_a_loaded_payload_equal_those_of_its_file():
    assert onnx_bytes(load_checkpoint(BUNDLED_CHECKPOINT)) == onnx_bytes(BUNDLED_CHECKPOINT)


BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision", "skimage", "matplotlib"):
                raise ImportError(f"{name} is blocked: colourising must not need it")

    sys.meta_path.insert(0, NoTorch())
    from colorizer.cli import main
    status = main(sys.argv[1:])
    heavy = sorted(m for m in ("torch", "torchvision", "skimage", "matplotlib") if m in sys.modules)
    print("heavy modules:", heavy)
    sys.exit(status if not heavy else 99)
    """
)


def _run_without_torch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_colourising_never_imports_torch(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    colour_photo(90, 60, 1).convert("L").save(source / "gray.jpg")
    rgba = colour_photo(50, 40, 2).convert("RGBA")
    rgba.save(source / "alpha.png")
    result = _run_without_torch("colorize", str(source), "--out", str(tmp_path / "out"), "--compare")
    assert result.returncode == 0, result.stderr
    assert "heavy modules: []" in result.stdout
    assert Image.open(tmp_path / "out" / "gray.jpg").size == (90, 60)
    assert Image.open(tmp_path / "out" / "alpha.png").mode == "RGBA"
    assert _run_without_torch("--help").returncode == 0


def test_without_torch_a_checkpoint_or_training_says_what_to_install(tmp_path):
    result = _run_without_torch(
        "colorize", str(EXAMPLES / "camera.png"), "--out", str(tmp_path), "--model", str(BUNDLED_CHECKPOINT)
    )
    assert result.returncode == 2 and "training extra" in result.stderr and "colorizer export" in result.stderr
    result = _run_without_torch("train", str(tmp_path), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "photo-colorizer[train]" in result.stderr


def test_the_inference_package_imports_nothing_from_the_training_package():
    """The layout's promise, in both readings: no module of colorizer/inference names colorizer.training (even inside
    a function), and importing all of them loads none of it."""
    import ast

    for path in sorted((ROOT / "colorizer" / "inference").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.startswith("colorizer.training")], f"{path.name} imports {names}"
    modules = [f"colorizer.inference.{p.stem}" for p in (ROOT / "colorizer" / "inference").glob("*.py")]
    probe = "import importlib, sys\n"
    probe += "".join(f"importlib.import_module({m!r})\n" for m in modules if not m.endswith(("video", "temporal")))
    probe += "print(sorted(m for m in sys.modules if m.startswith('colorizer.training')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_export_flags_win_over_what_the_checkpoint_records(trained, tmp_path):
    """A stripped checkpoint that records its own working size and boost, exported again with flags: the flags win;
    without flags, the recorded values are kept."""
    recorded = tmp_path / "recorded.pt"
    assert main(["export", str(trained["huber"] / "best.pt"), str(recorded), "--working-size", "64"]) == 0
    assert main(["export", str(recorded), str(tmp_path / "kept.onnx")]) == 0
    assert main(["export", str(recorded), str(tmp_path / "over.onnx"), "--working-size", "96"]) == 0
    assert Colorizer.load(tmp_path / "kept.onnx").working_size == 64
    assert Colorizer.load(tmp_path / "over.onnx").working_size == 96
    bold = tmp_path / "bold.pt"
    assert main(["export", str(trained["huber"] / "best.pt"), str(bold), "--chroma-boost", "0.5"]) == 0
    assert main(["export", str(bold), str(tmp_path / "calm.onnx"), "--chroma-boost", "0.2"]) == 0
    assert Colorizer.load(tmp_path / "calm.onnx").chroma_boost == 0.2
