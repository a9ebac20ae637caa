"""Full-resolution colourisation and the Python API.

    from colorizer import Colorizer
    colorizer = Colorizer.load()                 # the bundled model; or Colorizer.load("runs/x/best.pt")
    colorizer.colorize("old_photo.jpg").save("old_photo_colour.png")

Chroma is predicted at a working resolution (`size` on the longer side, default 512), upsampled bilinearly to the
photo's own size and recombined with the photo's full-resolution lightness: the output has the input's exact pixel
size and its lightness, whatever the working size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorizer.checkpoint import load_checkpoint, model_from_checkpoint
from colorizer.color import denormalize_ab, lab_to_rgb, normalize_l, rgb_to_lightness
from colorizer.heads import head_from_state
from colorizer.images import Photo, read_photo, to_photo

BUNDLED_MODEL = Path(__file__).parent / "weights" / "colorizer.pt"
DEFAULT_SIZE = 512
_STRIP_ROWS = 512  # full-resolution recombination runs in strips of rows to bound memory on large photos


class ModelNotFoundError(Exception):
    """No model file was given and none is bundled."""


def cpu_has_fast_bf16() -> bool:
    checker = getattr(torch.cpu, "_is_avx512_bf16_supported", None) or getattr(
        torch.cpu, "_is_amx_tile_supported", None
    )
    return bool(checker and checker())


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The network's input size for a photo: longer side `size` (never upscaled), each side at least 16 px."""
    scale = min(1.0, size / max(height, width))
    return max(16, round(height * scale)), max(16, round(width * scale))


def as_photo(image: Image.Image | np.ndarray | str | Path | Photo) -> Photo:
    """A PIL image, an (H, W) / (H, W, 3|4) uint8 array or a path -> Photo (8-bit RGB + optional alpha)."""
    if isinstance(image, Photo):
        return image
    if isinstance(image, (str, Path)):
        return read_photo(Path(image))
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return to_photo(image)


class Colorizer:
    """A trained network ready for inference: `Colorizer.load(path)` then `.colorize(image)`."""

    def __init__(
        self,
        model: torch.nn.Module,
        metadata: dict,
        device: str | torch.device = "cpu",
        precision: str = "auto",
        temperature: float | None = None,
    ):
        self.temperature = temperature  # classification models: None means the model's own
        self.device = torch.device(device)
        self.metadata = metadata
        self.head = head_from_state(metadata.get("head"))
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)
        if precision == "auto":
            fast = self.device.type == "cuda" or (self.device.type == "cpu" and cpu_has_fast_bf16())
            precision = "bf16" if fast else "fp32"
        self.autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        device: str = "cpu",
        precision: str = "auto",
        temperature: float | None = None,
    ) -> Colorizer:
        """Load a checkpoint (`best.pt`, `last.pt` or an exported model); the bundled model when path is None."""
        if path is None:
            if not BUNDLED_MODEL.exists():
                raise ModelNotFoundError(
                    f"no bundled model in this installation ({BUNDLED_MODEL} is missing); pass --model PATH to a "
                    "checkpoint from `colorizer train`"
                )
            path = BUNDLED_MODEL
        payload = load_checkpoint(Path(path))
        metadata = {k: v for k, v in payload.items() if k not in ("model", "optimizer", "scaler", "rng")}
        return cls(model_from_checkpoint(payload), metadata, device, precision, temperature)

    @torch.inference_mode()
    def predict_ab(self, l_norm: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """(B, 1, h, w) L in [-1, 1] -> (B, 2, h, w) ab in LAB units (float32).

        temperature: for classification models, the annealed-mean temperature (lower: more vivid); None: the model's.
        """
        l_norm = l_norm.to(self.device).contiguous(memory_format=torch.channels_last)
        if self.autocast_dtype is None:
            prediction = self.model(l_norm)
        else:
            with torch.autocast(self.device.type, dtype=self.autocast_dtype):
                prediction = self.model(l_norm)
        return denormalize_ab(self.head.decode(prediction, temperature or self.temperature))

    def network_input(self, rgb: np.ndarray, size: int) -> torch.Tensor:
        """(H, W, 3) uint8 -> (1, 1, h, w) normalised L at the working resolution."""
        h, w = working_shape(*rgb.shape[:2], size)
        small = np.array(Image.fromarray(rgb).resize((w, h), Image.BILINEAR, reducing_gap=2.0))
        return normalize_l(rgb_to_lightness(torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255))

    @torch.inference_mode()
    def recombine(self, rgb: np.ndarray, ab_small: torch.Tensor) -> np.ndarray:
        """Full-resolution L of `rgb` (H, W, 3 uint8) + ab (1, 2, h, w) upsampled to H x W -> (H, W, 3) uint8."""
        height, width = rgb.shape[:2]
        ab = F.interpolate(ab_small.cpu().float(), size=(height, width), mode="bilinear", align_corners=False)
        out = np.empty_like(rgb)
        for top in range(0, height, _STRIP_ROWS):
            strip = (
                torch.tensor(rgb[top : top + _STRIP_ROWS]).permute(2, 0, 1)[None].float() / 255
            )  # copy: may be read-only
            lab = torch.cat([rgb_to_lightness(strip), ab[:, :, top : top + _STRIP_ROWS]], dim=1)
            out[top : top + _STRIP_ROWS] = (lab_to_rgb(lab)[0] * 255).round().byte().permute(1, 2, 0).numpy()
        return out

    def colorize_rgb(self, rgb: np.ndarray, size: int = DEFAULT_SIZE, temperature: float | None = None) -> np.ndarray:
        """(H, W, 3) uint8 (gray or colour: only its lightness is used) -> colourised (H, W, 3) uint8, same size."""
        return self.recombine(rgb, self.predict_ab(self.network_input(rgb, size), temperature))

    def colorize(
        self,
        image: Image.Image | np.ndarray | str | Path | Photo,
        size: int = DEFAULT_SIZE,
        temperature: float | None = None,
    ) -> Image.Image:
        """Colourise a PIL image, a NumPy array or a file. Returns RGB, or RGBA when the input had alpha."""
        photo = as_photo(image)
        return with_alpha(self.colorize_rgb(photo.rgb, size, temperature), photo.alpha)


def with_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """(H, W, 3) uint8 -> an RGB image, or RGBA with the photo's own alpha channel put back."""
    image = Image.fromarray(rgb)
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha))
    return image


def gray_preview(rgb: np.ndarray) -> np.ndarray:
    """What the network sees: (H, W, 3) uint8 with the photo's LAB lightness and no colour."""
    lightness = rgb_to_lightness(torch.tensor(rgb).permute(2, 0, 1)[None].float() / 255)
    lab = torch.cat([lightness, torch.zeros_like(lightness).repeat(1, 2, 1, 1)], dim=1)
    return (lab_to_rgb(lab)[0] * 255).round().byte().permute(1, 2, 0).numpy()
