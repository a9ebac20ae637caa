"""Checkpoints: versioned dicts of state dicts, written atomically, loaded without executing code.

A checkpoint holds the model's weights (from the unwrapped, uncompiled module), the model's own config (enough to
rebuild it), the resolved training config and, for resuming, optimizer, scaler, epoch, step and RNG state.
Loading uses `torch.load(weights_only=True)`: a checkpoint file can never run code.
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import torch
from torch import nn

from colorizer import __version__
from colorizer.atomic import atomic_path
from colorizer.inference.alike import file_sha256
from colorizer.training.model import ColorizationNet, build_model

FORMAT = "colorizer-checkpoint"
GZIP_MAGIC = b"\x1f\x8b"  # a compressed checkpoint (`compact_checkpoint`); torch.save's own files are zip archives
VERSION = 1


class CheckpointError(Exception):
    """A checkpoint that is missing, unreadable or not one of ours; the message names the file."""


def save_checkpoint(path: Path, payload: dict, compress: bool = False) -> None:
    """Write `payload` (plus format, version and project version) to `path` via a temp file and `os.replace`;
    compress: gzip it (`load_checkpoint` reads both)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, "colorizer_version": __version__, **payload}, buffer)
    data = gzip.compress(buffer.getvalue(), compresslevel=6, mtime=0) if compress else buffer.getvalue()
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint's payload; a compact one (`compact_checkpoint`) comes back expanded, ready to resume."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == GZIP_MAGIC
        source = io.BytesIO(gzip.decompress(path.read_bytes())) if compressed else path
        payload = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {err}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a colorizer checkpoint")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} has checkpoint version {payload['version']}; this colorizer reads {VERSION}")
    return _expand(payload)


def compact_checkpoint(source: Path, destination: Path) -> None:
    """A resumable checkpoint small enough to commit once a session (a training run carried across machines).

    The weights stay float32; Adam's moments are stored as bfloat16 (the optimizer casts them back when it loads
    them: each step then differs by about 0.4 % of the moment's own rounding) and a weight average, where there is
    one, as its bfloat16 difference from the weights: 10 bytes a parameter instead of 16, then gzipped.
    """
    payload = load_checkpoint(source)
    optimizer = payload.get("optimizer")
    if optimizer is not None:
        state = {
            index: {k: v.bfloat16() if v.is_floating_point() and v.dim() else v for k, v in moments.items()}
            for index, moments in optimizer["state"].items()
        }
        payload["optimizer"] = {**optimizer, "state": state}
    if "ema" in payload:
        weights = payload["model"] if payload.get("weights", "raw") == "raw" else None
        if weights is None:
            raise CheckpointError(f"{source} holds the averaged weights as its model; compact its last.pt instead")
        averaged = payload["ema"]["weights"]
        delta = {k: (v - weights[k]).bfloat16() if v.is_floating_point() else v for k, v in averaged.items()}
        payload["ema"] = {**payload["ema"], "weights": None, "difference": delta}
    for key in ("format", "version", "colorizer_version"):
        payload.pop(key, None)
    save_checkpoint(destination, {**payload, "compact": True}, compress=True)


def session_checkpoint(source: Path, destination: Path) -> None:
    """The one progress file a session commits (about 7 MB for the bundled network): the weights alone, bfloat16 (the
    weight average's where the run keeps one: they are the ones validated best), with the epoch, step, log position
    and config a resume needs, and no optimizer state. `--resume` from it goes on at the same epoch and step with the
    same photos; what it costs is Adam's moments, which start afresh (and the average restarts from the weights)."""
    payload = load_checkpoint(source)
    weights = payload["ema"]["weights"] if "ema" in payload else payload["model"]
    kept = {k: payload[k] for k in ("model_config", "config", "head", "epoch", "epoch_state", "best_val_loss",
                                    "epochs_since_best", "rng") if k in payload}  # fmt: skip
    kept["model"] = {k: v.bfloat16() if v.is_floating_point() else v for k, v in weights.items()}
    kept["weights_only"] = True
    save_checkpoint(destination, kept, compress=True)


def _expand(payload: dict) -> dict:
    """The inverse of `compact_checkpoint` (the optimizer's bfloat16 moments are cast when it loads them)."""
    if not payload.pop("compact", False) or "ema" not in payload:
        return payload
    weights, difference = payload["model"], payload["ema"].pop("difference")
    payload["ema"]["weights"] = {
        k: weights[k].float() + v.float() if v.is_floating_point() else v for k, v in difference.items()
    }
    return payload


# What a best.pt carried across machines keeps: enough to evaluate and export it (`export_model`), not to resume.
BEST_KEYS = ("model_config", "head", "config", "epoch", "best_val_loss", "weights")


def compact_best(best: Path, reference: Path, destination: Path) -> None:
    """The best epoch's weights, small enough to commit beside a compact last.pt (`compact_checkpoint`).

    A run carried across machines keeps only last.pt; once later epochs do not improve, the best epoch's weights
    would be lost with the machine. They are stored as their bfloat16 difference from the same kind of weights
    (raw or averaged) in `reference`, the committed compact last.pt, whose SHA-256 is recorded: 2 bytes a parameter,
    and the difference of two nearby epochs is small, so its rounding is a few millionths of a weight. What comes
    back (`restore_best`) is exportable and evaluable, not resumable (no optimizer).
    """
    payload, anchor = load_checkpoint(best), load_checkpoint(reference)
    kind = payload.get("weights", "raw")
    base = anchor["ema"]["weights"] if kind == "ema" else anchor["model"]
    if set(base) != set(payload["model"]):
        raise CheckpointError(f"{best} and {reference} hold different networks")
    difference = {
        k: (v.float() - base[k].float()).bfloat16() if v.is_floating_point() else v for k, v in payload["model"].items()
    }
    kept = {k: payload[k] for k in BEST_KEYS if k in payload}
    reference_id = {"reference_sha256": file_sha256(reference), "reference_name": Path(reference).name}
    save_checkpoint(destination, {**kept, "difference": difference, **reference_id}, compress=True)


def restore_best(compact: Path, reference: Path, destination: Path) -> None:
    """The inverse of `compact_best`: `reference` must be the very file it was made against (checked by SHA-256)."""
    payload = load_checkpoint(compact)
    if "difference" not in payload:
        raise CheckpointError(f"{compact} is not a compact best checkpoint (from compact_best)")
    if payload.pop("reference_sha256") != file_sha256(reference):
        raise CheckpointError(
            f"{compact} was stored against another {payload.get('reference_name', 'last.pt')} than {reference}; "
            "commit both from one save_progress.sh"
        )
    payload.pop("reference_name", None)
    anchor = load_checkpoint(reference)
    base = anchor["ema"]["weights"] if payload.get("weights", "raw") == "ema" else anchor["model"]
    difference = payload.pop("difference")
    payload["model"] = {k: base[k].float() + v.float() if v.is_floating_point() else v for k, v in difference.items()}
    for key in ("format", "version", "colorizer_version"):
        payload.pop(key, None)
    save_checkpoint(destination, payload)


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


# What a model is colourised with unless a call says otherwise, recorded in exported models (ONNX metadata, stripped
# checkpoints): the network's working size (`colorizer evaluate --working-size` measures it) and its chroma boost
# (`colorizer.inference.color.boost_chroma`, chosen on validation photos). Unrecorded: the inference defaults.
INFERENCE_SETTINGS = ("working_size", "chroma_boost")


def inference_settings(payload: dict, given: dict | None = None) -> dict:
    """The INFERENCE_SETTINGS to record: each as `given`, else as the checkpoint already records it; unset ones left
    out."""
    given = given or {}
    chosen = {key: given.get(key) if given.get(key) is not None else payload.get(key) for key in INFERENCE_SETTINGS}
    return {key: value for key, value in chosen.items() if value is not None}


def export_model(source: Path, destination: Path, metrics: dict | None = None, settings: dict | None = None) -> dict:
    """Keep what inference needs (weights, model config, training config, `inference_settings`) plus optional
    metrics; drop the rest. settings: {"working_size": 384, "chroma_boost": 0.5} to record (INFERENCE_SETTINGS).

    The result is what gets bundled: a few MB, loadable by `Colorizer.load`, never overwriting an existing file.
    """
    destination = Path(destination)
    if destination.exists():
        raise CheckpointError(f"{destination} exists; remove it first (exports never overwrite)")
    payload = load_checkpoint(source)
    exported = {k: payload[k] for k in ("model", "model_config", "head", "config") if k in payload}
    exported["trained_epochs"] = payload.get("epoch", payload.get("trained_epochs"))
    exported["best_val_loss"] = payload.get("best_val_loss")
    exported.update(inference_settings(payload, settings))
    if metrics is not None:
        exported["metrics"] = metrics
    save_checkpoint(destination, exported)
    return exported
