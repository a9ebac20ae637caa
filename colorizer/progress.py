"""Progress bars: tqdm on a terminal; in a log file or a pipe an update now and then, not one per photo or frame."""

from __future__ import annotations

import sys

from tqdm import tqdm

LOG_INTERVAL = 30.0  # seconds between updates when stderr is not a terminal


def progress_bar(*args, file=None, **kwargs) -> tqdm:
    """`tqdm(...)` writing to stderr; when that is not a terminal (a 250-frame film would otherwise leave 250
    carriage-return updates in a log), at most one update every LOG_INTERVAL seconds."""
    file = sys.stderr if file is None else file
    if not getattr(file, "isatty", lambda: False)():
        kwargs.setdefault("mininterval", LOG_INTERVAL)
    return tqdm(*args, file=file, **kwargs)
