"""Colour hints: the user says "this should be red here", the model spreads it along the object.

A hint is `{"x": 412, "y": 96, "color": "#b0302a"}`, optionally with `"radius"`: pixel coordinates in the photo as
displayed (after EXIF orientation; origin top left), the colour whose a*b* the photo should take there (its
lightness stays the photo's), and the radius in photo pixels of the square patch it covers (default: a 5x5 patch
at the working size). A hints file is a JSON list of hints; `NAME.hints.json` beside a photo applies to it.

Every hint is checked before anything runs; a bad one is refused with a message that names it (its position in the
list and its text) and says what is wrong. The hint maps follow `colorizer.conventions` (hint a, hint b, mask).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorizer.inference.color import normalize_ab, rgb_to_lab

MAX_HINTS = 1000
DEFAULT_HALF_SIDE = 2  # working pixels either side of the centre when a hint gives no radius: a 5x5 patch
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_KEYS = {"x", "y", "color", "radius"}


class HintError(ValueError):
    """Hints that cannot be used; the message names the hint and says why."""


@dataclass(frozen=True)
class Hint:
    x: float
    y: float
    color: str  # "#rrggbb"
    radius: float | None = None

    @property
    def ab(self) -> np.ndarray:
        """The colour's a*, b* (CIE LAB, D65)."""
        rgb = np.array([int(self.color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)
        return rgb_to_lab(rgb)[1:]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_hints(data, width: int, height: int) -> list[Hint]:
    """A JSON text or a list of dicts -> checked hints for a photo of width x height (as displayed)."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise HintError(f"the hints are not valid JSON ({err})") from None
    if not isinstance(data, list):
        raise HintError(f"the hints must be a JSON list of hints, not {type(data).__name__}")
    if len(data) > MAX_HINTS:
        raise HintError(f"{len(data)} hints: at most {MAX_HINTS} are accepted")
    hints = []
    for number, item in enumerate(data, start=1):
        name = f"hint {number} ({json.dumps(item)[:120]})"
        if not isinstance(item, dict):
            raise HintError(f'{name}: a hint is an object like {{"x": 10, "y": 20, "color": "#b0302a"}}')
        missing, unknown = {"x", "y", "color"} - item.keys(), item.keys() - _KEYS
        if missing or unknown:
            problem = (
                f"missing {', '.join(sorted(missing))}" if missing else f"unknown key {', '.join(sorted(unknown))}"
            )
            raise HintError(f"{name}: {problem} (a hint has x, y, color and optionally radius)")
        if not (_number(item["x"]) and _number(item["y"])):
            raise HintError(f"{name}: x and y must be numbers (pixels)")
        if not (0 <= item["x"] < width and 0 <= item["y"] < height):
            raise HintError(f"{name}: ({item['x']}, {item['y']}) is outside the {width}x{height} photo")
        if not (isinstance(item["color"], str) and _COLOR.match(item["color"])):
            raise HintError(f"{name}: color must be written #rrggbb, like #b0302a")
        radius = item.get("radius")
        if radius is not None and not (_number(radius) and radius >= 0):
            raise HintError(f"{name}: radius must be a number of pixels, 0 or more")
        hints.append(Hint(float(item["x"]), float(item["y"]), item["color"].lower(), radius))
    return hints


def read_hints_file(path: Path, width: int, height: int) -> list[Hint]:
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise HintError(f"cannot read the hints file {path} ({err})") from None
    try:
        return parse_hints(text, width, height)
    except HintError as err:
        raise HintError(f"{path}: {err}") from None


def hints_file_for(photo: Path) -> Path:
    """Where a photo's own hints live: NAME.hints.json beside it (for photo.jpg: photo.hints.json)."""
    return photo.with_name(f"{photo.stem}.hints.json")


def encode_hints(hints: list[Hint], width: int, height: int, working: tuple[int, int]) -> np.ndarray:
    """Hints on a width x height photo -> (3, h, w) float32 maps at the working size: a / 110, b / 110, mask.

    Each hint covers a square centred where its (x, y) falls at the working size; later hints win where they
    overlap. The patch's half side is the radius scaled to the working size (at least the centre pixel).
    """
    h, w = working
    maps = np.zeros((3, h, w), np.float32)
    scale_x, scale_y = w / width, h / height
    for hint in hints:
        cx = min(int((hint.x + 0.5) * scale_x), w - 1)
        cy = min(int((hint.y + 0.5) * scale_y), h - 1)
        half = DEFAULT_HALF_SIDE if hint.radius is None else int(round(hint.radius * min(scale_x, scale_y)))
        rows, cols = slice(max(0, cy - half), cy + half + 1), slice(max(0, cx - half), cx + half + 1)
        maps[:2, rows, cols] = normalize_ab(hint.ab)[:, None, None]
        maps[2, rows, cols] = 1.0
    return maps
