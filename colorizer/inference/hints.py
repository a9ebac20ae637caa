"""Colour hints: the user says "this should be red here", and the colour spreads along the object.

A hint is a point, `{"x": 412, "y": 96, "color": "#b0302a"}`, or a stroke, `{"points": [[x, y], ...], "color":
"#b0302a"}`, either with an optional `"radius"`: pixel coordinates in the photo as displayed (after EXIF
orientation; origin top left), the colour whose a*b* the photo should take there (its lightness stays the photo's),
and the radius in photo pixels of what it covers (a point: the square patch around it; a stroke: the half width of
the line through its points; default: 2 pixels at the working size either side), and an optional `"reach"` from 0
(the object under it only) to 1 (everything that looks alike), which overrides the call's (`alike.py`). A hints
file is a JSON list of hints; `NAME.hints.json` beside a photo applies to it.

Every hint is checked before anything runs; a bad one is refused with a message that names it (its position in the
list and its text) and says what is wrong. The hint maps follow `colorizer.conventions` (hint a, hint b, mask); how
a hint's colour then spreads along its object is `spread.py`'s.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from colorizer.inference.color import normalize_ab, rgb_to_lab

MAX_HINTS = 1000
MAX_STROKE_POINTS = 10_000
# A hints text longer than this (UTF-8 bytes) is refused before it is parsed: one limit for files, the API and HTTP,
# whose multipart parser holds a form field to 1 MiB (a stroke of the most points, 10,000, is about 120 kB).
MAX_HINTS_BYTES = 1_000_000
MAX_NESTING = 8  # hints nest three deep (list > hint > points > point); deeper JSON is refused before parsing
DEFAULT_HALF_SIDE = 2  # working pixels either side of the centre when a hint gives no radius: a 5x5 patch
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_POINT_KEYS = {"x", "y", "color", "radius", "reach"}
_STROKE_KEYS = {"points", "color", "radius", "reach"}


class HintError(ValueError):
    """Hints that cannot be used; the message names the hint and says why."""


@dataclass(frozen=True)
class Hint:
    """A point (one entry in `points`, drawn as a square patch) or a stroke (a line through `points`)."""

    points: tuple[tuple[float, float], ...]
    color: str  # "#rrggbb"
    radius: float | None = None
    stroke: bool = False
    reach: float | None = None  # how far its colour goes to what looks alike (0-1; None: the call's reach)

    @classmethod
    def point(cls, x: float, y: float, color: str, radius: float | None = None, reach: float | None = None) -> Hint:
        return cls(((x, y),), color, radius, reach=reach)  # checked where it is used, as JSON hints are

    @property
    def x(self) -> float:
        return self.points[0][0]

    @property
    def y(self) -> float:
        return self.points[0][1]

    def as_dict(self) -> dict:
        """The hint as its JSON object (what `parse_hints` checks and reads back)."""
        item = {"points": [list(p) for p in self.points]} if self.stroke else {"x": self.x, "y": self.y}
        item["color"] = self.color
        if self.radius is not None:
            item["radius"] = self.radius
        if self.reach is not None:
            item["reach"] = self.reach
        return item

    @property
    def ab(self) -> np.ndarray:
        """The colour's a*, b* (CIE LAB, D65)."""
        rgb = np.array([int(self.color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)
        return rgb_to_lab(rgb)[1:]


def _number(value) -> bool:
    """A finite int or float (not a bool); an integer too large for a float (309 digits and more) is not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):  # NumPy numbers are Real too
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _nesting(text: str) -> int:
    """How deep brackets nest in a JSON text (strings skipped): checked before parsing, so no recursion limit.
    Vectorised: a hints text may be megabytes long."""
    codes = np.frombuffer(_JSON_STRING.sub("", text).encode(), np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _load_json(data: str | bytes):
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_HINTS_BYTES:
        raise HintError(f"the hints text is {size:,} bytes: at most {MAX_HINTS_BYTES:,} bytes (1 MB) are accepted")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise HintError(f"the hints are not UTF-8 text ({err})") from None
    data = data.removeprefix("\ufeff")  # a byte-order mark, as Windows Notepad saves UTF-8
    if _nesting(data) > MAX_NESTING:
        raise HintError(f"the hints nest more than {MAX_NESTING} levels deep: hints are a list of flat objects")
    try:
        return json.loads(data)
    except json.JSONDecodeError as err:
        raise HintError(f"the hints are not valid JSON ({err})") from None
    except (ValueError, RecursionError) as err:  # e.g. an integer of thousands of digits
        raise HintError(f"the hints cannot be read as JSON ({err})") from None


def _check_position(name: str, x, y, width: int, height: int, what: str = "") -> None:
    if not (_number(x) and _number(y)):
        raise HintError(f"{name}: {what}x and y must be numbers (pixels)")
    if not (0 <= x < width and 0 <= y < height):
        raise HintError(f"{name}: {what}({x}, {y}) is outside the {width}x{height} photo")


def _parse_one(name: str, item, width: int, height: int) -> Hint:
    example = '{"x": 10, "y": 20, "color": "#b0302a"} or {"points": [[10, 20], [30, 40]], "color": "#b0302a"}'
    if not isinstance(item, dict):
        raise HintError(f"{name}: a hint is an object like {example}")
    stroke = "points" in item
    allowed = _STROKE_KEYS if stroke else _POINT_KEYS
    required = {"points", "color"} if stroke else {"x", "y", "color"}
    missing, unknown = required - item.keys(), item.keys() - allowed
    if missing or unknown:
        problem = f"missing {', '.join(sorted(missing))}" if missing else f"unknown key {', '.join(sorted(unknown))}"
        what = (
            "a stroke has points, color and optionally radius and reach"
            if stroke
            else ("a point has x, y, color and optionally radius and reach; a stroke has points instead of x and y")
        )
        raise HintError(f"{name}: {problem} ({what})")
    if stroke:
        points = item["points"]
        if not isinstance(points, list) or not points:
            raise HintError(f"{name}: points must be a non-empty list of [x, y] pairs")
        if len(points) > MAX_STROKE_POINTS:
            raise HintError(f"{name}: {len(points)} points: a stroke has at most {MAX_STROKE_POINTS}")
        for number, point in enumerate(points, start=1):
            if not (isinstance(point, list) and len(point) == 2):
                raise HintError(f"{name}: point {number} must be a pair [x, y]")
            _check_position(name, point[0], point[1], width, height, f"point {number} ")
        positions = tuple((float(x), float(y)) for x, y in points)
    else:
        _check_position(name, item["x"], item["y"], width, height)
        positions = ((float(item["x"]), float(item["y"])),)
    if not (isinstance(item["color"], str) and _COLOR.fullmatch(item["color"])):
        raise HintError(f"{name}: color must be written #rrggbb, like #b0302a")
    radius = item.get("radius")
    if radius is not None and not (_number(radius) and 0 <= radius <= max(width, height)):
        raise HintError(f"{name}: radius must be a number of pixels from 0 to the photo's longer side")
    reach = item.get("reach")
    if reach is not None and not (_number(reach) and 0 <= reach <= 1):
        raise HintError(f"{name}: reach must be a number from 0 (this object) to 1 (everything alike)")
    return Hint(positions, item["color"].lower(), radius, stroke, None if reach is None else float(reach))


def parse_hints(data, width: int, height: int) -> list[Hint]:
    """A JSON text (str or bytes) or a list of dicts -> checked hints for a photo of width x height (as displayed)."""
    if isinstance(data, (str, bytes)):
        data = _load_json(data)
    if not isinstance(data, list):
        raise HintError(f"the hints must be a JSON list of hints, not {type(data).__name__}")
    if len(data) > MAX_HINTS:
        raise HintError(f"{len(data)} hints: at most {MAX_HINTS} are accepted")
    hints = []
    for number, item in enumerate(data, start=1):
        try:
            text = json.dumps(item)
        except (ValueError, TypeError, RecursionError):
            text = repr(item)
        name = f"hint {number} ({text[:120]})"
        hints.append(_parse_one(name, item, width, height))
    return hints


def read_hints_file(path: Path, width: int, height: int) -> list[Hint]:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise HintError(f"cannot read the hints file {path} ({err})") from None
    try:
        return parse_hints(data, width, height)
    except HintError as err:
        raise HintError(f"{path}: {err}") from None


def hints_file_for(photo: Path) -> Path:
    """Where a photo's own hints live: NAME.hints.json beside it (for photo.jpg: photo.hints.json)."""
    return photo.with_name(f"{photo.stem}.hints.json")


def _half_side(hint: Hint, scale: float) -> int:
    return DEFAULT_HALF_SIDE if hint.radius is None else int(round(hint.radius * scale))


def encode_hints(hints: list[Hint], width: int, height: int, working: tuple[int, int]) -> np.ndarray:
    """Hints on a width x height photo -> (3, h, w) float32 maps at the working size: a / 110, b / 110, mask.

    A point covers a square centred where its (x, y) falls at the working size; a stroke, the line through its
    points, as wide as twice its half width, with round ends. The half width is the radius scaled to the working
    size (at least the centre pixel). Later hints win where they overlap.
    """
    return encode_hints_with_labels(hints, width, height, working)[0]


def encode_hints_with_labels(
    hints: list[Hint], width: int, height: int, working: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """`encode_hints`, and which hint covers each pixel: (h, w) int32, 0 for none, k for the k-th hint (1-based)."""
    h, w = working
    maps = np.zeros((3, h, w), np.float32)
    labels = np.zeros((h, w), np.int32)
    scale_x, scale_y = w / width, h / height
    for number, hint in enumerate(hints, start=1):
        half = _half_side(hint, min(scale_x, scale_y))
        points = np.asarray(hint.points, np.float64)
        centres = np.stack(
            [np.minimum(((points[:, 0] + 0.5) * scale_x).astype(np.int64), w - 1),
             np.minimum(((points[:, 1] + 0.5) * scale_y).astype(np.int64), h - 1)], axis=1,
        )  # fmt: skip
        if hint.stroke:
            covered = _stroke_coverage(centres, half, h, w)
        else:
            (cx, cy) = centres[0]
            covered = np.zeros((h, w), bool)
            covered[max(0, cy - half) : cy + half + 1, max(0, cx - half) : cx + half + 1] = True
        maps[:2, covered] = normalize_ab(hint.ab)[:, None]
        maps[2, covered] = 1.0
        labels[covered] = number
    return maps, labels


def _stroke_coverage(centres: np.ndarray, half: int, h: int, w: int) -> np.ndarray:
    """(h, w) bool: the pixels within `half` of the line through `centres` (working pixels), with round joints.

    Bounded work whatever the stroke: points that fall on the same working pixel as the one before are one point,
    and a wide stroke is drawn on a canvas `step` times smaller (its width still at least 16 of that canvas's
    pixels, so its edge is off by at most 1/16 of the width), which caps what each joint's circle costs."""
    keep = np.ones(len(centres), bool)
    keep[1:] = np.any(centres[1:] != centres[:-1], axis=1)
    centres = centres[keep]
    step = max(1, half // 8)
    if step > 1:
        centres = centres // step
        keep = np.ones(len(centres), bool)
        keep[1:] = np.any(centres[1:] != centres[:-1], axis=1)
        centres = centres[keep]
    small = max(0, round(half / step))
    canvas = Image.new("L", (-(-w // step), -(-h // step)))
    draw = ImageDraw.Draw(canvas)
    path = [tuple(int(v) for v in centre) for centre in centres]
    if len(path) > 1:
        draw.line(path, fill=255, width=2 * small + 1, joint="curve")
    for cx, cy in (path[0], path[-1]) if len(path) > 1 else path:
        draw.ellipse((cx - small, cy - small, cx + small, cy + small), fill=255)
    covered = np.asarray(canvas) > 0
    if step > 1:
        covered = np.repeat(np.repeat(covered, step, axis=0), step, axis=1)
    return covered[:h, :w]
