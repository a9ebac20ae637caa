"""Key frames: colour one frame of a shot (or give it hints), and the whole shot follows.

    colorizer colorize film.mp4 --key-frame 0=frame0.png --key-frame 12.5s=frame300.hints.json --out coloured/

A key frame is a frame index (`120`) or a time (`12.5s`: the frame nearest to it), and either that frame in colour
(any size of the frame's aspect, e.g. exported with `--frame` and coloured on the page) or a `.json` file of hints
for it (the model's colour steered by them). Its colour is carried along the motion (the optical flow of steady
colour, `temporal.py`) through its shot, forwards and backwards in time, with a confidence per pixel that falls
where the carried colour stops matching what the frame shows (occlusions, new content, flow errors) and never
rises again. Each frame's model colour is then steered by the carried colour as by hints (`spread.py`), with that
confidence as the hints' weight: where it holds, the key frame's colour; where the carried colour was lost, the key
frame's colours matched there by content (`reference.Matcher`: lightness, texture, place and the encoder's features,
every MATCH_EVERY frames) and the corrections spreading in from neighbouring pixels that kept their colour, along
the frame's objects; the model's own colour far from any. A scene cut ends a key frame's reach in both directions;
between two key frames of one shot the two carried colours are blended, each weighed by its nearness in time.

Two passes over the video: the first (`KeyFrameScan`, lightness only) finds each key frame, the shot around it and
carries its colour backwards to the start of its shot (or the previous key frame), keeping the result for those
frames in memory (3 bytes a pixel at the working size, and 1 for the lightness until the key frame is reached); the
second, as the video is colourised, carries the colour forwards and steers each frame (`KeyFrames.guide`).
Everything runs at the working size: L (h, w) in [0, 100], ab (2, h, w) in LAB units.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from colorizer.images import ImageReadError, looks_grayscale, read_photo
from colorizer.inference.color import denormalize_l
from colorizer.inference.hints import HintError, parse_hints
from colorizer.inference.reference import Matcher, Reference, lab_at
from colorizer.inference.spread import spread_corrections
from colorizer.inference.temporal import Motion, Warp, is_scene_cut, thumbnail

HOLD_BELOW = 4.0  # L units: where the carried frame's lightness differs by less than this, its colour holds fully
LOST_ABOVE = 12.0  # ... and by more than this, it is lost there (linear between)
# Pull towards the model's colour where the carried colour was lost (spread.py's pull): on the three clips of
# ../shared/videos, 1e-5 to 1e-1 all scored within 0.1 ΔE of each other; 1e-2 best.
STEER_PULL = 1e-2
MATCH_EVERY = 4  # frames between two matchings of the lost pixels to the key frame (measured: see README)
LOST_BELOW = 0.5  # confidence under which a pixel's carried colour counts as lost: matched to the key frame instead
ASPECT_TOLERANCE = 0.02  # relative difference in width/height a key frame image may have from the video's frames
LOOKS_OTHER = 15.0  # mean |L difference| above which a key frame image is said not to look like its frame
_SPEC = re.compile(r"^\s*(?:(\d+)|(\d+(?:\.\d*)?|\.\d+)\s*s)\s*$")


class KeyFrameError(ValueError):
    """A key frame that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class FrameSpec:
    """A frame as the user names it: an index (`120`) or a time in seconds (`12.5s`)."""

    index: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> FrameSpec:
        match = _SPEC.match(str(text))
        if not match:
            raise KeyFrameError(f"{text!r} is not a frame: give its index (120) or a time in seconds (12.5s)")
        if match.group(1) is not None:
            return cls(index=int(match.group(1)))
        return cls(seconds=float(match.group(2)))

    @classmethod
    def of(cls, frame) -> FrameSpec:
        """A frame from Python: an int is an index, a float seconds, a str as on the command line; negative,
        nan or infinite numbers are refused by name."""
        if isinstance(frame, bool) or not isinstance(frame, (int, float, str, np.integer, np.floating)):
            raise KeyFrameError(f"key frame {frame!r}: name a frame by its index (120), seconds (12.5) or '12.5s'")
        if isinstance(frame, str):
            return cls.parse(frame)
        if not math.isfinite(frame) or frame < 0:
            raise KeyFrameError(f"key frame {frame!r}: a frame's index or time is a number from 0 on")
        return cls(index=int(frame)) if isinstance(frame, (int, np.integer)) else cls(seconds=float(frame))

    def __str__(self) -> str:
        return str(self.index) if self.index is not None else f"{self.seconds:g}s"

    def matches(self, index: int, seconds: float, frame_interval: float) -> bool:
        """Whether the frame at `index`, shown at `seconds`, is the one named (for a time: the first frame within
        half a frame interval of it, i.e. the nearest one at a steady frame rate)."""
        if self.index is not None:
            return index == self.index
        return seconds >= self.seconds - 0.5 * frame_interval - 1e-6


@dataclass(frozen=True)
class KeyFrameSpec:
    """`FRAME=PATH` from the command line: which frame, and its colour image or hints file."""

    frame: FrameSpec
    source: Path

    @classmethod
    def parse(cls, text: str) -> KeyFrameSpec:
        frame, sep, path = str(text).partition("=")
        if not sep or not path.strip():
            raise KeyFrameError(f"key frame {text!r}: give FRAME=IMAGE or FRAME=HINTS.json (e.g. 0=frame0.png)")
        return cls(FrameSpec.parse(frame), Path(path.strip()))

    @classmethod
    def from_mapping(cls, key_frames) -> list[KeyFrameSpec]:
        """{0: "frame0.png", "12.5s": "later.hints.json", 3.0: ...} (an int is an index, a float seconds) or
        ["0=frame0.png", ...] -> specs, each checked."""
        if isinstance(key_frames, dict):
            return [cls(FrameSpec.of(frame), Path(path)) for frame, path in key_frames.items()]
        return [spec if isinstance(spec, KeyFrameSpec) else cls.parse(spec) for spec in key_frames]

    @property
    def is_hints(self) -> bool:
        return self.source.suffix.lower() == ".json"

    def __str__(self) -> str:
        return f"key frame {self.frame}={self.source}"

    def check_readable(self) -> np.ndarray | None:
        """Before any work: the file is there and, for an image, decodes; returns the image's pixels (None for
        hints)."""
        if not self.source.is_file():
            raise KeyFrameError(f"{self}: no such file")
        return None if self.is_hints else self.image()

    def image(self) -> np.ndarray:
        try:
            photo = read_photo(self.source)
        except ImageReadError as err:
            raise KeyFrameError(f"{self}: {err}") from None
        if photo.pixels.ndim != 3 or looks_grayscale(photo.pixels):
            raise KeyFrameError(
                f"{self}: is grayscale; a key frame gives the shot its colour (colour the frame on the page first, "
                "or give hints for it as FRAME=NAME.hints.json)"
            )
        return photo.pixels


def key_colour(
    spec: KeyFrameSpec,
    pixels: np.ndarray | None,
    colorizer,
    network_input: np.ndarray,
    model_ab: np.ndarray,
    frame_size: tuple[int, int],
    index: int,
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The ab (2, h, w) a key frame asks for, at the working size of its frame (network_input (1, C, h, w), the
    model's ab for it (2, h, w)); pixels: the key frame image (None for hints); frame_size: the frame's (width,
    height) upright, which hint coordinates and image aspect refer to."""
    height, width = network_input.shape[2:]
    if pixels is None:
        try:
            text = spec.source.read_bytes()
            hints = parse_hints(text, *frame_size)
        except (OSError, HintError) as err:
            raise KeyFrameError(f"{spec}: {err}") from None
        return colorizer.steer(network_input[0], model_ab, hints, frame_size)
    image_width, image_height = image_size or (pixels.shape[1], pixels.shape[0])  # the file's own, if reduced
    image_aspect, frame_aspect = image_width / image_height, frame_size[0] / frame_size[1]
    if abs(image_aspect / frame_aspect - 1) > ASPECT_TOLERANCE:
        raise KeyFrameError(
            f"{spec}: is {image_width}x{image_height} (aspect {image_aspect:.3f}); the video's frames are "
            f"{frame_size[0]}x{frame_size[1]} (aspect {frame_aspect:.3f}): a key frame must be the whole frame, at "
            "any size of the same aspect"
        )
    lab = lab_at(pixels, width, height)
    difference = float(np.abs(lab[..., 0] - denormalize_l(network_input[0, 0])).mean())
    if difference > LOOKS_OTHER:
        tqdm.write(  # on a line of its own, not onto a progress bar's
            f"  {spec}: does not look like frame {index} (mean lightness difference {difference:.0f}); is the frame "
            "number right?",
            file=sys.stderr,
        )
    return np.ascontiguousarray(np.moveaxis(lab[..., 1:], -1, 0))


def carry(ab: np.ndarray, confidence: np.ndarray, lightness: np.ndarray, warp: Warp) -> tuple[np.ndarray, np.ndarray]:
    """A carried colour and its confidence moved one frame along `warp`; the confidence falls where the moved
    lightness stops matching this frame's (occlusion, new content, a wrong flow) and where the flow left the frame."""
    moved = warp(np.concatenate([ab, confidence[None]]))
    difference = np.abs(lightness - warp.previous_l)
    holds = np.clip((LOST_ABOVE - difference) / (LOST_ABOVE - HOLD_BELOW), 0, 1)
    return moved[:2], np.clip(moved[2], 0, 1) * holds * warp.inside


def _compact(ab: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stored between the passes: ab as whole LAB units (int8), confidence in 255ths (uint8): 3 bytes a pixel."""
    return np.clip(np.rint(ab), -128, 127).astype(np.int8), np.rint(confidence * 255).astype(np.uint8)


class DiskFrames:
    """Frames of one shape and type appended to a temporary file and read back one at a time: what a long shot holds
    between the passes costs disk (3 bytes a working pixel a frame), not memory."""

    def __init__(self, folder: str | Path, shape: tuple[int, ...], dtype=np.uint8):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.frame_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self.file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115  (unlinked at once; lives with this object)
        self.count = 0

    def append(self, array: np.ndarray) -> int:
        """Stores a frame; returns its row."""
        self.file.seek(0, os.SEEK_END)
        self.file.write(np.ascontiguousarray(array, self.dtype).tobytes())
        self.count += 1
        return self.count - 1

    def __getitem__(self, row: int) -> np.ndarray:
        self.file.seek(row * self.frame_bytes)
        return np.frombuffer(self.file.read(self.frame_bytes), self.dtype).reshape(self.shape)

    def clear(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.count = 0


@dataclass
class KeyFrames:
    """What the first pass found: each key frame's colour by index, and the backward-carried colour of the frames
    before a key frame in its shot. `guide` then gives the second pass the colour to steer each frame to."""

    colours: dict[int, np.ndarray]  # key frame index -> ab (2, h, w)
    backward: dict[int, tuple[int, DiskFrames, int]] = field(default_factory=dict)  # index -> key, where it is kept
    matchers: dict[int, Matcher] = field(default_factory=dict)  # key frame index -> its colours, to match against
    _forward: tuple[int, np.ndarray, np.ndarray] | None = None  # the key it comes from, ab, confidence
    _matched: tuple | None = None  # (frame, key, mask, hinted ab) of the last matching
    folder: object = None  # the temporary folder of the backward-carried colour (removed with this object)

    def steer(
        self, index: int, lightness: np.ndarray, ab: np.ndarray, features: np.ndarray | None, warp: Warp | None
    ) -> np.ndarray:
        """Frame `index`'s (steady) model ab steered to the key frames that reach it: the carried colour where it
        holds, matched to the nearest key frame's colours where it was lost, spread along the frame's objects."""
        guide = self.guide(index, lightness, warp)
        if guide is None:
            return ab
        carried, confidence, key = guide
        mask, wanted = confidence, carried
        lost = confidence < LOST_BELOW
        if key in self.matchers and lost.any():
            matched_mask, matched = self._matches(index, key, lightness, ab, features, lost)
            extra = (1 - confidence) * matched_mask
            mask = confidence + extra
            wanted = (confidence * carried + extra * matched) / np.maximum(mask, 1e-6)
        return ab + spread_corrections(lightness, mask, wanted - ab, pull=STEER_PULL)

    def _matches(self, index, key, lightness, ab, features, lost) -> tuple[np.ndarray, np.ndarray]:
        """The key frame's colours matched at the lost pixels, recomputed every MATCH_EVERY frames (lost regions
        change slowly; matching every frame cost a quarter of the frame rate)."""
        last = self._matched
        if last is None or last[1] != key or index - last[0] >= MATCH_EVERY or last[2].shape != lightness.shape:
            self._matched = (index, key, *self.matchers[key].hints(lightness, ab, features, lost))
        return self._matched[2], self._matched[3]

    def guide(self, index: int, lightness: np.ndarray, warp: Warp | None) -> tuple[np.ndarray, np.ndarray, int] | None:
        """For frame `index` (in order; warp from the previous frame, None at a cut): the colour carried from the key
        frames around it, its confidence (h, w) and the nearest of those key frames; None where none reaches."""
        if index in self.colours:
            ab = self.colours[index]
            self._forward = (index, ab, np.ones(ab.shape[1:], np.float32))
            self.backward.pop(index, None)
            return ab, self._forward[2], index
        if self._forward is not None and warp is not None:
            key, ab, confidence = self._forward
            self._forward = (key, *carry(ab, confidence, lightness, warp))
        else:
            self._forward = None
        behind = self.backward.pop(index, None)
        if behind is None:
            return None if self._forward is None else (self._forward[1], self._forward[2], self._forward[0])
        later, store, row = behind
        kept = store[row]  # ab as int8 in whole LAB units, then the confidence in 255ths (`_compact`)
        ab_later = kept[:2].view(np.int8).astype(np.float32)
        confidence_later = kept[2].astype(np.float32) / 255
        if self._forward is None:
            return ab_later, confidence_later, later
        earlier, ab_earlier, confidence_earlier = self._forward
        weight_earlier = confidence_earlier * (later - index) / (later - earlier)  # the nearer key counts more
        weight_later = confidence_later * (index - earlier) / (later - earlier)
        total = weight_earlier + weight_later
        ab = (weight_earlier * ab_earlier + weight_later * ab_later) / np.maximum(total, 1e-6)
        nearest = earlier if index - earlier <= later - index else later
        return ab.astype(np.float32), total.astype(np.float32), nearest


class KeyFrameScan:
    """The first pass: feed it every frame in order with `add` until it returns True (it has all it needs), then
    `finish`. It resolves times to frames, finds the shot of each key frame (cuts as in `temporal.py`), computes
    each key frame's colour and carries it backwards through its shot."""

    def __init__(
        self, specs: list[KeyFrameSpec], colorizer, video: str, frame_interval: float, size: int | None = None
    ):
        self.pending = list(specs)
        self.colorizer, self.video, self.frame_interval = colorizer, video, frame_interval
        self.found = KeyFrames({})
        # the frames since the last cut or key frame: their indices here, their lightness (uint8, in half units) on
        # disk, as is the colour carried back to them: memory does not grow with the length of a shot
        self.folder = tempfile.TemporaryDirectory(prefix="colorizer-key-frames-")
        self.shot: list[int] = []
        self.shot_lightness: DiskFrames | None = None
        self.carried: dict[tuple[int, ...], DiskFrames] = {}
        self.previous_thumbnail: np.ndarray | None = None
        self.frames = 0
        self.last_seconds = 0.0
        # Checked before any work; kept at most at the working size (a key frame is used there), one decoding of
        # each file however many key frames name it
        self.images: dict[KeyFrameSpec, tuple[np.ndarray, tuple[int, int]] | None] = {}
        decoded: dict[Path, tuple[np.ndarray, tuple[int, int]] | None] = {}
        for spec in specs:
            if spec.source not in decoded:
                pixels = spec.check_readable()
                decoded[spec.source] = None if pixels is None else _reduced(pixels, size)
            self.images[spec] = decoded[spec.source]

    def add(self, index: int, seconds: float, network_input: np.ndarray, frame_size: tuple[int, int]) -> bool:
        lightness = denormalize_l(network_input[0, 0])
        small = thumbnail(lightness)
        if self.previous_thumbnail is not None and (
            self.previous_thumbnail.shape != small.shape or is_scene_cut(self.previous_thumbnail, small)
        ):
            self._new_shot()
        self.previous_thumbnail = small
        self.frames, self.last_seconds = index + 1, seconds
        here = [spec for spec in self.pending if spec.frame.matches(index, seconds, self.frame_interval)]
        if not here:
            if self.shot_lightness is None or self.shot_lightness.shape != lightness.shape:
                self.shot_lightness = DiskFrames(self.folder.name, lightness.shape)
                self.shot = []
            self.shot_lightness.append(np.rint(lightness * 2.55).astype(np.uint8))
            self.shot.append(index)
            return False
        if len(here) > 1:
            names = ", ".join(str(spec) for spec in here)
            raise KeyFrameError(f"{self.video}: {names} all name frame {index}; give each frame one key frame")
        spec = here[0]
        self.pending.remove(spec)
        model_ab, features = self.colorizer.predict_with_features(network_input)
        model_ab, features = model_ab[0], None if features is None else features[0]
        image = self.images.pop(spec)
        pixels, image_size = (None, None) if image is None else image
        colour = key_colour(spec, pixels, self.colorizer, network_input, model_ab, frame_size, index, image_size)
        self.found.colours[index] = colour
        self.found.matchers[index] = Matcher(Reference(lightness, colour, model_ab, str(spec), features))
        self._carry_backwards(index, lightness, colour)
        self._new_shot()
        return not self.pending

    def _new_shot(self) -> None:
        self.shot = []
        if self.shot_lightness is not None:
            self.shot_lightness.clear()

    def _carry_backwards(self, key: int, lightness: np.ndarray, colour: np.ndarray) -> None:
        """The key frame's colour through the frames before it in its shot (since the last cut or key frame),
        latest first."""
        motion = Motion()
        motion(lightness)
        ab, confidence = colour, np.ones(lightness.shape, np.float32)
        store = self.carried.setdefault(lightness.shape, DiskFrames(self.folder.name, (3, *lightness.shape)))
        for row in reversed(range(len(self.shot))):
            frame_l = self.shot_lightness[row].astype(np.float32) / 2.55
            warp = motion(frame_l)
            if warp is None:  # cannot happen within a shot, unless the lightness is unreadable: stop carrying
                break
            ab, confidence = carry(ab, confidence, frame_l, warp)
            compact_ab, compact_confidence = _compact(ab, confidence)
            kept = store.append(np.concatenate([compact_ab.view(np.uint8), compact_confidence[None]]))
            self.found.backward[self.shot[row]] = (key, store, kept)

    def finish(self) -> KeyFrames:
        """After the last frame fed: key frames that name no frame of the video are an error, naming them."""
        if self.pending:
            names = ", ".join(str(spec) for spec in self.pending)
            raise KeyFrameError(
                f"{self.video}: {names}: beyond the video's end (it has {self.frames} frames, 0 to {self.frames - 1}, "
                f"the last at {self.last_seconds:.2f} s)"
            )
        self.found.folder = self.folder  # the carried colour's files live as long as what the second pass reads
        return self.found


def _reduced(pixels: np.ndarray, size: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    """A key frame image kept at most at the working size (its colour is read there), with its own (width, height)
    for the aspect check."""
    height, width = pixels.shape[:2]
    if size is None or max(height, width) <= size:
        return pixels, (width, height)
    scale = size / max(height, width)
    small = Image.fromarray(pixels).resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BOX)
    return np.asarray(small), (width, height)
