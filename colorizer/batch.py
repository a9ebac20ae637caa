"""`colorizer colorize INPUT... --out DIR`: colourise files, folders and globs, mirroring folders under DIR.

Photos are decoded in a background worker while the network runs; photos whose working size is the same are put
through the network as one batch. Each output is written atomically; an existing output is never replaced without
--overwrite; a file that cannot be read is reported and the rest goes on.
"""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from colorizer.colorize import DEFAULT_SIZE, Colorizer, gray_preview, with_alpha, working_shape
from colorizer.figures import save_comparison
from colorizer.images import IMAGE_EXTENSIONS, ImageReadError, Photo, atomic_save, find_images, read_photo

FORMATS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}
_FORMAT_OF_SUFFIX = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".png": "png",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
}
_SAVE_OPTIONS = {
    "jpeg": {"quality": 95},
    "webp": {"quality": 95},
    "png": {},
    "tiff": {"compression": "tiff_deflate"},
    "bmp": {},
}
_KEEPS_ALPHA = {"png", "webp", "tiff"}


@dataclass
class Job:
    source: Path
    relative: Path  # where the output goes under DIR (suffix from the source)


@dataclass
class Summary:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)


def collect_jobs(inputs: list[str], out_dir: Path, summary: Summary) -> list[Job]:
    """Files, folders (recursive, DIR itself excluded) and globs -> jobs; names that match nothing are failures."""
    jobs = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            jobs += [Job(f, f.relative_to(path)) for f in find_images(path, exclude=out_dir)]
        elif path.is_file():
            jobs.append(Job(path, Path(path.name)))
        elif any(c in spec for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(spec, recursive=True))]
            jobs += [Job(m, Path(m.name)) for m in matches if m.is_file() and m.suffix.lower() in IMAGE_EXTENSIONS]
            if not matches:
                summary.failed.append({"source": spec, "reason": "no file matches this pattern"})
        else:
            summary.failed.append({"source": spec, "reason": "no such file or folder"})
    return jobs


def output_format(job: Job, requested: str | None, has_alpha: bool) -> str:
    fmt = requested or _FORMAT_OF_SUFFIX.get(job.source.suffix.lower(), "png")
    return "png" if has_alpha and fmt not in _KEEPS_ALPHA else fmt  # alpha is kept: PNG where the format can't


class _Decode(Dataset):
    def __init__(self, jobs: list[Job]):
        self.jobs = jobs

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> tuple[int, Photo | str]:
        try:
            return index, read_photo(self.jobs[index].source)
        except (ImageReadError, OSError) as err:
            return index, str(err)


def _first(batch: list) -> tuple:
    return batch[0]


def _destination(out_dir: Path, job: Job, fmt: str) -> Path:
    return out_dir / job.relative.with_suffix(FORMATS[fmt])


def colorize_paths(
    colorizer: Colorizer,
    inputs: list[str],
    out_dir: Path,
    size: int = DEFAULT_SIZE,
    fmt: str | None = None,
    compare: bool = False,
    overwrite: bool = False,
    batch_size: int = 4,
    progress: bool = True,
) -> Summary:
    """Colourise every photo that `inputs` name into `out_dir`. Returns what was written, skipped and failed."""
    out_dir, summary = Path(out_dir), Summary()
    jobs = collect_jobs(inputs, out_dir, summary)
    todo, claimed = [], set()
    for job in jobs:
        destination = _destination(out_dir, job, output_format(job, fmt, has_alpha=False))
        if destination in claimed:
            summary.failed.append({"source": str(job.source), "reason": f"another input also writes {destination}"})
        elif destination.exists() and not overwrite:
            summary.skipped.append(f"{job.source}: {destination} exists (pass --overwrite to replace it)")
        else:
            claimed.add(destination)
            todo.append(job)
    loader = DataLoader(_Decode(todo), batch_size=1, collate_fn=_first, num_workers=1 if len(todo) > 1 else 0)
    bar = tqdm(total=len(todo), desc="colourising", unit="img", disable=not progress, file=sys.stderr)
    pending: list[tuple[Job, Photo, str]] = []

    def flush() -> None:
        _colorize_batch(colorizer, pending, out_dir, size, compare, overwrite, summary)
        bar.update(len(pending))
        pending.clear()

    with bar:
        for index, photo in loader:
            job = todo[index]
            if isinstance(photo, str):
                summary.failed.append({"source": str(job.source), "reason": photo})
                bar.update()
                continue
            shape = working_shape(*photo.rgb.shape[:2], size)
            if pending and (len(pending) == batch_size or working_shape(*pending[0][1].rgb.shape[:2], size) != shape):
                flush()
            pending.append((job, photo, output_format(job, fmt, photo.alpha is not None)))
        if pending:
            flush()
    return summary


def _colorize_batch(colorizer, pending, out_dir, size, compare, overwrite, summary) -> None:
    """One network batch for photos of the same working size, then full-resolution outputs, written atomically."""
    l_norm = torch.cat([colorizer.network_input(photo.rgb, size) for _, photo, _ in pending])
    ab = colorizer.predict_ab(l_norm)  # (B, 2, h, w)
    for i, (job, photo, fmt) in enumerate(pending):
        destination = _destination(out_dir, job, fmt)
        if destination.exists() and not overwrite:  # an alpha photo switched to PNG onto an existing file
            summary.skipped.append(f"{job.source}: {destination} exists (pass --overwrite to replace it)")
            continue
        try:
            coloured = colorizer.recombine(photo.rgb, ab[i : i + 1])
            image = with_alpha(coloured, photo.alpha)
            destination.parent.mkdir(parents=True, exist_ok=True)
            atomic_save(image, destination, fmt.upper(), **_SAVE_OPTIONS[fmt])
            if compare:
                figure = destination.with_name(f"{destination.stem}_compare.png")
                save_comparison([[photo.rgb, gray_preview(photo.rgb), coloured]], figure)
        except OSError as err:
            summary.failed.append({"source": str(job.source), "reason": f"could not write {destination}: {err}"})
            continue
        summary.written.append(destination)
