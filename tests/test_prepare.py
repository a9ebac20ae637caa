"""`colorizer prepare`: bad files, grayscale, modes, EXIF, split determinism, incremental runs, serial == parallel."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorizer.cli import main
from colorizer.prepare import PrepareError, PrepareSettings, run_prepare
from tests.conftest import colour_photo, tree_hashes

SETTINGS = PrepareSettings(size=96, max_pixels=4_000_000)


def _messy_folder(root: Path) -> Path:
    """Good photos in every mode we accept, each kind of bad file, and grayscale photos."""
    root.mkdir()
    colour_photo(200, 150, 1).save(root / "good.jpg", quality=90)
    colour_photo(150, 200, 2).convert("P", palette=Image.ADAPTIVE).save(root / "palette.png")
    rgba = colour_photo(120, 80, 3).convert("RGBA")
    rgba.putalpha(200)
    rgba.save(root / "alpha.png")
    colour_photo(100, 100, 4).convert("CMYK").save(root / "cmyk.tif")
    colour_photo(90, 60, 5).save(root / "UPPER.BMP")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: displayed upright it is 60 wide, 100 high
    colour_photo(100, 60, 6).save(root / "rotated.jpg", exif=exif)
    (root / "zero.jpg").write_bytes(b"")
    (root / "notes.png").write_text("this is not a picture")
    (root / "noise.webp").write_bytes(np.random.default_rng(0).bytes(3000))
    whole = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    Image.new("RGB", (2500, 2000), (200, 30, 30)).save(root / "huge.png")
    colour_photo(120, 90, 7).convert("L").save(root / "gray_mode.png")
    colour_photo(120, 90, 8).convert("L").convert("RGB").save(root / "gray_rgb.jpg")
    gray16 = (np.asarray(colour_photo(64, 48, 9).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(root / "gray16.png")
    return root


def test_bad_files_are_reported_and_the_rest_prepared(tmp_path):
    src = _messy_folder(tmp_path / "src")
    before = tree_hashes(src)
    summary = run_prepare(src, tmp_path / "out", SETTINGS, workers=2, progress=False)
    failed = {f["source"]: f["reason"] for f in summary["failed"]}
    assert set(failed) == {"zero.jpg", "notes.png", "noise.webp", "truncated.jpg", "huge.png"}
    assert "empty" in failed["zero.jpg"] and "too large" in failed["huge.png"]
    assert "truncated" in failed["truncated.jpg"] or "corrupt" in failed["truncated.jpg"]
    assert sorted(summary["gray"]) == ["gray16.png", "gray_mode.png", "gray_rgb.jpg"]
    assert summary["prepared"] == 6
    assert tree_hashes(src) == before, "prepare must never modify its source folder"

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    by_source = {r["source"]: r for r in manifest["files"]}
    for record in manifest["files"]:
        with Image.open(tmp_path / "out" / record["file"]) as image:
            assert image.size == (96, 96) and image.mode == "RGB"
            pixels = np.asarray(image)
        left, top, right, bottom = record["box"]
        assert pixels[:top].max(initial=0) == 0 and pixels[bottom:].max(initial=0) == 0  # zero padding
        assert pixels[:, :left].max(initial=0) == 0 and pixels[:, right:].max(initial=0) == 0
    assert by_source["rotated.jpg"]["original_size"] == [60, 100]  # EXIF orientation applied
    assert by_source["rotated.jpg"]["box"] == [19, 0, 77, 96]
    assert by_source["good.jpg"]["box"] == [0, 12, 96, 84] and by_source["good.jpg"]["scale"] == 96 / 200


def test_cli_exit_status_and_message(tmp_path, capsys):
    src = _messy_folder(tmp_path / "src")
    status = main(["prepare", str(src), str(tmp_path / "out"), "--size", "96", "--max-pixels", "4000000"])
    err = capsys.readouterr().err
    assert status == 1
    assert "5 of 14 files failed" in err and "notes.png" in err


def test_split_is_deterministic_and_seeded(photo_folder, tmp_path):
    def split(out, seed):
        run_prepare(photo_folder, out, SETTINGS, val_fraction=0.25, seed=seed, workers=1, progress=False)
        return {r["source"]: r["split"] for r in json.loads((out / "manifest.json").read_text())["files"]}

    first, again, other = split(tmp_path / "a", 0), split(tmp_path / "b", 0), split(tmp_path / "c", 1)
    assert first == again
    assert sum(s == "val" for s in first.values()) == 3
    assert first != other


def test_serial_and_parallel_outputs_are_byte_identical(photo_folder, tmp_path):
    for workers, out in [(1, "serial"), (2, "parallel")]:
        run_prepare(
            photo_folder,
            tmp_path / out,
            PrepareSettings(size=80, quality=85),
            workers=workers,
            progress=False,
        )
    assert tree_hashes(tmp_path / "serial") == tree_hashes(tmp_path / "parallel")


def test_incremental_rerun_skips_and_adds_without_moving(photo_folder, tmp_path):
    out = tmp_path / "out"
    run_prepare(photo_folder, out, SETTINGS, val_fraction=0.25, workers=1, progress=False)
    first = json.loads((out / "manifest.json").read_text())
    again = run_prepare(photo_folder, out, SETTINGS, val_fraction=0.25, workers=1, progress=False)
    assert again["prepared"] == 0 and again["skipped"] == 12
    for i in range(4):
        colour_photo(100, 70, 100 + i).save(photo_folder / f"new{i}.png")
    shutil.copy(photo_folder / "img00.JPG", photo_folder / "copy_of_img00.jpg")  # same content: skipped
    more = run_prepare(photo_folder, out, SETTINGS, val_fraction=0.25, workers=2, progress=False)
    assert more["prepared"] == 4
    splits = {r["sha256"]: r["split"] for r in json.loads((out / "manifest.json").read_text())["files"]}
    assert all(splits[r["sha256"]] == r["split"] for r in first["files"])
    assert len(splits) == 16 and sum(s == "val" for s in splits.values()) == 4


def test_argument_errors(tmp_path, photo_folder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PrepareError, match="does not exist"):
        run_prepare(tmp_path / "missing", tmp_path / "out", SETTINGS)
    with pytest.raises(PrepareError, match="no images"):
        run_prepare(tmp_path / "empty", tmp_path / "out", SETTINGS)
    with pytest.raises(PrepareError, match="must differ"):
        run_prepare(photo_folder, photo_folder, SETTINGS)
    run_prepare(photo_folder, tmp_path / "out", SETTINGS, workers=1, progress=False)
    with pytest.raises(PrepareError, match="prepared with"):
        run_prepare(photo_folder, tmp_path / "out", PrepareSettings(size=64), workers=1, progress=False)


def test_output_inside_source_is_not_rescanned(photo_folder):
    out = photo_folder / "prepared"
    first = run_prepare(photo_folder, out, SETTINGS, workers=1, progress=False)
    second = run_prepare(photo_folder, out, SETTINGS, workers=1, progress=False)
    assert first["found"] == second["found"] == 12


def _sources(root: Path) -> Path:
    """Three sources as a user would have them: a folder of its own, and a folder of folders with two more."""
    from tests.conftest import colour_photo

    for folder, count, seed in (("own", 8, 0), ("pool/city", 5, 100), ("pool/fields", 4, 200)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            colour_photo(90 + 7 * i, 70, seed=seed + i).save(root / folder / f"p{i}.png")
    return root


def _records(out: Path) -> list[dict]:
    return json.loads((out / "manifest.json").read_text())["files"]


def test_several_sources_are_recorded_and_whole_sources_held_out(tmp_path):
    root = _sources(tmp_path / "src")
    out = tmp_path / "data"
    summary = run_prepare(
        [root / "own", root / "pool"],
        out,
        PrepareSettings(size=64),
        0.25,
        workers=1,
        progress=False,
        val_sources=["fields"],
    )
    records = _records(out)
    assert {r["source_name"] for r in records} == {"own", "city", "fields"}
    assert {r["source"].split("/")[0] for r in records} == {"own", "pool"}  # paths stay apart per SRC
    by_source = {name: {r["split"] for r in records if r["source_name"] == name} for name in ("own", "city", "fields")}
    assert by_source["fields"] == {"heldout"}  # the whole source, nothing of it elsewhere
    assert by_source["own"] | by_source["city"] == {"train", "val"} and "heldout" not in by_source["own"]
    assert summary["heldout"] == 4 and summary["sources"]["fields"]["heldout"] == 4
    assert round(0.25 * 13) == summary["val"]  # the random split is over the sources that train
    # Stable: new photos of a held-out source go to it; nothing moves; the held-out names are remembered.
    from tests.conftest import colour_photo

    colour_photo(77, 66, seed=999).save(root / "pool" / "fields" / "new.png")
    colour_photo(78, 66, seed=998).save(root / "own" / "new.png")
    before = {r["sha256"]: r["split"] for r in records}
    run_prepare([root / "own", root / "pool"], out, PrepareSettings(size=64), 0.25, workers=1, progress=False)
    after = {r["sha256"]: (r["split"], r["source_name"]) for r in _records(out)}
    assert all(after[sha][0] == split for sha, split in before.items())
    new = {v for k, v in after.items() if k not in before}
    assert ("heldout", "fields") in new and all(s != "heldout" for s, name in new if name == "own")


def test_source_split_errors(tmp_path):
    root = _sources(tmp_path / "src")
    out = tmp_path / "data"
    settings = PrepareSettings(size=64)
    with pytest.raises(PrepareError, match="not a source here; sources: city, fields, own"):
        run_prepare([root / "own", root / "pool"], out, settings, workers=1, progress=False, val_sources=["kodak"])
    run_prepare([root / "own", root / "pool"], out, settings, workers=1, progress=False, val_sources=["city"])
    with pytest.raises(PrepareError, match="would move photos between splits"):
        run_prepare([root / "own", root / "pool"], out, settings, workers=1, progress=False, val_sources=["fields"])
    (tmp_path / "other" / "own").mkdir(parents=True)
    shutil.copy(root / "own" / "p0.png", tmp_path / "other" / "own" / "x.png")
    with pytest.raises(PrepareError, match="share the name own"):
        run_prepare([root / "own", tmp_path / "other"], tmp_path / "d2", settings, workers=1, progress=False)


def test_cli_takes_several_sources(tmp_path, capsys):
    root = _sources(tmp_path / "src")
    args = ["prepare", str(root / "own"), str(root / "pool"), str(tmp_path / "data"), "--size", "64"]
    assert main([*args, "--val-sources", "city", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "source city: 5 heldout" in out and "5 held out" in out
