"""Helpers shared by the benchmarks: machine description, medians of repeated timings, quartiles, tables, the photo
folder."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

PHOTOS = Path(os.environ.get("COLORIZER_PHOTOS", Path(__file__).resolve().parents[2] / "shared" / "photos"))
RESULTS = Path(__file__).resolve().parent / "results"  # what a benchmark run alone writes (BENCHMARKS.md quotes it)


def machine() -> str:
    import numpy
    import PIL
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return (
        f"{cpu}, {os.cpu_count()} cores, GPU: {gpu}; Python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {numpy.__version__}, Pillow {PIL.__version__}, {torch.get_num_threads()} torch threads; CPU vector "
        f"instructions {torch.backends.cpu.get_cpu_capability()}, bf16 instructions {'yes' if _cpu_bf16() else 'no'}"
    )


def _cpu_bf16() -> bool:
    from colorizer.training.train import cpu_has_bf16

    return cpu_has_bf16()


def median_time(function: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time in seconds of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def write_result(name: str, text: str) -> None:
    """benchmarks/results/NAME, ending in a newline."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / name).write_text(text if text.endswith("\n") else text + "\n")


def quartiles(values, form: str = "{:.0%}") -> str:
    """The 25th, 50th and 75th percentiles of `values` as "q1/median/q3" (shares as percentages by default)."""
    return "/".join(form.format(q) for q in np.percentile(values, [25, 50, 75]))


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def update_section(heading: str, section: str) -> None:
    """Replace (or add) one section of BENCHMARKS.md, leaving the others as `make bench` last wrote them."""
    path = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
    text = path.read_text()
    start = text.find(heading)
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        text = text[:start] + section.rstrip() + "\n" + (text[end:] if end >= 0 else "")
    path.write_text(text)
