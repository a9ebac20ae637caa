"""Full-resolution colourisation and the Python API, on ONNX Runtime (no torch).

    from colorizer import Colorizer
    colorizer = Colorizer.load()                 # the bundled model; or Colorizer.load("model.onnx" | "best.pt")
    colorizer.colorize("old_photo.jpg").save("old_photo_colour.png")

Chroma is predicted at a working resolution (`size` on the longer side; by default the model's own
working size, 384 for the bundled model), steered there by the user's
colour hints (spread along objects, `spread.py`) and saturation, upsampled bilinearly to the photo's own size and
recombined with the photo's full-resolution lightness: the output has the input's exact pixel size and its
lightness, whatever the working size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.conventions import MAX_WORKING_SIZE, MIN_WORKING_SIZE
from colorizer.images import ImageReadError, Photo, read_photo, to_photo
from colorizer.inference.alike import DEFAULT_REACH, alike_guide, check_reach
from colorizer.inference.color import (
    boost_chroma,
    colorize_lightness,
    denormalize_ab,
    denormalize_l,
    lightness,
    normalize_ab,
    normalize_l,
)
from colorizer.inference.hints import Hint, HintError, encode_hints, encode_hints_with_labels, parse_hints
from colorizer.inference.reference import Reference, ReferenceError, reference_hints
from colorizer.inference.session import BUNDLED_MODEL, ModelError, ModelSession
from colorizer.inference.spread import spread_corrections

MAX_SATURATION = 4.0
# Whether a model with a learned hint branch also gets the hints as input. Measured (benchmarks/hints.py, README):
# the branch paints the hint's own neighbourhood, so the correction left to spread is near zero there; spreading
# the correction of the automatic colour does better, so the branch sees no hints by default.
HINTS_TO_NETWORK = False

__all__ = [
    "BUNDLED_MODEL",
    "Colorizer",
    "HintError",
    "ModelError",
    "ReferenceError",
    "MAX_WORKING_SIZE",
    "as_photo",
    "check_working_size",
    "with_alpha",
    "working_shape",
]


MAX_CHROMA_BOOST = 2.0


def check_working_size(size, what: str = "size") -> int | None:
    """None (the model's own) or a whole number from MIN_WORKING_SIZE to MAX_WORKING_SIZE; else a ValueError that
    says so (a bool, a float, a string, nan are not sizes)."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ValueError(
            f"{what} must be a whole number of pixels from {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE}, got {size!r}"
        )
    if not MIN_WORKING_SIZE <= size <= MAX_WORKING_SIZE:
        raise ValueError(
            f"{what} {size} is out of range: the working size is {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} pixels "
            f"(the network's memory grows with it: 3.1 GB at {MAX_WORKING_SIZE} on a 12-MP photo)"
        )
    return int(size)


def check_boost(boost: float) -> float:
    if not (isinstance(boost, (int, float)) and 0 <= boost <= MAX_CHROMA_BOOST):
        raise ValueError(
            f"chroma_boost must be a number from 0 (the network's colour) to {MAX_CHROMA_BOOST:g}, got {boost!r}"
        )
    return float(boost)


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
    if isinstance(image, (bytes, bytearray, memoryview)):  # a file's contents (e.g. an upload)
        return read_photo(Path("the image"), data=bytes(image))
    if isinstance(image, np.ndarray):
        return to_photo(Image.fromarray(_checked_array(image)))
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"expected a photo as a path, file contents (bytes), a PIL image or a NumPy array, not "
            f"{type(image).__name__}"
        )
    return to_photo(image)


def _checked_array(pixels: np.ndarray) -> np.ndarray:
    """An (H, W), (H, W, 3) or (H, W, 4) uint8 array, at least 1x1; else a ValueError saying what it is."""
    shape_ok = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4))
    if not shape_ok or 0 in pixels.shape:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array of pixels, got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        raise ValueError(
            f"expected 8-bit pixels (uint8, 0-255), got {pixels.dtype}: convert first, e.g. "
            "(array * 255).round().astype(np.uint8) for floats in 0-1, (array >> 8).astype(np.uint8) for 16-bit"
        )
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else np.ascontiguousarray(pixels)


def with_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    """(H, W, 3) uint8 -> an RGB image, or RGBA with the photo's own alpha channel put back."""
    image = Image.fromarray(rgb)
    if alpha is not None:
        image.putalpha(Image.fromarray(alpha))
    return image


class Colorizer:
    """A model ready to colourise: `Colorizer.load(path)` then `.colorize(image)`. Thread-safe."""

    def __init__(
        self,
        session: ModelSession,
        temperature: float | None = None,
        hints_to_network: bool | None = None,
        chroma_boost: float | None = None,
    ):
        self.session = session
        self.temperature = temperature  # classification models: None means the model's own
        self.chroma_boost = session.chroma_boost if chroma_boost is None else check_boost(chroma_boost)
        self.hints_to_network = HINTS_TO_NETWORK if hints_to_network is None else hints_to_network

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        device: str = "cpu",
        temperature: float | None = None,
        hints_to_network: bool | None = None,
        chroma_boost: float | None = None,
        threads: int | None = None,
    ) -> Colorizer:
        """An .onnx model, a training checkpoint (exported on the fly; needs torch), or the bundled model (None).
        chroma_boost: how much bolder the colour is made where the network commits to one (0: its own colour;
        default: the model's recorded value, `color.boost_chroma`). threads: ONNX Runtime's threads (default: all
        cores)."""
        return cls(ModelSession.load(path, device, threads), temperature, hints_to_network, chroma_boost)

    @property
    def metadata(self) -> dict:
        return self.session.metadata

    @property
    def working_size(self) -> int:
        """The working size (longer side) used when a call gives none: the model's (ModelSession.working_size)."""
        return self.session.working_size

    @property
    def takes_hints(self) -> bool:
        """Whether the model has a learned hint branch. Every model follows hints: they are spread along objects
        (`spread.py`) whether or not the network also reads them."""
        return self.session.input_channels > 1

    def hints_for(self, hints, width: int, height: int) -> list[Hint]:
        """Hints as given (a list of dicts, a JSON text, or Hint objects) -> checked Hints for this photo."""
        if isinstance(hints, (str, bytes)):
            return parse_hints(hints, width, height) if hints else []
        if hints is None:
            return []
        if not isinstance(hints, (list, tuple)):
            raise HintError(f"hints must be a list of hints (dicts or Hint objects) or a JSON text, not {hints!r:.60}")
        # Hint objects built in Python get the same checks as JSON: inside the photo, a sane radius, finite numbers
        return parse_hints([h.as_dict() if isinstance(h, Hint) else h for h in hints], width, height)

    def network_input(self, pixels: np.ndarray, size: int | None, hints: list[Hint] | None = None) -> np.ndarray:
        """(H, W) or (H, W, 3) uint8 -> (1, C, h, w) float32: the lightness at the working size, scaled, and for a
        model with a hint branch, the hint maps (empty without hints, or unless `hints_to_network`)."""
        height, width = pixels.shape[:2]
        h, w = working_shape(height, width, size or self.working_size)
        small = np.asarray(Image.fromarray(pixels).resize((w, h), Image.BILINEAR, reducing_gap=2.0))
        l_norm = normalize_l(lightness(small))[None]  # (1, h, w)
        if not self.takes_hints:
            return l_norm[None]
        given = hints if self.hints_to_network else None
        return np.concatenate([l_norm, encode_hints(given or [], width, height, (h, w))])[None]

    def reference(self, image, size: int | None = None, name: str | None = None) -> Reference:
        """A colour photo to take colours from (a path, PIL image, array or Photo), ready at the working size:
        its lightness, its colour and the network's colour for its gray version. Raises ReferenceError naming it
        (`name`, else its path, else "the reference")."""
        if isinstance(image, Reference):
            return image
        name = name or (f"reference {image}" if isinstance(image, (str, Path)) else "the reference")
        try:
            photo = as_photo(image)
        except (ImageReadError, OSError) as err:
            raise ReferenceError(f"{name}: {err}") from None
        return Reference.from_pixels(photo.pixels, check_working_size(size) or self.working_size, self, name)

    def steer(
        self,
        network_input: np.ndarray,
        ab: np.ndarray,
        hints: list[Hint] | None,
        photo_size: tuple[int, int],
        saturation: float = 1.0,
        reference: Reference | None = None,
        features: np.ndarray | None = None,
        reach: float | None = None,
    ) -> np.ndarray:
        """The model's ab (2, h, w) for one photo -> ab with its hints (and the colours of a reference photo where
        its content matches) spread along objects, and `saturation` applied.

        network_input: that photo's (C, h, w) network input (its lightness is what the hints spread along);
        photo_size: (width, height) of the photo the hints' coordinates refer to; features: the encoder's features
        for it (`predict_with_features`), which a reference is then also matched by.
        """
        if hints or reference is not None:
            maps, labels = encode_hints_with_labels(hints or [], *photo_size, ab.shape[1:])
            default = DEFAULT_REACH if reach is None else reach
            reaches = np.array([0.0] + [default if h.reach is None else h.reach for h in hints or []], np.float32)
            if reference is not None:
                mask, hinted = reference_hints(denormalize_l(network_input[0]), ab, reference, features=features)
                user = maps[2] > 0  # the user's own hints win where they are
                maps[2] = np.where(user, maps[2], mask)
                maps[:2] = np.where(user, maps[:2], normalize_ab(hinted))
            ab = self.follow_hint_maps(network_input, ab, maps, labels, reaches, features)
        if saturation != 1.0:
            ab = ab * np.float32(saturation)
        return ab

    def follow_hint_maps(
        self,
        network_input: np.ndarray,
        ab: np.ndarray,
        maps: np.ndarray,
        labels: np.ndarray | None = None,
        reach: float | np.ndarray = DEFAULT_REACH,
        features: np.ndarray | None = None,
    ) -> np.ndarray:
        """ab (2, h, w) + hint maps (3, h, w: a / 110, b / 110, mask) -> ab with the hints' corrections spread
        along edges and, with `labels` ((h, w), which hint covers each pixel), carried to what looks alike as far
        as `reach` says (one for all hints or one per label; `alike.py`)."""
        lightness = denormalize_l(network_input[0])
        wanted = denormalize_ab(maps[:2]) - ab
        learned = self.session.learned_alike
        guide = None if labels is None else alike_guide(lightness, ab, wanted, labels, reach, features, learned)
        return ab + spread_corrections(lightness, maps[2], wanted, alike=guide)

    def prepare_saturation(self, saturation: float | None) -> float:
        if saturation is None:
            return 1.0
        if not (isinstance(saturation, (int, float)) and 0 <= saturation <= MAX_SATURATION):
            raise ValueError(f"saturation must be a number from 0 (gray) to {MAX_SATURATION:g}, got {saturation!r}")
        return float(saturation)

    def predict_ab(self, network_input: np.ndarray, temperature: float | None = None) -> np.ndarray:
        """(B, 1, h, w) network input -> (B, 2, h, w) float32 ab in LAB units, the chroma boost applied."""
        return boost_chroma(self.session.predict_ab(network_input, temperature or self.temperature), self.chroma_boost)

    def predict_with_features(
        self, network_input: np.ndarray, temperature: float | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """predict_ab and the encoder's features (B, F, h/8, w/8) for matching a reference (None if the model lacks
        them)."""
        ab, features = self.session.predict(network_input, temperature or self.temperature, features=True)
        return boost_chroma(ab, self.chroma_boost), features

    def recombine(self, pixels: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """The photo's full-resolution lightness + ab (2, h, w) upsampled to its size -> (H, W, 3) uint8."""
        return colorize_lightness(lightness(pixels), ab)

    def colorize_array(
        self,
        pixels: np.ndarray,
        size: int | None = None,
        temperature: float | None = None,
        hints=None,
        saturation: float | None = None,
        reference=None,
        reach: float | None = None,
    ) -> np.ndarray:
        """(H, W) or (H, W, 3) uint8 (only its lightness is used) -> colourised (H, W, 3) uint8, same size."""
        size = check_working_size(size) or self.working_size
        height, width = pixels.shape[:2]
        hints = self.hints_for(hints, width, height)
        reach = None if reach is None else check_reach(reach)
        saturation = self.prepare_saturation(saturation)
        if reference is not None:
            reference = self.reference(reference, size)
        from colorizer.inference.pipeline import finish, predict_batch  # the drivers' one pipeline

        [prediction] = predict_batch(self, [(None, pixels, hints)], size, reference is not None, temperature)
        return finish(self, prediction, saturation, reach, reference)

    def colorize(
        self,
        image: Image.Image | np.ndarray | str | Path | Photo,
        size: int | None = None,
        temperature: float | None = None,
        hints: list[dict] | str | None = None,
        saturation: float | None = None,
        reference=None,
        reach: float | None = None,
    ) -> Image.Image:
        """Colourise a PIL image, a NumPy array or a file. Returns RGB, or RGBA when the input had alpha.

        hints: colour hints, [{"x": 412, "y": 96, "color": "#b0302a"}, {"points": [[x, y], ...], "color": ...}]
        in the photo's displayed pixels (see `colorizer.inference.hints`); a bad hint raises HintError naming it.
        Each hint's colour fills the object under it, stops at its edges, and reaches what looks alike as far as
        `reach` says: 0, the object under it only; 1, everything alike in the photo (default: DEFAULT_REACH; a
        hint's own "reach" wins).
        saturation: scales the colour (1 = the model's; 0 = gray; 1.3 = a third more vivid), up to 4.
        reference: a colour photo (path, PIL image, array, or `colorizer.reference(...)` to reuse one): where its
        content matches, the photo takes its colours (spread like hints); a bad one raises ReferenceError naming it.
        """
        photo = as_photo(image)
        pixels = self.colorize_array(photo.pixels, size, temperature, hints, saturation, reference, reach)
        return with_alpha(pixels, photo.alpha)

    def colorize_video(
        self,
        source: str | Path,
        destination: str | Path,
        size: int | None = None,
        smoothing: float | None = None,
        overwrite: bool = False,
        progress: bool = False,
        keep_partial: bool = False,
        key_frames=None,
    ):
        """Colourise a video file into `destination` (H.264 in MP4, audio kept); needs the video extra.

        smoothing: weight of the motion-compensated colour history, 0 (frame by frame) to <1 (default 0.9).
        keep_partial: a truncated file gives the frames it holds (with a note) instead of an error.
        key_frames: {0: "frame0.png", "12.5s": "frame300.hints.json"}: each key frame's colour (an image of that frame
        in colour, or hints for it) carried through its shot, forwards and backwards (`keyframes.py`).
        Returns a VideoResult (frames, seconds, scene cuts, audio streams); raises VideoError.
        """
        from colorizer.inference.options import DEFAULT_SMOOTHING
        from colorizer.inference.video import colorize_video

        smoothing = DEFAULT_SMOOTHING if smoothing is None else smoothing
        return colorize_video(self, source, destination, size, smoothing, overwrite, progress, keep_partial, key_frames)
