"""A colorization model loaded in ONNX Runtime: the network plus what it needs to know about itself.

    session = ModelSession.load()                 # the bundled model (colorizer/weights/colorizer.onnx)
    ab = session.predict_ab(l_norm)               # (B, 1, h, w) L / 50 - 1  ->  (B, 2, h, w) ab in LAB units

The ONNX graph (written by `colorizer export`) takes the normalised lightness at any size that is a multiple of the
encoder's stride and returns ab in LAB units: regression and classification heads alike (a classification graph decodes
its bins itself and takes the annealed-mean temperature as a second input); models exported since 2026-12 also give the
encoder's features ("features", stride 8) for matching a reference photo (`predict`). Padding to the stride happens
here, so the graph has no shape arithmetic. The model's description (its config, head, metrics, stride, the working size
it colourises best at) travels as JSON in the ONNX file's metadata under the key "colorizer". A training checkpoint
(.pt) is exported on the fly by the exporter that `colorizer.training` registers when it is imported (the command line
does so; this package never imports the training package); without it the error says how to export the checkpoint once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from colorizer.inference.exporters import checkpoint_exporters

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
BUNDLED_MODEL = WEIGHTS / "colorizer.onnx"
METADATA_KEY = "colorizer"
FORMAT = "colorizer-onnx"
VERSION = 1
# The network's working size (longer side, px) for models that do not record the one they colourise best at.
DEFAULT_WORKING_SIZE = 512


class ModelError(Exception):
    """A model file that is missing, unreadable or not a colorizer model; the message names it and says why."""


def _onnxruntime():
    import onnxruntime

    onnxruntime.set_default_logger_severity(3)  # errors only: ORT's warnings are not the user's business
    return onnxruntime


def providers_for(device: str) -> list[str]:
    """ONNX Runtime execution providers for a --device value: cpu, or cuda (with onnxruntime-gpu), CPU fallback."""
    available = _onnxruntime().get_available_providers()
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise ModelError("--device cuda needs onnxruntime-gpu (pip install onnxruntime-gpu) and an NVIDIA GPU")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "cpu":
        raise ModelError(f"--device {device!r}: choose cpu or cuda")
    return ["CPUExecutionProvider"]


def checkpoint_to_onnx(path: Path) -> bytes:
    """A training checkpoint exported to ONNX in memory, by the registered exporter (the training package's)."""
    if not checkpoint_exporters:
        raise ModelError(
            f"{path} is a training checkpoint: export it once with `colorizer export {path} model.onnx` (training "
            "extra), or in Python `import colorizer.training` before loading it"
        )
    return checkpoint_exporters[-1](path)


def model_source(path: Path) -> bytes | Path:
    """What ONNX Runtime is given for a model file: the path of an .onnx file, or the ONNX bytes exported on the fly
    from a training checkpoint."""
    if not path.is_file():
        hint = "" if path != BUNDLED_MODEL else " (this installation has no bundled model; pass --model PATH)"
        raise ModelError(f"model {path} does not exist{hint}")
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # torch.save writes zip archives; ONNX files are protobufs
    return checkpoint_to_onnx(path) if is_zip or path.suffix in (".pt", ".pth") else path


class ModelSession:
    """One ONNX model in ONNX Runtime, reused across calls (thread-safe, as ORT sessions are)."""

    def __init__(self, model: bytes | Path, name: str, device: str = "cpu", threads: int | None = None):
        ort = _onnxruntime()
        options = ort.SessionOptions()
        if threads:  # e.g. a Ray actor's CPUs; by default ORT uses every core
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle ORT threads sleep instead of spinning: decoding and writing threads share the cores with them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = str(model) if isinstance(model, Path) else model
        providers = providers_for(device)
        try:
            self.session = ort.InferenceSession(source, options, providers=providers)
        except Exception as err:  # ORT raises its own types for damaged or foreign protobufs
            raise ModelError(f"{name} is not a readable ONNX model (damaged or not ONNX?): {err}") from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise ModelError(f"{name} is an ONNX model, but not a colorizer model (no '{METADATA_KEY}' metadata)")
        try:
            self.metadata = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ModelError(f"{name}: its colorizer metadata is not valid JSON ({err})") from None
        if self.metadata.get("format") != FORMAT or self.metadata.get("version", 0) > VERSION:
            raise ModelError(f"{name}: colorizer model format {self.metadata.get('version')} is not one this reads")
        self.name = name
        self.stride = int(self.metadata["stride"])
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.input_channels = inputs["l"].shape[1]
        self.has_temperature = "temperature" in inputs
        # The encoder's features for matching a reference photo (models exported before 2026-12 lack them).
        self.has_features = "features" in {o.name for o in self.session.get_outputs()}
        # What "alike" means for hints, learned for this model (MODEL.alike.json beside it; `colorizer fit-alike`).
        from colorizer.inference.alike import load_learned

        features = next((o for o in self.session.get_outputs() if o.name == "features"), None)
        channels = features.shape[1] if features is not None and isinstance(features.shape[1], int) else None
        self.learned_alike = load_learned(model, channels) if isinstance(model, Path) and self.has_features else None

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu", threads: int | None = None) -> ModelSession:
        """An .onnx file, a training checkpoint (.pt: exported on the fly), or the bundled model when None."""
        path = BUNDLED_MODEL if path is None else Path(path)
        return cls(model_source(path), str(path), device, threads)

    @property
    def working_size(self) -> int:
        """The longer side the network colourises at unless told otherwise: measured for the model and recorded at
        export (`colorizer export --working-size`), else DEFAULT_WORKING_SIZE."""
        return int(self.metadata.get("working_size") or DEFAULT_WORKING_SIZE)

    @property
    def chroma_boost(self) -> float:
        """How much bolder the network's colour is made where it commits to one (`color.boost_chroma`): chosen for
        the model on validation photos and recorded at export (`colorizer export --chroma-boost`), else 0."""
        return float(self.metadata.get("chroma_boost") or 0.0)

    @property
    def head(self) -> dict:
        return self.metadata.get("head", {"kind": "regression"})

    @property
    def default_temperature(self) -> float | None:
        return self.head.get("temperature") if self.has_temperature else None

    def predict_ab(self, network_input: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(B, C, h, w) float32 network input (C = 1: L / 50 - 1) -> (B, 2, h, w) float32 ab in LAB units."""
        return self.predict(network_input, temperature)[0]

    def predict(
        self, network_input: np.ndarray, temperature: float | None = None, features: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """predict_ab, and with `features` (where the model has them) the encoder's features (B, F, h/8, w/8) for the
        same input (rounded up), else None."""
        height, width = network_input.shape[-2:]
        pad_h, pad_w = -height % self.stride, -width % self.stride
        if pad_h or pad_w:
            network_input = np.pad(network_input, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="edge")
        feeds = {"l": np.ascontiguousarray(network_input, dtype=np.float32)}
        if self.has_temperature:
            feeds["temperature"] = np.array([temperature or self.default_temperature], dtype=np.float32)
        if not (features and self.has_features):
            (ab,) = self.session.run(["ab"], feeds)
            return ab[..., :height, :width], None
        ab, maps = self.session.run(["ab", "features"], feeds)
        step = network_input.shape[-2] // maps.shape[-2]  # the features' stride
        return ab[..., :height, :width], maps[..., : -(-height // step), : -(-width // step)]
