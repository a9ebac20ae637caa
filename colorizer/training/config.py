"""Typed configuration: dataclasses with a help text per field, the CLI flags derived from them, TOML files.

A config file (TOML, `--config run.toml`) sets defaults; flags given on the command line override it; the resolved
config is what gets saved beside every run and inside every checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _field(default, help: str, choices: tuple | None = None):
    return field(default=default, metadata={"help": help, "choices": choices})


ENCODERS = ("resnet18", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SCHEDULES = ("constant", "cosine")
LOSSES = ("mse", "huber", "huber-colourful", "huber-rebalanced", "classification")
LR_SCALINGS = ("none", "linear", "sqrt")
PLACEMENTS = ("auto", "yes", "no")
PAPER_BATCH = 15  # the batch the paper's learning rate belongs to: --lr-scaling scales from it


@dataclass
class TrainConfig:
    """Everything `colorizer train` needs; each field is also a kebab-case flag."""

    data: str = _field("", "prepared folder (from `colorizer prepare`)")
    out: str = _field("", "run folder: checkpoints, log, plots and samples go here")
    size: int = _field(224, "training crop size in pixels (the paper: 224, then 608)")
    epochs: int = _field(16, "number of epochs (the paper: 16)")
    batch_size: int = _field(15, "images per batch, per process (the paper: 15)")
    lr: float = _field(1e-4, "Adam learning rate (the paper: 1e-4)")
    weight_decay: float = _field(0.0, "AdamW weight decay (0: plain Adam as in the paper)")
    lr_schedule: str = _field("constant", "learning rate over epochs: constant (the paper) or cosine", SCHEDULES)
    lr_scaling: str = _field(
        "none",
        f"scale --lr with the global batch (batch size x processes) / {PAPER_BATCH}: none (the paper), linear or "
        "sqrt; for large batches, with --warmup-epochs",
        LR_SCALINGS,
    )
    warmup_epochs: float = _field(0.0, "raise the learning rate linearly over this many epochs, step by step")
    loss: str = _field(
        "mse",
        "mse (the paper), huber, huber-colourful (+ a colourfulness term), huber-rebalanced (rare colours weigh "
        "more), or classification over ab bins (vivid colour)",
        LOSSES,
    )
    encoder: str = _field("resnet18", "encoder architecture", ENCODERS)
    pretrained: str = _field("none", "encoder weights: none, imagenet, or a path to a ResNet-18 state dict")
    init_from: str = _field(
        "",
        "start from this checkpoint's model weights (e.g. the 224-px stage before 608 px; a model without hints "
        "can start one with --hints)",
    )
    hints: bool = _field(
        False, "train with simulated colour hints: the model then takes L + hint ab + mask (and works without hints)"
    )
    resume: bool = _field(False, "continue the run in --out from its last checkpoint (an error if there is none)")
    seed: int = _field(0, "random seed for initialisation, shuffling and augmentation")
    workers: int = _field(
        -1,
        "DataLoader worker processes per process; -1: 0 on CPU (reading the cache in-process "
        "is cheaper than sharing the cores), up to 8 on a GPU",
    )
    device: str = _field("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    data_on_device: str = _field(
        "auto",
        "keep the training split's uint8 cache in device memory and crop there (no loader processes): auto = on "
        "a GPU when it takes under a quarter of its free memory; yes; no",
        PLACEMENTS,
    )
    precision: str = _field(
        "auto", "autocast precision; auto = bf16 where the GPU or CPU computes it natively, else fp32", PRECISIONS
    )
    channels_last: bool = _field(True, "channels-last memory format (faster convolutions on CPU and GPU)")
    compile: bool = _field(False, "torch.compile the model (slow start, faster steps; CUDA graphs on a GPU)")
    sync_bn: bool = _field(False, "SyncBatchNorm across processes under torchrun")
    scale_jitter: float = _field(
        0.0,
        "training crops of random scale (side in [size, (1 + J) x size]) and aspect ratio (3/4 to 4/3), resized to "
        "size; 0: plain random crops. Caches the training split at (1 + J) x size",
    )
    source_weights: str = _field(
        "",
        "weigh the training split's sources, NAME=WEIGHT,...: a source's share of an epoch is its photo count times "
        "its weight (default 1; 0 leaves it out), e.g. cats-dogs=0.25,caltech101-faces=4",
    )
    epoch_images: int = _field(
        0, "images per epoch, drawn by --source-weights (0: the training split's size); shorter epochs validate more"
    )
    val_images: int = _field(
        0, "validate each epoch on this many photos of the validation split, evenly spread over it (0: all)"
    )
    freeze_encoder_epochs: int = _field(
        0, "keep the pretrained encoder fixed for this many first epochs (the decoder learns first; faster steps)"
    )
    ema_decay: float = _field(
        0.0,
        "also keep an exponential moving average of the weights with this decay per step (e.g. 0.995; 0: none), "
        "validated beside the raw weights each epoch; best.pt holds whichever wins",
    )
    patience: int = _field(
        0, "stop when the best validation loss has not improved for this many epochs (0: run every epoch)"
    )
    samples: int = _field(4, "fixed validation images in the per-epoch sample grid")
    max_steps: int = _field(0, "stop each epoch after this many batches (0: the whole epoch; for smoke runs)")
    max_minutes: float = _field(
        0.0, "stop after the epoch that passes this many minutes (0: no limit); --resume goes on"
    )
    progress: bool = _field(True, "show a progress bar")

    def lr_at(self, epoch: int, fraction: float = 0.0, world_size: int = 1) -> float:
        """The learning rate `fraction` of the way through an epoch (0-based): a pure function of where the run is,
        so resuming restores it exactly. Scaled with the global batch, then the epoch schedule, then the warm-up."""
        scale = self.batch_size * world_size / PAPER_BATCH
        lr = self.lr * {"none": 1.0, "linear": scale, "sqrt": math.sqrt(scale)}[self.lr_scaling]
        if self.lr_schedule == "cosine":
            lr *= 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))
        if self.warmup_epochs > 0:
            lr *= min(1.0, (epoch + fraction) / self.warmup_epochs)
        return lr

    def __post_init__(self):
        checks = {
            "size must be >= 16": self.size >= 16,
            "epochs must be >= 1": self.epochs >= 1,
            "batch-size must be >= 1": self.batch_size >= 1,
            "lr must be > 0": self.lr > 0,
            f"encoder must be one of {ENCODERS}": self.encoder in ENCODERS,
            f"loss must be one of {LOSSES}": self.loss in LOSSES,
            f"precision must be one of {PRECISIONS}": self.precision in PRECISIONS,
            f"lr-schedule must be one of {SCHEDULES}": self.lr_schedule in SCHEDULES,
            f"lr-scaling must be one of {LR_SCALINGS}": self.lr_scaling in LR_SCALINGS,
            "warmup-epochs must be >= 0": self.warmup_epochs >= 0,
            f"data-on-device must be one of {PLACEMENTS}": self.data_on_device in PLACEMENTS,
            "workers must be >= -1": self.workers >= -1,
            "scale-jitter must be between 0 and 2": 0 <= self.scale_jitter <= 2,
            "freeze-encoder-epochs must be >= 0": self.freeze_encoder_epochs >= 0,
            "epoch-images must be >= 0": self.epoch_images >= 0,
            "val-images must be >= 0": self.val_images >= 0,
            "ema-decay must be 0 (off) or between 0 and 1": self.ema_decay == 0 or 0 < self.ema_decay < 1,
            "patience must be >= 0": self.patience >= 0,
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ValueError("; ".join(failed))


# Fields that describe the model and data, which a resumed run must share with the checkpoint it resumes.
RESUME_MUST_MATCH = (
    "size",
    "batch_size",
    "encoder",
    "loss",
    "data",
    "lr",
    "lr_schedule",
    "lr_scaling",
    "warmup_epochs",
    "hints",
    "scale_jitter",
    "freeze_encoder_epochs",
    "ema_decay",
    "source_weights",
    "epoch_images",
    "val_images",
)


def _base_type(annotation) -> type:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One `--kebab-case` flag per field; defaults stay None so a config file can sit between them and the flags."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} (default: {f.default})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=None, choices=f.metadata.get("choices"), help=help_text)


def load_toml(path: str | Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"config file {path} is not valid TOML: {err}") from None


def resolve_config(cls, overrides: dict, config_file: str | Path | None = None):
    """Dataclass defaults <- config file <- explicit overrides (None means 'not given')."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {}
    if config_file:
        from_file = {k.replace("-", "_"): v for k, v in load_toml(config_file).items()}
        unknown = sorted(set(from_file) - names)
        if unknown:
            raise ValueError(f"config file {config_file}: unknown settings {', '.join(unknown)}")
        values.update(from_file)
    values.update({k: v for k, v in overrides.items() if k in names and v is not None})
    return cls(**values)
