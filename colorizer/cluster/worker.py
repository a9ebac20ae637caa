"""What runs inside each Ray actor: one model copy, and photos in, manifest rows out.

`ColorizeWorker` is the callable class given to `ray.data.Dataset.map_batches`. Ray makes one per actor, so the ONNX
model is loaded once per actor, with ONNX Runtime's threads set to the actor's CPUs. Each call gets a batch of rows
(one per input: its root folder, its path below it, its own hints file if any) and returns one manifest row per
input; every failure is a row with its reason, never an exception, so one bad photo costs only itself.

The rules are the local engine's (`inference/batch.py`): photos are read and decoded in threads around the network,
photos of one working size share a network batch, each output (and its comparison figure, first) appears whole or not
at all, an existing output is kept unless `overwrite`. An output that appeared after this run began was written by an
earlier attempt of it (a retried task, a rerun after Ctrl-C): it is counted as written, not written again.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from colorizer.cluster.storage import Location, StorageError, info, local_copy, publish, read_bytes
from colorizer.figures import save_comparison
from colorizer.images import ImageReadError, Photo, atomic_save, read_photo
from colorizer.inference.alike import sidecar_path
from colorizer.inference.batch import output_format, output_name
from colorizer.inference.color import gray_preview
from colorizer.inference.formats import SAVE_OPTIONS, size_problem
from colorizer.inference.hints import HintError, parse_hints
from colorizer.inference.options import ColorizeOptions
from colorizer.inference.photos import Colorizer, ReferenceError, with_alpha
from colorizer.inference.pipeline import Prediction, finish, predictions
from colorizer.inference.video import VideoError, colorize_video, is_video

THREADS = 4  # photos read, decoded, encoded and written at once around the network, per actor


@dataclass
class WorkerSettings:
    """Everything an actor needs, pickled once to every actor: small files travel as bytes (an actor may be on
    another machine), sources and the destination as `Location`s."""

    roots: list[Location]
    destination: Location
    marker: Location  # written when the run began: outputs newer than it are this run's
    run: str  # the settings key (`manifest.settings_key`)
    model: bytes | None = None  # ONNX bytes; None: the bundled model
    model_name: str = "the bundled model"
    device: str = "cpu"
    threads: int | None = None
    options: ColorizeOptions = field(default_factory=ColorizeOptions)  # the colour settings, as the local engine's
    hints: bytes | None = None  # --hints: for every photo without its own NAME.hints.json
    hints_name: str = ""
    reference: bytes | None = None
    reference_name: str = ""
    alike: bytes | None = None  # the model's learned "alike" (MODEL.alike.json), travelling with it
    key_frames: list[tuple[str, str, bytes]] = field(default_factory=list)  # (frame, file name, bytes)


@dataclass
class _Item:
    """One input on its way through an actor."""

    row: dict
    source: Location
    output: Location
    started: float
    photo: Photo | None = None
    hints: list = field(default_factory=list)
    fmt: str = "png"
    result: dict | None = None


class ColorizeWorker:
    """Ray Data's callable class: `__init__` once per actor, `__call__` per batch of rows."""

    def __init__(self, settings: WorkerSettings):
        self.settings = settings
        self.colorizer = Colorizer.load(
            self._model_path(settings),
            device=settings.device,
            temperature=settings.options.temperature,
            chroma_boost=settings.options.chroma_boost,
            threads=settings.threads,
        )
        self.size = settings.options.size or self.colorizer.working_size
        self.reference = None
        if settings.reference is not None:
            photo = read_photo(Path(settings.reference_name), data=settings.reference)
            self.reference = self.colorizer.reference(photo, self.size, f"reference {settings.reference_name}")
        self.key_frames = self._materialise_key_frames(settings.key_frames)
        self.marker_time = info(settings.marker).mtime_ns
        self.pool = ThreadPoolExecutor(THREADS, "colorizer-io")
        try:
            import ray

            self.node = ray.get_runtime_context().get_node_id()
        except Exception:  # outside Ray (a test calling the worker directly)
            self.node = os.uname().nodename

    def _model_path(self, settings: WorkerSettings) -> Path | None:
        if settings.model is None:
            return None
        self._model_folder = tempfile.TemporaryDirectory(prefix="colorizer-model-")
        path = Path(self._model_folder.name) / "model.onnx"
        path.write_bytes(settings.model)
        if settings.alike is not None:  # beside the model, as the local engine finds it (tied to the same SHA-256)
            sidecar_path(path).write_bytes(settings.alike)
        return path

    def _materialise_key_frames(self, key_frames: list[tuple[str, str, bytes]]) -> list[str]:
        """Key-frame files as local files of this actor: ["FRAME=PATH", ...] as the video pipeline takes them."""
        if not key_frames:
            return []
        self._key_folder = tempfile.TemporaryDirectory(prefix="colorizer-keys-")
        specs = []
        for number, (frame, name, data) in enumerate(key_frames):
            path = Path(self._key_folder.name) / f"{number}-{PurePosixPath(name).name}"
            path.write_bytes(data)
            specs.append(f"{frame}={path}")
        return specs

    # -- one batch -------------------------------------------------------------------------------------------------

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [{key: batch[key][i] for key in batch} for i in range(len(batch["relative"]))]
        items = [self._item(row) for row in rows]
        photos = [item for item in items if item.result is None and not is_video(item.row["relative"])]
        for item in items:
            if item.result is None and is_video(item.row["relative"]):
                self._video(item)
        if photos:
            self._photos(photos)
        return {key: np.array([item.result[key] for item in items]) for key in items[0].result}

    def _item(self, row: dict) -> _Item:
        settings = self.settings
        relative = str(row["relative"])
        source = settings.roots[int(row["root"])].child(relative)
        fmt = output_format(relative, settings.options.fmt, has_alpha=False)
        output = settings.destination.child(output_name(Path(relative), fmt).as_posix())
        item = _Item(dict(row), source, output, time.perf_counter(), fmt=fmt)
        if row.get("problem"):  # found wrong on the driver (e.g. its output would replace a source)
            self._done(item, "failed", error=str(row["problem"]))
        return item

    def _done(self, item: _Item, status: str, size: int = 0, error: str = "", output: Location | None = None) -> None:
        item.result = {
            "source": item.source.uri,
            "output": (output or item.output).uri,
            "status": status,
            "bytes": int(size),
            "error": error,
            "seconds": round(time.perf_counter() - item.started, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "node": self.node,
            "run": self.settings.run,
        }

    def _already_there(self, item: _Item, output: Location) -> bool:
        """Settles an input whose output exists: this run's (an earlier attempt) counts as written; an older one is
        kept unless overwrite. True when settled."""
        try:
            found = info(output)
        except StorageError as err:
            self._done(item, "failed", error=str(err), output=output)
            return True
        if found.type.name != "File":
            return False
        if found.mtime_ns is not None and found.mtime_ns >= self.marker_time:
            self._done(item, "written", found.size or 0, "written by an earlier attempt of this run", output)
            return True
        if not self.settings.options.overwrite:
            self._done(item, "exists", error="exists (pass --overwrite to replace it)", output=output)
            return True
        return False

    # -- photos ----------------------------------------------------------------------------------------------------

    def _photos(self, items: list[_Item]) -> None:
        items = [item for item in items if not self._already_there(item, item.output)]
        reads = [(item, self.pool.submit(self._read, item)) for item in items]  # decoded while the network runs
        readable = ((item, item.photo.pixels, item.hints) for item, read in reads if read.result())
        options = self.settings.options
        stream = predictions(self.colorizer, readable, self.size, options.batch_size, self.reference is not None)
        writes = [self.pool.submit(self._write, prediction) for prediction in stream]
        for write in writes:
            write.result()

    def _read(self, item: _Item) -> bool:
        """Reads, decodes and finds the hints of one photo; False (and a failed row) when it cannot."""
        settings = self.settings
        try:
            item.photo = read_photo(Path(item.source.path), data=read_bytes(item.source))
            width, height = item.photo.size
            own = str(item.row.get("hints") or "")
            if own:
                hints_at = settings.roots[int(item.row["root"])].child(own)
                item.hints = self._hints(read_bytes(hints_at), hints_at.uri, width, height)
            elif settings.hints is not None:
                item.hints = self._hints(settings.hints, settings.hints_name, width, height)
        except (ImageReadError, StorageError, HintError, OSError) as err:
            self._done(item, "failed", error=str(err))
            return False
        item.fmt = output_format(item.row["relative"], settings.options.fmt, item.photo.alpha is not None)
        if item.fmt != output_format(
            item.row["relative"], settings.options.fmt, False
        ):  # alpha: PNG where fmt can't hold it
            item.output = settings.destination.child(output_name(Path(item.row["relative"]), item.fmt).as_posix())
            if self._already_there(item, item.output):
                return False
        problem = size_problem(item.fmt, *item.photo.size)
        if problem:
            self._done(item, "failed", error=f"cannot write {item.output.uri}: {problem}")
            return False
        return True

    def _hints(self, data: bytes, name: str, width: int, height: int) -> list:
        try:
            return parse_hints(data, width, height)
        except HintError as err:
            raise HintError(f"{name}: {err}") from None

    def _write(self, prediction: Prediction) -> None:
        item: _Item = prediction.key
        settings, photo = self.settings, item.photo
        try:
            options = settings.options
            coloured = finish(self.colorizer, prediction, options.saturation, options.reach, self.reference)
            if settings.options.compare:  # before the output: an output that exists means its figure does too
                figure = item.output.sibling(f"{PurePosixPath(item.output.path).stem}_compare.png")
                rows = [[photo.rgb, gray_preview(photo.pixels), coloured]]
                publish(figure, lambda path: save_comparison(rows, path))
            image = with_alpha(coloured, photo.alpha)
            fmt = item.fmt
            size = publish(item.output, lambda path: atomic_save(image, path, fmt.upper(), **SAVE_OPTIONS[fmt]))
        except (StorageError, ReferenceError, OSError, ValueError) as err:
            self._done(item, "failed", error=f"could not write {item.output.uri}: {err}")
            return
        self._done(item, "written", size)

    # -- videos ----------------------------------------------------------------------------------------------------

    def _video(self, item: _Item) -> None:
        """One video through the video pipeline, start to end, in this actor (downloaded first if remote)."""
        if self._already_there(item, item.output):
            return
        settings = self.settings
        write: Callable[[Path], object]
        try:
            with local_copy(item.source) as local:

                def write(path: Path) -> None:
                    colorize_video(
                        self.colorizer,
                        local,
                        path,
                        self.size,
                        settings.options.smoothing,
                        overwrite=True,  # the destination was checked above; here it is this task's own file
                        progress=False,
                        keep_partial=settings.options.keep_partial,
                        key_frames=self.key_frames,
                    )

                size = publish(item.output, write)
        except (VideoError, StorageError, ImportError, OSError) as err:
            self._done(item, "failed", error=str(err).removeprefix(f"{item.source.path}: "))
            return
        self._done(item, "written", size)
