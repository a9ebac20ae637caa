"""`colorizer colorize INPUT... --out DIR`: colourise photos and films, on this machine or on a Ray cluster.

The flags are grouped as `colorize --help` shows them; the colour settings become one `ColorizeOptions`, which
both engines take whole."""

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
    report_failures,
)


def add_parser(commands) -> None:
    from colorizer.inference.formats import FORMATS

    p = commands.add_parser(
        "colorize",
        aliases=["colourise", "colorise"],
        help="colourise photos and videos at their full resolution",
        description="Colourise photos and videos: files, folders (recursive) and globs. Colour inputs are turned "
        "gray first. Each output has its input's pixel size, orientation and lightness; folders are mirrored under "
        "--out. Videos (MP4, MOV, MKV, AVI, WebM, ...; needs the video extra) become DIR/NAME.mp4, H.264 with "
        "their audio kept and steady colour over time. Existing outputs are never replaced without --overwrite.",
    )
    what = p.add_argument_group("what to colourise")
    colour = p.add_argument_group("model and colour")
    steer = p.add_argument_group("hints and references (photos)")
    video = p.add_argument_group("videos")
    output = p.add_argument_group("output")
    engine = p.add_argument_group("engine (--engine ray: a Ray cluster)")
    what.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="photo or video files, folders or glob patterns (with --engine ray also URIs: s3://bucket/scans/)",
    )
    what.add_argument("--out", required=True, help="output folder (with --engine ray also a URI)")
    add_model_arguments(colour)
    engine.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (default); ray: a Ray cluster (Ray Data; the cluster extra), resumable, with a "
        "record under DST/_manifest/",
    )
    engine.add_argument(
        "--address",
        default=None,
        help="--engine ray: the cluster to use (e.g. ray://head:10001; default: RAY_ADDRESS, the one this runs "
        "in under `ray job submit`, else a local one on this machine)",
    )
    engine.add_argument(
        "--workers",
        type=bounded(int, 1, 100_000),
        default=None,
        help="--engine ray: model copies (Ray actors; default: the cluster's CPUs / --cpus-per-worker, or its GPUs "
        "with --device cuda)",
    )
    engine.add_argument(
        "--cpus-per-worker",
        type=bounded(float, 0, 1024, low_open=True),
        default=None,
        help="--engine ray: CPUs each model copy reserves and ONNX Runtime's threads in it (default: 1)",
    )
    output.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="output format (default: the input's; PNG is lossless but slower to write for large photos than JPEG: "
        "BENCHMARKS.md has both for 12 megapixels)",
    )
    output.add_argument("--compare", action="store_true", help="also write NAME_compare.png: original | gray | colour")
    output.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    output.add_argument(
        "--batch-size", type=bounded(int, 1, 256), default=4, help="photos per network batch, 1 to 256 (default: 4)"
    )
    steer.add_argument(
        "--hints",
        type=Path,
        default=None,
        help='colour hints, a JSON list of points {"x": 412, "y": 96, "color": "#b0302a"} and strokes {"points": '
        '[[x, y], ...], "color": "#b0302a"} in photo pixels (optional "radius"); each spreads along its object. A '
        "photo's own NAME.hints.json beside it takes precedence",
    )
    from colorizer.inference import DEFAULT_REACH

    steer.add_argument(
        "--hint-reach",
        type=bounded(float, 0, 1),
        default=None,
        help="how far a hint's colour goes beyond the object under it, to what looks alike: 0 = that object only, 1 = "
        f'everything alike in the photo (default: {DEFAULT_REACH}); a hint\'s own "reach" wins',
    )
    colour.add_argument(
        "--saturation",
        type=bounded(float, 0, 4),
        default=1.0,
        help="scale the colour: 1 = the model's (default), 0 = gray, 1.3 = a third more vivid; up to 4",
    )
    video.add_argument(
        "--smoothing",
        type=float,
        default=0.9,
        help="videos: weight of the motion-compensated colour of earlier frames, 0 (each frame on its own) to "
        "below 1 (default: 0.9)",
    )
    video.add_argument(
        "--keep-partial",
        action="store_true",
        help="videos: a truncated or damaged file still gives the frames that could be read (else it is an error)",
    )
    steer.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="photos: a colour photo to take colours from where the content matches (the same place, person or "
        "kind of scene); elsewhere the model's colour",
    )
    video.add_argument(
        "--key-frame",
        action="append",
        default=[],
        metavar="FRAME=IMAGE",
        help="a video: FRAME (an index, or a time such as 12.5s) in colour (any size of the frame's aspect), or "
        "FRAME=NAME.hints.json; its colour is carried through its shot, forwards and backwards. Repeatable",
    )
    video.add_argument(
        "--frame",
        action="append",
        default=[],
        metavar="FRAME",
        help="videos: instead of colourising them, write frame FRAME (an index or a time such as 12.5s) of each as "
        "DIR/NAME.frame-N.png, to colour on the page and give back with --key-frame. Repeatable",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colorizer.inference.batch import BatchError, colorize_paths
    from colorizer.inference.session import ModelError

    if args.engine == "ray":
        return run_on_ray(args)
    uris = [name for name in [*args.inputs, args.out] if "://" in name]
    if uris:
        return error(f"{uris[0]}: URIs (s3://, gs://, ...) are read and written by --engine ray (the cluster extra)")
    if args.address or args.workers or args.cpus_per_worker:
        return error("--address, --workers and --cpus-per-worker are for --engine ray")
    args.out = Path(args.out)
    try:
        colorizer = load_colorizer(args)
    except ModelError as err:
        return error(str(err))
    try:
        summary = colorize_paths(colorizer, args.inputs, args.out, colorize_options(args))
    except (BatchError, ValueError) as err:
        return error(str(err))
    for line in summary.notes:
        print(f"  note: {line}", file=sys.stderr)
    for line in summary.skipped:
        print(f"  skipped: {line}", file=sys.stderr)
    print(f"{len(summary.written)} colourised into {args.out}, {len(summary.skipped)} skipped")
    return report_failures(summary.failed, len(summary.written) + len(summary.skipped) + len(summary.failed))


def colorize_options(args: argparse.Namespace):
    """The colourising settings of `colorize`'s flags, as one checked object (ValueError naming a bad one)."""
    from colorizer.inference.options import ColorizeOptions

    return ColorizeOptions(
        size=args.size,
        temperature=args.temperature,
        chroma_boost=args.chroma_boost,
        saturation=args.saturation,
        reach=args.hint_reach,
        hints_file=args.hints,
        reference=args.reference,
        key_frames=args.key_frame,
        frames=args.frame,
        smoothing=args.smoothing,
        keep_partial=args.keep_partial,
        fmt=args.format,
        compare=args.compare,
        overwrite=args.overwrite,
        batch_size=args.batch_size,
    )


def run_on_ray(args: argparse.Namespace) -> int:
    """`colorize --engine ray`: the same run on a Ray cluster (`colorizer.cluster`)."""
    if args.frame:
        return error("--frame writes a few frames for the page: run it with the local engine")
    try:
        options = colorize_options(args)
    except ValueError as err:
        return error(str(err))
    try:
        from colorizer.cluster import ClusterError, colorize_dataset
        from colorizer.cluster.storage import StorageError
        from colorizer.inference.session import ModelError
    except ImportError as err:
        return needs_extra("--engine ray", "cluster", err)
    try:
        summary = colorize_dataset(
            args.inputs,
            args.out,
            options,
            model=args.model,
            device=args.device,
            address=args.address,
            workers=args.workers,
            cpus_per_worker=args.cpus_per_worker or 1,
        )
    except (ClusterError, ModelError, StorageError) as err:
        return error(str(err))
    for line in summary.notes:
        print(f"  note: {line}", file=sys.stderr)
    done = f", {summary.done_before} done by an earlier run" if summary.done_before else ""
    skipped = f"{summary.exists} skipped (exist){done}"
    print(f"{summary.written} colourised into {args.out}, {skipped}; record: {summary.manifest}")
    if summary.interrupted:
        print("interrupted: run the same command again to finish the rest", file=sys.stderr)
        return 130
    code = report_failures(summary.failed, summary.total)
    if summary.failures > len(summary.failed):
        print(f"  ({summary.failures - len(summary.failed)} more failures: see {summary.manifest})", file=sys.stderr)
    return code
