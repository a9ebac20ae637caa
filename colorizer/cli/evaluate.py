"""`colorizer evaluate DATA --out DIR`: score a model against the gray baseline, per source and for the people."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorizer.cli.common import (
    add_model_arguments,
    bounded,
    error,
    load_colorizer,
    needs_extra,
)
from colorizer.conventions import MAX_WORKING_SIZE, MIN_WORKING_SIZE


def add_parser(commands) -> None:
    p = commands.add_parser(
        "evaluate",
        help="PSNR, SSIM, CIEDE2000, colourfulness and AuC of a model vs the gray baseline",
        description="Score a model on DATA: a prepared folder (its validation split, padding excluded) or a folder "
        "of colour photos. Each photo is resized to --size on its longer side and colourised there (the network at "
        "--working-size); the gray baseline (ab = 0) is scored on the same images. Writes metrics.json, metrics.csv "
        "and comparison figures to --out.",
    )
    p.add_argument("data", type=Path, metavar="DATA", help="prepared folder or folder of colour photos")
    p.add_argument("--out", type=Path, required=True, help="output folder for metrics and figures")
    add_model_arguments(p, size=False)
    p.add_argument(
        "--scoring-size",
        "--size",
        dest="size",
        type=bounded(int, 64, 8192),
        default=512,
        help="size the photos are scored at, longer side, 64 to 8192 (default: 512)",
    )
    p.add_argument(
        "--working-size",
        type=bounded(int, MIN_WORKING_SIZE, MAX_WORKING_SIZE),
        default=None,
        help=f"working size of the network, longer side, up to {MAX_WORKING_SIZE} (default: the model's own): try "
        "a few to choose the one to record with `colorizer export --working-size`",
    )
    p.add_argument(
        "--figures", type=bounded(int, 0, 1000), default=8, help="photos shown in comparison figures (default: 8)"
    )
    p.add_argument(
        "--split",
        choices=("both", "val", "heldout"),
        default="both",
        help="a prepared folder's photos to score: its validation split, its held-out sources, or both (default)",
    )
    p.add_argument(
        "--people",
        type=Path,
        metavar="FILE",
        help="the photos of people, scored as a block of their own with their skin's hue and chroma: a file of "
        "source names or photo paths, one a line (recipes/more/people.txt for the project's pool)",
    )
    p.add_argument(
        "--every",
        type=bounded(int, 1, 1000),
        default=1,
        help="score every N-th photo only (the same ones each time: quick comparisons), and every photo of --people "
        "(default: 1, all)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colorizer.inference.session import ModelError

    try:
        from colorizer.training.data import DataError
        from colorizer.training.evaluate import evaluate, format_table, read_people
    except ImportError as err:
        return needs_extra("evaluate", "training", err)
    try:
        splits = ("val", "heldout") if args.split == "both" else (args.split,)
        people = read_people(args.people) if args.people else None
        colorizer = load_colorizer(args)
        result = evaluate(
            colorizer, args.data, args.out, args.size, args.figures, splits=splits, working_size=args.working_size,
            people=people, every=args.every,
        )  # fmt: skip
    except OSError as err:
        return error(f"--people {args.people}: {err.strerror or err}")
    except (ModelError, DataError, ValueError) as err:
        return error(str(err))
    for line in result["protocol"]["left_out"]:
        print(f"  left out: {line}", file=sys.stderr)
    protocol = result["protocol"]
    print(
        f"{protocol['images']} images at {args.size} px (longer side), the network at {protocol['working_size']}, "
        f"chroma boost {protocol['chroma_boost']:g}:"
    )
    print(format_table(result["mean"], result["sources"], result.get("people")))
    print(f"metrics.json, metrics.csv and comparison figures in {args.out}")
    return 0
