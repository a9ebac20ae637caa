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
from colorizer.inference.hints import Hint, HintError, encode_hints, parse_hints
from colorizer.inference.session import BUNDLED_MODEL, ModelError, ModelSession

DEFAULT_SIZE = 512

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_SIZE",
    "Colorizer",
    "HintError",
    "ModelError",
    "as_photo",
    "with_alpha",
    "working_shape",
]


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

    @property
    def takes_hints(self) -> bool:
        """Whether the model was trained with colour hints (it colourises without them too)."""
        return self.session.input_channels > 1

    def hints_for(self, hints, width: int, height: int) -> list[Hint]:
        """Hints as given (a list of dicts, a JSON text, or Hint objects) -> checked Hints for this photo."""
        if not hints:
            return []
        if not self.takes_hints:
            raise HintError(
                f"the model {self.session.name} was trained without hints; colour hints need a model trained with "
                "`colorizer train --hints` (the bundled model takes them)"
            )
        if all(isinstance(h, Hint) for h in hints):
            return list(hints)
        return parse_hints(hints, width, height)

    def network_input(self, pixels: np.ndarray, size: int, hints: list[Hint] | None = None) -> np.ndarray:
        """(H, W) or (H, W, 3) uint8 -> (1, C, h, w) float32: the lightness at the working size, scaled, and for a
        model that takes hints, the hint maps (empty without hints)."""
        height, width = pixels.shape[:2]
        h, w = working_shape(height, width, size)
        small = np.asarray(Image.fromarray(pixels).resize((w, h), Image.BILINEAR, reducing_gap=2.0))
        l_norm = normalize_l(lightness(small))[None]  # (1, h, w)
        if not self.takes_hints:
            return l_norm[None]
        return np.concatenate([l_norm, encode_hints(hints or [], width, height, (h, w))])[None]

    def predict_ab(self, network_input: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(B, 1, h, w) network input -> (B, 2, h, w) float32 ab in LAB units."""
        return self.session.predict_ab(network_input, temperature or self.temperature)

    def recombine(self, pixels: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """The photo's full-resolution lightness + ab (2, h, w) upsampled to its size -> (H, W, 3) uint8."""
        return colorize_lightness(lightness(pixels), ab)

    def colorize_array(
        self, pixels: np.ndarray, size: int = DEFAULT_SIZE, temperature: float | None = None, hints=None
    ) -> np.ndarray:
        """(H, W) or (H, W, 3) uint8 (only its lightness is used) -> colourised (H, W, 3) uint8, same size."""
        hints = self.hints_for(hints, pixels.shape[1], pixels.shape[0])
        return self.recombine(pixels, self.predict_ab(self.network_input(pixels, size, hints), temperature)[0])

    def colorize(
        self,
        image: Image.Image | np.ndarray | str | Path | Photo,
        size: int = DEFAULT_SIZE,
        temperature: float | None = None,
        hints: list[dict] | str | None = None,
    ) -> Image.Image:
        """Colourise a PIL image, a NumPy array or a file. Returns RGB, or RGBA when the input had alpha.

        hints: colour hints, [{"x": 412, "y": 96, "color": "#b0302a"}, ...] in the photo's displayed pixels (see
        `colorizer.inference.hints`); a bad hint raises HintError naming it.
        """
        photo = as_photo(image)
        return with_alpha(self.colorize_array(photo.pixels, size, temperature, hints), photo.alpha)

    def colorize_video(
        self,
        source: str | Path,
        destination: str | Path,
        size: int = DEFAULT_SIZE,
        smoothing: float | None = None,
        overwrite: bool = False,
        progress: bool = False,
    ):
        """Colourise a video file into `destination` (H.264 in MP4, audio kept); needs the video extra.

        smoothing: weight of the motion-compensated colour history, 0 (frame by frame) to <1 (default 0.9).
        Returns a VideoResult (frames, seconds, scene cuts, audio streams); raises VideoError.
        """
        from colorizer.inference.temporal import DEFAULT_SMOOTHING
        from colorizer.inference.video import colorize_video

        smoothing = DEFAULT_SMOOTHING if smoothing is None else smoothing
        return colorize_video(self, source, destination, size, smoothing, overwrite, progress)
