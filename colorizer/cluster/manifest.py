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

An input counts as done in a later run when a row says `written` under the same settings key; a failed input is tried
again; with other settings (another model, say) nothing counts as done. `run-<key>.json` beside the parts records each
settings key's settings and when it began; removing the folder starts over.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable

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
    """The run's marker, `_manifest/run-<key>.json` (its settings), written when a run with these settings first
    begins: outputs newer than it are this run's own (an earlier attempt's, not to be written again). Returns it and
    whether it was there already (this continues a stopped run)."""
    marker = folder(destination).child(f"run-{run}.json")
    try:
        there = marker.fs.get_file_info(marker.path).type == pafs.FileType.File
    except OSError as err:
        raise StorageError(f"{destination.uri}: cannot read it ({err})") from None
    if not there:
        text = json.dumps({"run": run, "began": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **settings})
        write_bytes(marker, text.encode())
    return marker, there


def read_done(destination: Location, run: str) -> set[str]:
    """Sources a previous run with these settings wrote (a later row for the same source wins)."""
    manifest = folder(destination)
    done: set[str] = set()
    try:
        names = list(list_files(manifest, (".jsonl",)))
    except StorageError:
        return done  # no manifest yet
    for name in names:
        for line in read_bytes(manifest.child(name)).decode().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # parts are written whole; a hand-edited line is not worth failing over
            if row.get("run") != run:
                continue
            if row.get("status") == "written":
                done.add(row["source"])
            else:
                done.discard(row["source"])
    return done


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
