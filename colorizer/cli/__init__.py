"""The `colorizer` command line: a registry of subcommands, one module each, imported only when it runs.

    colorizer prepare SRC... OUT            split + resize folders of photos for training
    colorizer train DATA --out RUN          train the network (torchrun for several GPUs)
    colorizer colorize INPUT... --out DIR   colourise photos and films at full resolution
    colorizer evaluate DATA --out DIR       score a model against the gray baseline
    colorizer export CKPT OUT.onnx          the ONNX model colourising runs
    colorizer fit-alike DATA --model M      what "alike" means for a model's hints
    colorizer serve                         the web page and HTTP API

Each module (`colorizer/cli/<name>.py`) has `add_parser(commands)` and `run(args)`; the work is done by the package
modules it calls. `main` imports only the module of the subcommand asked for (as pip's `commands_dict` does), so
`colorizer --help` and each subcommand start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from colorizer import __version__

# name: (module, one line of help, aliases)
COMMANDS = {
    "prepare": ("prepare", "split folders of photos into train/val and resize them to padded squares", ()),
    "train": ("train", "train the colorization network on a prepared folder", ()),
    "colorize": ("colorize", "colourise photos and videos at their full resolution", ("colourise", "colorise")),
    "evaluate": ("evaluate", "score a model against the gray baseline, per source and for the people", ()),
    "export": ("export", "turn a training checkpoint into an ONNX model for colourising", ()),
    "fit-alike": ("fit_alike", "learn, for a model, which pixels a hint's colour reaches as 'alike'", ()),
    "serve": ("serve", "a local web page (and HTTP API) to colourise photos in a browser", ()),
}
ALIASES = {alias: name for name, (_, _, aliases) in COMMANDS.items() for alias in aliases}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with `only` one subcommand's in full and the others as names with their help."""
    parser = argparse.ArgumentParser(
        prog="colorizer",
        description="Colourise grayscale photos and films, or train a model on your own photos.",
    )
    parser.add_argument("--version", action="version", version=f"colorizer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text, aliases) in COMMANDS.items():
        if only is None or only == name:
            importlib.import_module(f"colorizer.cli.{module}").add_parser(commands)
        else:
            commands.add_parser(name, aliases=list(aliases), help=help_text)
    return parser


def _asked_for(argv: list[str]) -> str | None:
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return ALIASES.get(first, first) if first in COMMANDS or first in ALIASES else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(only=_asked_for(argv) or "").parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
