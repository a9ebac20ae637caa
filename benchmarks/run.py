"""`make bench`: run every benchmark on `../shared/photos` and `../shared/videos` and write BENCHMARKS.md (figures
are medians of runs).

python -m benchmarks.run            # COLORIZER_PHOTOS=/path overrides the photo folder
python -m benchmarks.run cpu-training DATA [SIZE...]   # the CPU training table alone (benchmarks/results/)
"""

from __future__ import annotations

import datetime
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks import (
    chroma_boost,
    cluster,
    data_speed,
    inference_speed,
    key_frames,
    light_inference,
    memory,
    reference,
    serve_speed,
    video_consistency,
    working_size,
)
from benchmarks.common import PHOTOS, machine, table
from benchmarks.train_speed import images_per_second

ROOT = Path(__file__).resolve().parents[1]
POOL = ROOT / "runs" / "pool" / "data"  # the prepared pool of recipes/pool (the chroma boost is chosen on its split)
GPU_LOG = ROOT / "benchmarks" / "results" / "gpu_train_speed.log"
GPU_SPEED = ROOT / "benchmarks" / "results" / "gpu_speed.md"  # written by benchmarks/gpu_speed.py on a GPU


def training_section(data: Path) -> str:
    cpu = torch.device("cpu")
    plans = [(224, 15, "fp32", 4, 5), (608, 4, "fp32", 3, 3), (224, 4, "bf16", 1, 2)]
    rows = []
    for size, batch, precision, steps, repeats in plans:
        rates = images_per_second(data, size, batch, cpu, precision, True, steps, repeats, 0)
        rows.append(
            [
                size,
                batch,
                precision,
                f"{rates['memory']:.2f}",
                f"{rates['real']:.2f}",
                f"{rates['real'] / rates['memory']:.2f}",
            ]
        )
        print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        "## Training throughput (paper model, channels_last, Adam step included)",
        "",
        "This CPU, 2 threads; 'real data path' = cache -> DataLoader (in-process, the CPU default) -> LAB on device:",
        "",
        table(["size", "batch", "precision", "in-memory img/s", "real data path img/s", "ratio"], rows),
        "",
    ]
    if GPU_LOG.exists():
        lines += [
            "GPU, one prepared device session (`benchmarks/gpu_session.sh`, batch 15, 8 loader workers; "
            "figures copied from its log, `benchmarks/results/gpu_train_speed.log`):",
            "",
            "```",
            GPU_LOG.read_text().strip(),
            "```",
            "",
        ]
    lines += ["### Training speed on one GPU (`benchmarks/gpu_speed.py`, the prepared device script)", ""]
    if GPU_SPEED.exists():
        lines += [GPU_SPEED.read_text().strip(), ""]
    else:
        lines += [
            "Not measured yet: no GPU was lent to the session that built the on-device data path, large-batch "
            "warm-up and compiled steps. Run `bash benchmarks/gpu_speed.sh` where one is; its table lands here.",
            "",
        ]
    return "\n".join(lines)


def cpu_training_section(data: Path, sizes: tuple[int, ...] = (128, 224, 384)) -> str:
    """What makes training fast on this CPU: the bundled model's network (EfficientNet-Lite0 + U-Net decoder, hint
    inputs, Huber loss) at the pool recipe's crop sizes, fp32 against bf16 autocast, and the other levers."""
    cpu = torch.device("cpu")
    plans = [  # size, precision, channels_last, frozen encoder, torch.compile (384 px: batch 4, so that a bf16 step
        # without bf16 instructions, about two minutes at batch 16, does not dominate the run)
        (128, "fp32", True, False, False),
        (128, "bf16", True, False, False),
        (224, "fp32", True, False, False),
        (224, "bf16", True, False, False),
        (224, "bf16", False, False, False),
        (224, "bf16", True, True, False),
        (384, "fp32", True, False, False),
        (384, "bf16", True, False, False),
        (384, "bf16", True, False, True),
    ]
    rows, rates = [], {}
    for size, precision, channels_last, frozen, compiled in [plan for plan in plans if plan[0] in sizes]:
        steps, batch = {128: (6, 16), 224: (3, 16)}.get(size, (2, 4))
        rate = images_per_second(
            data, size, batch, cpu, precision, channels_last, steps, 3, 0, "efficientnet-lite0", True, frozen, compiled
        )["memory"]
        rates[(size, precision, channels_last, frozen, compiled)] = rate
        base = rates.get((size, "fp32", True, False, False), rate)
        layout = "channels_last" if channels_last else "contiguous"
        rows.append(
            [
                size,
                batch,
                precision,
                layout,
                "frozen" if frozen else "trained",
                "torch.compile" if compiled else "eager",
                f"{rate:.2f}",
                f"{rate / base:.2f}x",
            ]
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return "\n".join(
        [
            "## Training on this CPU (the bundled model's network)",
            "",
            f"EfficientNet-Lite0 + U-Net decoder with hint inputs, Huber loss, Adam step included, "
            f"{torch.get_num_threads()} torch threads; images/s on batches in memory, median of 3 (the data path "
            "costs nothing next to these steps: see above). Ratio: against fp32 at the same size. bf16 pays only "
            "on a CPU with bf16 instructions (AVX512-BF16 or AMX; `--precision auto` checks): without them PyTorch "
            f"falls back to slow kernels. This CPU: {machine().split('; CPU vector instructions ')[-1]}.",
            "",
            table(["crop", "batch", "precision", "layout", "encoder", "steps", "img/s", "vs fp32"], rows),
            "",
        ]
    )


def main() -> None:
    if sys.argv[1:2] == ["cpu-training"]:  # this section alone: python -m benchmarks.run cpu-training DATA [SIZE...]
        section = cpu_training_section(Path(sys.argv[2]), tuple(int(s) for s in sys.argv[3:]) or (128, 224, 384))
        (ROOT / "benchmarks" / "results" / "cpu-training.md").write_text(f"Machine: {machine()}.\n\n{section}")
        print(section)
        return
    if not PHOTOS.is_dir():
        raise SystemExit(f"benchmarks need the photo folder {PHOTOS} (set COLORIZER_PHOTOS)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_section, data = data_speed.run(work)
        print(data_section, file=sys.stderr)
        sections = [
            data_section,
            training_section(data),
            cpu_training_section(data),
            light_inference.run(work / "light"),
            working_size.run(),
            *([chroma_boost.run(POOL, (0, 0.3, 0.4, 0.5, 0.6))] if (POOL / "manifest.json").exists() else []),
            inference_speed.run(work),
            serve_speed.run(),
            video_consistency.run(work / "video"),
            key_frames.run(work / "key-frames"),
            reference.run(),
            cluster.run(),
            memory.run(),
        ]
    header = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.date.today()} in "
        f"{(time.perf_counter() - started) / 60:.0f} min. Machine: {machine()}.",
        "",
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(header + sections))
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    main()
