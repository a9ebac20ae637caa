"""What the subcommands share: exit codes, error lines, bounded numbers, the model arguments, loading a model,
and the one message for a missing extra."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorizer.conventions import MAX_WORKING_SIZE, MIN_WORKING_SIZE

EXIT_FAILURES = 1  # some inputs failed, the rest was processed
EXIT_USAGE = 2  # the command could not start (bad arguments, missing folder, ...)
EXTRAS = {"training": "train", "video": "video", "cluster": "cluster"}  # what each extra is called by pip


def needs_extra(what: str, extra: str, err: ImportError) -> int:
    """The error line for a subcommand (or option) whose extra is not installed, naming the pip command."""
    return error(f"{what} needs the {extra} extra (pip install 'photo-colorizer[{EXTRAS[extra]}]'): {err}")


def error(message: str) -> int:
    print(f"colorizer: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def report_failures(failed: list[dict], total: int) -> int:
    for failure in failed:
        print(f"  failed: {failure['source']}: {failure['reason']}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {total} files failed (listed above); the rest was processed.", file=sys.stderr)
        return EXIT_FAILURES
    return 0


def bounded(kind: type, low: float, high: float | None = None, low_open: bool = False):
    """An argparse type: a number of `kind` within [low, high] (or (low, high] with low_open), else a clear error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'a whole number' if kind is int else 'a number'}"
            ) from None
        if value != value or (value <= low if low_open else value < low) or (high is not None and value > high):
            above = f"above {low:g}" if low_open else f"at least {low:g}"
            raise argparse.ArgumentTypeError(
                f"{text} is out of range: {above}{f' and at most {high:g}' if high else ''}"
            )
        return value

    return parse


def add_model_arguments(p, size: bool = True) -> None:
    """--model, --working-size (or --size, its older name), --device, --temperature, --chroma-boost, on `p` (a
    parser or an argument group)."""
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="an .onnx model from `colorizer export`, or a training checkpoint (needs the training extra); "
        "default: the bundled model",
    )
    if size:
        p.add_argument(
            "--working-size",
            "--size",
            dest="size",
            type=bounded(int, MIN_WORKING_SIZE, MAX_WORKING_SIZE),
            default=None,
            help=f"working size of the network, longer side, {MIN_WORKING_SIZE} to {MAX_WORKING_SIZE} (default: the "
            "model's own; the bundled model's is 384; memory grows with it: 3.1 GB at 2048 on a 12-MP photo)",
        )
    p.add_argument("--device", default="cpu", help="cpu, or cuda with onnxruntime-gpu installed (default: cpu)")
    p.add_argument(
        "--temperature",
        type=bounded(float, 0, 2, low_open=True),
        default=None,
        help="classification models: annealed-mean temperature, lower = more vivid (default: the model's, 0.38)",
    )
    p.add_argument(
        "--chroma-boost",
        type=bounded(float, 0, 2),
        default=None,
        help="how much bolder the colour is made where the network commits to one: 0 = the network's own colour, "
        "0.5 = up to 1.5x the chroma (default: the model's; the bundled model's is 0.3)",
    )


def load_colorizer(args: argparse.Namespace):
    import colorizer.training  # noqa: F401  registers the on-the-fly export of checkpoints (no torch until used)
    from colorizer.inference.photos import Colorizer

    return Colorizer.load(args.model, device=args.device, temperature=args.temperature, chroma_boost=args.chroma_boost)
