"""Training data on the device and steps for large batches: the same crops as the loader, the same training, exact
resume, the warm-up schedule, and `--compile` on the CPU (skipped where inductor cannot build)."""

import math

import pytest
import torch

from colorizer.training.checkpoint import load_checkpoint
from colorizer.training.config import TrainConfig
from colorizer.training.data import ColorizationDataset
from colorizer.training.device_data import DeviceBatches, DeviceCrops
from colorizer.training.train import train


def _config(prepared, out, **overrides) -> TrainConfig:
    base = dict(data=str(prepared), out=str(out), size=32, batch_size=4, workers=0, progress=False, samples=2)
    return TrainConfig(**{**base, **overrides})


@pytest.mark.parametrize("epoch", [0, 3])
def test_device_crops_are_the_loaders_crops(prepared, epoch):
    dataset = ColorizationDataset(prepared, "train", 48, output="rgb", seed=5, progress=False)
    dataset.set_epoch(epoch)
    crops = DeviceCrops(dataset, torch.device("cpu"))
    indices = list(range(len(dataset)))[::-1]
    assert torch.equal(crops.batch(indices), torch.stack([dataset[i] for i in indices]))
    flips = [dataset.crop_of(i, *dataset.content(i).shape[:2])[2] for i in indices]
    assert any(flips) and not all(flips)  # both kinds were compared


def test_device_batches_follow_the_sampler():
    class Fake:
        def batch(self, indices):
            return indices

    batches = DeviceBatches(Fake(), [4, 2, 0, 1, 3], 2)
    assert len(batches) == 3 and list(batches) == [[4, 2], [0, 1], [3]]


def test_data_on_device_trains_exactly_like_the_loader_and_resumes_exactly(prepared, tmp_path):
    loader = train(_config(prepared, tmp_path / "loader", epochs=2, data_on_device="no"))
    device = train(_config(prepared, tmp_path / "device", epochs=2, data_on_device="yes"))
    assert loader["best_val_loss"] == device["best_val_loss"]
    weights = lambda run: load_checkpoint(run / "last.pt")["model"]  # noqa: E731
    reference = weights(tmp_path / "loader")
    assert all(torch.equal(reference[k], v) for k, v in weights(tmp_path / "device").items())
    first = _config(prepared, tmp_path / "resumed", epochs=2, data_on_device="yes", max_minutes=1e-6)
    assert train(first)["epochs_done"] == 1  # the time limit stops it after epoch 1
    train(_config(prepared, tmp_path / "resumed", epochs=2, data_on_device="yes", resume=True, max_minutes=1e-6))
    assert all(torch.equal(reference[k], v) for k, v in weights(tmp_path / "resumed").items())


def test_large_batch_learning_rate_scaling_and_warm_up():
    cfg = TrainConfig(lr=1e-3, batch_size=150, lr_scaling="linear", warmup_epochs=2, epochs=10)
    assert math.isclose(cfg.lr_at(0, 1 / 10), 1e-2 / 20)  # first step of 10 per epoch: 1/20 of the way
    assert math.isclose(cfg.lr_at(0, 1.0), 1e-2 / 2)
    assert math.isclose(cfg.lr_at(1, 1.0), 1e-2) and math.isclose(cfg.lr_at(5, 0.5), 1e-2)
    assert math.isclose(cfg.lr_at(5, 0.5, world_size=4), 4e-2)  # the global batch counts
    sqrt = TrainConfig(lr=1e-3, batch_size=60, lr_scaling="sqrt")
    assert math.isclose(sqrt.lr_at(3), 2e-3)
    cosine = TrainConfig(lr=1e-3, lr_schedule="cosine", epochs=4, warmup_epochs=1)
    assert math.isclose(cosine.lr_at(0, 0.5), 0.5e-3) and cosine.lr_at(3) < cosine.lr_at(1) < 1e-3
    assert TrainConfig(lr=1e-3).lr_at(7, 0.3) == 1e-3  # the paper's recipe is unchanged
    with pytest.raises(ValueError, match="lr-scaling"):
        TrainConfig(lr_scaling="cubic")


def test_warm_up_reaches_the_optimizer_step_by_step(prepared, tmp_path):
    cfg = _config(prepared, tmp_path / "run", epochs=2, warmup_epochs=2, lr=1e-3)
    train(cfg)
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    import json

    assert [round(json.loads(row)["lr"], 8) for row in log] == [5e-4, 1e-3]  # logged: the last step of each epoch


def test_compile_trains_on_the_cpu(prepared, tmp_path):
    import shutil

    if not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")):
        pytest.skip("torch.compile on the CPU needs a C++ compiler; none is installed")
    result = train(_config(prepared, tmp_path / "run", epochs=1, max_steps=2, compile=True))  # any error fails
    assert result["epochs_done"] == 1
    assert not any(k.startswith("_orig_mod") for k in load_checkpoint(tmp_path / "run" / "last.pt")["model"])
