"""`colorizer evaluate DATA --model PATH --out DIR`: how good is a model, the way the literature measures it.

Protocol: each photo (a prepared folder's validation and held-out splits with their padding cut away, or every colour
photo of a folder) is resized so its longer side is `--size` (default 512) and colourised at that size, the network at
its working size (`--working-size`, default the model's own); metrics compare the output with the photo. The gray
baseline (ab = 0, the photo's own lightness) is scored on the same images: a colorizer that does not beat it on ΔE is
not colouring well. Results are given overall and per source (a prepared folder's sources; a plain folder's sub-
folders), each with the gray baseline beside it, since photos from the sources a model trained on flatter it.
With `--people FILE` (source names or photo paths, one a line: recipes/more/people.txt), the photos of people are
also scored as a block of their own, with the hue and chroma of their skin against the truth's.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from colorizer.atomic import atomic_path, atomic_write_text
from colorizer.figures import save_comparison
from colorizer.images import ImageReadError, find_images, looks_grayscale, open_image, read_photo, resize_longer_side
from colorizer.inference.color import gray_preview
from colorizer.inference.photos import Colorizer
from colorizer.prepare import load_manifest
from colorizer.progress import progress_bar
from colorizer.training.data import DataError
from colorizer.training.metrics import all_metrics

METRICS = (
    "psnr", "ssim", "delta_e", "auc", "colourfulness", "colourfulness_truth", "vivid_kept", "warm_cast",
    "skin_share", "skin_delta_e", "skin_hue_shift", "skin_chroma_ratio",
)  # fmt: skip
ROWS_PER_FIGURE = 4


EVALUATED_SPLITS = ("val", "heldout")


def _source_label(record: dict) -> str:
    name = record.get("source_name") or "all"
    return f"{name} (held out)" if record["split"] == "heldout" else name


def evaluation_images(
    data: Path, size: int, splits: tuple[str, ...] = EVALUATED_SPLITS, every: int = 1, keep: set[str] | None = None
) -> tuple[list[tuple[str, str, np.ndarray]], list[str]]:
    """[(name, source, (H, W, 3) uint8 at `size` on the longer side)] and the names left out (unreadable or gray).
    A prepared folder gives the photos of `splits`; a plain folder's sources are its sub-folders. every: every
    N-th photo only, but all of those `keep` names (a photo's name or its source's: the people subset)."""
    keep = keep or set()
    data, images, left_out = Path(data), [], []
    if (data / "manifest.json").exists():
        manifest = load_manifest(data)
        records = [
            r
            for i, r in enumerate(r for r in manifest["files"] if r["split"] in splits)
            if i % every == 0 or r["source"] in keep or r.get("source_name") in keep
        ]
        if not records:
            raise DataError(f"{data} has no photos in its {' or '.join(splits)} split")
        for record in records:
            content = open_image(data / record["file"]).convert("RGB").crop(tuple(record["box"]))
            images.append((record["source"], _source_label(record), np.asarray(resize_longer_side(content, size))))
        return images, left_out
    for i, path in enumerate(find_images(data)):
        relative = path.relative_to(data)
        if i % every and str(relative) not in keep and relative.parts[0] not in keep:
            continue
        name, source = str(relative), relative.parts[0] if len(relative.parts) > 1 else "all"
        try:
            photo = read_photo(path, longest_side=size)
        except ImageReadError as err:
            left_out.append(f"{name}: {err}")
            continue
        if photo.grayscale_mode or looks_grayscale(photo.rgb):
            left_out.append(f"{name}: grayscale, no colour to compare with")
            continue
        images.append((name, source, np.asarray(resize_longer_side(Image.fromarray(photo.rgb), size))))
    return images, left_out


def evaluate(
    colorizer: Colorizer,
    data: Path,
    out: Path,
    size: int = 512,
    figures: int = 8,
    progress: bool = True,
    splits: tuple[str, ...] = EVALUATED_SPLITS,
    working_size: int | None = None,
    people: set[str] | None = None,
    every: int = 1,
) -> dict:
    """Score `colorizer` on the photos of `data` (module docstring); `people`: source names or photo names of the
    people subset, scored as a block of its own."""
    working_size = working_size or colorizer.working_size
    images, left_out = evaluation_images(data, size, splits, every, people)
    if not images:
        raise ValueError(f"no colour photos to evaluate in {data}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, figure_rows = [], []
    for name, source, truth in progress_bar(images, desc="evaluating", unit="img", disable=not progress):
        gray = gray_preview(truth)
        prediction = colorizer.colorize_array(truth, size=working_size)
        rows.append({"image": name, "source": source, "method": "model", **all_metrics(truth, prediction)})
        rows.append({"image": name, "source": source, "method": "gray", **all_metrics(truth, gray)})
        if len(figure_rows) < figures:
            figure_rows.append([truth, gray, prediction])
    result = {
        "protocol": {
            "data": str(data),
            "size": size,
            "working_size": working_size,
            "chroma_boost": colorizer.chroma_boost,
            "images": len(images),
            "every": every,
            "left_out": left_out,
        },
        "model": {k: v for k, v in colorizer.metadata.items() if k in ("model_config", "config", "colorizer_version")},
        "mean": _means(rows),
        "sources": {
            source: {"images": sum(r["source"] == source for r in rows) // 2, **_means(rows, source)}
            for source in sorted({r["source"] for r in rows})
        },
    }
    if people:
        chosen = [r for r in rows if r["image"] in people or r["source"].removesuffix(" (held out)") in people]
        if chosen:
            result["people"] = {"images": len(chosen) // 2, **_means(chosen)}
    _write_outputs(out, result, rows, figure_rows)
    return result


def _mean(values: list[float]) -> float:
    """The mean of the values that are defined (a photo without vivid or neutral pixels, or skin, has NaN)."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _means(rows: list[dict], source: str | None = None) -> dict:
    chosen = [r for r in rows if source is None or r["source"] == source]
    return {m: {k: _mean([r[k] for r in chosen if r["method"] == m]) for k in METRICS} for m in ("model", "gray")}


def read_people(path: Path) -> set[str]:
    """The people subset's file: source names or photo names (a prepared folder's `source` paths), one a line;
    blank lines and # comments are skipped."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return {line for line in lines if line}


def _write_outputs(out: Path, result: dict, rows: list[dict], figure_rows: list) -> None:
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=1) + "\n")
    with atomic_path(out / "metrics.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, ["image", "source", "method", *METRICS])
        writer.writeheader()
        writer.writerows({k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    for i in range(0, len(figure_rows), ROWS_PER_FIGURE):
        save_comparison(figure_rows[i : i + ROWS_PER_FIGURE], out / f"comparison_{i // ROWS_PER_FIGURE + 1:02d}.png")


def format_table(mean: dict, sources: dict | None = None, people: dict | None = None) -> str:
    """The overall means, and with `sources` (more than one) a block per source, model and gray each; with `people`,
    their block and the skin's scores."""
    header = (
        f"{'':8} {'PSNR dB':>8} {'SSIM':>6} {'ΔE2000':>7} {'AuC':>6} {'colourfulness':>14} {'(truth)':>8} "
        f"{'vivid kept':>10} {'warm cast':>9}"
    )
    blocks = [("all photos", mean)]
    if sources and len(sources) > 1:
        blocks += [(f"{name}: {values['images']} photos", values) for name, values in sources.items()]
    if people:
        blocks.append((f"people: {people['images']} photos", people))
    lines = [header]
    for title, values in blocks:
        if len(blocks) > 1:
            lines.append(title)
        for method in ("model", "gray"):
            m = values[method]
            lines.append(
                f"{method:8} {m['psnr']:8.2f} {m['ssim']:6.3f} {m['delta_e']:7.2f} {m['auc']:6.3f} "
                f"{m['colourfulness']:14.1f} {m['colourfulness_truth']:8.1f} {m['vivid_kept']:10.2f} "
                f"{m['warm_cast']:+9.1f}"
            )
    if people:
        m = people["model"]
        lines.append(
            f"skin of the people (model): ΔE2000 {m['skin_delta_e']:.2f} (gray {people['gray']['skin_delta_e']:.2f}), "
            f"hue {m['skin_hue_shift']:+.1f}° from the truth's (+: towards yellow), chroma {m['skin_chroma_ratio']:.2f}"
            " of the truth's"
        )
    return "\n".join(lines)
