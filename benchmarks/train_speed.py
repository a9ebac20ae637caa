"""Training throughput (images/s): the real data path (cache -> DataLoader -> device) vs tensors already in memory,
fp32 vs bf16 autocast, at 224 and 608 px. Runs on CPU here and on a GPU where one is available.

    python -m benchmarks.train_speed DATA [--device cuda] [--sizes 224 608]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
from torch.utils.data import DataLoader, RandomSampler

from benchmarks.common import machine, table
from colorizer.training.config import TrainConfig
from colorizer.training.data import ColorizationDataset
from colorizer.training.heads import RegressionHead
from colorizer.training.train import (
    Context,
    build_training_model,
    choose_precision,
    compute_loss,
    set_encoder_frozen,
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def images_per_second(
    data,
    size,
    batch,
    device,
    precision,
    channels_last,
    steps,
    repeats,
    workers,
    encoder="resnet18",
    hints=False,
    frozen_encoder=False,
    compiled=False,
) -> dict:
    """{"memory": img/s, "real": img/s}, medians over `repeats` rounds; each round times both, one after the other,
    so that drift in the machine's speed hits both alike. compiled: steps through torch.compile (its compilation
    happens in the warm-up, untimed)."""
    cfg = TrainConfig(
        data=str(data),
        out="",
        size=size,
        batch_size=batch,
        device=str(device),
        precision=precision,
        channels_last=channels_last,
        workers=workers,
        encoder=encoder,
        hints=hints,
        progress=False,
    )
    ctx = Context(0, 1, device, choose_precision(precision, device))
    model = build_training_model(cfg, ctx)
    model.train()
    set_encoder_frozen(model, frozen_encoder)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-4)
    net = torch.compile(model) if compiled else model
    dataset = ColorizationDataset(data, "train", size, output="rgb", progress=False)
    loader = DataLoader(
        dataset,
        batch,
        sampler=RandomSampler(dataset, replacement=True, num_samples=10**9),
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    batches = iter(loader)
    fixed = next(batches).to(device)

    def step(rgb):
        generator = torch.Generator().manual_seed(0) if hints else None
        loss = compute_loss(net, rgb, ctx, channels_last, RegressionHead(), generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def timed(source) -> float:
        _sync(device)
        started = time.perf_counter()
        for rgb in itertools.islice(batches, steps) if source == "real" else [fixed] * steps:
            step(rgb.to(device, non_blocking=True))
        _sync(device)
        return steps * batch / (time.perf_counter() - started)

    timed("memory")  # warm-up
    rates = {"memory": [], "real": []}
    for _ in range(repeats):
        for source in rates:
            rates[source].append(timed(source))
    return {source: statistics.median(values) for source, values in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", help="prepared folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 608])
    parser.add_argument("--batch", type=int, default=15)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=0, help="steps per timing (default: by device and size)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--encoder", default="resnet18")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(machine())
    rows = []
    for size, precision in itertools.product(args.sizes, args.precisions):
        steps = args.steps or (50 if device.type == "cuda" else max(2, 40 * 224 * 224 // (size * size * args.batch)))
        measured = images_per_second(
            args.data, size, args.batch, device, precision, True, steps, args.repeats, args.workers, args.encoder
        )
        rows.append(
            [
                args.encoder,
                size,
                args.batch,
                precision,
                "channels_last",
                f"{measured['memory']:.1f}",
                f"{measured['real']:.1f}",
                f"{measured['real'] / measured['memory']:.2f}",
            ]
        )
        print(rows[-1], flush=True)
    print(
        table(
            ["encoder", "size", "batch", "precision", "layout", "in-memory img/s", "real data path img/s", "ratio"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
