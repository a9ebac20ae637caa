"""`colorizer colorize INPUT... --out DIR`: colourise photos and videos (files, folders and globs), mirroring
folders under DIR. Videos go through `video.py`, one after the other, after the photos.

Photos are decoded ahead in threads while the network runs; photos whose working size is the same go through the
network as one batch; outputs are recombined, encoded and written in threads behind it (Pillow, NumPy and ONNX
Runtime all release the GIL). Each output is written atomically; an existing output is never replaced without
--overwrite; a file that cannot be read is reported and the rest goes on.
"""

from __future__ import annotations

import functools
import glob
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colorizer.atomic import remove_stale_temporaries
from colorizer.figures import save_comparison
from colorizer.images import IMAGE_EXTENSIONS, ImageReadError, Photo, atomic_save, find_images, read_photo
from colorizer.inference.color import gray_preview
from colorizer.inference.formats import FORMAT_OF_SUFFIX, FORMATS, KEEPS_ALPHA, SAVE_OPTIONS, size_problem
from colorizer.inference.hints import HintError, hints_file_for, read_hints_file
from colorizer.inference.keyframes import FrameSpec, KeyFrameError, KeyFrameSpec
from colorizer.inference.options import ColorizeOptions
from colorizer.inference.photos import Colorizer, ReferenceError, with_alpha
from colorizer.inference.pipeline import Prediction, finish, predictions
from colorizer.inference.video import VIDEO_EXTENSIONS, VideoError, colorize_video, export_frames, is_video
from colorizer.progress import progress_bar
from colorizer.sources import entry_problem, is_inside, real, same_place

READ_AHEAD = 4  # photos decoded ahead of the network
WRITE_BEHIND = 4  # outputs being recombined and written behind it


@dataclass
class Job:
    source: Path
    relative: Path  # where the output goes under DIR (suffix from the source)


class BatchError(Exception):
    """The command cannot run as asked (e.g. --out is an input folder); nothing was written."""


@dataclass
class Summary:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know though nothing failed


def collect_jobs(inputs: list[str], out_dir: Path, summary: Summary) -> list[Job]:
    """Files, folders (recursive, DIR itself excluded, links followed, each real folder once) and globs -> jobs;
    names that match nothing, and files that cannot be read (dangling links, link loops, devices), are failures."""
    jobs = []
    media = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    for spec in inputs:
        path = Path(spec)
        if path.is_dir() and same_place(path, out_dir):
            raise BatchError(
                f"--out {out_dir} is the input folder {spec}: outputs would be written among the sources; choose "
                "another folder"
            )
        if path.is_dir() and is_inside(out_dir, path):
            summary.notes.append(f"{out_dir} is inside the input folder {spec}: it is not searched for photos")
        if path.is_dir():
            problems: list[tuple[Path, str]] = []
            found = find_images(path, exclude=out_dir, extensions=media, problems=problems)
            jobs += [Job(f, f.relative_to(path)) for f in found]
            for where, reason in problems:
                if os.path.isdir(where):
                    summary.notes.append(f"{where}: {reason}")
                else:
                    summary.failed.append({"source": str(where), "reason": reason})
        elif path.is_file():
            jobs.append(Job(path, Path(path.name)))
        elif any(c in spec for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]
            for match in (m for m in matches if m.suffix.lower() in media and not m.is_dir()):
                reason = entry_problem(match)
                if reason is None:
                    jobs.append(Job(match, Path(match.name)))
                else:
                    summary.failed.append({"source": str(match), "reason": reason})
            if not matches:
                summary.failed.append({"source": spec, "reason": "no file matches this pattern"})
        elif os.path.islink(path):
            summary.failed.append({"source": spec, "reason": entry_problem(path) or "cannot be read"})
        else:
            summary.failed.append({"source": spec, "reason": "no such file or folder"})
    return jobs


def output_format(name: str | Path, requested: str | None, has_alpha: bool) -> str:
    """The format a source named `name` is written in: MP4 for a video, else `requested`, else the source's own."""
    if is_video(name):
        return "mp4"
    fmt = requested or FORMAT_OF_SUFFIX.get(Path(name).suffix.lower(), "png")
    return "png" if has_alpha and fmt not in KEEPS_ALPHA else fmt  # alpha is kept: PNG where the format can't


def _read(job: Job) -> Photo | str:
    try:
        return read_photo(job.source)
    except (ImageReadError, OSError) as err:
        return str(err)


def read_ahead(pool: ThreadPoolExecutor, jobs: list[Job], ahead: int = READ_AHEAD) -> Iterator[tuple[Job, Photo | str]]:
    """(job, photo or the reason it could not be read), in order, decoding up to `ahead` photos in advance."""
    pending: deque[tuple[Job, Future]] = deque()
    for job in jobs:
        pending.append((job, pool.submit(_read, job)))
        if len(pending) > ahead:
            done_job, future = pending.popleft()
            yield done_job, future.result()
    while pending:
        done_job, future = pending.popleft()
        yield done_job, future.result()


def output_name(relative: Path, fmt: str) -> Path:
    """Where the output of the source at `relative` (below its input folder) goes below the output folder."""
    return relative.with_suffix(".mp4" if fmt == "mp4" else FORMATS[fmt])


def _destination(out_dir: Path, job: Job, fmt: str) -> Path:
    return out_dir / output_name(job.relative, fmt)


def colorize_paths(
    colorizer: Colorizer,
    inputs: list[str],
    out_dir: Path,
    options: ColorizeOptions | None = None,
    **settings,
) -> Summary:
    """Colourise every photo and video that `inputs` name into `out_dir`, as `options` say (or the same settings
    as keywords: `ColorizeOptions`' fields). Returns what was written, skipped and failed. A photo's own
    NAME.hints.json beside it gives its colour hints, else `options.hints_file` (if any).

    reference: a colour photo the photos take their colours from where their content matches (checked first: a bad
    one is a BatchError). key_frames: ["FRAME=IMAGE", ...] for the one video among the inputs. frames: ["120",
    "12.5s", ...]: instead of colourising the videos, write those frames of each as NAME.frame-N.png (coloured by
    the model alone), to colour on the page and bring back as key frames. size: the network's working size (longer
    side), by default the model's. A setting out of range is a BatchError naming it."""
    try:
        options = ColorizeOptions(**settings) if options is None else options.replace(**settings)
    except (TypeError, ValueError) as err:
        raise BatchError(str(err)) from None
    size, fmt, compare, overwrite = options.size, options.fmt, options.compare, options.overwrite
    batch_size, progress, smoothing, hints_file = (
        options.batch_size,
        options.progress,
        options.smoothing,
        options.hints_file,
    )
    saturation, keep_partial, reference = options.saturation, options.keep_partial, options.reference
    key_frames, frames, reach = options.key_frames, options.frames, options.reach
    out_dir, summary = Path(out_dir), Summary()
    size = size or colorizer.working_size
    jobs = collect_jobs(inputs, out_dir, summary)
    videos_named = [job for job in jobs if is_video(job.source)]
    if key_frames and len(videos_named) != 1:
        raise BatchError(f"--key-frame names frames of one video; the inputs hold {len(videos_named)} videos")
    if key_frames and frames:
        raise BatchError("--frame writes frames as the model colours them alone: give it without --key-frame")
    try:
        key_frames = KeyFrameSpec.from_mapping(key_frames or [])
        frames = [FrameSpec.parse(frame) for frame in frames or []]
        for spec in key_frames:
            spec.check_readable()
    except KeyFrameError as err:
        raise BatchError(str(err)) from None
    # Files the run reads besides its sources: never written to, whatever the flags (resolved: ./a.png, /x/a.png
    # and a symlink to it are one file).
    protected = {real(path): what for path, what in _read_only_files(hints_file, reference, key_frames)}
    sources = {real(job.source) for job in jobs}  # no output may land on any of them, its own or another's
    if reference is not None:
        try:
            reference = colorizer.reference(reference, size)
        except ReferenceError as err:
            raise BatchError(str(err)) from None
    if frames:
        return _write_frames(colorizer, videos_named, frames, out_dir, size, overwrite, progress, summary)
    for stale in remove_stale_temporaries(out_dir):
        summary.notes.append(f"removed {stale}, left by an earlier run that was killed")
    todo, claimed = [], set()
    for job in jobs:
        destination = _destination(out_dir, job, output_format(job.source, fmt, has_alpha=False))
        target = real(destination)
        if target == real(job.source):
            summary.failed.append(
                {"source": str(job.source), "reason": "its output would replace it: sources are never modified"}
            )
        elif target in sources:
            summary.failed.append(
                {"source": str(job.source), "reason": f"its output {destination} is another source: never modified"}
            )
        elif target in protected or target == real(hints_file_for(job.source)):
            what = protected.get(target, "its own hints file")
            summary.failed.append(
                {"source": str(job.source), "reason": f"its output {destination} would replace {what}: never modified"}
            )
        elif destination in claimed:
            summary.failed.append({"source": str(job.source), "reason": f"another input also writes {destination}"})
        elif destination.exists() and not overwrite:
            summary.skipped.append(f"{job.source}: {destination} exists (pass --overwrite to replace it)")
        else:
            claimed.add(destination)
            todo.append(job)
    videos = [job for job in todo if is_video(job.source)]
    todo = [job for job in todo if not is_video(job.source)]
    bar = progress_bar(total=len(todo), desc="colourising", unit="img", disable=not progress or not todo)
    writes: deque[Future] = deque()

    def write(prediction: Prediction) -> None:
        job, photo, fmt = prediction.key
        colour = functools.partial(finish, colorizer, prediction, saturation, reach, reference)  # after the checks
        _write_output(job, photo, fmt, colour, out_dir, compare, overwrite, summary)
        bar.update()

    def readable(reader: ThreadPoolExecutor) -> Iterator[tuple[tuple, np.ndarray, list]]:
        """The photos that can be read, with their hints; the others are failures, named."""
        for job, photo in read_ahead(reader, todo):
            if isinstance(photo, str):
                summary.failed.append({"source": str(job.source), "reason": photo})
                bar.update()
                continue
            if photo.frames > 1:
                summary.notes.append(
                    f"{job.source} has {photo.frames} frames (animated or multi-page): only the first is colourised"
                )
            try:
                hints = _hints_of(colorizer, job, photo, hints_file)
            except HintError as err:
                summary.failed.append({"source": str(job.source), "reason": str(err)})
                bar.update()
                continue
            yield (job, photo, output_format(job.source, fmt, photo.alpha is not None)), photo.pixels, hints

    workers = max(2, min(4, os.cpu_count() or 1))
    with (
        bar,
        ThreadPoolExecutor(2, "colorizer-read") as reader,
        ThreadPoolExecutor(workers, "colorizer-write") as writer,
    ):
        for prediction in predictions(colorizer, readable(reader), size, batch_size, reference is not None):
            while len(writes) >= WRITE_BEHIND:
                writes.popleft().result()
            writes.append(writer.submit(write, prediction))
        while writes:
            writes.popleft().result()
    if videos and hints_file is not None:
        summary.notes.append(
            f"--hints applies to photos; the {len(videos)} video(s) are coloured without hints (give hints for a "
            "frame with --key-frame FRAME=HINTS.json)"
        )
    if videos and reference is not None:
        summary.notes.append(
            f"--reference applies to photos; the {len(videos)} video(s) are coloured without it (colour a frame and "
            "give it with --key-frame FRAME=IMAGE)"
        )
    for job in videos:
        destination = _destination(out_dir, job, "mp4")
        try:
            colorize_video(
                colorizer, job.source, destination, size, smoothing, overwrite, progress, keep_partial, key_frames
            )
        except (VideoError, ImportError, OSError) as err:
            summary.failed.append({"source": str(job.source), "reason": str(err).removeprefix(f"{job.source}: ")})
            continue
        summary.written.append(destination)
    summary.written.sort()
    return summary


def _write_frames(colorizer, videos, frames, out_dir, size, overwrite, progress, summary) -> Summary:
    """`--frame`: the named frames of each video, coloured as photos, as DIR/NAME.frame-N.png."""
    if not videos:
        raise BatchError("--frame takes frames out of videos; the inputs hold none")
    for job in videos:
        folder = out_dir / job.relative.parent
        try:
            written, skipped = export_frames(colorizer, job.source, folder, frames, size, overwrite)
        except (VideoError, ImportError, OSError) as err:
            summary.failed.append({"source": str(job.source), "reason": str(err).removeprefix(f"{job.source}: ")})
            continue
        summary.written += written
        summary.skipped += skipped
    return summary


def _read_only_files(hints_file, reference, key_frames) -> list[tuple[Path, str]]:
    """(path, what it is) of every file a run reads besides its sources: hints file, reference, key frames."""
    files = [] if hints_file is None else [(Path(hints_file), f"the hints file {hints_file}")]
    if isinstance(reference, (str, Path)):
        files.append((Path(reference), f"the reference {reference}"))
    files += [(spec.source, f"the key frame {spec.source}") for spec in key_frames]
    return files


def _hints_of(colorizer: Colorizer, job: Job, photo: Photo, hints_file: Path | None) -> list:
    """The photo's hints: its own NAME.hints.json, else the --hints file, else none (checked against its size)."""
    own = hints_file_for(job.source)
    path = own if own.is_file() else hints_file
    if path is None:
        return []
    width, height = photo.size
    return colorizer.hints_for(read_hints_file(path, width, height), width, height)


def _write_output(job, photo, fmt, colour, out_dir, compare, overwrite, summary) -> None:
    """Check one photo's output, then colour it at full resolution (`colour()`) and write it (and its comparison
    figure) atomically."""
    destination = _destination(out_dir, job, fmt)
    if destination.exists() and not overwrite:  # an alpha photo switched to PNG onto an existing file
        summary.skipped.append(f"{job.source}: {destination} exists (pass --overwrite to replace it)")
        return
    problem = size_problem(fmt, *photo.size)
    if problem:
        summary.failed.append({"source": str(job.source), "reason": f"cannot write {destination}: {problem}"})
        return
    try:
        coloured = colour()
        destination.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(with_alpha(coloured, photo.alpha), destination, fmt.upper(), **SAVE_OPTIONS[fmt])
        if compare:
            figure = destination.with_name(f"{destination.stem}_compare.png")
            save_comparison([[photo.rgb, gray_preview(photo.pixels), coloured]], figure)
    except OSError as err:
        summary.failed.append({"source": str(job.source), "reason": f"could not write {destination}: {err}"})
        return
    summary.written.append(destination)
