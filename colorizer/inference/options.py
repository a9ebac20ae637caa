"""`ColorizeOptions`: every setting of a colourising run, in one typed object with a help text and a range per field.

    options = ColorizeOptions(size=512, saturation=1.2, reach=0.3)   # ValueError naming the field when out of range
    colorize_paths(colorizer, ["scans/"], Path("out"), options)     # the local engine
    colorize_dataset(["scans/"], "out", options=options)            # the cluster engine (same pixels)

The command line, the Python entry points, the HTTP server and the cluster's workers take it whole; the cluster's
settings key is derived from it (`pixel_settings`). Checked once, here, for every interface: numbers must be real
numbers (NumPy numbers are fine, NaN and infinities are not) within their ranges.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from colorizer.conventions import MAX_WORKING_SIZE, MIN_WORKING_SIZE
from colorizer.inference.formats import FORMATS

FORMAT_NAMES = tuple(sorted(FORMATS))
DEFAULT_SMOOTHING = 0.9  # videos: weight of the motion-compensated history where it holds (0: frame by frame)


def _field(default, help: str, low=None, high=None, low_open: bool = False, high_open: bool = False, pixels=True):
    """A field with its help text, its range and whether it decides the output's pixels (the cluster's key)."""
    metadata = {"help": help, "low": low, "high": high, "low_open": low_open, "high_open": high_open, "pixels": pixels}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class ColorizeOptions:
    """How to colourise: what the network does, how the colour is steered, what is written."""

    size: int | None = _field(
        None,
        f"working size of the network, longer side, {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} (None: the model's own)",
        MIN_WORKING_SIZE,
        MAX_WORKING_SIZE,
    )
    temperature: float | None = _field(
        None, "classification models: annealed-mean temperature, (0, 2] (None: the model's)", 0, 2, low_open=True
    )
    chroma_boost: float | None = _field(
        None, "how much bolder the colour is where the network commits to one, 0 to 2 (None: the model's)", 0, 2
    )
    saturation: float = _field(1.0, "scale the colour: 1 = the model's, 0 = gray, up to 4", 0, 4)
    reach: float | None = _field(
        None, "how far a hint's colour goes to what looks alike: 0 = that object only, 1 = everything alike", 0, 1
    )
    hints_file: Path | None = _field(None, "a JSON file of colour hints for every photo without its own")
    reference: Path | None = _field(None, "a colour photo to take colours from where the content matches")
    key_frames: list = _field([], 'a video\'s key frames, ["FRAME=IMAGE" or "FRAME=HINTS.json", ...]')
    frames: list = _field(
        [], 'instead of colourising videos, write these frames of each (["120", "12.5s"])', pixels=False
    )
    smoothing: float = _field(
        DEFAULT_SMOOTHING,
        "videos: weight of the colour carried from earlier frames, 0 to below 1",
        0,
        1,
        high_open=True,
    )
    keep_partial: bool = _field(False, "videos: a damaged file still gives the frames that could be read")
    fmt: str | None = _field(None, f"output format, one of {', '.join(FORMAT_NAMES)} (None: the input's)")
    compare: bool = _field(False, "also write NAME_compare.png: original | gray | colour")
    overwrite: bool = _field(False, "replace outputs that already exist", pixels=False)
    batch_size: int = _field(4, "photos per network batch, 1 to 256", 1, 256, pixels=False)
    progress: bool = _field(True, "show a progress bar", pixels=False)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            setattr(self, f.name, _checked(f, getattr(self, f.name)))

    def pixel_settings(self) -> dict:
        """The settings that decide an output's pixels (the cluster engine's settings key is a hash of them)."""
        return {
            f.name: str(value) if isinstance(value, Path) else value
            for f in dataclasses.fields(self)
            if f.metadata["pixels"]
            for value in [getattr(self, f.name)]
        }

    def replace(self, **changes) -> ColorizeOptions:
        return dataclasses.replace(self, **changes)


def _checked(f: dataclasses.Field, value):
    """One field's value, normalised (NumPy numbers to Python ones, paths to Path), or a ValueError naming it."""
    name, meta = f.name, f.metadata
    kind = f.type if isinstance(f.type, str) else str(f.type)
    if value is None:
        if "None" not in kind:
            raise ValueError(f"{name} must be given (got None)")
        return None
    if name == "size":  # the working size's own check and message, shared with the Python API
        from colorizer.inference.photos import check_working_size

        return check_working_size(value)
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
        return value
    if kind.startswith(("int", "float")):
        return _number(
            name, value, whole=kind.startswith("int"), **{k: meta[k] for k in ("low", "high", "low_open", "high_open")}
        )
    if kind.startswith("Path"):
        if not isinstance(value, (str, Path)):
            raise ValueError(f"{name} must be a path, got {value!r}")
        return Path(value)
    if kind.startswith("list"):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError(f"{name} must be a list, got {value!r}")
        return list(value)
    if name == "fmt":
        if not isinstance(value, str) or value.lower() not in FORMAT_NAMES:
            raise ValueError(f"fmt must be one of {', '.join(FORMAT_NAMES)} (or None: the input's), got {value!r}")
        return value.lower()
    return value


def _number(name: str, value, whole: bool, low, high, low_open: bool, high_open: bool):
    if isinstance(value, bool) or not hasattr(value, "__float__") or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be {'a whole number' if whole else 'a number'}, got {value!r}")
    number = float(value)
    if whole and (not math.isfinite(number) or number != int(number) or not hasattr(value, "__index__")):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if not math.isfinite(number) or below or above:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in {left}{low:g}, {high:g}{right}, got {value!r}")
    return int(number) if whole else number
