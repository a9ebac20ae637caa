"""`colorizer fit-alike DATA --model M.onnx`: learn what "alike" means for a model's hints (M.alike.json)."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorizer.cli.common import (
    bounded,
    error,
    needs_extra,
)


def add_parser(commands) -> None:
    p = commands.add_parser(
        "fit-alike",
        help="learn, for a model, which pixels a hint's colour reaches as 'alike' (MODEL.alike.json beside it)",
        description="Fit the learned description that hints spread to alike pixels by (`colorizer/training/"
        "alike_fit.py`): on the training split of DATA, which cells of a photo share their true colour, from the "
        "model's encoder features, lightness and colour; scaled on the validation split so that each reach covers "
        "as much as before. Writes MODEL.alike.json beside the model (with the model's SHA-256: it is used only "
        "with that model). Needs the training extra.",
    )
    p.add_argument("data", type=Path, metavar="DATA", help="a prepared folder (`colorizer prepare`)")
    p.add_argument("--model", type=Path, default=None, help="an .onnx model (default: the bundled one)")
    p.add_argument("--every", type=bounded(int, 1), default=2, help="use every Nth training photo (default: 2)")
    p.add_argument("--every-val", type=bounded(int, 1), default=4, help="every Nth validation photo (default: 4)")
    p.add_argument("--chroma-boost", type=bounded(float, 0, 2), default=None, help="as for colorize")
    p.add_argument("--steps", type=bounded(int, 1), default=1500, help="optimisation steps (default: 1500)")
    p.add_argument("--force", action="store_true", help="replace an existing MODEL.alike.json")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from colorizer.training.alike_fit import fit_alike, write_sidecar
        from colorizer.training.data import DataError
        from colorizer.training.evaluate import evaluation_images
    except ImportError as err:
        return needs_extra("fit-alike", "training", err)
    from colorizer.inference.alike import sidecar_path
    from colorizer.inference.photos import Colorizer
    from colorizer.inference.session import BUNDLED_MODEL, ModelError

    model = args.model or BUNDLED_MODEL
    if model.suffix != ".onnx":
        return error(f"{model}: fit-alike takes an .onnx model (export a checkpoint first: colorizer export)")
    out = sidecar_path(model)
    if out.exists() and not args.force:
        return error(f"{out} exists; pass --force to replace it")
    try:
        colorizer = Colorizer.load(model, chroma_boost=args.chroma_boost)
        if not colorizer.session.has_features:
            return error(f"{model} gives no encoder features; export it again with this version")
        train, _ = evaluation_images(args.data, 512, splits=("train",))
        val, _ = evaluation_images(args.data, 512, splits=("val",))
    except (ModelError, DataError, OSError) as err:
        return error(str(err))
    train, val = [p for _, _, p in train[:: args.every]], [p for _, _, p in val[:: args.every_val]]
    about = f"fitted on {len(train)} training photos of {args.data}, scaled on {len(val)} of its validation split"
    learned = fit_alike(colorizer, train, val, about, steps=args.steps, progress=lambda line: print(line, flush=True))
    write_sidecar(learned, model, out)
    print(f"{about}; wrote {out}")
    return 0
