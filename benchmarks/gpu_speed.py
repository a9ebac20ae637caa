"""Training speed on one GPU, every setting that matters, in one run: the prepared device script of issue 13.

For the paper model and the EfficientNet-Lite0 model, at 224 and 608 px, batch 15 (the paper's) and 256, fp32 and
bf16 autocast, eager and `torch.compile` (CUDA graphs): images/s with tensors already in memory (the ceiling), with
the data on the device (`DeviceCrops`, what training uses when the split fits) and, eager only, with the DataLoader
over the memory-mapped cache (8 workers, pinned memory). Then one step of the fastest paper-model setting is
profiled: its kernels, their count and where the time goes. Writes benchmarks/results/gpu_speed.md, which
`make bench` folds into BENCHMARKS.md.

    python -m benchmarks.gpu_speed DATA --device cuda [--budget-minutes 9]
    python -m benchmarks.gpu_speed DATA --device cpu --models paper --sizes 32 --batches 4 --steps 2   # smoke
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, RandomSampler

from benchmarks.common import machine, table
from colorizer.training.config import TrainConfig
from colorizer.training.data import ColorizationDataset
from colorizer.training.device_data import DeviceBatches, DeviceCrops
from colorizer.training.heads import RegressionHead
from colorizer.training.train import Context, build_training_model, choose_precision, compute_loss

RESULTS = Path(__file__).resolve().parent / "results" / "gpu_speed.md"
MODELS = {"paper": "resnet18", "efficientnet": "efficientnet-lite0"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class Bench:
    """One (model, size, batch, precision, compile) setting: a model, its optimizer and a way to time steps."""

    def __init__(self, data, encoder, size, batch, precision, compiled, device):
        self.device, self.size, self.batch = device, size, batch
        cfg = TrainConfig(
            data=str(data),
            out="",
            size=size,
            batch_size=batch,
            device=str(device),
            encoder=encoder,
            precision=precision,
            progress=False,
            workers=0,
        )
        self.ctx = Context(0, 1, device, choose_precision(precision, device))
        self.model = build_training_model(cfg, self.ctx)
        self.net = (
            torch.compile(self.model, mode="reduce-overhead" if device.type == "cuda" else None)
            if compiled
            else self.model
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), 1e-4)
        self.head = RegressionHead()

    def step(self, rgb: torch.Tensor) -> None:
        loss = compute_loss(self.net, rgb, self.ctx, True, self.head, None)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def rate(self, batches, steps: int, warmup: int) -> float:
        """Images/s over `steps` timed steps after `warmup` untimed ones, drawing batches from an iterator."""
        for _ in range(warmup):
            self.step(next(batches).to(self.device, non_blocking=True))
        _sync(self.device)
        started = time.perf_counter()
        for _ in range(steps):
            self.step(next(batches).to(self.device, non_blocking=True))
        _sync(self.device)
        return steps * self.batch / (time.perf_counter() - started)


def _forever(make):
    while True:
        yield from make()


def measure(args, data: Path, device: torch.device) -> tuple[list[list], dict]:
    rows, best = [], {}
    started = time.monotonic()
    settings = itertools.product(args.models, args.sizes, args.batches, args.precisions, (False, True))
    for model, size, batch, precision, compiled in settings:
        if compiled and (batch < 64 and device.type == "cuda" and not args.all_compiled):
            continue  # CUDA graphs pay off where launches dominate; the small batch is measured eager
        if time.monotonic() - started > args.budget_minutes * 60:
            print("time budget spent: the remaining settings are left out", file=sys.stderr)
            break
        bench = Bench(data, MODELS[model], size, batch, precision, compiled, device)
        dataset = ColorizationDataset(data, "train", size, output="rgb", seed=0, progress=False)
        sampler = RandomSampler(dataset, replacement=True, num_samples=10**9)
        fixed = torch.stack([dataset[i % len(dataset)] for i in range(batch)]).to(device)
        crops = DeviceCrops(dataset, device)
        warmup = args.warmup * (3 if compiled else 1)
        rates = {"memory": [], "device": [], "loader": []}
        loader_batches = None
        if not compiled:
            loader = DataLoader(
                dataset,
                batch,
                sampler=sampler,
                num_workers=args.workers,
                pin_memory=device.type == "cuda",
                persistent_workers=args.workers > 0,
                **({"prefetch_factor": 4} if args.workers > 0 else {}),
            )
            loader_batches = iter(loader)
        for _ in range(args.repeats):
            rates["memory"].append(bench.rate(itertools.repeat(fixed), args.steps, warmup))
            on_device = _forever(lambda c=crops, s=sampler, b=batch: DeviceBatches(c, s, b))
            rates["device"].append(bench.rate(on_device, args.steps, 2))
            if loader_batches is not None:
                rates["loader"].append(bench.rate(loader_batches, args.steps, 2))
            warmup = 2
        memory, on_device = statistics.median(rates["memory"]), statistics.median(rates["device"])
        loader_rate = statistics.median(rates["loader"]) if rates["loader"] else None
        rows.append(
            [
                model,
                size,
                batch,
                precision,
                "compiled" if compiled else "eager",
                f"{memory:.0f}",
                f"{on_device:.0f}",
                f"{on_device / memory:.2f}",
                f"{loader_rate:.0f}" if loader_rate else "-",
                f"{1350 / on_device:.2f}",
            ]
        )
        print(rows[-1], file=sys.stderr, flush=True)
        if model == "paper" and on_device > best.get("rate", 0):
            best = {
                "rate": on_device,
                "setting": (size, batch, precision, compiled),
                "bench": bench,
                "crops": crops,
                "sampler": sampler,
            }
        del bench
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows, best


def profile_step(best: dict, device: torch.device) -> str:
    """Where one step of the fastest paper-model setting spends its time."""
    if not best:
        return ""
    from torch.profiler import ProfilerActivity, profile

    bench, batch = best["bench"], best["setting"][1]
    batches = _forever(lambda: DeviceBatches(best["crops"], best["sampler"], batch))
    bench.rate(batches, 3, 3)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        bench.step(next(batches))
        _sync(device)
    key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    events = prof.key_averages()
    kernels = sum(e.count for e in events if device.type == "cuda" and e.device_type.name == "CUDA")
    size, _, precision, compiled = best["setting"]
    return "\n".join(
        [
            f"One step of the fastest paper-model setting ({size} px, batch {batch}, {precision}, "
            f"{'compiled' if compiled else 'eager'}; {kernels} GPU kernel launches), top operators by {key}:",
            "",
            "```",
            events.table(sort_by=key, row_limit=12, max_name_column_width=60),
            "```",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a prepared folder (colorizer prepare)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[224, 608])
    parser.add_argument("--batches", nargs="+", type=int, default=[15, 256])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--budget-minutes", type=float, default=9.0)
    parser.add_argument("--all-compiled", action="store_true", help="also compile the small batches")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    rows, best = measure(args, args.data, device)
    header = [
        "model",
        "size",
        "batch",
        "precision",
        "mode",
        "in-memory img/s",
        "data on device img/s",
        "ratio",
        "DataLoader img/s",
        "s per 1,350-photo epoch (on device)",
    ]
    text = "\n".join(
        [
            f"Measured by `benchmarks/gpu_speed.py` on {datetime.date.today()}. Machine: {machine()}.",
            "",
            table(header, rows),
            "",
            profile_step(best, device),
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
