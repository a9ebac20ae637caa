"""`colorizer serve`: the local web page and HTTP API."""

from __future__ import annotations

import argparse

from colorizer.cli.common import (
    add_model_arguments,
    bounded,
    error,
    load_colorizer,
)


def add_parser(commands) -> None:
    p = commands.add_parser(
        "serve",
        help="a local web page (and HTTP API) to colourise photos in a browser",
        description="Start a web app on this machine: drop photos on the page, compare gray and colour, download "
        "the results at full resolution. POST /api/colorize is the same as an HTTP API (docs at /docs). "
        "Binds to 127.0.0.1 unless --host says otherwise.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=bounded(int, 1, 65535), default=8000, help="port (default: 8000)")
    add_model_arguments(p, size=False)  # the page chooses the working size per request
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from colorizer.inference.serve import ServeLimits, serve
    from colorizer.inference.session import ModelError

    try:
        colorizer = load_colorizer(args)
    except ModelError as err:
        return error(str(err))
    serve(colorizer, args.host, args.port, ServeLimits(args.max_upload_mb, args.max_megapixels, args.max_queue))
    return 0
