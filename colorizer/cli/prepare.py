"""`colorizer prepare SRC... OUT`: split folders of photos into train, validation and held out, as padded squares."""

from __future__ import annotations

import argparse
from pathlib import Path

from colorizer.cli.common import (
    bounded,
    error,
    report_failures,
)


def add_parser(commands) -> None:
    p = commands.add_parser(
        "prepare",
        help="split folders of photos into train/val and resize them to padded squares",
        description="Find photos under each SRC, split them at random into train and validation (and hold out "
        "whole sources with --val-sources), resize the longer "
        "side to --size and pad to a square with zeros, in parallel. Writes OUT/images/ and OUT/manifest.json. "
        "Re-running on the same OUT adds only new photos. SRC is never modified.",
    )
    p.add_argument(
        "src",
        type=Path,
        nargs="+",
        metavar="SRC",
        help="folders of photos (searched recursively); each is a source named after its folder, or, if it holds "
        "only sub-folders, each sub-folder is one",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="output folder (created if needed)")
    p.add_argument(
        "--val-sources",
        metavar="NAME[,NAME]",
        help="hold out these whole sources for evaluation (split 'heldout': never trained on, nor used to choose the "
        "best epoch); fixed when OUT is first prepared",
    )
    p.add_argument(
        "--size",
        type=bounded(int, 16, 20_000),
        default=2000,
        help="side of the output squares in pixels (default: 2000)",
    )
    p.add_argument(
        "--val-fraction",
        type=bounded(float, 0, 0.99),
        default=0.1,
        help="share of photos for validation (default: 0.1)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random split (default: 0)")
    p.add_argument("--quality", type=int, default=None, help="recompress as JPEG at this quality (default: PNG)")
    p.add_argument("--workers", type=bounded(int, 1, 1024), default=None, help="processes to use (default: all cores)")
    p.add_argument(
        "--max-pixels",
        type=bounded(int, 1),
        default=200_000_000,
        help="refuse images larger than this (default: 200e6)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colorizer.prepare import PrepareError, PrepareSettings, run_prepare

    if args.quality is not None and not 1 <= args.quality <= 100:
        return error("--quality must be between 1 and 100")
    settings = PrepareSettings(size=args.size, quality=args.quality, max_pixels=args.max_pixels)
    val_sources = None if args.val_sources is None else [n.strip() for n in args.val_sources.split(",") if n.strip()]
    try:
        summary = run_prepare(
            args.src, args.out, settings, args.val_fraction, args.seed, args.workers, val_sources=val_sources
        )
    except PrepareError as err:
        return error(str(err))
    for source in summary["gray"]:
        print(f"  left out (grayscale, no colour to learn): {source}")
    if len(summary["sources"]) > 1:
        for name, counts in sorted(summary["sources"].items()):
            split = " / ".join(f"{n} {k}" for k, n in counts.items() if n)
            print(f"  source {name or '(unnamed)'}: {split}")
    heldout = f" / {summary['heldout']} held out" if summary["heldout"] else ""
    print(
        f"{args.out}: {summary['prepared']} prepared, {summary['skipped']} already there, "
        f"{len(summary['gray'])} grayscale left out; split {summary['train']} train / {summary['val']} val{heldout}"
    )
    return report_failures(summary["failed"], summary["found"])
