"""ColorizationDataset: shapes, ranges, crops inside the photo, determinism, and the cache's life cycle."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from colorizer.prepare import PrepareSettings, run_prepare
from colorizer.training.color import network_to_rgb
from colorizer.training.data import ColorizationDataset, DataError
from tests.conftest import colour_photo


def test_shapes_and_ranges(prepared):
    dataset = ColorizationDataset(prepared, "train", size=48, progress=False)
    assert len(dataset) == 9
    l_norm, ab_norm = dataset[0]
    assert l_norm.shape == (1, 48, 48) and ab_norm.shape == (2, 48, 48)
    assert l_norm.dtype == ab_norm.dtype == torch.float32
    assert l_norm.min() >= -1 and l_norm.max() <= 1 and ab_norm.abs().max() <= 1
    assert ab_norm.abs().mean() > 0.05  # the photos are colourful
    batch = next(iter(DataLoader(dataset, batch_size=4, num_workers=2)))
    assert batch[0].shape == (4, 1, 48, 48) and batch[1].shape == (4, 2, 48, 48)


def test_crops_never_include_padding(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):  # very wide and very tall photos: most of each square is padding
        Image.new("RGB", (300, 60) if i % 2 else (60, 300), (250, 180 + i, 20)).save(src / f"{i}.png")
    run_prepare(src, tmp_path / "out", PrepareSettings(size=128), val_fraction=0.25, workers=1, progress=False)
    for split in ("train", "val"):
        dataset = ColorizationDataset(tmp_path / "out", split, size=32, output="rgb", progress=False)
        for epoch in range(5):
            dataset.set_epoch(epoch)
            for i in range(len(dataset)):
                rgb = dataset[i]
                assert rgb.shape == (3, 32, 32) and rgb.dtype == torch.uint8
                assert rgb[0].min() > 200, "a crop reached into the zero padding"


def test_training_view_is_random_but_reproducible_validation_is_fixed(prepared):
    train = ColorizationDataset(prepared, "train", size=40, output="rgb", progress=False)
    views = [train[0] for _ in range(2)]
    assert torch.equal(views[0], views[1])
    epochs = []
    for epoch in range(4):
        train.set_epoch(epoch)
        epochs.append(train[0])
    assert any(not torch.equal(epochs[0], e) for e in epochs[1:])
    val = ColorizationDataset(prepared, "val", size=40, output="rgb", progress=False)
    val.set_epoch(3)
    assert torch.equal(val[0], ColorizationDataset(prepared, "val", size=40, output="rgb", progress=False)[0])


def test_lab_output_matches_rgb_output(prepared):
    lab = ColorizationDataset(prepared, "val", size=32, progress=False)
    rgb = ColorizationDataset(prepared, "val", size=32, output="rgb", progress=False)
    back = network_to_rgb(*(t[None] for t in lab[1]))[0] * 255
    assert (back - rgb[1].float()).abs().max() <= 1.0


def test_cache_is_reused_invalidated_and_matches_decoding(prepared, photo_folder):
    cached = ColorizationDataset(prepared, "val", size=32, output="rgb", progress=False)
    files = sorted((prepared / "cache").iterdir())
    assert len(files) == 2  # data + index
    mtimes = [f.stat().st_mtime_ns for f in files]
    ColorizationDataset(prepared, "val", size=32, output="rgb", progress=False)
    assert [f.stat().st_mtime_ns for f in files] == mtimes, "cache rebuilt although nothing changed"
    decoded = ColorizationDataset(prepared, "val", size=32, output="rgb", cache=False, progress=False)
    for i in range(len(cached)):
        assert torch.equal(cached[i], decoded[i])

    for i in range(8):  # new photos: the val split changes, so its cache is rebuilt
        colour_photo(90, 90, 50 + i).save(photo_folder / f"more{i}.png")
    run_prepare(photo_folder, prepared, PrepareSettings(size=128), val_fraction=0.25, workers=1, progress=False)
    rebuilt = ColorizationDataset(prepared, "val", size=32, output="rgb", progress=False)
    assert len(rebuilt) == 5
    val_caches = list((prepared / "cache").glob("val-32-*.json"))
    assert len(val_caches) == 1 and json.loads(val_caches[0].read_text())["files"] == [
        r["file"] for r in rebuilt.records
    ]


def test_clear_errors(tmp_path, prepared):
    with pytest.raises(DataError, match="not a prepared folder"):
        ColorizationDataset(tmp_path, "train")
    with pytest.raises(DataError, match="no images in its 'test' split"):
        ColorizationDataset(prepared, "test")


def test_upright_content_is_what_gets_cached(prepared):
    dataset = ColorizationDataset(prepared, "train", size=24, output="rgb", progress=False)
    image = dataset.content(0)
    assert min(image.shape[:2]) == 24 and image.dtype == np.uint8


def test_scale_and_aspect_jitter_vary_the_crop_reproducibly(prepared):
    """With jitter a training crop shows a region of varying size (so objects vary in scale), yet the same
    (seed, epoch, index) gives the same crop; validation stays the plain centre crop."""
    plain = ColorizationDataset(prepared, "train", 32, output="rgb", progress=False)
    jittered = ColorizationDataset(prepared, "train", 32, output="rgb", progress=False, scale_jitter=1.0)
    assert jittered.stored_size == 64 and min(jittered.content(0).shape[:2]) == 64
    crops = []
    for epoch in range(6):
        jittered.set_epoch(epoch)
        crops.append(jittered[0])
        assert crops[-1].shape == (3, 32, 32) and torch.equal(crops[-1], jittered[0])
    # A crop covering more of the photo is smoother at 32 px than one covering less: their detail differs.
    detail = [float(c.float().diff(dim=2).abs().mean()) for c in crops]
    assert max(detail) > 1.3 * min(detail), detail
    assert not all(torch.equal(crops[0], c) for c in crops[1:])
    val = ColorizationDataset(prepared, "val", 32, output="rgb", progress=False, scale_jitter=1.0)
    assert val.scale_jitter == 0 and val.stored_size == 32
    assert plain.stored_size == 32
