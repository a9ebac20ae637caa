"""Metrics against hand-computed values, and `colorizer evaluate` end to end (with the gray baseline)."""

import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

from colorizer.cli import main
from colorizer.training import metrics
from tests.conftest import colour_photo


def test_psnr_identical_is_capped_and_known_value():
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert metrics.psnr(image, image) == metrics.PSNR_CAP
    shifted = np.clip(image.astype(int) + 10, 0, 255).astype(np.uint8)
    mse = np.mean((image.astype(float) - shifted) ** 2)
    assert metrics.psnr(image, shifted) == pytest.approx(10 * math.log10(255**2 / mse))
    assert metrics.psnr(np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)) == pytest.approx(0.0)


def test_colourfulness_hand_computed():
    gray = np.full((5, 5, 3), 128, np.uint8)
    assert metrics.colourfulness(gray) == 0.0
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 200  # rg = 200, yb = 100 everywhere: no spread, so 0.3 * hypot(200, 100)
    assert metrics.colourfulness(red) == pytest.approx(0.3 * math.hypot(200, 100))


def test_delta_e_ssim_and_auc():
    image = np.asarray(colour_photo(32, 24, seed=1))
    assert metrics.all_metrics(image, image)["delta_e"] == 0.0
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.all_metrics(image, image)["auc"] == pytest.approx(1.0)
    gray = np.repeat(np.asarray(colour_photo(32, 24, seed=1).convert("L"))[..., None], 3, axis=2)
    scores = metrics.all_metrics(image, gray)
    assert scores["delta_e"] > 1 and scores["auc"] < 1 and scores["colourfulness"] < 1


def test_auc_of_a_constant_error():
    truth = np.zeros((1, 4, 3))
    prediction = np.zeros((1, 4, 3))
    prediction[..., 1] = 30.0  # every pixel is 30 ab units off: counted from t = 30 to 150
    assert metrics.auc_from_lab(truth, prediction) == pytest.approx(121 / 151)


def test_evaluate_on_a_prepared_folder(prepared, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(prepared), "--out", str(out), "--size", "96", "--working-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "gray" in printed and "model" in printed and "at 96 px (longer side), the network at 64" in printed
    result = json.loads((out / "metrics.json").read_text())
    assert result["protocol"]["images"] == 3 and result["protocol"]["size"] == 96
    assert result["protocol"]["working_size"] == 64 and result["protocol"]["chroma_boost"] == 0.3  # the model's
    # the network really runs at the working size: at the scoring size the model's scores differ, gray's do not
    assert (
        main(["evaluate", str(prepared), "--out", str(tmp_path / "at96"), "--size", "96", "--working-size", "96"]) == 0
    )
    at96 = json.loads((tmp_path / "at96" / "metrics.json").read_text())["mean"]
    assert at96["gray"] == result["mean"]["gray"] and at96["model"]["delta_e"] != result["mean"]["model"]["delta_e"]
    assert set(result["mean"]) == {"model", "gray"}
    assert result["mean"]["gray"]["colourfulness"] < 1.0
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert len(rows) == 6 and {r["method"] for r in rows} == {"model", "gray"}
    assert (out / "comparison_01.png").is_file()


def test_evaluate_on_a_photo_folder_leaves_out_gray_and_broken(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    colour_photo(100, 70, 1).save(photos / "a.jpg")
    colour_photo(100, 70, 2).convert("L").save(photos / "gray.png")
    (photos / "broken.png").write_bytes(b"nope")
    assert main(["evaluate", str(photos), "--out", str(tmp_path / "eval"), "--size", "64"]) == 0
    err = capsys.readouterr().err
    assert "gray.png" in err and "broken.png" in err
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["protocol"]["images"] == 1


def test_evaluate_reports_each_source_with_gray_beside_it(tmp_path, capsys):
    """Per source, means of exactly that source's photos; held-out sources are marked; a source whose photos are
    gray-coloured in truth scores the gray baseline perfectly, the others do not."""
    from colorizer.prepare import PrepareSettings, run_prepare

    src = tmp_path / "pool"
    for name, seed in (("vivid", 0), ("muted", 50)):
        (src / name).mkdir(parents=True)
        for i in range(4):
            image = colour_photo(96, 72, seed + i)
            if name == "muted":  # barely coloured: gray is close to the truth
                image = Image.blend(image.convert("L").convert("RGB"), image, 0.12)
            image.save(src / name / f"{i}.png")
    data = tmp_path / "data"
    run_prepare(src, data, PrepareSettings(size=96), 0.5, workers=1, progress=False, val_sources=["muted"])
    assert main(["evaluate", str(data), "--out", str(tmp_path / "eval"), "--size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "muted (held out): 4 photos" in printed and "vivid: 2 photos" in printed
    result = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    sources = result["sources"]
    assert set(sources) == {"muted (held out)", "vivid"} and sources["vivid"]["images"] == 2
    assert sources["muted (held out)"]["gray"]["delta_e"] < sources["vivid"]["gray"]["delta_e"] - 5
    rows = list(csv.DictReader((tmp_path / "eval" / "metrics.csv").read_text().splitlines()))
    muted = [float(r["delta_e"]) for r in rows if r["source"] == "muted (held out)" and r["method"] == "gray"]
    assert abs(np.mean(muted) - sources["muted (held out)"]["gray"]["delta_e"]) < 1e-3
    overall = np.mean([float(r["delta_e"]) for r in rows if r["method"] == "gray"])
    assert abs(overall - result["mean"]["gray"]["delta_e"]) < 1e-3


def test_vivid_colour_kept_and_warm_cast_by_their_definitions():
    truth = np.zeros((8, 16, 3), np.uint8)
    truth[:, :8] = (220, 30, 30)  # vivid red (chroma ~ 80)
    truth[:, 8:] = (128, 128, 128)  # neutral gray
    kept = truth.copy()
    scores = metrics.all_metrics(truth, kept)
    assert scores["vivid_kept"] == 1.0 and abs(scores["warm_cast"]) < 0.5
    half = truth.copy()
    half[:4, :8] = (110, 75, 75)  # half of the red turned a dull brown-red (chroma < 20): half of it kept
    half[:, 8:] = (150, 125, 95)  # the gray turned sepia: b* > 0 there
    scores = metrics.all_metrics(truth, half)
    assert scores["vivid_kept"] == pytest.approx(0.5)
    assert scores["warm_cast"] > 10
    cold = truth.copy()
    cold[:, 8:] = (110, 128, 160)
    assert metrics.all_metrics(truth, cold)["warm_cast"] < -10
    gray_only = np.full((8, 8, 3), 100, np.uint8)
    assert math.isnan(metrics.all_metrics(gray_only, gray_only)["vivid_kept"])


def test_skin_scores_see_orange_skin_and_ignore_sky_and_leaves():
    skin = (224, 172, 150)  # a light skin tone
    truth = np.zeros((10, 10, 3), np.uint8)
    truth[:] = (90, 140, 220)  # sky
    truth[:, :3] = (40, 120, 40)  # leaves
    truth[3:8, 4:9] = skin
    lab_truth = __import__("skimage.color", fromlist=["rgb2lab"]).rgb2lab(truth)
    mask = metrics.skin_mask(truth, lab_truth)
    assert mask.sum() == 25 and mask[3:8, 4:9].all()
    orange = truth.copy()
    orange[3:8, 4:9] = (230, 160, 90)  # the same lightness, more yellow: "orange skin"
    scores = metrics.all_metrics(truth, orange)
    assert scores["skin_hue_shift"] > 10 and scores["skin_chroma_ratio"] > 1.3 and scores["skin_delta_e"] > 5
    pale = truth.copy()
    pale[3:8, 4:9] = (190, 185, 182)
    assert metrics.all_metrics(truth, pale)["skin_chroma_ratio"] < 0.3
    sky = np.ascontiguousarray(truth[:, :, ::-1][:, :1].repeat(10, axis=1))
    assert math.isnan(metrics.all_metrics(sky, sky)["skin_hue_shift"])  # no skin: no score


def test_evaluate_scores_the_people_subset_apart(prepared, tmp_path, capsys):
    manifest = json.loads((prepared / "manifest.json").read_text())
    val = [r for r in manifest["files"] if r["split"] == "val"]
    people = tmp_path / "people.txt"
    people.write_text(f"# one photo\n{val[0]['source']}\n")
    out = tmp_path / "eval"
    argv = ["evaluate", str(prepared), "--out", str(out), "--size", "96", "--working-size", "64"]
    assert main([*argv, "--people", str(people)]) == 0
    assert "people: 1 photos" in capsys.readouterr().out
    result = json.loads((out / "metrics.json").read_text())
    assert result["people"]["images"] == 1
    rows = [r for r in csv.DictReader((out / "metrics.csv").open()) if r["method"] == "model"]
    assert result["people"]["model"]["delta_e"] == pytest.approx(
        float(next(r for r in rows if r["image"] == val[0]["source"])["delta_e"]), abs=1e-4
    )
    assert main([*argv, "--people", str(tmp_path / "absent.txt")]) == 2
    assert main([*argv, "--every", "2", "--out", str(tmp_path / "half")]) == 0
    assert json.loads((tmp_path / "half" / "metrics.json").read_text())["protocol"]["images"] == 2
    people.write_text(f"{val[1]['source']}\n")  # every 3rd photo, and every photo of the people subset
    assert main([*argv, "--every", "3", "--people", str(people), "--out", str(tmp_path / "third")]) == 0
    scored = json.loads((tmp_path / "third" / "metrics.json").read_text())
    assert scored["protocol"]["images"] == 2 and scored["people"]["images"] == 1
