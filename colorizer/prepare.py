"""`colorizer prepare SRC... OUT`: split photos into train/validation and resize them to padded squares.

    colorizer prepare ~/photos data/ --size 2000 --quality 90 --workers 8
    colorizer prepare ~/photos ~/datasets/ data/ --val-sources urban100,sun-hays80   # hold out whole sources

Each photo becomes an 8-bit RGB square of `--size` pixels: the longer side resized to `--size`, the rest padded with
zeros (the padding box is recorded so later stages can leave it out). Work is spread over a process pool; the parent
alone writes `OUT/manifest.json`, which records the split and, per file, its source, content hash, original size,
scale and padding box. Re-running on the same OUT only adds what is new. Nothing under SRC is ever written.

Sources: each SRC is one source, named after its folder, unless it holds no photos of its own but sub-folders that
do (a folder of folders): then each sub-folder is a source. Every record carries its `source_name`. The split is
random (`--val-fraction`) within the sources that train; sources named by `--val-sources` go whole to a third split,
`heldout`, that training never reads (not even to choose its best epoch) and `evaluate` scores per source. The
held-out names are recorded in the manifest and may not change on a later run, so no photo ever moves between splits.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.atomic import atomic_write_text
from colorizer.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageReadError,
    atomic_save,
    find_images,
    looks_grayscale,
    open_image,
    to_photo,
)
from colorizer.parallel import parallel_map

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SPLITS = ("train", "val", "heldout")
IMAGE_DIR = "images"


class PrepareError(Exception):
    """A problem with the command's arguments (as opposed to one bad photo)."""


@dataclass(frozen=True)
class PrepareSettings:
    size: int = 2000  # output squares are size x size pixels
    quality: int | None = None  # None: lossless PNG; else JPEG at this quality
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger images are refused as unsafe to decode


def file_sha256(path: str) -> tuple[str, str | None, str | None]:
    """(path, hex digest, error) — a pool worker; read errors are returned, not raised."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        return path, None, f"cannot read ({err.strerror or err})"
    return path, digest.hexdigest(), None


def output_name(relative_source: str, sha: str, settings: PrepareSettings) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(relative_source).stem)[:40].strip("_") or "image"
    return f"{stem}-{sha[:12]}.{'png' if settings.quality is None else 'jpg'}"


def prepare_one(task: tuple[str, str, str, str, PrepareSettings]) -> dict:
    """Pool worker: decode one photo, resize it into a zero-padded square and write it atomically.

    Returns a manifest record ({"status": "ok", ...}) or {"status": "gray" | "error", "reason": ...}.
    """
    source, relative, sha, out_path, settings = task
    try:
        image = open_image(Path(source), settings.max_pixels, longest_side=settings.size)
        original_size = _original_size(Path(source))
        photo = to_photo(image)
    except ImageReadError as err:
        return {"status": "error", "source": relative, "reason": str(err)}
    if photo.grayscale_mode or looks_grayscale(photo.rgb):
        return {
            "status": "gray",
            "source": relative,
            "sha256": sha,
            "reason": "grayscale: no colour to learn",
        }
    rgb = photo.rgb if photo.alpha is None else (photo.rgb * (photo.alpha[..., None] / 255.0)).astype(np.uint8)
    height, width = rgb.shape[:2]
    scale = settings.size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = Image.fromarray(rgb).resize((new_w, new_h), Image.LANCZOS, reducing_gap=3.0)
    left, top = (settings.size - new_w) // 2, (settings.size - new_h) // 2
    square = Image.new("RGB", (settings.size, settings.size))
    square.paste(resized, (left, top))
    if settings.quality is None:
        atomic_save(square, Path(out_path), "PNG", compress_level=3)
    else:
        atomic_save(square, Path(out_path), "JPEG", quality=settings.quality)
    return {
        "status": "ok",
        "source": relative,
        "sha256": sha,
        "file": f"{IMAGE_DIR}/{Path(out_path).name}",
        "original_size": list(original_size),
        "scale": settings.size / max(original_size),
        "box": [left, top, left + new_w, top + new_h],  # content inside the padding: left, top, right, bottom
    }


def _original_size(path: Path) -> tuple[int, int]:
    """The upright size of the file at full resolution (before any reduced-scale decoding)."""
    with Image.open(path) as header:
        width, height = header.size
        orientation = header.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def load_manifest(out: Path) -> dict | None:
    path = Path(out) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise PrepareError(f"{path} is unreadable ({err}); remove it or use another OUT") from None
    if manifest.get("version") != MANIFEST_VERSION:
        raise PrepareError(f"{path} has manifest version {manifest.get('version')}, expected {MANIFEST_VERSION}")
    return manifest


def write_manifest(out: Path, manifest: dict) -> None:
    atomic_write_text(Path(out) / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def assign_splits(new: list[str], existing_val: int, total: int, val_fraction: float, seed: int) -> set[str]:
    """Choose which of the `new` files go to validation so the whole set stays near `val_fraction`.

    Deterministic for the same inputs and seed; files already assigned never move.
    """
    order = sorted(new)
    random.Random(seed).shuffle(order)
    wanted = round(val_fraction * total)
    if val_fraction > 0 and total >= 2:
        wanted = max(wanted, 1)
    return set(order[: min(len(order), max(0, wanted - existing_val))])


def _has_photos_directly(folder: Path) -> bool:
    return any(p.is_file() and p.name.lower().endswith(IMAGE_EXTENSIONS) for p in folder.iterdir())


def discover_sources(srcs: list[Path], out: Path) -> list[tuple[str, Path]]:
    """[(source name, folder)]: each SRC, or each sub-folder of a SRC that is a folder of folders."""
    found: list[tuple[str, Path]] = []
    for src in srcs:
        if not src.exists():
            raise PrepareError(f"source folder {src} does not exist")
        if not src.is_dir():
            raise PrepareError(f"source {src} is not a folder")
        if src.resolve() == out.resolve():
            raise PrepareError(f"OUT must differ from SRC ({src}): prepare never writes into the source folder")
        subfolders = sorted(p for p in src.iterdir() if p.is_dir() and p.resolve() != out.resolve())
        if _has_photos_directly(src) or not subfolders:
            found.append((src.resolve().name or str(src), src))
        else:
            found += [(sub.name, sub) for sub in subfolders if find_images(sub, exclude=out)]
    names = [name for name, _ in found]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise PrepareError(
            f"two source folders share the name {', '.join(clashes)}: sources are named after their folders, so "
            "rename one (or link it under another name)"
        )
    return found


def assign_heldout(val_sources: list[str] | None, manifest: dict, known_sources: set[str]) -> list[str]:
    """The held-out source names for this run: as recorded, or as given the first time (never changed later)."""
    recorded = manifest.get("val_sources")
    if val_sources is None:
        return list(recorded or [])
    wanted = sorted(set(val_sources))
    unknown = [name for name in wanted if name not in known_sources]
    if unknown:
        raise PrepareError(
            f"--val-sources names {', '.join(unknown)}, which is not a source here; sources: "
            f"{', '.join(sorted(known_sources))}"
        )
    if recorded is not None and recorded != wanted:
        raise PrepareError(
            f"this folder holds out {', '.join(recorded) or 'no source'}; --val-sources {','.join(wanted)} would move "
            "photos between splits. Use the same --val-sources (or none) or a new OUT"
        )
    if recorded is None and manifest["files"] and wanted:
        raise PrepareError("sources can only be held out when a folder is first prepared; use a new OUT")
    return wanted


def run_prepare(
    src: Path | list[Path],
    out: Path,
    settings: PrepareSettings,
    val_fraction: float = 0.1,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    val_sources: list[str] | None = None,
) -> dict:
    """Prepare the photos of SRC (one folder or several) into OUT.

    Returns a summary: counts per split and per source, plus the lists of failed and grayscale files.
    """
    srcs = [Path(p) for p in (src if isinstance(src, (list, tuple)) else [src])]
    out = Path(out)
    if not 0 <= val_fraction < 1:
        raise PrepareError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    source_folders = discover_sources(srcs, out)
    found_in: dict[str, str] = {}  # photo path -> source name
    relative: dict[str, str] = {}  # photo path -> the name the manifest records
    for name, folder in source_folders:
        top = next(s for s in srcs if folder == s or s in folder.parents)
        for path in find_images(folder, exclude=out):
            found_in[str(path)] = name
            rel = path.relative_to(top).as_posix()
            relative[str(path)] = rel if len(srcs) == 1 else f"{top.resolve().name}/{rel}"
    if not found_in:
        raise PrepareError(f"no images (JPEG, PNG, WebP, BMP, TIFF) found under {', '.join(map(str, srcs))}")
    manifest = load_manifest(out) or {
        "version": MANIFEST_VERSION,
        "settings": None,
        "files": [],
        "excluded": [],
    }
    wanted_settings = {"size": settings.size, "quality": settings.quality}
    if manifest["settings"] not in (None, wanted_settings):
        raise PrepareError(
            f"{out} was prepared with {manifest['settings']}, not {wanted_settings}; use the same settings or a new OUT"
        )
    heldout = assign_heldout(val_sources, manifest, {name for name, _ in source_folders})
    manifest["settings"] = wanted_settings
    manifest["val_sources"] = heldout
    (out / IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    workers = max(1, workers or os.cpu_count() or 1)

    failed: list[dict] = []
    hashes = parallel_map(file_sha256, sorted(found_in), workers, "hashing", progress)
    known = {r["sha256"] for r in manifest["files"] if (out / r["file"]).exists()}
    known |= {r["sha256"] for r in manifest["excluded"]}
    manifest["files"] = [r for r in manifest["files"] if r["sha256"] in known]
    tasks, seen = [], set(known)
    for path, sha, error in sorted(hashes, key=lambda h: h[0]):
        if error:
            failed.append({"source": relative[path], "reason": error})
        elif sha not in seen:
            seen.add(sha)
            out_path = out / IMAGE_DIR / output_name(relative[path], sha, settings)
            tasks.append((path, relative[path], sha, str(out_path), settings))

    results = parallel_map(prepare_one, tasks, workers, "preparing", progress)
    source_of = {relative[p]: found_in[p] for p in found_in}
    for r in results:
        r["source_name"] = source_of[r["source"]]
    results.sort(key=lambda r: r["source"])
    failed += [{"source": r["source"], "reason": r["reason"]} for r in results if r["status"] == "error"]
    gray = [r for r in results if r["status"] == "gray"]
    new = [r for r in results if r["status"] == "ok"]
    for record in new:
        del record["status"]
    pooled_old = [r for r in manifest["files"] if r.get("split") != "heldout"]
    pooled_new = [r for r in new if r["source_name"] not in heldout]
    existing_val = sum(r["split"] == "val" for r in pooled_old)
    total = len(pooled_old) + len(pooled_new)
    val = assign_splits([r["sha256"] for r in pooled_new], existing_val, total, val_fraction, seed)
    for record in new:
        if record["source_name"] in heldout:
            record["split"] = "heldout"
        else:
            record["split"] = "val" if record["sha256"] in val else "train"
    manifest["files"] = sorted(manifest["files"] + new, key=lambda r: r["file"])
    manifest["excluded"] = sorted(
        manifest["excluded"]
        + [
            {"source": r["source"], "source_name": r["source_name"], "sha256": r["sha256"], "reason": r["reason"]}
            for r in gray
        ],
        key=lambda r: r["sha256"],
    )
    write_manifest(out, manifest)
    per_source: dict[str, dict[str, int]] = {}
    for r in manifest["files"]:
        counts = per_source.setdefault(r.get("source_name", ""), dict.fromkeys(SPLITS, 0))
        counts[r["split"]] += 1
    return {
        "found": len(found_in),
        "prepared": len(new),
        "skipped": len(found_in) - len(tasks) - sum(1 for _, _, e in hashes if e),
        **{split: sum(r["split"] == split for r in manifest["files"]) for split in SPLITS},
        "sources": per_source,
        "gray": [r["source"] for r in gray],
        "failed": sorted(failed, key=lambda f: f["source"]),
    }
