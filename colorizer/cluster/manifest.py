"""The record a cluster run keeps under its destination, `DST/_manifest/`: one JSON line per input, written as the run
goes, so that a stopped run (Ctrl-C, a lost driver, a killed job) can be run again and finish only the rest.

It is a folder of parts (`part-<start>-<pid>-<n>.jsonl`), each written whole in one step (an object store cannot
append), readable by anything that reads JSON lines (`pandas.read_json(path, lines=True)`, `ray.data.read_json`,
DuckDB). Columns:

    source   the input (path or URI)          status   written | exists | failed
    output   what was (or would be) written   bytes    size of the output written (0 otherwise)
    error    why it failed / was skipped       seconds  time spent on it in the worker
    time     when it finished (UTC, ISO 8601)  node     the Ray node that did it
    run      the settings key: model, working size, format, hints, reference... (`settings_key`)

An input counts as done in a later run when the latest row for its output says `written` under the same settings key
and the output is still there: a failed input is tried again, an output deleted by hand is written again, and after a
run with other settings (another saturation, say) wrote over an output, it no longer counts as done for the first
settings. `run-<key>.json` beside the parts records each settings key's settings; it is written again whenever a run
begins with settings other than the last run's, so that "newer than the marker" means "written by this run".
`last-run` names the settings key that began last. Removing the folder starts over. Lines edited by hand that are not
rows (not JSON objects with text `source`, `output`, `status` and `run`) are ignored and counted.

One run at a time per destination: on a local disk `lock(destination)` holds `_manifest/lock` (an advisory lock
that the system releases when the driver ends, however it ends); a second run on it stops at once, naming the first.
On an object store there is no such lock: do not start two runs on one destination at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.fs as pafs

from colorizer.cluster.storage import Location, StorageError, list_files, read_bytes, write_bytes

FOLDER = "_manifest"
COLUMNS = ("source", "output", "status", "bytes", "error", "seconds", "time", "node", "run")
FLUSH_ROWS = 2000  # a part is written at least this often...
FLUSH_SECONDS = 10.0  # ...or after this long, whichever comes first


def settings_key(settings: dict) -> str:
    """A short, stable hash of everything that decides an output's pixels."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def folder(destination: Location) -> Location:
    return destination.child(FOLDER)


def begin(destination: Location, run: str, settings: dict) -> tuple[Location, bool]:
    """The run's marker, `_manifest/run-<key>.json` (its settings): outputs newer than it are this run's own (an
    earlier attempt's, not to be written again). Written when a run with these settings first begins, and again when
    a run with other settings began since (their outputs are not this run's). Returns it and whether this continues
    a stopped run with the same settings."""
    marker = folder(destination).child(f"run-{run}.json")
    last = folder(destination).child("last-run")
    try:
        there = marker.fs.get_file_info(marker.path).type == pafs.FileType.File
        last_there = last.fs.get_file_info(last.path).type == pafs.FileType.File
    except OSError as err:
        raise StorageError(f"{destination.uri}: cannot read it ({err})") from None
    previous = read_bytes(last).decode("utf-8", "replace").strip() if last_there else (run if there else "")
    continued = there and previous == run
    if not continued:
        text = json.dumps({"run": run, "began": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **settings})
        write_bytes(marker, text.encode())
        write_bytes(last, run.encode())
    return marker, continued


def _row(line: str) -> dict | None:
    """A manifest line as a row, or None for a line that is not one (edited by hand, truncated, nested too deep)."""
    try:
        row = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(row, dict):
        return None
    if not all(isinstance(row.get(key), str) for key in ("source", "output", "status", "run")):
        return None
    return row


def read_done(destination: Location, run: str) -> tuple[dict[str, str], int]:
    """{source: output} of the inputs whose output's latest row says a run with these settings wrote it, and the
    number of lines that are not rows. Whether each output is still there is for the caller to check."""
    manifest = folder(destination)
    latest: dict[str, dict] = {}
    bad = 0
    try:
        names = sorted(list_files(manifest, (".jsonl",)))  # part names begin with their time: oldest first
    except StorageError:
        return {}, 0  # no manifest yet
    for name in names:
        for line in read_bytes(manifest.child(name)).decode("utf-8", "replace").splitlines():
            if not line.strip():
                continue
            row = _row(line)
            if row is None:
                bad += 1
                continue
            if row["status"] == "exists":
                continue  # kept as it was: says nothing about who wrote it
            latest[row["output"] or row["source"]] = row
    done = {row["source"]: output for output, row in latest.items() if row["run"] == run and row["status"] == "written"}
    return done, bad


@contextlib.contextmanager
def lock(destination: Location) -> Iterator[None]:
    """Hold the destination for this run (on a local disk; see the module docstring for object stores)."""
    if not destination.is_local:
        yield
        return
    import fcntl

    path = Path(folder(destination).path) / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another run"
            raise StorageError(
                f"{destination.uri} is being written by another run ({holder}): wait for it to end, or choose "
                "another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%H:%M:%S')}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)


class ManifestWriter:
    """Rows in, parts out: a part every FLUSH_ROWS rows or FLUSH_SECONDS, and whatever is left on close()."""

    def __init__(self, destination: Location):
        self.folder = folder(destination)
        self.prefix = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
        self.rows: list[dict] = []
        self.parts = 0
        self.last_flush = time.monotonic()

    def add(self, rows: Iterable[dict]) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= FLUSH_ROWS or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.rows:
            return
        text = "".join(json.dumps({key: row.get(key) for key in COLUMNS}) + "\n" for row in self.rows)
        write_bytes(self.folder.child(f"{self.prefix}-{self.parts:06d}.jsonl"), text.encode())
        self.parts += 1
        self.rows.clear()

    close = flush
