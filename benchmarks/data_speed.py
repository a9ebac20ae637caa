"""Prepare throughput (1 vs 2 workers) and Dataset/DataLoader throughput (cache vs decoding each time)."""

from __future__ import annotations

import itertools
import shutil
import time
from pathlib import Path

from torch.utils.data import DataLoader

from benchmarks.common import PHOTOS, median_time, table
from colorizer.prepare import PrepareSettings, run_prepare
from colorizer.training.data import ColorizationDataset

PAPER_SETTINGS = PrepareSettings(size=2000, quality=90)  # the paper: 2000-px squares, recompressed


def prepare_rates(work: Path, repeats: int = 3) -> dict[int, float]:
    count = sum(1 for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png", ".webp"))
    rates = {}
    for workers in (1, 2):

        def once(workers=workers):
            out = work / f"prepare-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            run_prepare(PHOTOS, out, PAPER_SETTINGS, workers=workers, progress=False)

        rates[workers] = count / median_time(once, repeats=repeats, warmup=0)
    return rates


def loader_rate(data: Path, size: int, cache: bool, items: int, workers: int = 2) -> float:
    dataset = ColorizationDataset(data, "train", size, output="rgb", cache=cache, progress=False)
    loader = DataLoader(dataset, batch_size=15, shuffle=True, num_workers=workers)
    started = time.perf_counter()
    seen = 0
    for batch in itertools.islice(itertools.cycle(loader), max(1, items // 15)):
        seen += len(batch)
    return seen / (time.perf_counter() - started)


def run(work: Path) -> tuple[str, Path]:
    """Markdown for BENCHMARKS.md, and the prepared 2000-px folder (reused by the other benchmarks)."""
    rates = prepare_rates(work)
    data = work / "prepare-2"
    lines = [
        "## Prepare and data loading",
        "",
        f"`colorizer prepare` on `../shared/photos` ({PAPER_SETTINGS.size}-px squares, JPEG quality "
        f"{PAPER_SETTINGS.quality}); median of 3 runs:",
        "",
        table(["workers", "images/s", "speed-up"], [[w, f"{r:.1f}", f"{r / rates[1]:.2f}x"] for w, r in rates.items()]),
        "",
    ]
    rows = []
    for size in (224, 608):
        ColorizationDataset(data, "train", size, progress=False)  # build the cache outside the timing
        cached = max(loader_rate(data, size, True, 600) for _ in range(2))
        decoded = loader_rate(data, size, False, 60 if size == 224 else 45)
        rows.append([size, f"{cached:.0f}", f"{decoded:.1f}", f"{cached / decoded:.0f}x"])
    lines += [
        "DataLoader (batch 15, 2 workers, random crops + flips, uint8 out) over the 2000-px prepared photos:",
        "",
        table(["size", "from the cache img/s", "decoding JPEGs each time img/s", "cache speed-up"], rows),
        "",
    ]
    return "\n".join(lines), data
