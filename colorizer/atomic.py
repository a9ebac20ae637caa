"""Writing files so that a crash or Ctrl-C never leaves half a file: write beside it, then `os.replace`.

The file beside it is `.NAME.PID.tmp`. A process killed outright (SIGKILL, power loss) cannot remove its own:
`remove_stale_temporaries` (run once over an output folder at the start of `colorize` and `prepare`) removes such
leftovers whose process is gone, and only files of that exact naming.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path`: on success it replaces `path` in one step, on failure it is removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process: leave its file alone
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove `.NAME.PID.tmp` files under `folder` left by processes that no longer exist; returns what went."""
    removed = []
    if not Path(folder).is_dir():
        return removed
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            parts = name.rsplit(".", 2)  # ".NAME", "PID", "tmp"
            if len(parts) == 3 and name.startswith(".") and parts[2] == "tmp" and parts[1].isdigit():
                pid = int(parts[1])
                if pid != os.getpid() and not _alive(pid):
                    stale = Path(dirpath) / name
                    stale.unlink(missing_ok=True)
                    removed.append(stale)
    return removed


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
