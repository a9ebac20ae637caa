"""Full-resolution colourisation and the Python API, on ONNX Runtime (no torch).

    from colorizer import Colorizer
    colorizer = Colorizer.load()                 # the bundled model; or Colorizer.load("model.onnx" | "best.pt")
    colorizer.colorize("old_photo.jpg").save("old_photo_colour.png")

Chroma is predicted at a working resolution (`size` on the longer side, default 512), upsampled bilinearly to the
photo's own size and recombined with the photo's full-resolution lightness: the output has the input's exact pixel
size and its lightness, whatever the working size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.images import Photo, read_photo, to_photo
from colorizer.inference.color import colorize_lightness, lightness, normalize_l
from colorizer.inference.session import BUNDLED_MODEL, ModelError, ModelSession

DEFAULT_SIZE = 512

__all__ = ["BUNDLED_MODEL", "DEFAULT_SIZE", "Colorizer", "ModelError", "as_photo", "with_alpha", "working_shape"]


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """The network's input size for a photo: longer side `size` (never upscaled), each side at least 16 px."""
    scale = min(1.0, size / max(height, width))
    return max(16, round(height * scale)), max(16, round(width * scale))


def as_photo(image: Image.Image | np.ndarray | str | Path | Photo) -> Photo:
    """A PIL image, an (H, W) / (H, W, 3|4) uint8 array or a path -> Photo (8-bit gray or RGB + optional alpha)."""
    if isinstance(image, Photo):
        return image
    if isinstance(image, (str, Path)):
        return read_photo(Path(image))
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    return to_photo(image)


def with_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """(H, W, 3) uint8 -> an RGB image, or RGBA with the photo's own alpha channel put back."""
    image = Image.fromarray(rgb)
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha))
    return image


class Colorizer:
    """A model ready to colourise: `Colorizer.load(path)` then `.colorize(image)`. Thread-safe."""

    def __init__(self, session: ModelSession, temperature: float | None = None):
        self.session = session
        self.temperature = temperature  # classification models: None means the model's own

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu", temperature: float | None = None) -> Colorizer:
        """An .onnx model, a training checkpoint (exported on the fly; needs torch), or the bundled model (None)."""
        return cls(ModelSession.load(path, device), temperature)

    @property
    def metadata(self) -> dict:
        return self.session.metadata

    def network_input(self, pixels: np.ndarray, size: int) -> np.ndarray:
        """(H, W) or (H, W, 3) uint8 -> (1, 1, h, w) float32: the lightness at the working size, scaled."""
        h, w = working_shape(*pixels.shape[:2], size)
        small = np.asarray(Image.fromarray(pixels).resize((w, h), Image.BILINEAR, reducing_gap=2.0))
        return normalize_l(lightness(small))[None, None]

    def predict_ab(self, network_input: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(B, 1, h, w) network input -> (B, 2, h, w) float32 ab in LAB units."""
        return self.session.predict_ab(network_input, temperature or self.temperature)

    def recombine(self, pixels: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """The photo's full-resolution lightness + ab (2, h, w) upsampled to its size -> (H, W, 3) uint8."""
        return colorize_lightness(lightness(pixels), ab)

    def colorize_array(
        self, pixels: np.ndarray, size: int = DEFAULT_SIZE, temperature: float | None = None
    ) -> np.ndarray:
        """(H, W) or (H, W, 3) uint8 (only its lightness is used) -> colourised (H, W, 3) uint8, same size."""
        return self.recombine(pixels, self.predict_ab(self.network_input(pixels, size), temperature)[0])

    def colorize(
        self,
        image: Image.Image | np.ndarray | str | Path | Photo,
        size: int = DEFAULT_SIZE,
        temperature: float | None = None,
    ) -> Image.Image:
        """Colourise a PIL image, a NumPy array or a file. Returns RGB, or RGBA when the input had alpha."""
        photo = as_photo(image)
        return with_alpha(self.colorize_array(photo.pixels, size, temperature), photo.alpha)
