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

import glob
import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from colorizer.cluster import manifest
from colorizer.cluster.storage import Location, StorageError, info, is_uri, locate, read_bytes, walk
from colorizer.cluster.worker import ColorizeWorker, WorkerSettings
from colorizer.images import IMAGE_EXTENSIONS
from colorizer.inference.batch import output_format, output_name
from colorizer.inference.keyframes import KeyFrameError, KeyFrameSpec
from colorizer.inference.session import BUNDLED_MODEL, ModelSession, model_source
from colorizer.inference.temporal import DEFAULT_SMOOTHING
from colorizer.inference.video import VIDEO_EXTENSIONS, is_video
from colorizer.progress import progress_bar

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
    *,
    model: str | Path | None = None,
    device: str = "cpu",
    temperature: float | None = None,
    chroma_boost: float | None = None,
    size: int | None = None,
    fmt: str | None = None,
    compare: bool = False,
    overwrite: bool = False,
    batch_size: int = 4,
    hints_file: str | Path | None = None,
    saturation: float = 1.0,
    reach: float | None = None,
    reference: str | Path | None = None,
    key_frames: list[str] | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
    keep_partial: bool = False,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1,
    progress: bool = True,
) -> ClusterSummary:
    """Colourise every photo and video below `inputs` (folders, files, local globs; local paths or URIs such as
    s3://bucket/scans/) into `out` (a folder or URI) on a Ray cluster: the one at `address`, the one this process is
    already connected to, else a local one started here. Same rules and same pixels as `colorize_paths`.

    workers: model copies (Ray actors; default: the cluster's CPUs / cpus_per_worker, or its GPUs with
    device="cuda"); cpus_per_worker: CPUs each reserves, and ONNX Runtime's threads in it."""
    try:
        import ray
    except ImportError as err:
        extra = "pip install 'photo-colorizer[cluster]'"
        raise ClusterError(f"--engine ray needs the cluster extra ({extra}): {err}") from None
    summary = ClusterSummary()
    try:
        destination = locate(out)
        settings, fingerprint = _settings(
            model, device, temperature, chroma_boost, size, fmt, compare, overwrite, batch_size, hints_file,
            saturation, reach, reference, key_frames, smoothing, keep_partial, cpus_per_worker, destination,
        )  # fmt: skip
        roots, singles = _roots(inputs, destination, summary)
        settings.roots = [root for root, _ in roots]
        protected = _protected(hints_file, reference, key_frames)
    except StorageError as err:
        raise ClusterError(str(err)) from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, logging_level="WARNING", configure_logging=True, log_to_driver=True)
    try:
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # not a line per dataset run
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        context.enable_auto_log_stats = False
        resources = ray.cluster_resources()
        if workers is None:
            gpus, cpus = resources.get("GPU", 0), resources.get("CPU", 1)
            workers = int(gpus) if device == "cuda" else int(cpus // cpus_per_worker)
        workers = max(1, workers)
        settings.run = manifest.settings_key(fingerprint)
        settings.marker, continued = manifest.begin(destination, settings.run, fingerprint)
        if continued:
            summary.notes.append("goes on with an earlier run of these settings (its record: DST/_manifest/)")
        done = manifest.read_done(destination, settings.run)
        summary.manifest = manifest.folder(destination).uri
        if destination.is_local and len(ray.nodes()) == 1:
            from colorizer.atomic import remove_stale_temporaries

            for stale in remove_stale_temporaries(Path(destination.path)):
                summary.notes.append(f"removed {stale}, left by an earlier run that was killed")
        listing = _blocks(roots, singles, destination, settings.fmt, protected, done, workers, summary, ray)
        _execute(ray, settings, *listing, workers, cpus_per_worker, device, progress, summary)
    except StorageError as err:
        raise ClusterError(str(err)) from None
    finally:
        if started_here:
            ray.shutdown()
    return summary


def _settings(
    model, device, temperature, chroma_boost, size, fmt, compare, overwrite, batch_size, hints_file, saturation,
    reach, reference, key_frames, smoothing, keep_partial, cpus_per_worker, destination,
) -> tuple[WorkerSettings, dict]:  # fmt: skip
    """The actors' settings (small files read here, once) and the fingerprint of everything that decides the
    pixels (the manifest's settings key)."""
    import colorizer.training  # noqa: F401  registers the on-the-fly export of checkpoints (no torch until used)
    from colorizer.inference.photos import Colorizer

    path = BUNDLED_MODEL if model is None else Path(model)
    source = model_source(path)  # ModelError names a missing or bad model
    model_bytes = source.read_bytes() if isinstance(source, Path) else source
    checked = Colorizer(
        ModelSession(source, str(path), "cpu", threads=1)
    )  # it opens; its working size (not exported twice)
    settings = WorkerSettings(
        roots=[],
        destination=destination,
        marker=destination,
        run="",
        model=None if model is None else model_bytes,
        model_name=str(path),
        device=device,
        threads=max(1, math.floor(cpus_per_worker)),
        temperature=temperature,
        chroma_boost=chroma_boost,
        size=size or checked.working_size,
        fmt=fmt,
        compare=compare,
        overwrite=overwrite,
        batch_size=batch_size,
        saturation=saturation,
        reach=reach,
        smoothing=smoothing,
        keep_partial=keep_partial,
    )
    if hints_file is not None:
        settings.hints, settings.hints_name = read_bytes(locate(hints_file)), str(hints_file)
    if reference is not None:
        from colorizer.images import ImageReadError, read_photo
        from colorizer.inference.photos import ReferenceError

        settings.reference, settings.reference_name = read_bytes(locate(reference)), str(reference)
        try:  # checked here, before any work: a bad reference stops the run
            photo = read_photo(Path(str(reference)), data=settings.reference)
            checked.reference(photo, settings.size, f"reference {reference}")
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

    fingerprint = {
        "model": digest(model_bytes),
        "temperature": temperature,
        "chroma_boost": chroma_boost,
        "size": settings.size,
        "format": fmt,
        "compare": compare,
        "saturation": saturation,
        "reach": reach,
        "hints": digest(settings.hints),
        "reference": digest(settings.reference),
        "key_frames": [(frame, digest(data)) for frame, _, data in settings.key_frames],
        "smoothing": smoothing,
        "keep_partial": keep_partial,
    }
    return settings, fingerprint


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
        if kind == "Directory":
            same_fs = location.fs.equals(destination.fs)
            if same_fs and location.path.rstrip("/") == destination.path.rstrip("/"):
                raise ClusterError(
                    f"--out {destination.uri} is the input folder {spec}: outputs would be written among the sources; "
                    "choose another folder"
                )
            if same_fs and destination.path.startswith(location.path.rstrip("/") + "/"):
                summary.notes.append(f"{destination.uri} is inside the input folder {spec}: it is not searched")
            root_of(location, True)
        elif kind == "File":
            add_file(location)
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


def _listing(roots, singles, destination) -> Iterator[tuple[int, str, str]]:
    """(root index, path below it, its own hints file or "") of every photo and video, folder by folder."""
    for number, (root, is_folder) in enumerate(roots):
        if not is_folder:
            continue
        for folder, names in walk(root, exclude=destination):
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
    for number, relative, hints in _listing(roots, singles, destination):
        root = roots[number][0]
        source = root.child(relative)
        if source.uri in done:
            summary.done_before += 1
            continue
        output = destination.child(output_name(Path(relative), output_format(relative, fmt, False)).as_posix())
        problem = ""
        if output.fs.equals(source.fs) and output.path == source.path:
            problem = "its output would replace it: sources are never modified"
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


def _execute(ray, settings, photos, videos, total, block_rows, workers, cpus_per_worker, device, progress, summary):
    """Photos, then videos (one a task), through actor pools; manifest rows written as they come back."""

    writer = manifest.ManifestWriter(settings.destination)
    gpus = 1 if device == "cuda" else 0
    # a call never spans blocks: Ray would bundle small blocks into one task, and one actor would get them all
    stages = [(photos, min(ROWS_PER_CALL, block_rows)), (videos, 1)]
    bar = progress_bar(total=total, desc="colourising", unit="file", disable=not progress or not total)
    try:
        for refs, rows_per_call in stages:
            if not refs:
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
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
        writer.close()


def _plain(value):
    """A NumPy scalar from a batch -> the Python value (for JSON)."""
    return value.item() if hasattr(value, "item") else value
