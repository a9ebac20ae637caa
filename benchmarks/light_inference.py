"""Colourising without torch: the ONNX Runtime path against the PyTorch path it replaced, measured in one run.

The old path is the project at OLD_REVISION (the last commit that colourised with PyTorch), checked out into a
temporary git worktree and run with this virtual environment's torch; the new path is this checkout. Each figure is
the median of several runs, every run a fresh process where the start-up is part of the measure.

    python -m benchmarks.light_inference          # prints the table (make bench writes it to BENCHMARKS.md)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from benchmarks.common import PHOTOS, table

ROOT = Path(__file__).resolve().parents[1]
OLD_REVISION = "63cb29e"  # main before ONNX Runtime: colourising ran on PyTorch

# Runs inside a fresh interpreter with PYTHONPATH set to the tree under test; prints JSON.
IN_PROCESS = """
import json, shutil, sys, time
from pathlib import Path
import colorizer
if (Path(colorizer.__file__).parent / "inference").is_dir():
    from colorizer.inference.batch import colorize_paths
    from colorizer.inference.photos import Colorizer
else:  # the PyTorch-era layout (an editable install could otherwise resolve the new modules)
    from colorizer.batch import colorize_paths
    from colorizer.colorize import Colorizer
photo, folder, out, repeats = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
colorizer = Colorizer.load()
def once(inputs, target):
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    summary = colorize_paths(colorizer, inputs, target, progress=False)
    assert not summary.failed, summary.failed
    return time.perf_counter() - started
once([str(photo)], out / "warm")
single = sorted(once([str(photo)], out / "single") for _ in range(repeats))[repeats // 2]
count = len(list(folder.iterdir()))
rate = sorted(count / once([str(folder)], out / "folder") for _ in range(repeats))[repeats // 2]
print(json.dumps({"single": single, "folder_rate": rate}))
"""


# `python -m colorizer ARGS` that also reports its own peak memory. ru_maxrss from wait4 is no good here: Linux keeps
# the maximum across exec, so a child forked from a large benchmark process would report the parent's size. VmHWM
# belongs to the address space the exec created.
LAUNCH = """
import atexit, sys
def peak():
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print(f"peak-kb {hwm}", file=sys.stderr)
atexit.register(peak)
from colorizer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run(tree: Path, args: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak resident memory (kB) of one fresh `colorizer ARGS` process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LAUNCH, *args], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{tree}: colorizer {' '.join(args)} failed: {result.stderr[-2000:]}")
    peak = int(next(line.split()[1] for line in result.stderr.splitlines() if line.startswith("peak-kb")))
    return wall, peak, result


def _median(values: list[float]) -> float:
    return statistics.median(values)


def measure(tree: Path, work: Path, repeats: int = 5) -> dict:
    photo, folder = work / "twelve-mp" / "photo.jpg", work / "one-mp"
    help_times = [_run(tree, ["--help"])[0] for _ in range(repeats)]
    cli = []
    for i in range(3):
        out = work / f"cli-{tree.name}-{i}"
        cli.append(_run(tree, ["colorize", str(photo), "--out", str(out)])[:2])
    env = {**os.environ, "PYTHONPATH": str(tree)}
    in_process = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(photo), str(folder), str(work / f"in-{tree.name}"), "3"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(in_process.stdout.strip().splitlines()[-1])
    return {
        "help": _median(help_times),
        "cli": _median([wall for wall, _ in cli]),
        "memory_mb": _median([rss for _, rss in cli]) / 1024,
        **figures,
    }


def make_inputs(work: Path) -> None:
    (work / "twelve-mp").mkdir(parents=True, exist_ok=True)
    Image.open(PHOTOS / "mate-TwoWings.jpg").convert("RGB").resize((4000, 3000), Image.LANCZOS).convert("L").save(
        work / "twelve-mp" / "photo.jpg", quality=92
    )
    (work / "one-mp").mkdir(exist_ok=True)
    for name in sorted(p.name for p in PHOTOS.iterdir() if p.suffix == ".jpg")[:16]:
        image = Image.open(PHOTOS / name).convert("RGB").resize((1155, 866), Image.LANCZOS)
        image.convert("L").save(work / "one-mp" / name, quality=92)


def light_install_size(work: Path) -> float:
    """MB of a fresh virtual environment with `pip install .` (no extras), pip and setuptools included."""
    venv = work / "light-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
        check=True,
        capture_output=True,
    )
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.util as u; print(u.find_spec('torch') is None)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "True", "the light install pulled in torch"
    size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True, check=True).stdout.split()[0]
    return float(size)


def run(work: Path) -> str:
    make_inputs(work)
    old_tree = work / "old"
    subprocess.run(
        ["git", "worktree", "add", "-f", "--detach", str(old_tree), OLD_REVISION],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        old = measure(old_tree, work)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, capture_output=True)
    new = measure(ROOT, work)
    size = light_install_size(work)
    rows = [
        ["`colorizer --help`", f"{old['help']:.2f} s", f"{new['help']:.2f} s", "≤ 0.3 s"],
        [
            "one 12-MP JPEG, CLI wall time, process start included",
            f"{old['cli']:.2f} s",
            f"{new['cli']:.2f} s",
            "≤ 1.5 s",
        ],
        ["the same, in-process (decode → saved JPEG)", f"{old['single']:.2f} s", f"{new['single']:.2f} s", "≤ 0.5 s"],
        ["peak memory of that CLI run", f"{old['memory_mb']:.0f} MB", f"{new['memory_mb']:.0f} MB", "≤ 600 MB"],
        [
            "folder of 16 one-megapixel JPEGs (1155x866)",
            f"{old['folder_rate']:.2f} img/s",
            f"{new['folder_rate']:.2f} img/s",
            "≥ 6 img/s",
        ],
        [
            "inference install (fresh venv, `pip install .`)",
            "6 GB (issue 11; not re-measured)",
            f"{size:.0f} MB",
            "≤ 300 MB",
        ],
    ]
    return "\n".join(
        [
            "## Colourising: ONNX Runtime (now) vs PyTorch (before)",
            "",
            "Bundled model at its working size (the old path at its fixed 512), this CPU."
            f" 'Before' is commit {OLD_REVISION} run from a git worktree in "
            "the same session; medians of 3-5 runs (`benchmarks/light_inference.py`).",
            "",
            table(["measure", f"PyTorch ({OLD_REVISION})", "ONNX Runtime (now)", "target"], rows),
            "",
        ]
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(run(Path(tmp)))
