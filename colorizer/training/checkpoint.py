"""Checkpoints: versioned dicts of state dicts, written atomically, loaded without executing code.

A checkpoint holds the model's weights (from the unwrapped, uncompiled module), the model's own config (enough to
rebuild it), the resolved training config and, for resuming, optimizer, scaler, epoch, step and RNG state.
Loading uses `torch.load(weights_only=True)`: a checkpoint file can never run code.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from colorizer import __version__
from colorizer.atomic import atomic_path
from colorizer.training.model import ColorizationNet, build_model

FORMAT = "colorizer-checkpoint"
VERSION = 1


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable or not one of ours; the message names the file."""


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write `payload` (plus format, version and project version) to `path` via a temp file and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, "version": VERSION, "colorizer_version": __version__, **payload}, f)
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a colorizer checkpoint")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload['version']}; this colorizer reads {VERSION}")
    return payload


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DistributedDataParallel and/or torch.compile wrappers."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)


def model_from_checkpoint(payload: dict) -> ColorizationNet:
    """Rebuild the network a checkpoint describes and load its weights (as float32, in eval mode)."""
    model = build_model(**payload["model_config"], pretrained="none")
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()}
    model.load_state_dict(state)
    return model.eval()


def export_model(
    source: Path,
    destination: Path,
    metrics: dict | None = None,
    working_size: int | None = None,
    chroma_boost: float | None = None,
) -> dict:
    """Keep what inference needs (weights, model config, training config) plus optional metrics and the working size
    to colourise at and the chroma boost to colourise with; drop the rest.

    The result is what gets bundled: a few MB, loadable by `Colorizer.load`, never overwriting an existing file.
    """
    destination = Path(destination)
    if destination.exists():
        raise CheckpointError(f"{destination} exists; remove it first (exports never overwrite)")
    payload = load_checkpoint(source)
    exported = {k: payload[k] for k in ("model", "model_config", "head", "config") if k in payload}
    exported["trained_epochs"] = payload.get("epoch", payload.get("trained_epochs"))
    exported["best_val_loss"] = payload.get("best_val_loss")
    if working_size or payload.get("working_size"):
        exported["working_size"] = working_size or payload["working_size"]
    if chroma_boost is not None or payload.get("chroma_boost") is not None:
        exported["chroma_boost"] = chroma_boost if chroma_boost is not None else payload["chroma_boost"]
    if metrics is not None:
        exported["metrics"] = metrics
    save_checkpoint(destination, exported)
    return exported
