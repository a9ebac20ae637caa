"""`colorize --engine ray` against `--engine local` on this machine: photos/s on the same 200 photos in one run,
Ray's start-up, the driver's memory for a listing of one million entries, and one node against two simulated ones.

    python -m benchmarks.cluster        # writes its section of BENCHMARKS.md (also part of `make bench`)

What this cannot measure: a real cluster of several machines (one 2-core machine here; two "nodes" of one CPU each
share its cores, so that row shows the cost of splitting, not the gain of adding machines).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import PHOTOS, table, update_section

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Archives on a cluster (`--engine ray`)"
PHOTO_COUNT = 200
REPEATS = 3
LISTING = 1_000_000


def _photos(work: Path) -> Path:
    src = work / "src"
    src.mkdir()
    photos = (".jpg", ".jpeg", ".png", ".webp")
    names = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in photos)[:PHOTO_COUNT]
    for path in names:
        shutil.copy(path, src / path.name)
    return src


def _megapixels(src: Path) -> float:
    from PIL import Image

    return statistics.mean(Image.open(p).width * Image.open(p).height / 1e6 for p in src.iterdir())


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def throughput(work: Path) -> tuple[list[list], dict]:
    """Photos/s of each engine on the same photos, runs interleaved (local, ray, ray, ...) and repeated."""
    import ray

    from colorizer.cluster import colorize_dataset
    from colorizer.inference.batch import colorize_paths
    from colorizer.inference.photos import Colorizer

    src = _photos(work)
    count = len(list(src.iterdir()))
    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    init_seconds = time.perf_counter() - started
    engines = {
        "local (model load included)": lambda out: colorize_paths(Colorizer.load(), [str(src)], out, progress=False),
        "ray, 2 workers x 1 CPU": lambda out: colorize_dataset(
            [str(src)], str(out), workers=2, cpus_per_worker=1, progress=False
        ),
        "ray, 1 worker x 2 CPUs": lambda out: colorize_dataset(
            [str(src)], str(out), workers=1, cpus_per_worker=2, progress=False
        ),
    }
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in engines}
    for repeat in range(REPEATS):
        for number, (name, run) in enumerate(engines.items()):
            out = work / f"out-{repeat}-{number}"
            began = time.time()
            seconds = _timed(lambda run=run, out=out: run(out))
            # from the outputs' times: start-up (to the first output) and the steady rate (first to last output)
            stamps = sorted(p.stat().st_mtime for p in out.rglob("*") if p.is_file() and "_manifest" not in p.parts)
            steady = (len(stamps) - 1) / (stamps[-1] - stamps[0])
            times[name].append((seconds, stamps[0] - began, steady))
            shutil.rmtree(out)
            print(name, f"{seconds:.1f} s, first after {stamps[0] - began:.1f} s, {steady:.2f}/s", file=sys.stderr)
    ray.shutdown()

    def median(name: str, column: int) -> float:
        return statistics.median(run[column] for run in times[name])

    local = "local (model load included)"
    rows = []
    for name in times:
        seconds, first, steady = (median(name, column) for column in range(3))
        rows.append(
            [
                name,
                f"{seconds:.1f}",
                f"{count / seconds:.2f}",
                f"{median(local, 0) / seconds:.2f}",
                f"{first:.1f}",
                f"{steady:.2f}",
                f"{steady / median(local, 2):.2f}",
            ]
        )
    facts = {"count": count, "megapixels": _megapixels(src), "init": init_seconds}
    return rows, facts


def nodes(work: Path) -> list[list]:
    """The same photos on one simulated node of 2 CPUs and on two of 1 CPU (`ray.cluster_utils.Cluster`)."""
    import ray
    from ray.cluster_utils import Cluster

    from colorizer.cluster import colorize_dataset

    src = work / "src"
    count = len(list(src.iterdir()))
    rows = []
    for layout in ([2], [1, 1]):
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": layout[0]})
        for cpus in layout[1:]:
            cluster.add_node(num_cpus=cpus)
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        cluster.wait_for_nodes()
        seconds = []
        for repeat in range(REPEATS):
            out = work / f"nodes-{len(layout)}-{repeat}"
            seconds.append(_timed(lambda out=out: colorize_dataset([str(src)], str(out), workers=2, progress=False)))
            rows_of = [json.loads(line) for part in (out / "_manifest").glob("*.jsonl") for line in part.open()]
            used = len({row["node"] for row in rows_of})
            shutil.rmtree(out)
        ray.shutdown()
        cluster.shutdown()
        median = statistics.median(seconds)
        name = f"{len(layout)} node{'s' if len(layout) > 1 else ''} ({' + '.join(map(str, layout))} CPUs)"
        rows.append([name, used, f"{median:.1f}", f"{count / median:.2f}"])
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


LISTING_SCRIPT = """
import sys, time
import ray
from colorizer.cluster.run import ClusterSummary, _blocks, _roots
from colorizer.cluster.storage import locate

def high_water_mb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's, inherited at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

ray.init(num_cpus=1, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
before = high_water_mb()
summary = ClusterSummary()
started = time.perf_counter()
roots, singles = _roots([sys.argv[1]], locate(sys.argv[2]), summary)
photos, videos, count, rows = _blocks(roots, singles, locate(sys.argv[2]), None, set(), set(), 8, summary, ray)
seconds = time.perf_counter() - started
peak = high_water_mb()
stored = sum(ray.get(ref).nbytes for ref in photos[:100]) / min(len(photos), 100) * len(photos)
print(count, len(photos), rows, before, peak, seconds, stored / 1e6)
"""


def listing_memory(work: Path) -> list:
    """The driver's peak memory while it lists a million files and hands them to Ray (no photo is read)."""
    tree = work / "listing"
    for folder in range(LISTING // 1000):
        path = tree / f"box{folder:04d}"
        path.mkdir(parents=True)
        for name in range(1000):
            os.close(os.open(path / f"scan{name:04d}.jpg", os.O_CREAT | os.O_WRONLY, 0o644))
    result = subprocess.run(
        [sys.executable, "-c", LISTING_SCRIPT, str(tree), str(work / "listing-out")],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(tree)
    return result.stdout.split()


def run() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows, facts = throughput(work)
        node_rows = nodes(work)
        listing = listing_memory(work)
    return "\n".join(
        [
            HEADING,
            "",
            f"`benchmarks/cluster.py`: the first {facts['count']} photos of `../shared/photos` (mean "
            f"{facts['megapixels']:.2f} MP; JPEG, PNG and WebP, each written in its own format), bundled model; "
            f"each engine {REPEATS} times, runs "
            "interleaved, medians. The Ray runtime is started once before (its start-up is the next figure); a "
            "Ray run's time includes starting its actors and loading the model in each. Steady: from the first "
            "output to the last (the rate a large archive sees once started).",
            "",
            table(
                ["engine", "seconds", "photos/s", "vs local", "first output after (s)", "steady photos/s", "vs local"],
                rows,
            ),
            "",
            f"Start-up: `ray.init()` of a local runtime {facts['init']:.1f} s, once per run of the command.",
            "",
            "One node against two simulated nodes on the same 2 cores (`ray.cluster_utils.Cluster`, 2 workers; "
            "the split costs, it cannot gain: both share the cores):",
            "",
            table(["layout", "nodes used", "seconds", "photos/s"], node_rows),
            "",
            listing_line(listing),
            "",
            "Not measured: a real multi-machine cluster, object-store throughput (S3 is tested for correctness "
            "against a local moto server, not timed), GPUs.",
            "",
        ]
    )


def listing_line(listing: list[str]) -> str:
    count, blocks, block_rows, before, peak, seconds, stored = listing
    return (
        f"Driver memory for a listing of {int(count):,} files (1,000 folders of 1,000): peak resident memory "
        f"{float(peak):.0f} MB, {float(before):.0f} MB of it before listing (Python, Ray's client, the package); "
        f"listing and handing them to Ray as {int(blocks):,} blocks of {block_rows} rows took {float(seconds):.0f} s "
        f"and about {float(stored):.0f} MB of Ray's object store (shared memory, not the driver's)."
    )


def patch_listing() -> None:
    """Only the listing figure, into the section already in BENCHMARKS.md (`--listing`)."""
    with tempfile.TemporaryDirectory() as tmp:
        line = listing_line(listing_memory(Path(tmp)))
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    start = text.index("Driver memory for a listing")
    end = text.index("\n", start)
    path.write_text(text[:start] + line + text[end:])
    print(line)


if __name__ == "__main__" and sys.argv[1:] == ["--listing"]:
    patch_listing()
elif __name__ == "__main__":
    section = run()
    print(section)
    update_section(HEADING, section)
