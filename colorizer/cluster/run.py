"""`colorizer colorize SRC... --out DST --engine ray`: the driver of a cluster run, on Ray Data.

The driver lists the sources folder by folder and hands them to Ray in blocks of rows (one row per input: which root,
its path below it, its own hints file), so neither the listing nor any photo is ever held whole on the driver. Ray Data
streams the blocks through a pool of actors (`worker.ColorizeWorker`, one model copy each) and streams back one
manifest row per input, which the driver writes under DST/_manifest/ as it goes. Ray does the scheduling, retries and
backpressure; this module only says what to do.

A rerun with the same settings skips what the manifest says was written and finishes the rest; an output that was
written but not yet recorded when the driver stopped is recognised by its time (after the run's marker) and counted,
not written again.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import math
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from colorizer.cluster import manifest
from colorizer.cluster.storage import Location, StorageError, info, is_uri, locate, read_bytes, walk
from colorizer.cluster.worker import ColorizeWorker, WorkerSettings
from colorizer.images import IMAGE_EXTENSIONS
from colorizer.inference.alike import sidecar_path
from colorizer.inference.batch import output_format, output_name
from colorizer.inference.keyframes import KeyFrameError, KeyFrameSpec
from colorizer.inference.options import ColorizeOptions
from colorizer.inference.session import BUNDLED_MODEL, ModelSession, model_source
from colorizer.inference.video import VIDEO_EXTENSIONS, is_video
from colorizer.progress import progress_bar
from colorizer.sources import entry_problem, is_inside, real, same_place

MEDIA = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
HINTS_SUFFIX = ".hints.json"
BLOCK_ROWS = 64  # inputs per block handed to Ray: the unit a task (and a retry) covers
ROWS_PER_CALL = 16  # inputs per call of a worker (its manifest rows come back per call)
MAX_FAILURES_KEPT = 1000  # failures listed in the summary (all of them are in the manifest)
COLUMNS = ("root", "relative", "hints", "problem")


class ClusterError(Exception):
    """The run cannot start as asked (no Ray, a bad destination, --out is an input folder...); nothing was written."""


@dataclass
class ClusterSummary:
    written: int = 0
    exists: int = 0
    done_before: int = 0  # recorded as written by an earlier run with the same settings: not looked at again
    failed: list[dict] = field(default_factory=list)
    failures: int = 0
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    manifest: str = ""

    @property
    def total(self) -> int:
        return self.written + self.exists + self.done_before + self.failures

    def fail(self, source: str, reason: str) -> None:
        self.failures += 1
        if len(self.failed) < MAX_FAILURES_KEPT:
            self.failed.append({"source": source, "reason": reason})


def colorize_dataset(
    inputs: list[str],
    out: str,
    options: ColorizeOptions | None = None,
    *,
    model: str | Path | None = None,
    device: str = "cpu",
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1,
    **settings,
) -> ClusterSummary:
    """Colourise every photo and video below `inputs` (folders, files, local globs; local paths or URIs such as
    s3://bucket/scans/) into `out` (a folder or URI) on a Ray cluster: the one at `address`, the one this process is
    already connected to, else a local one started here. Same rules and same pixels as `colorize_paths`, as
    `options` say (or the same settings as keywords: `ColorizeOptions`' fields; a bad one is a ClusterError).

    workers: model copies (Ray actors; default: the cluster's CPUs / cpus_per_worker, or its GPUs with
    device="cuda"); cpus_per_worker: CPUs each reserves, and ONNX Runtime's threads in it."""
    try:
        options = ColorizeOptions(**settings) if options is None else options.replace(**settings)
    except (TypeError, ValueError) as err:
        raise ClusterError(str(err)) from None
    if options.frames:
        raise ClusterError("frames (--frame) writes a few frames for the page: run it with the local engine")
    try:
        import ray
    except ImportError as err:
        extra = "pip install 'photo-colorizer[cluster]'"
        raise ClusterError(f"--engine ray needs the cluster extra ({extra}): {err}") from None
    summary = ClusterSummary()
    _check_engine_numbers(workers, cpus_per_worker)
    try:
        destination = locate(out)
        if destination.is_local and os.path.exists(destination.path) and not os.path.isdir(destination.path):
            raise ClusterError(f"--out {out} is a file, not a folder: choose a folder for the outputs")
        settings, fingerprint = _settings(model, device, options, cpus_per_worker, destination)
        roots, singles = _roots(inputs, destination, summary)
        settings.roots = [root for root, _ in roots]
        protected = _protected(options.hints_file, options.reference, options.key_frames)
    except StorageError as err:
        raise ClusterError(str(err)) from None
    if not roots:
        return summary  # nothing to colourise (each input named among the failures): no cluster started for it
    settings.run = manifest.settings_key(fingerprint)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(manifest.lock(destination))  # one run per destination, before anything is written
        except StorageError as err:
            raise ClusterError(str(err)) from None
        started_here = not ray.is_initialized()
        stop = stack.enter_context(_StopOnInterrupt())  # Ctrl-C from here on, Ray's start-up included
        try:
            if started_here:  # a Ctrl-C while Ray starts is held until it has (interrupted, its exit segfaults)
                with stop.held():
                    ray.init(address=address, logging_level="WARNING", configure_logging=True, log_to_driver=True)
            if stop.asked:
                summary.interrupted = True
                return summary
            workers = _fit_to_cluster(ray, device, workers, cpus_per_worker)
            logging.getLogger("ray.data").setLevel(logging.WARNING)  # not a line per dataset run
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False
            context.print_on_execution_start = False
            context.enable_auto_log_stats = False
            settings.marker, continued = manifest.begin(destination, settings.run, fingerprint)
            if continued:
                summary.notes.append("goes on with an earlier run of these settings (its record: DST/_manifest/)")
            done, bad_lines = manifest.read_done(destination, settings.run)
            if bad_lines:
                summary.notes.append(
                    f"{bad_lines} line(s) of {manifest.folder(destination).uri} are not manifest rows (edited by "
                    "hand?): ignored"
                )
            summary.manifest = manifest.folder(destination).uri
            if destination.is_local and len(ray.nodes()) == 1:
                from colorizer.atomic import remove_stale_temporaries

                for stale in remove_stale_temporaries(Path(destination.path)):
                    summary.notes.append(f"removed {stale}, left by an earlier run that was killed")
            listing = _blocks(roots, singles, destination, options.fmt, protected, done, workers, summary, ray)
            _execute(ray, settings, *listing, workers, cpus_per_worker, device, options.progress, summary, stop)
        except StorageError as err:
            raise ClusterError(str(err)) from None
        finally:
            if started_here and ray.is_initialized():
                ray.shutdown()
    return summary


def _check_engine_numbers(workers, cpus_per_worker) -> None:
    """The cluster's own numbers, checked before anything starts (the colour settings are checked with the rest)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ClusterError(
            f"workers must be a whole number >= 1 (or None: as many as the cluster fits), not {workers!r}"
        )
    number = isinstance(cpus_per_worker, (int, float)) and not isinstance(cpus_per_worker, bool)
    if not number or not math.isfinite(cpus_per_worker) or cpus_per_worker <= 0:
        raise ClusterError(f"cpus_per_worker must be a number > 0, not {cpus_per_worker!r}")


def _fit_to_cluster(ray, device: str, workers: int | None, cpus_per_worker: float) -> int:
    """The number of workers, after checking that one of them fits a node of the cluster: Ray would otherwise wait
    for resources that never come."""
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive", True)]
    most_cpus = max((node.get("CPU", 0) for node in nodes), default=0)
    if cpus_per_worker > most_cpus:
        raise ClusterError(
            f"--cpus-per-worker {cpus_per_worker:g}: no node of the cluster has that many CPUs (the largest has "
            f"{most_cpus:g}); ask for at most {most_cpus:g}"
        )
    gpus = sum(node.get("GPU", 0) for node in nodes)
    if device == "cuda" and gpus < 1:
        raise ClusterError("--device cuda: the cluster has no GPU; use --device cpu, or a cluster with GPUs")
    if workers is None:
        cpus = sum(node.get("CPU", 0) for node in nodes)
        workers = int(gpus) if device == "cuda" else int(cpus // cpus_per_worker)
    return max(1, workers)


def _settings(
    model, device: str, options: ColorizeOptions, cpus_per_worker: float, destination: Location
) -> tuple[WorkerSettings, dict]:
    """The actors' settings (small files read here, once) and the fingerprint of everything that decides the
    pixels (the manifest's settings key: `options.pixel_settings()`, with files by their content)."""
    import colorizer.training  # noqa: F401  registers the on-the-fly export of checkpoints (no torch until used)
    from colorizer.inference.photos import Colorizer

    path = BUNDLED_MODEL if model is None else Path(model)
    source = model_source(path)  # ModelError names a missing or bad model
    model_bytes = source.read_bytes() if isinstance(source, Path) else source
    checked = Colorizer(
        ModelSession(source, str(path), "cpu", threads=1)
    )  # it opens; its working size (not exported twice)
    options = options.replace(size=options.size or checked.working_size)
    settings = WorkerSettings(
        roots=[],
        destination=destination,
        marker=destination,
        run="",
        model=None if model is None else model_bytes,
        model_name=str(path),
        device=device,
        threads=max(1, math.floor(cpus_per_worker)),
        options=options,
    )
    hints_file, reference, key_frames = options.hints_file, options.reference, options.key_frames
    sidecar = sidecar_path(path)
    if model is not None and sidecar.is_file():  # what hints reach, learned for this model: part of its pixels
        settings.alike = sidecar.read_bytes()
    if hints_file is not None:
        settings.hints, settings.hints_name = read_bytes(locate(hints_file)), str(hints_file)
    if reference is not None:
        from colorizer.images import ImageReadError, read_photo
        from colorizer.inference.photos import ReferenceError

        settings.reference, settings.reference_name = read_bytes(locate(reference)), str(reference)
        try:  # checked here, before any work: a bad reference stops the run
            photo = read_photo(Path(str(reference)), data=settings.reference)
            checked.reference(photo, options.size, f"reference {reference}")
        except ImageReadError as err:
            raise ClusterError(f"reference {reference}: {err}") from None
        except ReferenceError as err:
            raise ClusterError(str(err)) from None
    try:
        for spec in KeyFrameSpec.from_mapping(key_frames or []):
            if not is_uri(str(spec.source)):
                spec.check_readable()
            data = read_bytes(locate(str(spec.source)))
            settings.key_frames.append((str(spec.frame), spec.source.name, data))
    except KeyFrameError as err:
        raise ClusterError(str(err)) from None

    def digest(data: bytes | None) -> str | None:
        return None if data is None else hashlib.sha256(data).hexdigest()

    files = {"hints_file", "reference", "key_frames"}  # by their content, below, not by their names
    fingerprint = {
        **{key: value for key, value in options.pixel_settings().items() if key not in files},
        "model": digest(model_bytes),
        "alike": digest(settings.alike if model is not None else _bundled_alike()),
        "hints": digest(settings.hints),
        "reference": digest(settings.reference),
        "key_frames": [(frame, digest(data)) for frame, _, data in settings.key_frames],
    }
    return settings, fingerprint


def _bundled_alike() -> bytes | None:
    sidecar = sidecar_path(BUNDLED_MODEL)
    return sidecar.read_bytes() if sidecar.is_file() else None


def _roots(inputs: list[str], destination: Location, summary: ClusterSummary) -> tuple[list, list]:
    """The input folders [(location, is a folder)] and single files [(root index, name)]: a file's root is its
    folder. A local glob stands for the files it matches."""
    roots: list[tuple[Location, bool]] = []
    singles: list[tuple[int, str]] = []
    index: dict[str, int] = {}

    def root_of(location: Location, folder: bool) -> int:
        key = f"{location.uri}|{folder}"
        if key not in index:
            index[key] = len(roots)
            roots.append((location, folder))
        return index[key]

    def add_file(location: Location) -> None:
        name = PurePosixPath(location.path).name
        parent = Location(location.fs, str(PurePosixPath(location.path).parent), location.uri[: -len(name)] or ".")
        singles.append((root_of(parent, False), name))

    for spec in inputs:
        spec = str(spec)
        if not is_uri(spec) and any(c in spec for c in "*?["):
            matches = sorted(glob.glob(spec, recursive=True))
            files = [m for m in matches if Path(m).is_file() and m.lower().endswith(MEDIA)]
            for match in files:
                add_file(locate(match))
            if not matches:
                summary.fail(spec, "no file matches this pattern")
            continue
        location = locate(spec)
        kind = info(location).type.name
        both_local = location.is_local and destination.is_local
        if kind == "Directory":
            same_fs = location.fs.equals(destination.fs)
            if (both_local and same_place(location.path, destination.path)) or (
                same_fs and location.path.rstrip("/") == destination.path.rstrip("/")
            ):
                raise ClusterError(
                    f"--out {destination.uri} is the input folder {spec}: outputs would be written among the sources; "
                    "choose another folder"
                )
            if (both_local and is_inside(destination.path, location.path)) or (
                same_fs and destination.path.startswith(location.path.rstrip("/") + "/")
            ):
                summary.notes.append(f"{destination.uri} is inside the input folder {spec}: it is not searched")
            root_of(location, True)
        elif kind == "File" and (not location.is_local or entry_problem(location.path) is None):
            add_file(location)
        elif location.is_local and os.path.islink(location.path):
            summary.fail(spec, entry_problem(location.path) or "cannot be read")
        else:
            summary.fail(spec, "no such file or folder")
    return roots, singles


def _protected(hints_file, reference, key_frames) -> set[tuple[str, str]]:
    """(filesystem type, path) of the files a run reads besides its sources: never written to."""
    files = [hints_file, reference] + [str(spec.source) for spec in KeyFrameSpec.from_mapping(key_frames or [])]
    protected = set()
    for file in files:
        if file is not None:
            location = locate(str(file))
            protected.add((location.fs.type_name, location.path))
    return protected


def _listing(roots, singles, destination, summary) -> Iterator[tuple[int, str, str]]:
    """(root index, path below it, its own hints file or "") of every photo and video, folder by folder; photos and
    videos that cannot be read (dangling links, link loops, devices) are failures, folders reached twice notes."""

    def problem(path: str, reason: str) -> None:
        if path.lower().endswith(MEDIA):
            summary.fail(path, reason)
        elif os.path.isdir(path):
            summary.notes.append(f"{path}: {reason}")

    for number, (root, is_folder) in enumerate(roots):
        if not is_folder:
            continue
        for folder, names in walk(root, exclude=destination, on_problem=problem):
            present = set(names)
            for name in names:
                if not name.lower().endswith(MEDIA):
                    continue
                sidecar = f"{PurePosixPath(name).stem}{HINTS_SUFFIX}"
                below = f"{folder}/" if folder else ""
                yield number, below + name, below + sidecar if sidecar in present and not is_video(name) else ""
    for number, name in singles:
        sidecar = f"{PurePosixPath(name).stem}{HINTS_SUFFIX}"
        root = roots[number][0]
        there = not is_video(name) and info(root.child(sidecar)).type.name == "File"
        yield number, name, sidecar if there else ""


class SourceGuard:
    """The source-protection rule of `colorizer.sources` for a listing streamed folder by folder (no set of every
    source is held): an output on a local disk is refused when its real path is its source's, a single file named as
    an input, or an existing file inside an input folder that the walk went through: a source, however spelled."""

    def __init__(self, roots, singles, destination: Location):
        self.local = destination.is_local
        self.destination = real(destination.path) if self.local else ""
        self.folders = [real(root.path) for root, is_folder in roots if is_folder and root.is_local]
        self.singles = {
            real(roots[number][0].child(name).path) for number, name in singles if roots[number][0].is_local
        }

    def writes_over_source(self, output: Location, source: Location) -> str:
        if not self.local:
            return ""
        target = real(output.path)
        if source.is_local and target == real(source.path):
            return f"its output {output.uri} is the source itself (through a link): sources are never modified"
        if target in self.singles:
            return f"its output {output.uri} is another input: sources are never modified"
        for folder in self.folders:  # a destination inside an input folder is left out of its walk: no source there
            inside = target.startswith(folder.rstrip(os.sep) + os.sep)
            walked = not is_inside(self.destination, folder)
            if inside and walked and os.path.lexists(target):
                return f"its output {output.uri} is a file of an input folder: sources are never modified"
        return ""


def _blocks(roots, singles, destination, fmt, protected, done, workers, summary, ray) -> tuple[list, list, int, int]:
    """The listing as Ray object refs of Arrow tables (photos, videos), each put in Ray's object store as soon as it
    is full: the driver holds one block, not the listing. Inputs done before are left out; inputs whose output would
    replace a source or a protected file go in with the problem, to be recorded as failed."""
    import pyarrow as pa

    photos: list = []
    videos: list = []
    claimed: set[str] = set()
    first: list[tuple] = []  # the first rows, held until it is known whether the listing is short
    block_rows = BLOCK_ROWS
    sizing = True

    def put(rows_of_block: list[tuple], to: list) -> None:
        columns = list(zip(*rows_of_block, strict=True))
        types = [pa.int32(), pa.string(), pa.string(), pa.string()]
        table = pa.table([pa.array(list(values), kind) for values, kind in zip(columns, types, strict=True)], COLUMNS)
        to.append(ray.put(table))

    pending: list[tuple] = []
    count = 0
    guard = SourceGuard(roots, singles, destination)
    for number, relative, hints in _listing(roots, singles, destination, summary):
        root = roots[number][0]
        source = root.child(relative)
        output = destination.child(output_name(Path(relative), output_format(relative, fmt, False)).as_posix())
        if done.get(source.uri) == output.uri and info(output).type.name == "File":
            summary.done_before += 1  # this run's settings wrote it last, and it is there
            continue
        problem = ""
        if output.fs.equals(source.fs) and output.path == source.path:
            problem = "its output would replace it: sources are never modified"
        elif guard.writes_over_source(output, source):
            problem = guard.writes_over_source(output, source)
        elif (output.fs.type_name, output.path) in protected:
            problem = f"its output {output.uri} would replace a file this run reads: never modified"
        elif output.path in claimed:
            problem = f"another input also writes {output.uri}"
        claimed.add(output.path)
        if len(claimed) > 100_000 and len(roots) == 1:
            claimed.clear()  # one root: outputs mirror its paths, so only names in one folder can collide
        row = (number, relative, hints, problem)
        count += 1
        if is_video(relative):
            put([row], videos)
            continue
        if sizing:
            first.append(row)
            if len(first) >= BLOCK_ROWS * workers * 4:
                sizing, pending = False, first
            continue
        pending.append(row)
        if len(pending) >= block_rows:
            put(pending, photos)
            pending = []
    if sizing:  # a short listing: blocks small enough that every worker gets several
        block_rows = max(1, math.ceil(len(first) / (workers * 4)))
        pending = first
    for start in range(0, len(pending), block_rows):
        put(pending[start : start + block_rows], photos)
    return photos, videos, count, block_rows


def _execute(
    ray, settings, photos, videos, total, block_rows, workers, cpus_per_worker, device, progress, summary, stop
):  # fmt: skip
    """Photos, then videos (one a task), through actor pools; manifest rows written as they come back."""

    writer = manifest.ManifestWriter(settings.destination)
    gpus = 1 if device == "cuda" else 0
    # a call never spans blocks: Ray would bundle small blocks into one task, and one actor would get them all
    stages = [(photos, min(ROWS_PER_CALL, block_rows)), (videos, 1)]
    bar = progress_bar(total=total, desc="colourising", unit="file", disable=not progress or not total)
    try:
        for refs, rows_per_call in stages:
            if not refs or stop.asked:
                continue
            dataset = ray.data.from_arrow_refs(refs).map_batches(
                ColorizeWorker,
                fn_constructor_kwargs={"settings": settings},
                batch_size=rows_per_call,
                batch_format="numpy",
                # two tasks queued per actor: no gap between tasks, and a late actor still gets its share
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(refs)), max_tasks_in_flight_per_actor=2),
                num_cpus=cpus_per_worker,
                num_gpus=gpus,
            )
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                rows = [{key: _plain(batch[key][i]) for key in batch} for i in range(len(batch["source"]))]
                writer.add(rows)
                for row in rows:
                    if row["status"] == "written":
                        summary.written += 1
                    elif row["status"] == "exists":
                        summary.exists += 1
                    else:
                        summary.fail(row["source"], row["error"])
                bar.update(len(rows))
                if stop.asked:  # Ctrl-C seen, even where Ray's own waiting swallowed the KeyboardInterrupt
                    break
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.interrupted = summary.interrupted or stop.asked
        bar.close()
        writer.close()


class _StopOnInterrupt:
    """Ctrl-C during a run: remembered (and raised as KeyboardInterrupt, as Python does), so that the run stops at
    the next batch and says so however Ray's waiting handled the exception."""

    def __init__(self):
        self.asked = False
        self.previous = None
        self.holding = False

    def _handler(self, signum, frame):
        self.asked = True
        if not self.holding:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self):
        """Within: a Ctrl-C is only remembered (for code that must not be interrupted half way, as Ray's start-up)."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> bool:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        if exc[0] is KeyboardInterrupt:
            self.asked = True
        return False


def _plain(value):
    """A NumPy scalar from a batch -> the Python value (for JSON)."""
    return value.item() if hasattr(value, "item") else value
