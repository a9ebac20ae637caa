"""`colorizer train` end to end on tiny generated data: outputs, learning, exact resume, SIGKILL, DDP, errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from colorizer.cli import main
from colorizer.training.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint
from colorizer.training.config import TrainConfig
from colorizer.training.train import TrainError, train

FAST = ["--size", "32", "--batch-size", "4", "--workers", "0", "--no-progress", "--samples", "2"]


def _config(prepared: Path, out: Path, **overrides) -> TrainConfig:
    base = dict(data=str(prepared), out=str(out), size=32, batch_size=4, workers=0, progress=False, samples=2)
    return TrainConfig(**{**base, **overrides})


def _weights(run: Path) -> dict:
    return load_checkpoint(run / "last.pt")["model"]


def test_two_epoch_run_writes_everything(prepared, tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(prepared), "--out", str(run), "--epochs", "2", *FAST]) == 0
    for name in (
        "last.pt",
        "best.pt",
        "log.jsonl",
        "loss.png",
        "config.toml",
        "samples/epoch_001.png",
        "samples/epoch_002.png",
    ):
        assert (run / name).is_file(), name
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == [1, 2]
    assert all(row["val_loss"] > 0 and row["images_per_s"] > 0 for row in log)
    checkpoint = load_checkpoint(run / "last.pt")
    assert checkpoint["epoch"] == 2 and checkpoint["config"]["size"] == 32
    assert checkpoint["model_config"] == {"encoder": "resnet18", "out_channels": 2, "input_channels": 1}
    assert "size = 32" in (run / "config.toml").read_text()


def test_config_file_sets_defaults_and_flags_override(prepared, tmp_path):
    config = tmp_path / "recipe.toml"
    config.write_text(f'data = "{prepared}"\nepochs = 1\nsize = 48\nbatch-size = 4\nworkers = 0\nprogress = false\n')
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run), "--size", "32"]) == 0
    saved = load_checkpoint(run / "last.pt")["config"]
    assert saved["size"] == 32 and saved["epochs"] == 1 and saved["data"] == str(prepared)


def test_loss_goes_down_on_a_set_it_can_memorise(prepared, tmp_path):
    run = tmp_path / "run"
    train(_config(prepared, run, epochs=12, lr=3e-3))
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["train_loss"] < 0.5 * log[0]["train_loss"]


def test_resume_continues_with_identical_results(prepared, tmp_path):
    train(_config(prepared, tmp_path / "whole", epochs=3))
    train(_config(prepared, tmp_path / "split", epochs=1))
    assert load_checkpoint(tmp_path / "split" / "last.pt")["epoch"] == 1
    train(_config(prepared, tmp_path / "split", epochs=3, resume=True))
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    assert all(torch.equal(whole[k], split[k]) for k in whole)
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def _start(prepared: Path, run: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "colorizer", "train", str(prepared), "--out", str(run), *FAST, "--size", "64", *extra]
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    )


def _wait_for(predicate, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkill_mid_epoch_resumes_from_last_checkpoint(prepared, tmp_path):
    run = tmp_path / "run"
    process = _start(prepared, run, "--epochs", "40", "--batch-size", "1")
    _wait_for(lambda: (run / "last.pt").exists(), process)
    time.sleep(0.3)
    process.kill()
    process.wait()
    done = load_checkpoint(run / "last.pt")["epoch"]
    assert 1 <= done < 40
    assert (
        main(
            [
                "train",
                str(prepared),
                "--out",
                str(run),
                "--resume",
                *FAST,
                "--size",
                "64",
                "--batch-size",
                "1",
                "--epochs",
                str(done + 1),
            ]
        )
        == 0
    )
    epochs = [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, done + 2))
    # Not just the epochs: the weights are those of a run that was never killed.
    train(_config(prepared, tmp_path / "whole", size=64, batch_size=1, epochs=done + 1))
    whole, resumed = _weights(tmp_path / "whole"), _weights(run)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_ctrl_c_saves_mid_epoch_and_resume_matches_uninterrupted(prepared, tmp_path):
    train(_config(prepared, tmp_path / "whole", size=64, batch_size=1, epochs=2))
    run = tmp_path / "run"
    process = _start(prepared, run, "--epochs", "2", "--batch-size", "1")
    _wait_for(lambda: (run / "last.pt").exists(), process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    saved = load_checkpoint(run / "last.pt")
    assert saved["epoch"] == 1 and saved["epoch_state"]["step"] > 0  # saved inside the second epoch
    train(_config(prepared, run, size=64, batch_size=1, epochs=2, resume=True))
    whole, resumed = _weights(tmp_path / "whole"), _weights(run)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_two_process_gloo_run_keeps_ranks_in_step(prepared, tmp_path):
    run = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "colorizer",
        "train",
        str(prepared),
        "--out",
        str(run),
        "--epochs",
        "2",
        *FAST,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    )
    assert result.returncode == 0, result.stderr
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all(row["world_size"] == 2 for row in log)
    for row in log:
        first, second = row["rank_weight_sums"]
        assert first == second, "DDP ranks diverged"
    saved = load_checkpoint(run / "last.pt")["model"]
    assert set(saved) == set(_weights_of_single_run(prepared, tmp_path))  # loads wherever a single run's does
    # The checkpoint holds the weights both ranks ended with (their fingerprint: the sum of |parameters|).
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    total = sum(float(v.double().abs().sum()) for k, v in saved.items() if not k.endswith(buffers))
    assert total == pytest.approx(log[-1]["rank_weight_sums"][0], rel=1e-9)


def _weights_of_single_run(prepared: Path, tmp_path: Path) -> dict:
    train(_config(prepared, tmp_path / "single", epochs=1, max_steps=1))
    return _weights(tmp_path / "single")


def test_errors_are_clear(prepared, tmp_path, capsys):
    run = tmp_path / "run"
    with pytest.raises(TrainError, match="no checkpoint to resume from"):
        train(_config(prepared, run, resume=True))
    train(_config(prepared, run, epochs=1, max_steps=1))
    with pytest.raises(TrainError, match="already holds a run"):
        train(_config(prepared, run, epochs=1))
    with pytest.raises(TrainError, match="size: 32 in the run, 48 now"):
        train(_config(prepared, run, size=48, resume=True))
    (run / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        train(_config(prepared, run, resume=True))
    assert (
        main(["train", str(prepared), "--out", str(tmp_path / "x"), "--init-from", str(tmp_path / "nope.pt"), *FAST])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(prepared, tmp_path, monkeypatch):
    import colorizer.training.train as train_module

    real_loss, calls = train_module.compute_loss, {"n": 0}

    def loss_that_explodes(*args, **kwargs):
        calls["n"] += 1
        loss = real_loss(*args, **kwargs)
        return loss * float("nan") if calls["n"] > 4 else loss  # epoch 1 (3 steps + 1 validation) stays finite

    monkeypatch.setattr(train_module, "compute_loss", loss_that_explodes)
    with pytest.raises(TrainError, match="loss became nan"):
        train(_config(prepared, tmp_path / "run", epochs=3, max_steps=3))
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_bf16_on_the_cpu_trains_and_resumes_exactly(prepared, tmp_path):
    """bf16 autocast on the CPU (what makes training faster here): it learns, and a resumed run equals an
    uninterrupted one bit for bit, as in fp32."""
    common = dict(precision="bf16", size=48)
    train(_config(prepared, tmp_path / "whole", epochs=2, **common))
    train(_config(prepared, tmp_path / "split", epochs=1, **common))
    train(_config(prepared, tmp_path / "split", epochs=2, resume=True, **common))
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    assert all(torch.equal(whole[k], split[k]) for k in whole)
    fp32 = train(_config(prepared, tmp_path / "fp32", epochs=1, size=48))
    bf16 = load_checkpoint(tmp_path / "split" / "last.pt")
    assert bf16["config"]["precision"] == "bf16" and fp32["epochs_done"] == 1
    log = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in log)


def test_precision_auto_uses_bf16_only_where_the_cpu_computes_it(monkeypatch):
    """Without bf16 instructions PyTorch's CPU kernels fall back to slow paths (8x slower at 384 px on an AVX2
    EPYC): auto must then choose fp32, and an explicit bf16 must say it will be slow."""
    from colorizer.training.train import choose_precision

    cpu = torch.device("cpu")
    for name, supported in (("_is_avx512_bf16_supported", True), ("_is_amx_tile_supported", False)):
        monkeypatch.setattr(torch.cpu, name, lambda supported=supported: supported)
    assert choose_precision("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert choose_precision("auto", cpu) is None
    with pytest.warns(UserWarning, match="without bf16 instructions"):
        assert choose_precision("bf16", cpu) == torch.bfloat16
    assert choose_precision("fp32", cpu) is None


def test_a_frozen_encoder_keeps_its_weights_while_the_decoder_learns(prepared, tmp_path):
    from colorizer.training.train import Context, build_training_model

    cfg = _config(prepared, tmp_path / "frozen", epochs=1, lr=3e-3, freeze_encoder_epochs=1)
    start = build_training_model(
        cfg, Context(0, 1, torch.device("cpu"), None)
    ).state_dict()  # the run's initial weights
    train(cfg)
    frozen = _weights(tmp_path / "frozen")
    encoder = [k for k in start if k.startswith("encoder.") and start[k].is_floating_point()]
    decoder = [k for k in start if k.startswith("decoder.") and start[k].is_floating_point()]
    assert encoder and all(torch.equal(start[k], frozen[k]) for k in encoder)  # weights and BN statistics
    assert any(not torch.equal(start[k], frozen[k]) for k in decoder)
    train(_config(prepared, tmp_path / "frozen", epochs=2, lr=3e-3, freeze_encoder_epochs=1, resume=True))
    thawed = _weights(tmp_path / "frozen")
    assert any(not torch.equal(start[k], thawed[k]) for k in encoder if "running" not in k)  # epoch 2 learns it


def test_weight_average_moves_by_one_minus_decay_per_step():
    from colorizer.training.ema import WeightAverage

    model = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    average = WeightAverage(model, decay=0.5)
    model.weight.data.fill_(1.0)
    average.update(model)  # first update: decay min(0.5, 1 / 10) = 0.1, so 0.9 of the way
    assert torch.allclose(average.module.weight, torch.full((1, 2), 0.9))
    for _ in range(20):
        average.update(model)
    model.weight.data.fill_(3.0)
    average.update(model)  # now the full decay: halfway from ~1 to 3
    assert torch.allclose(average.module.weight, torch.full((1, 2), 2.0), atol=1e-4)


def test_weight_average_is_validated_and_best_pt_holds_the_winner(prepared, tmp_path):
    run = tmp_path / "run"
    train(_config(prepared, run, epochs=3, lr=3e-3, ema_decay=0.9))
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all("ema_val_loss" in row and row["best_weights"] in ("raw", "ema") for row in log)
    assert any(row["ema_val_loss"] != row["val_loss"] for row in log)
    last, best = load_checkpoint(run / "last.pt"), load_checkpoint(run / "best.pt")
    assert any(not torch.equal(last["model"][k], last["ema"]["weights"][k]) for k in last["model"])
    from colorizer.training.data import ColorizationDataset

    steps = -(-len(ColorizationDataset(prepared, "train", 32)) // 4)
    assert last["ema"]["updates"] == 3 * steps  # one update after every optimizer step
    winner_row = min(log, key=lambda row: min(row["val_loss"], row["ema_val_loss"]))
    assert best["epoch"] == winner_row["epoch"] and best["weights"] == winner_row["best_weights"]
    assert best["best_val_loss"] == pytest.approx(min(winner_row["val_loss"], winner_row["ema_val_loss"]))


def test_resume_restores_the_weight_average_exactly(prepared, tmp_path):
    train(_config(prepared, tmp_path / "whole", epochs=2, ema_decay=0.9))
    train(_config(prepared, tmp_path / "split", epochs=1, ema_decay=0.9))
    train(_config(prepared, tmp_path / "split", epochs=2, ema_decay=0.9, resume=True))
    whole, split = load_checkpoint(tmp_path / "whole" / "last.pt"), load_checkpoint(tmp_path / "split" / "last.pt")
    assert all(torch.equal(whole["ema"]["weights"][k], split["ema"]["weights"][k]) for k in whole["model"])
    assert whole["ema"]["updates"] == split["ema"]["updates"] > 0


def test_a_compact_checkpoint_resumes_close_to_the_full_one(prepared, tmp_path):
    from colorizer.training.checkpoint import compact_checkpoint

    # fp32: under bf16 autocast (precision auto on a CPU with bf16 instructions) the moments' rounding flips the
    # rounding of activations, and the two runs part by more than the compact checkpoint's own error
    first = tmp_path / "first"
    train(_config(prepared, first, epochs=1, ema_decay=0.9, precision="fp32"))
    carried = tmp_path / "carried"
    carried.mkdir()
    compact_checkpoint(first / "last.pt", carried / "last.pt")
    (carried / "log.jsonl").write_bytes((first / "log.jsonl").read_bytes())
    assert (carried / "last.pt").stat().st_size < 0.7 * (first / "last.pt").stat().st_size
    full, compact = load_checkpoint(first / "last.pt"), load_checkpoint(carried / "last.pt")
    assert all(torch.equal(full["model"][k], compact["model"][k]) for k in full["model"])
    for k, v in full["ema"]["weights"].items():  # the average comes back from its bfloat16 difference
        assert compact["ema"]["weights"][k].dtype == v.dtype
        assert torch.allclose(compact["ema"]["weights"][k].float(), v.float(), atol=1e-3)
    train(_config(prepared, first, epochs=2, ema_decay=0.9, resume=True, precision="fp32"))
    train(_config(prepared, carried, epochs=2, ema_decay=0.9, resume=True, precision="fp32"))
    exact, approximate = _weights(first), _weights(carried)
    assert all(torch.allclose(exact[k].float(), approximate[k].float(), atol=1e-3) for k in exact)
    rows = [json.loads(line) for line in (carried / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]


def test_the_best_epoch_is_carried_beside_a_compact_last_checkpoint(prepared, tmp_path):
    from colorizer.training.checkpoint import CheckpointError, compact_best, compact_checkpoint, restore_best

    run, progress = tmp_path / "run", tmp_path / "progress"
    train(_config(prepared, run, epochs=1, ema_decay=0.9))
    (tmp_path / "best-1.pt").write_bytes((run / "best.pt").read_bytes())  # an epoch before the last one
    train(_config(prepared, run, epochs=2, ema_decay=0.9, resume=True))
    best = load_checkpoint(tmp_path / "best-1.pt")
    compact_checkpoint(run / "last.pt", progress / "last.pt")
    compact_best(tmp_path / "best-1.pt", progress / "last.pt", progress / "best.pt")
    assert (progress / "best.pt").stat().st_size < 0.6 * (tmp_path / "best-1.pt").stat().st_size
    restore_best(progress / "best.pt", progress / "last.pt", tmp_path / "restored.pt")
    restored = load_checkpoint(tmp_path / "restored.pt")
    assert restored["epoch"] == best["epoch"] == 1 and restored["best_val_loss"] == best["best_val_loss"]
    last = load_checkpoint(progress / "last.pt")
    assert best["weights"] == "ema"
    for k, v in best["model"].items():  # the best epoch's weights, up to the bfloat16 rounding of their difference
        if v.is_floating_point() and v.numel() > 1:
            gap = (v.float() - last["ema"]["weights"][k].float()).abs()
            assert (restored["model"][k] - v.float()).abs().max() <= gap.max() * 2**-8 + 1e-12, k
    assert sum((best["model"][k].float() - last["ema"]["weights"][k].float()).abs().sum() for k in best["model"]) > 0
    model_from_checkpoint(restored)  # what export and evaluate load
    compact_checkpoint(run / "last.pt", progress / "other.pt")
    (progress / "other.pt").write_bytes((progress / "other.pt").read_bytes() + b"\0")
    with pytest.raises(CheckpointError, match="another"):
        restore_best(progress / "best.pt", progress / "other.pt", tmp_path / "wrong.pt")


def test_patience_stops_at_a_plateau_and_a_resume_stays_stopped(prepared, tmp_path):
    run = tmp_path / "run"
    result = train(_config(prepared, run, epochs=20, lr=1e-12, patience=2))  # a rate too small to learn anything
    assert result["epochs_done"] == 3  # the first epoch sets the best, two more without a better one
    assert json.loads((run / "finished.json").read_text())["reason"] == "plateau"
    again = train(_config(prepared, run, epochs=20, lr=1e-12, patience=2, resume=True))
    assert again["epochs_done"] == 3
    assert len((run / "log.jsonl").read_text().splitlines()) == 3


def test_the_logged_validation_delta_e_scores_the_automatic_colour(prepared, tmp_path):
    """The per-epoch ΔE2000 (the learning curve beside the loss) is that of the colour a user gets without hints:
    about 0 for a network that returns the truth's ab, the gray photo's ΔE for one that returns none, and logged for
    both the raw weights and their average."""
    import numpy as np

    from colorizer.inference.color import gray_preview
    from colorizer.training.color import uint8_to_network
    from colorizer.training.heads import RegressionHead
    from colorizer.training.metrics import delta_e
    from colorizer.training.train import Context, automatic_delta_e

    rng = np.random.default_rng(0)
    rgb = torch.from_numpy(rng.integers(0, 256, (2, 3, 24, 24), dtype=np.uint8).repeat(2, 2).repeat(2, 3))
    truth_ab = uint8_to_network(rgb)[1]

    class Returns(torch.nn.Module):
        input_channels = 4

        def __init__(self, ab):
            super().__init__()
            self.ab = ab

        def forward(self, inputs):
            assert inputs.shape[1] == 4 and not inputs[:, 1:].any()  # no hints
            return self.ab

    ctx = Context(0, 1, torch.device("cpu"), None)
    oracle = automatic_delta_e(Returns(truth_ab), rgb, ctx, False, RegressionHead()) / 2
    gray = automatic_delta_e(Returns(torch.zeros_like(truth_ab)), rgb, ctx, False, RegressionHead()) / 2
    gray_truth = np.mean([delta_e(t, gray_preview(t)) for t in rgb.permute(0, 2, 3, 1).numpy()])
    assert oracle < 1.0 and gray > 10 and abs(gray - gray_truth) < 0.1 * gray_truth

    train(_config(prepared, tmp_path / "run", epochs=1, hints=True, ema_decay=0.9))
    row = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[-1])
    assert 0 < row["val_delta_e"] < 60 and 0 < row["ema_val_delta_e"] < 60


def test_validation_is_scored_in_fp32_whatever_the_training_precision():
    """Stage 4 trains across machines, bf16 where the CPU computes it and fp32 elsewhere; best.pt and the plateau
    compare epochs' validation figures, so those are scored in fp32 either way: equal to the last digit."""
    import numpy as np

    from colorizer.training.heads import RegressionHead
    from colorizer.training.train import Context, validate

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        input_channels = 1

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, inputs):
            return torch.tanh(self.conv(inputs) * 3)

    net = Net()
    batches = [
        torch.from_numpy(np.random.default_rng(i).integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)) for i in (0, 1)
    ]
    cfg = TrainConfig(hints=False, channels_last=False)
    fp32 = validate(net, batches, Context(0, 1, torch.device("cpu"), None), cfg, RegressionHead())
    bf16 = validate(net, batches, Context(0, 1, torch.device("cpu"), torch.bfloat16), cfg, RegressionHead())
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # what bf16 would have scored
        rounded = net.conv(batches[0][:, :1].float())
    assert not torch.equal(rounded.float(), net.conv(batches[0][:, :1].float()))  # bf16 does change the numbers
    assert bf16 == fp32


def test_a_sessions_progress_file_is_weights_alone_and_resumes_at_its_epoch(prepared, tmp_path, capsys):
    from colorizer.training.checkpoint import session_checkpoint

    first = tmp_path / "first"
    train(_config(prepared, first, epochs=1, ema_decay=0.9, precision="fp32"))
    carried = tmp_path / "carried"
    carried.mkdir()
    session_checkpoint(first / "last.pt", carried / "last.pt")
    (carried / "log.jsonl").write_bytes((first / "log.jsonl").read_bytes())
    progress, full = load_checkpoint(carried / "last.pt"), load_checkpoint(first / "last.pt")
    assert "optimizer" not in progress and "ema" not in progress and progress["weights_only"]
    floats = [k for k, v in progress["model"].items() if v.is_floating_point()]
    assert floats and all(progress["model"][k].dtype == torch.bfloat16 for k in floats)
    for k in floats:  # the average's weights, rounded to bfloat16
        assert torch.allclose(progress["model"][k].float(), full["ema"]["weights"][k].float(), rtol=1e-2, atol=1e-3)
    assert (carried / "last.pt").stat().st_size < 0.3 * (first / "last.pt").stat().st_size
    result = train(_config(prepared, carried, epochs=2, ema_decay=0.9, resume=True, precision="fp32"))
    assert result["epochs_done"] == 2 and "start afresh" in capsys.readouterr().err
    rows = [json.loads(line) for line in (carried / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert load_checkpoint(carried / "last.pt").get("optimizer")  # a full checkpoint again after the epoch
