"""`colorizer train DATA --out RUN`: train the colorization network, on one CPU or many GPUs.

    colorizer train data/ --out runs/224 --size 224 --epochs 16                 # the paper's first stage
    colorizer train data/ --out runs/608 --size 608 --init-from runs/224/best.pt  # its second stage
    torchrun --nproc_per_node=4 -m colorizer train data/ --out runs/ddp          # DistributedDataParallel

A plain loop: `train_one_epoch`, `validate`, then log, plot, samples and checkpoints (`last.pt`, `best.pt`) every
epoch. Batches arrive as uint8 RGB and are converted to LAB on the training device. DDP switches on when torchrun
sets RANK; only rank 0 writes files. Ctrl-C saves a checkpoint mid-epoch; `--resume` continues exactly there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler, Subset

from colorizer.atomic import atomic_write_text
from colorizer.figures import plot_loss, save_comparison
from colorizer.progress import progress_bar
from colorizer.training.checkpoint import load_checkpoint, save_checkpoint, unwrap
from colorizer.training.color import network_to_rgb, uint8_to_network
from colorizer.training.config import RESUME_MUST_MATCH, TrainConfig
from colorizer.training.data import ColorizationDataset, cached_size, open_cache
from colorizer.training.device_data import DeviceBatches, DeviceCrops, fits
from colorizer.training.ema import WeightAverage
from colorizer.training.heads import ClassificationHead, RegressionHead, ab_bins, head_from_state, prior_from_images
from colorizer.training.hints import hint_generator, simulate_hints
from colorizer.training.model import HINT_LR_FACTOR, build_model, is_hint_parameter, load_without_hints
from colorizer.training.sampling import SamplingError, SourceSampler, parse_source_weights

# A validation loss counts as better (for --patience) when it beats the best by more than this fraction of it.
PLATEAU_TOLERANCE = 1e-3


class TrainError(Exception):
    """The run cannot start or has to stop; the message says why and what to do."""


@dataclass
class Context:
    """Where and how this process trains: set once, read everywhere."""

    rank: int
    world_size: int
    device: torch.device
    autocast_dtype: torch.dtype | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


def choose_device(spec: str, local_rank: int = 0) -> torch.device:
    if spec == "cuda":
        return torch.device("cuda", local_rank)
    if spec != "auto":
        return torch.device(spec)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX). Without them PyTorch falls back to slow
    kernels: on an AVX2-only EPYC the bundled model's network trained at 0.12x of its fp32 speed under bf16
    autocast (384 px; BENCHMARKS.md, "Training on this CPU")."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def choose_precision(spec: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (None = plain fp32). auto: bf16 on a CUDA device that supports it and on a CPU with bf16
    instructions, else fp32."""
    if spec == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
        return torch.bfloat16 if device.type == "cpu" and cpu_has_bf16() else None
    if spec == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        warnings.warn(
            "--precision bf16 on a CPU without bf16 instructions (AVX512-BF16 or AMX) runs several times slower than "
            "fp32 here; --precision auto chooses for this machine",
            stacklevel=2,
        )
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[spec]


def setup(cfg: TrainConfig) -> Context:
    """Start DistributedDataParallel when torchrun set RANK, pick the device and precision."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(cfg.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world_size, device, choose_precision(cfg.precision, device))


class SkipSampler(Sampler):
    """Yields its sampler's indices after skipping the first `skip` (to resume mid-epoch on the same order)."""

    def __init__(self, sampler: DistributedSampler | SourceSampler):
        self.sampler, self.skip = sampler, 0

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return len(self.sampler) - self.skip


class StopFlag:
    """Set by SIGINT/SIGTERM; the loop checks it after each step, saves and leaves."""

    def __init__(self):
        self.raised = False

    def __call__(self, signum, frame):
        if self.raised:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self.raised = True

    def agreed(self, ctx: Context) -> bool:
        if ctx.world_size == 1:
            return self.raised
        flag = torch.tensor([float(self.raised)], device=ctx.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def compute_loss(
    model: torch.nn.Module, rgb: torch.Tensor, ctx: Context, channels_last: bool, head, hints: torch.Generator | None
) -> torch.Tensor:
    """The head's loss (MSE on ab for the paper) for a (B, 3, H, W) uint8 batch already on the device; with a
    generator, the input also carries hints simulated from the batch's own colour."""
    with torch.no_grad():
        inputs, ab_norm = uint8_to_network(rgb)  # (B, 1, H, W), (B, 2, H, W)
        if hints is not None:
            inputs = torch.cat([inputs, simulate_hints(ab_norm, hints)], dim=1)  # (B, 4, H, W)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with ctx.autocast():
        prediction = model(inputs)
    return head.loss(prediction, ab_norm)


@dataclass
class EpochState:
    """Running totals of one training epoch; saved in a mid-epoch checkpoint so a resume continues them."""

    step: int = 0
    loss_sum: float = 0.0
    images: int = 0
    seconds: float = 0.0


def set_encoder_frozen(model: torch.nn.Module, frozen: bool) -> None:
    """Fix (or free) the encoder's pretrained weights and batch-norm statistics; hint convolutions always learn."""
    encoder = unwrap(model).encoder
    for name, parameter in encoder.named_parameters():
        if not is_hint_parameter(f"encoder.{name}"):
            parameter.requires_grad_(not frozen)
    if frozen:
        for module in encoder.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


def train_one_epoch(model, loader, optimizer, scaler, ctx, cfg, head, epoch, state, stop, average=None) -> bool:
    """Train until the epoch ends (True) or a stop was asked for (False). Updates `state` in place, and the weight
    average after every step where there is one."""
    model.train()
    set_encoder_frozen(model, epoch < cfg.freeze_encoder_epochs)
    steps_per_epoch = state.step + len(loader)  # the loader only holds what is left of a resumed epoch
    limit = min(cfg.max_steps or math.inf, steps_per_epoch)
    bar = progress_bar(
        loader,
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        initial=state.step,
        total=limit,
        unit="batch",
        disable=not (cfg.progress and ctx.is_main),
        file=sys.stderr,
        leave=False,
    )
    for rgb in bar:
        if state.step >= limit:
            break
        started = time.perf_counter()
        for group in optimizer.param_groups:  # per step: warm-up moves within an epoch
            group["lr"] = cfg.lr_at(epoch, (state.step + 1) / steps_per_epoch, ctx.world_size) * group["lr_factor"]
        rgb = rgb.to(ctx.device, non_blocking=True)
        hints = hint_generator(cfg.seed, epoch, state.step, ctx.rank) if cfg.hints else None
        loss = compute_loss(model, rgb, ctx, cfg.channels_last, head, hints)
        if not torch.isfinite(loss):
            raise TrainError(
                f"the loss became {loss.item()} at epoch {epoch + 1}, step {state.step + 1}; stopping. The last good "
                "checkpoint is kept (last.pt). Try a lower --lr or --precision fp32, then --resume."
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if average is not None:
            average.update(unwrap(model))
        state.step += 1
        state.loss_sum += loss.item() * len(rgb)
        state.images += len(rgb)
        state.seconds += time.perf_counter() - started
        bar.set_postfix(loss=f"{state.loss_sum / state.images:.5f}", img_s=f"{state.images / state.seconds:.1f}")
        if stop.agreed(ctx):
            return False
    return True


@torch.no_grad()
def validate(model, loader, ctx, cfg, head) -> tuple[float, float]:
    """Mean validation loss (with the same simulated hints every epoch, when the model takes hints) and mean
    CIEDE2000 of its automatic colour (no hints) against the truth, over all processes' shares of the split.
    Scored in fp32 whatever the training precision, so that epochs trained on different machines (bf16 on one CPU,
    fp32 on the next) are judged by the same figures when best.pt and the plateau are decided."""
    model.eval()
    ctx = dataclasses.replace(ctx, autocast_dtype=None)
    totals = torch.zeros(3, dtype=torch.float64, device=ctx.device)
    for index, rgb in enumerate(loader):
        rgb = rgb.to(ctx.device, non_blocking=True)
        hints = hint_generator(cfg.seed, -1, index, ctx.rank) if cfg.hints else None  # the same hints every epoch
        loss = compute_loss(model, rgb, ctx, cfg.channels_last, head, hints).item()
        totals += torch.tensor(
            [loss * len(rgb), automatic_delta_e(model, rgb, ctx, cfg.channels_last, head), len(rgb)],
            dtype=torch.float64,
            device=ctx.device,
        )
    if ctx.world_size > 1:
        dist.all_reduce(totals)
    count = totals[2].clamp(min=1)
    return (totals[0] / count).item(), (totals[1] / count).item()


def automatic_input(model, l_norm: torch.Tensor) -> torch.Tensor:
    """The network input for automatic colour: L, and empty hint channels when the model takes hints."""
    extra = unwrap(model).input_channels - 1
    return torch.cat([l_norm, l_norm.new_zeros(len(l_norm), extra, *l_norm.shape[2:])], 1) if extra else l_norm


def automatic_delta_e(model, rgb: torch.Tensor, ctx: Context, channels_last: bool, head) -> float:
    """Sum over a (B, 3, H, W) uint8 batch of each crop's mean CIEDE2000 between the truth and the model's colour
    without hints (what a user gets automatically), both through RGB as `colorizer evaluate` scores."""
    from colorizer.training.metrics import delta_e

    l_norm, _ = uint8_to_network(rgb)
    inputs = automatic_input(model, l_norm)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    with ctx.autocast():
        prediction = head.decode(model(inputs))
    coloured = (network_to_rgb(l_norm, prediction).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    truth = rgb.permute(0, 2, 3, 1).cpu().numpy()
    return float(sum(delta_e(t, c) for t, c in zip(truth, coloured, strict=True)))


@torch.no_grad()
def sample_rows(model, samples: torch.Tensor, ctx: Context, head) -> list[list[np.ndarray]]:
    """original | grayscale | colourised (automatic: no hints) for the fixed validation samples ((N, 3, H, W) uint8)."""
    model.eval()
    l_norm, ab_norm = uint8_to_network(samples.to(ctx.device))
    inputs = automatic_input(model, l_norm)
    with ctx.autocast():
        prediction = head.decode(model(inputs))
    gray = network_to_rgb(l_norm, torch.zeros_like(ab_norm))
    coloured = network_to_rgb(l_norm, prediction)
    to_uint8 = lambda t: (t.permute(1, 2, 0) * 255).round().byte().cpu().numpy()  # noqa: E731
    return [
        [s.permute(1, 2, 0).numpy(), to_uint8(g), to_uint8(c)] for s, g, c in zip(samples, gray, coloured, strict=True)
    ]


def _weights_fingerprint(model: torch.nn.Module) -> float:
    return float(sum(p.detach().double().abs().sum() for p in model.parameters()))


def rank_fingerprints(model, ctx: Context) -> list[float]:
    """Every rank's sum of |weights|: identical on all ranks when DDP kept them in step."""
    mine = torch.tensor([_weights_fingerprint(model)], dtype=torch.float64, device=ctx.device)
    if ctx.world_size == 1:
        return [mine.item()]
    gathered = [torch.zeros_like(mine) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, mine)
    return [g.item() for g in gathered]


def _resume_payload(cfg: TrainConfig) -> dict | None:
    """The checkpoint to resume from, or None for a new run; refuses to mix runs or to overwrite one."""
    last = Path(cfg.out) / "last.pt"
    if not cfg.resume:
        if last.exists():
            raise TrainError(f"{cfg.out} already holds a run ({last}); pass --resume to continue it, or another --out")
        return None
    if not last.exists():
        raise TrainError(f"--resume: there is no checkpoint to resume from ({last} does not exist)")
    payload = load_checkpoint(last)
    saved = payload["config"]
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}  # for settings newer than the run
    different = [
        f"{k}: {saved.get(k, defaults[k])!r} in the run, {getattr(cfg, k)!r} now"
        for k in RESUME_MUST_MATCH
        if saved.get(k, defaults[k]) != getattr(cfg, k)
    ]
    if different:
        raise TrainError("--resume: the config does not match the run's: " + "; ".join(different))
    return payload


def default_workers(ctx: Context) -> int:
    """0 on CPU: the uint8 cache is read in well under a millisecond per photo, cheaper than extra processes
    competing with training for the same cores (measured in BENCHMARKS.md). On a GPU, a share of the cores."""
    if ctx.device.type == "cpu":
        return 0
    return max(1, min(8, (os.cpu_count() or 1) // max(1, torch.cuda.device_count()) - 1))


def make_loaders(cfg: TrainConfig, ctx: Context):
    if ctx.is_main:  # build the caches once, before the other ranks open them
        open_cache(Path(cfg.data), "train", cached_size(cfg.size, cfg.scale_jitter), progress=cfg.progress)
        open_cache(Path(cfg.data), "val", cfg.size, progress=cfg.progress)
    if ctx.world_size > 1:
        dist.barrier()
    train_set = ColorizationDataset(
        cfg.data, "train", cfg.size, output="rgb", seed=cfg.seed, progress=False, scale_jitter=cfg.scale_jitter
    )
    val_set = ColorizationDataset(cfg.data, "val", cfg.size, output="rgb", progress=False)
    if cfg.source_weights or cfg.epoch_images:
        try:
            weights = parse_source_weights(cfg.source_weights)
            sources = [record.get("source_name") or "all" for record in train_set.records]
            epoch_sampler = SourceSampler(sources, weights, cfg.epoch_images, ctx.world_size, ctx.rank, cfg.seed)
        except SamplingError as err:
            raise TrainError(str(err)) from None
    else:
        epoch_sampler = DistributedSampler(train_set, ctx.world_size, ctx.rank, shuffle=True, seed=cfg.seed)
    sampler = SkipSampler(epoch_sampler)
    workers = cfg.workers if cfg.workers >= 0 else default_workers(ctx)
    common = dict(num_workers=workers, pin_memory=ctx.device.type == "cuda", persistent_workers=workers > 0)
    if workers > 0:
        common["prefetch_factor"] = 4
    if cfg.scale_jitter and cfg.data_on_device == "yes":
        raise TrainError("--scale-jitter resizes crops in the loader: use --data-on-device auto or no with it")
    on_device = cfg.data_on_device == "yes" or (
        cfg.data_on_device == "auto" and not cfg.scale_jitter and fits(train_set, ctx.device)
    )
    if on_device:  # the whole split in device memory: each step's crops are one gather there
        train_loader = DeviceBatches(DeviceCrops(train_set, ctx.device), sampler, cfg.batch_size)
    else:
        train_loader = DataLoader(train_set, cfg.batch_size, sampler=sampler, **common)
    validated = range(len(val_set))
    if 0 < cfg.val_images < len(val_set):  # a fixed subset, evenly spread (the same every epoch and every resume)
        validated = np.unique(np.linspace(0, len(val_set) - 1, cfg.val_images).round().astype(int)).tolist()
    val_share = Subset(val_set, validated[ctx.rank :: ctx.world_size])
    val_loader = DataLoader(val_share, cfg.batch_size, **common)
    samples = torch.stack([val_set[i] for i in range(min(cfg.samples, len(val_set)))])
    return train_set, sampler, train_loader, val_loader, samples


def _write_config(cfg: TrainConfig, out: Path) -> None:
    lines = [f"{k} = {json.dumps(v)}" for k, v in dataclasses.asdict(cfg).items()]
    atomic_write_text(
        out / "config.toml", "# the resolved config of this run; reuse it with --config\n" + "\n".join(lines) + "\n"
    )


def _read_history(out: Path, before_epoch: int) -> list[dict]:
    path = out / "log.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["epoch"] <= before_epoch]  # epochs are 1-based in the log


def build_head(cfg: TrainConfig, train_set: ColorizationDataset, resume_from: dict | None):
    """The run's output head; a classification head's colour prior comes from the training split itself."""
    if resume_from is not None:
        return head_from_state(resume_from.get("head"))
    if cfg.loss not in ("classification", "huber-rebalanced"):
        return RegressionHead(cfg.loss)
    bins = ab_bins()
    images = (train_set.content(i) for i in range(len(train_set)))
    if cfg.loss == "huber-rebalanced":
        return RegressionHead(cfg.loss, prior_from_images(images, bins))
    return ClassificationHead(bins, prior_from_images(images, bins))


def build_training_model(cfg: TrainConfig, ctx: Context, out_channels: int = 2) -> torch.nn.Module:
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.encoder, cfg.pretrained, out_channels, input_channels=4 if cfg.hints else 1)
    if cfg.init_from:
        try:
            load_without_hints(model, load_checkpoint(cfg.init_from)["model"])
        except RuntimeError as err:
            raise TrainError(
                f"--init-from {cfg.init_from}: its weights do not fit --encoder {cfg.encoder} ({err})"
            ) from None
    model = model.to(ctx.device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.sync_bn and ctx.world_size > 1:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (AdamW with --weight-decay); the hint convolutions in their own group at HINT_LR_FACTOR x the rate."""
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if not is_hint_parameter(n)], "lr_factor": 1.0},
        {"params": [p for n, p in named if is_hint_parameter(n)], "lr_factor": HINT_LR_FACTOR},
    ]
    groups = [g for g in groups if g["params"]]
    if cfg.weight_decay:
        return torch.optim.AdamW(groups, cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(groups, cfg.lr)


def train(cfg: TrainConfig) -> dict:
    """Run (or resume) training as `cfg` says. Returns {"epochs_done", "best_val_loss", "interrupted"}."""
    ctx = setup(cfg)
    try:
        return _train(cfg, ctx)
    finally:
        if ctx.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train(cfg: TrainConfig, ctx: Context) -> dict:
    out = Path(cfg.out)
    resume_from = _resume_payload(cfg)
    train_set, sampler, train_loader, val_loader, samples = make_loaders(cfg, ctx)
    head = build_head(cfg, train_set, resume_from)
    model = build_training_model(cfg, ctx, head.out_channels)
    optimizer = make_optimizer(model, cfg)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=ctx.autocast_dtype == torch.float16)
    start_epoch, state, best, since_best = 0, EpochState(), math.inf, 0
    if resume_from is not None:
        unwrap(model).load_state_dict(resume_from["model"])  # bfloat16 weights of a session's progress are cast
        if resume_from.get("weights_only"):  # `session_checkpoint`: the same epoch and photos, Adam starts afresh
            if ctx.is_main:
                print("resuming from weights alone: the optimizer's moments start afresh", file=sys.stderr)
        else:
            optimizer.load_state_dict(resume_from["optimizer"])
            scaler.load_state_dict(resume_from["scaler"])
        start_epoch, state, best, since_best = (
            resume_from["epoch"],
            EpochState(**resume_from["epoch_state"]),
            resume_from["best_val_loss"],
            resume_from.get("epochs_since_best", 0),
        )
        torch.set_rng_state(resume_from["rng"])
    average = WeightAverage(unwrap(model), cfg.ema_decay) if cfg.ema_decay else None
    if average is not None and resume_from is not None and "ema" in resume_from:
        average.load_state_dict(resume_from["ema"])
    if cfg.freeze_encoder_epochs and ctx.world_size > 1:
        raise TrainError("--freeze-encoder-epochs is for single-process training (DDP needs a fixed set of weights)")
    net = (
        DistributedDataParallel(model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        if ctx.world_size > 1
        else model
    )
    if cfg.compile:  # on a GPU with CUDA graphs: one launch per step instead of dozens of tiny kernels
        net = torch.compile(net, mode="reduce-overhead" if ctx.device.type == "cuda" else None)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        _write_config(cfg, out)
    history = _read_history(out, start_epoch) if ctx.is_main else []

    def save(name: str, epoch: int, epoch_state: EpochState, weights: str = "raw") -> None:
        """weights: "raw" (the model's) or "ema" (the average's) as the checkpoint's model; both stay resumable."""
        extra = {} if average is None else {"ema": average.state_dict(), "weights": weights}
        save_checkpoint(
            out / name,
            {
                "model": (average.module if weights == "ema" else unwrap(model)).state_dict(),
                "model_config": {
                    "encoder": cfg.encoder,
                    "out_channels": head.out_channels,
                    "input_channels": unwrap(model).input_channels,
                },
                "head": head.state(),
                "config": dataclasses.asdict(cfg),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict(),
                "epoch": epoch,
                "epoch_state": dataclasses.asdict(epoch_state),
                "best_val_loss": best,
                "epochs_since_best": since_best,
                "rng": torch.get_rng_state(),
                **extra,
            },
        )

    started = time.monotonic()
    stop = StopFlag()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if cfg.patience and since_best >= cfg.patience:
            _finish(out, ctx, "plateau", start_epoch, best)
            return {"epochs_done": start_epoch, "best_val_loss": best, "interrupted": False}
        for epoch in range(start_epoch, cfg.epochs):
            sampler.sampler.set_epoch(epoch)
            train_set.set_epoch(epoch)
            sampler.skip = state.step * cfg.batch_size
            if not train_one_epoch(net, train_loader, optimizer, scaler, ctx, cfg, head, epoch, state, stop, average):
                if ctx.is_main:
                    save("last.pt", epoch, state)
                    print(
                        f"interrupted: saved {out / 'last.pt'} (epoch {epoch + 1}, step {state.step}); "
                        "continue with --resume",
                        file=sys.stderr,
                    )
                return {"epochs_done": epoch, "best_val_loss": best, "interrupted": True}
            losses, delta_es = {}, {}
            losses["raw"], delta_es["raw"] = validate(net, val_loader, ctx, cfg, head)
            if average is not None:
                losses["ema"], delta_es["ema"] = validate(average.module, val_loader, ctx, cfg, head)
            val_loss = losses["raw"]
            winner = min(losses, key=losses.get)
            fingerprints = rank_fingerprints(model, ctx)
            since_best = 0 if losses[winner] < best * (1 - PLATEAU_TOLERANCE) else since_best + 1
            improved, best = losses[winner] < best, min(best, losses[winner])
            if ctx.is_main:
                history.append(
                    {
                        "epoch": epoch + 1,
                        "train_loss": state.loss_sum / max(state.images, 1),
                        "val_loss": val_loss,
                        "val_delta_e": delta_es["raw"],
                        **(
                            {"ema_val_loss": losses["ema"], "ema_val_delta_e": delta_es["ema"], "best_weights": winner}
                            if average is not None
                            else {}
                        ),
                        "lr": optimizer.param_groups[0]["lr"],
                        "seconds": round(state.seconds, 3),
                        "images_per_s": round(state.images / max(state.seconds, 1e-9), 2),
                        "world_size": ctx.world_size,
                        "rank_weight_sums": fingerprints,
                    }
                )
                _write_history(out, history)
                plot_loss(history, out / "loss.png")
                save_comparison(sample_rows(model, samples, ctx, head), out / "samples" / f"epoch_{epoch + 1:03d}.png")
                save("last.pt", epoch + 1, EpochState())
                if improved:
                    save("best.pt", epoch + 1, EpochState(), winner)
                row = history[-1]
                averaged = f", averaged {losses['ema']:.5f}" if average is not None else ""
                print(
                    f"epoch {epoch + 1}/{cfg.epochs}: train {row['train_loss']:.5f}, val {val_loss:.5f}{averaged}"
                    f"{f' (best: {winner})' if improved else ''}, {row['images_per_s']} img/s",
                    file=sys.stderr,
                )
            state = EpochState()
            if cfg.patience and since_best >= cfg.patience:
                _finish(out, ctx, "plateau", epoch + 1, best)
                return {"epochs_done": epoch + 1, "best_val_loss": best, "interrupted": False}
            if cfg.max_minutes and time.monotonic() - started > cfg.max_minutes * 60 and epoch + 1 < cfg.epochs:
                if ctx.is_main:
                    print(
                        f"time limit of {cfg.max_minutes} min reached after epoch {epoch + 1}; continue with --resume",
                        file=sys.stderr,
                    )
                return {"epochs_done": epoch + 1, "best_val_loss": best, "interrupted": False}
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    _finish(out, ctx, "epochs", cfg.epochs, best)
    return {"epochs_done": cfg.epochs, "best_val_loss": best, "interrupted": False}


def _finish(out: Path, ctx: Context, reason: str, epochs_done: int, best: float) -> None:
    """Mark the run finished (finished.json): all its epochs ran, or its validation loss reached a plateau."""
    if ctx.is_main:
        record = {"reason": reason, "epochs_done": epochs_done, "best_val_loss": best}
        atomic_write_text(out / "finished.json", json.dumps(record) + "\n")
        if reason == "plateau":
            print(
                f"stopped after epoch {epochs_done}: the validation loss reached a plateau (--patience)",
                file=sys.stderr,
            )


def _write_history(out: Path, history: list[dict]) -> None:
    atomic_write_text(out / "log.jsonl", "".join(json.dumps(row) + "\n" for row in history))
