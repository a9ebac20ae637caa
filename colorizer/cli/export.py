"""`colorizer export CKPT OUT`: a training checkpoint as the ONNX model colourising runs (or a stripped checkpoint)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorizer.cli.common import (
    bounded,
    error,
    needs_extra,
)
from colorizer.conventions import MAX_WORKING_SIZE, MIN_WORKING_SIZE


def add_parser(commands) -> None:
    p = commands.add_parser(
        "export",
        help="turn a training checkpoint into an ONNX model for colourising (optionally with its metrics)",
        description="Write CHECKPOINT as an ONNX model (OUTPUT ending in .onnx: what `colorizer colorize`, the "
        "Python API and `colorizer serve` run, without torch), or as a stripped checkpoint (weights and configs, "
        "no optimizer state; any other suffix). The model and training config and the metrics.json of "
        "`colorizer evaluate`, if given, are stored inside. OUTPUT must not exist. Needs the training extra.",
    )
    p.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="best.pt or last.pt of a run")
    p.add_argument("output", type=Path, metavar="OUTPUT", help="model file to write (model.onnx, or model.pt)")
    p.add_argument("--metrics", type=Path, help="metrics.json from `colorizer evaluate` to store inside")
    p.add_argument(
        "--working-size",
        type=bounded(int, MIN_WORKING_SIZE, MAX_WORKING_SIZE),
        default=None,
        help="the longer side the model colourises best at, recorded as its default working size (measure it with "
        "`colorizer evaluate --working-size`; default: none recorded, so 512)",
    )
    p.add_argument(
        "--chroma-boost",
        type=bounded(float, 0, 2),
        default=None,
        help="the chroma boost recorded as the model's default (choose it on validation photos with `colorizer "
        "evaluate --chroma-boost`; default: none recorded, so 0)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    try:
        from colorizer.training.checkpoint import CheckpointError, export_model
        from colorizer.training.export import export_onnx
    except ImportError as err:
        return needs_extra("export", "training", err)
    if not args.output.parent.is_dir():  # before the checkpoint is loaded and traced
        return error(f"{args.output}: the folder {args.output.parent} does not exist")
    try:
        metrics = json.loads(args.metrics.read_text()) if args.metrics else None
        settings = {"working_size": args.working_size, "chroma_boost": args.chroma_boost}
        export = export_onnx if args.output.suffix == ".onnx" else export_model
        export(args.checkpoint, args.output, metrics, settings)
    except (CheckpointError, OSError, ValueError) as err:
        return error(str(err))
    print(f"exported {args.checkpoint} -> {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0
