"""The `colorizer` command line: one parser, a subcommand per stage of the pipeline.

    colorizer prepare SRC... OUT       split + resize folders of photos for training
    colorizer train DATA --out RUN     train the autoencoder (torchrun for several GPUs)
    colorizer colorize PHOTO... --out DIR   colourise photos at full resolution
    colorizer evaluate DATA --model M --out DIR   PSNR, SSIM, CIEDE2000, colourfulness, AuC vs the gray baseline

Each subcommand's module does the work; this file only parses arguments, prints summaries and sets exit codes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from colorizer import __version__
from colorizer.conventions import MAX_WORKING_SIZE, MIN_WORKING_SIZE

EXIT_FAILURES = 1  # some inputs failed, the rest was processed
EXIT_USAGE = 2  # the command could not start (bad arguments, missing folder, ...)


def _error(message: str) -> int:
    print(f"colorizer: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _report_failures(failed: list[dict], total: int) -> int:
    for failure in failed:
        print(f"  failed: {failure['source']}: {failure['reason']}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {total} files failed (listed above); the rest was processed.", file=sys.stderr)
        return EXIT_FAILURES
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from colorizer.prepare import PrepareError, PrepareSettings, run_prepare

    if args.quality is not None and not 1 <= args.quality <= 100:
        return _error("--quality must be between 1 and 100")
    settings = PrepareSettings(size=args.size, quality=args.quality, max_pixels=args.max_pixels)
    val_sources = None if args.val_sources is None else [n.strip() for n in args.val_sources.split(",") if n.strip()]
    try:
        summary = run_prepare(
            args.src, args.out, settings, args.val_fraction, args.seed, args.workers, val_sources=val_sources
        )
    except PrepareError as err:
        return _error(str(err))
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
    return _report_failures(summary["failed"], summary["found"])


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from colorizer.training.checkpoint import CheckpointError
        from colorizer.training.config import TrainConfig, resolve_config
        from colorizer.training.data import DataError
        from colorizer.training.encoders import WeightsError
        from colorizer.training.train import TrainError, train
    except ImportError as err:
        return _error(f"train needs the training extra (pip install 'photo-colorizer[train]'): {err}")
    try:
        cfg = resolve_config(TrainConfig, vars(args), args.config)
        if not cfg.data or not cfg.out:
            return _error("train needs DATA and --out (on the command line or in --config)")
        result = train(cfg)
    except (ValueError, TrainError, CheckpointError, DataError, WeightsError) as err:
        return _error(str(err))
    return 130 if result["interrupted"] else 0


def _load_colorizer(args: argparse.Namespace):
    import colorizer.training  # noqa: F401  registers the on-the-fly export of checkpoints (no torch until used)
    from colorizer.inference.photos import Colorizer

    return Colorizer.load(args.model, device=args.device, temperature=args.temperature, chroma_boost=args.chroma_boost)


def cmd_colorize(args: argparse.Namespace) -> int:
    from colorizer.inference.batch import BatchError, colorize_paths
    from colorizer.inference.session import ModelError

    if args.engine == "ray":
        return _colorize_on_ray(args)
    uris = [name for name in [*args.inputs, args.out] if "://" in name]
    if uris:
        return _error(f"{uris[0]}: URIs (s3://, gs://, ...) are read and written by --engine ray (the cluster extra)")
    if args.address or args.workers or args.cpus_per_worker:
        return _error("--address, --workers and --cpus-per-worker are for --engine ray")
    args.out = Path(args.out)
    try:
        colorizer = _load_colorizer(args)
    except ModelError as err:
        return _error(str(err))
    try:
        summary = colorize_paths(colorizer, args.inputs, args.out, _colorize_options(args))
    except (BatchError, ValueError) as err:
        return _error(str(err))
    for line in summary.notes:
        print(f"  note: {line}", file=sys.stderr)
    for line in summary.skipped:
        print(f"  skipped: {line}", file=sys.stderr)
    print(f"{len(summary.written)} colourised into {args.out}, {len(summary.skipped)} skipped")
    return _report_failures(summary.failed, len(summary.written) + len(summary.skipped) + len(summary.failed))


def _colorize_options(args: argparse.Namespace):
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


def _colorize_on_ray(args: argparse.Namespace) -> int:
    """`colorize --engine ray`: the same run on a Ray cluster (`colorizer.cluster`)."""
    if args.frame:
        return _error("--frame writes a few frames for the page: run it with the local engine")
    try:
        options = _colorize_options(args)
    except ValueError as err:
        return _error(str(err))
    try:
        from colorizer.cluster import ClusterError, colorize_dataset
        from colorizer.cluster.storage import StorageError
        from colorizer.inference.session import ModelError
    except ImportError as err:
        return _error(f"--engine ray needs the cluster extra (pip install 'photo-colorizer[cluster]'): {err}")
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
        return _error(str(err))
    for line in summary.notes:
        print(f"  note: {line}", file=sys.stderr)
    done = f", {summary.done_before} done by an earlier run" if summary.done_before else ""
    skipped = f"{summary.exists} skipped (exist){done}"
    print(f"{summary.written} colourised into {args.out}, {skipped}; record: {summary.manifest}")
    if summary.interrupted:
        print("interrupted: run the same command again to finish the rest", file=sys.stderr)
        return 130
    code = _report_failures(summary.failed, summary.total)
    if summary.failures > len(summary.failed):
        print(f"  ({summary.failures - len(summary.failed)} more failures: see {summary.manifest})", file=sys.stderr)
    return code


def cmd_evaluate(args: argparse.Namespace) -> int:
    from colorizer.inference.session import ModelError

    try:
        from colorizer.training.data import DataError
        from colorizer.training.evaluate import evaluate, format_table, read_people
    except ImportError as err:
        return _error(f"evaluate needs the training extra (pip install 'photo-colorizer[train]'): {err}")
    try:
        splits = ("val", "heldout") if args.split == "both" else (args.split,)
        people = read_people(args.people) if args.people else None
        colorizer = _load_colorizer(args)
        result = evaluate(
            colorizer, args.data, args.out, args.size, args.figures, splits=splits, working_size=args.working_size,
            people=people, every=args.every,
        )  # fmt: skip
    except OSError as err:
        return _error(f"--people {args.people}: {err.strerror or err}")
    except (ModelError, DataError, ValueError) as err:
        return _error(str(err))
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


def cmd_export(args: argparse.Namespace) -> int:
    import json

    try:
        from colorizer.training.checkpoint import CheckpointError, export_model
        from colorizer.training.export import export_onnx
    except ImportError as err:
        return _error(f"export needs the training extra (pip install 'photo-colorizer[train]'): {err}")
    if not args.output.parent.is_dir():  # before the checkpoint is loaded and traced
        return _error(f"{args.output}: the folder {args.output.parent} does not exist")
    try:
        metrics = json.loads(args.metrics.read_text()) if args.metrics else None
        settings = {"working_size": args.working_size, "chroma_boost": args.chroma_boost}
        export = export_onnx if args.output.suffix == ".onnx" else export_model
        export(args.checkpoint, args.output, metrics, settings)
    except (CheckpointError, OSError, ValueError) as err:
        return _error(str(err))
    print(f"exported {args.checkpoint} -> {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_fit_alike(args: argparse.Namespace) -> int:
    try:
        from colorizer.training.alike_fit import fit_alike, write_sidecar
        from colorizer.training.data import DataError
        from colorizer.training.evaluate import evaluation_images
    except ImportError as err:
        return _error(f"fit-alike needs the training extra (pip install 'photo-colorizer[train]'): {err}")
    from colorizer.inference.alike import sidecar_path
    from colorizer.inference.photos import Colorizer
    from colorizer.inference.session import BUNDLED_MODEL, ModelError

    model = args.model or BUNDLED_MODEL
    if model.suffix != ".onnx":
        return _error(f"{model}: fit-alike takes an .onnx model (export a checkpoint first: colorizer export)")
    out = sidecar_path(model)
    if out.exists() and not args.force:
        return _error(f"{out} exists; pass --force to replace it")
    try:
        colorizer = Colorizer.load(model, chroma_boost=args.chroma_boost)
        if not colorizer.session.has_features:
            return _error(f"{model} gives no encoder features; export it again with this version")
        train, _ = evaluation_images(args.data, 512, splits=("train",))
        val, _ = evaluation_images(args.data, 512, splits=("val",))
    except (ModelError, DataError, OSError) as err:
        return _error(str(err))
    train, val = [p for _, _, p in train[:: args.every]], [p for _, _, p in val[:: args.every_val]]
    about = f"fitted on {len(train)} training photos of {args.data}, scaled on {len(val)} of its validation split"
    learned = fit_alike(colorizer, train, val, about, steps=args.steps, progress=lambda line: print(line, flush=True))
    write_sidecar(learned, model, out)
    print(f"{about}; wrote {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from colorizer.inference.serve import ServeLimits, serve
    from colorizer.inference.session import ModelError

    try:
        colorizer = _load_colorizer(args)
    except ModelError as err:
        return _error(str(err))
    serve(colorizer, args.host, args.port, ServeLimits(args.max_upload_mb, args.max_megapixels, args.max_queue))
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


def _add_model_arguments(p: argparse.ArgumentParser, size: bool = True) -> None:
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="an .onnx model from `colorizer export`, or a training checkpoint (needs the training extra); "
        "default: the bundled model",
    )
    if size:
        p.add_argument(
            "--size",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorizer",
        description="Colourise grayscale photos with a convolutional autoencoder, or train one on your own photos.",
    )
    parser.add_argument("--version", action="version", version=f"colorizer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    p.set_defaults(run=cmd_prepare)

    from colorizer.training.config import TrainConfig, add_dataclass_arguments

    p = commands.add_parser(
        "train",
        help="train the colorization network on a prepared folder",
        description="Train on DATA (from `colorizer prepare`), writing checkpoints, log.jsonl, loss.png and "
        "per-epoch sample grids to --out. Defaults follow the paper (batch 15, Adam 1e-4, MSE on ab, 224 px). "
        "Under torchrun it trains with DistributedDataParallel.",
    )
    p.add_argument("data", nargs="?", metavar="DATA", help="prepared folder (or set `data` in --config)")
    p.add_argument("--config", type=Path, help="TOML file of settings; flags given here override it")
    add_dataclass_arguments(p, TrainConfig, skip=("data",))
    p.set_defaults(run=cmd_train)

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
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="photo or video files, folders or glob patterns (with --engine ray also URIs: s3://bucket/scans/)",
    )
    p.add_argument("--out", required=True, help="output folder (with --engine ray also a URI)")
    _add_model_arguments(p)
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (default); ray: a Ray cluster (Ray Data; the cluster extra), resumable, with a "
        "record under DST/_manifest/",
    )
    p.add_argument(
        "--address",
        default=None,
        help="--engine ray: the cluster to use (e.g. ray://head:10001; default: RAY_ADDRESS, the one this runs "
        "in under `ray job submit`, else a local one on this machine)",
    )
    p.add_argument(
        "--workers",
        type=bounded(int, 1, 100_000),
        default=None,
        help="--engine ray: model copies (Ray actors; default: the cluster's CPUs / --cpus-per-worker, or its GPUs "
        "with --device cuda)",
    )
    p.add_argument(
        "--cpus-per-worker",
        type=bounded(float, 0, 1024, low_open=True),
        default=None,
        help="--engine ray: CPUs each model copy reserves and ONNX Runtime's threads in it (default: 1)",
    )
    p.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="output format (default: the input's; PNG is lossless but slower to write for large photos than JPEG: "
        "BENCHMARKS.md has both for 12 megapixels)",
    )
    p.add_argument("--compare", action="store_true", help="also write NAME_compare.png: original | gray | colour")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    p.add_argument(
        "--batch-size", type=bounded(int, 1, 256), default=4, help="photos per network batch, 1 to 256 (default: 4)"
    )
    p.add_argument(
        "--hints",
        type=Path,
        default=None,
        help='colour hints, a JSON list of points {"x": 412, "y": 96, "color": "#b0302a"} and strokes {"points": '
        '[[x, y], ...], "color": "#b0302a"} in photo pixels (optional "radius"); each spreads along its object. A '
        "photo's own NAME.hints.json beside it takes precedence",
    )
    from colorizer.inference import DEFAULT_REACH

    p.add_argument(
        "--hint-reach",
        type=bounded(float, 0, 1),
        default=None,
        help="how far a hint's colour goes beyond the object under it, to what looks alike: 0 = that object only, 1 = "
        f'everything alike in the photo (default: {DEFAULT_REACH}); a hint\'s own "reach" wins',
    )
    p.add_argument(
        "--saturation",
        type=bounded(float, 0, 4),
        default=1.0,
        help="scale the colour: 1 = the model's (default), 0 = gray, 1.3 = a third more vivid; up to 4",
    )
    p.add_argument(
        "--smoothing",
        type=float,
        default=0.9,
        help="videos: weight of the motion-compensated colour of earlier frames, 0 (each frame on its own) to "
        "below 1 (default: 0.9)",
    )
    p.add_argument(
        "--keep-partial",
        action="store_true",
        help="videos: a truncated or damaged file still gives the frames that could be read (else it is an error)",
    )
    p.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="photos: a colour photo to take colours from where the content matches (the same place, person or "
        "kind of scene); elsewhere the model's colour",
    )
    p.add_argument(
        "--key-frame",
        action="append",
        default=[],
        metavar="FRAME=IMAGE",
        help="a video: FRAME (an index, or a time such as 12.5s) in colour (any size of the frame's aspect), or "
        "FRAME=NAME.hints.json; its colour is carried through its shot, forwards and backwards. Repeatable",
    )
    p.add_argument(
        "--frame",
        action="append",
        default=[],
        metavar="FRAME",
        help="videos: instead of colourising them, write frame FRAME (an index or a time such as 12.5s) of each as "
        "DIR/NAME.frame-N.png, to colour on the page and give back with --key-frame. Repeatable",
    )
    p.set_defaults(run=cmd_colorize)

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
    _add_model_arguments(p, size=False)
    p.add_argument(
        "--size",
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
    p.set_defaults(run=cmd_evaluate)

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
    p.set_defaults(run=cmd_export)

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
    p.set_defaults(run=cmd_fit_alike)

    p = commands.add_parser(
        "serve",
        help="a local web page (and HTTP API) to colourise photos in a browser",
        description="Start a web app on this machine: drop photos on the page, compare gray and colour, download "
        "the results at full resolution. POST /api/colorize is the same as an HTTP API (docs at /docs). "
        "Binds to 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=bounded(int, 1, 65535), default=8000, help="port (default: 8000)")
    _add_model_arguments(p, size=False)  # the page chooses the working size per request
    p.add_argument(
        "--max-upload-mb",
        type=bounded(float, 0, 100_000, low_open=True),
        default=50.0,
        help="largest upload accepted (default: 50 MB)",
    )
    p.add_argument(
        "--max-megapixels",
        type=bounded(float, 0, 100_000, low_open=True),
        default=50.0,
        help="largest image accepted (default: 50 MP)",
    )
    p.add_argument(
        "--max-queue", type=bounded(int, 0, 10_000), default=4, help="requests that may wait for the model (default: 4)"
    )
    p.set_defaults(run=cmd_serve)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
