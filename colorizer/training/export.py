"""Training checkpoint -> ONNX model for `colorizer.inference` (the only runtime that colourises).

    colorizer export runs/x/best.pt model.onnx --metrics eval/metrics.json

The graph is the network without its padding (the inference session pads to the stride in NumPy) followed by the
head's decoding, so every model answers in ab LAB units: a regression head scales by 110, a classification head
takes the annealed-mean temperature as a second input. A second output, "features", gives the encoder's features at
strides 8 and 16, which a reference photo is matched by (computed anyway, so free). What inference needs to know
(model and training config, head, stride, metrics, project version) is stored as JSON in the ONNX metadata under
"colorizer".
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from colorizer import __version__
from colorizer.inference.session import FORMAT, METADATA_KEY, VERSION
from colorizer.training.checkpoint import CheckpointError, inference_settings, load_checkpoint, model_from_checkpoint
from colorizer.training.color import AB_SCALE
from colorizer.training.heads import ClassificationHead, head_from_state
from colorizer.training.model import UNetDecoder

OPSET = 17


class InferenceGraph(nn.Module):
    """(B, C, H, W) L / 50 - 1 (+ hint channels), H and W multiples of the stride [, temperature (1,)]
    -> (B, 2, H, W) ab in LAB units, and (B, F, H/8, W/8) the encoder's features at strides 8 and 16 (the second
    upsampled to the first; an encoder without them gives its deepest level): what a reference photo is matched by
    (`colorizer.inference.reference`)."""

    def __init__(self, model: nn.Module, head):
        super().__init__()
        self.model = model
        self.classification = isinstance(head, ClassificationHead)
        if self.classification:
            self.register_buffer("bins", head.bins.float())  # (Q, 2) ab centres
        side = 2 * model.encoder.stride
        with torch.no_grad():
            sides = [f.shape[-1] for f in model.encoder(torch.zeros(1, model.input_channels, side, side))]
        # The levels at strides 8 and 16 (those the encoder has; else its deepest), the finest one's size for all.
        self.levels = [i for i, s in enumerate(sides) if side // s in (8, 16)] or [len(sides) - 1]

    def forward(self, l_norm: torch.Tensor, temperature: torch.Tensor | None = None):
        features = self.model.encoder(l_norm)
        decoder = self.model.decoder
        prediction = decoder(features, l_norm) if isinstance(decoder, UNetDecoder) else decoder(features)
        if self.classification:
            probabilities = torch.softmax(prediction / temperature, dim=1)  # annealed mean (Zhang et al. 2016)
            ab = torch.einsum("bqhw,qc->bchw", probabilities, self.bins)
        else:
            ab = prediction * AB_SCALE
        finest = features[self.levels[0]]
        chosen = [finest] + [
            nn.functional.interpolate(features[i], size=finest.shape[-2:], mode="bilinear") for i in self.levels[1:]
        ]
        return ab, torch.cat(chosen, dim=1)


def metadata_of(payload: dict, stride: int, metrics: dict | None = None, settings: dict | None = None) -> dict:
    """The JSON description stored in the ONNX file (tensors such as the colour prior are left out), with the
    settings the model is colourised with by default (`checkpoint.inference_settings`)."""
    head = {
        k: v
        for k, v in (payload.get("head") or {"kind": "regression", "loss": "mse"}).items()
        if k in ("kind", "loss", "temperature")
    }
    return {
        "format": FORMAT,
        "version": VERSION,
        "colorizer_version": __version__,
        "model_config": payload["model_config"],
        "head": head,
        "config": payload.get("config"),
        "stride": stride,
        **inference_settings(payload, settings),
        "trained_epochs": payload.get("epoch", payload.get("trained_epochs")),
        "best_val_loss": payload.get("best_val_loss"),
        "metrics": metrics if metrics is not None else payload.get("metrics"),
    }


def onnx_bytes(source: Path | dict, metrics: dict | None = None, settings: dict | None = None) -> bytes:
    """A checkpoint (path or loaded payload) as a serialised ONNX model with its metadata."""
    payload = load_checkpoint(Path(source)) if not isinstance(source, dict) else source
    model = model_from_checkpoint(payload)
    head = head_from_state(payload.get("head"))
    graph = InferenceGraph(model, head).eval()
    stride = model.encoder.stride
    example = (torch.zeros(1, model.input_channels, 2 * stride, 2 * stride),)
    axes = {
        "l": {0: "batch", 2: "height", 3: "width"},
        "ab": {0: "batch", 2: "height", 3: "width"},
        "features": {0: "batch", 2: "feature_height", 3: "feature_width"},
    }
    names = ["l"]
    if graph.classification:
        example, names = (*example, torch.tensor([0.38])), ["l", "temperature"]
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            graph,
            example,
            buffer,
            input_names=names,
            output_names=["ab", "features"],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    import onnx

    proto = onnx.load_from_string(buffer.getvalue())
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata_of(payload, stride, metrics, settings))
    proto.producer_name = "colorizer"
    return proto.SerializeToString()


def export_onnx(source: Path, destination: Path, metrics: dict | None = None, settings: dict | None = None) -> None:
    """Write `source`'s ONNX model to `destination` (never over an existing file; atomically), recording `settings`
    ({"working_size": 384, "chroma_boost": 0.5}; `checkpoint.inference_settings`)."""
    from colorizer.atomic import atomic_path

    destination = Path(destination)
    if destination.exists():
        raise CheckpointError(f"{destination} exists; remove it first (exports never overwrite)")
    data = onnx_bytes(source, metrics, settings)
    with atomic_path(destination) as tmp:
        tmp.write_bytes(data)
