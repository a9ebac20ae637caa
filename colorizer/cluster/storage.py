"""Where an archive's photos come from and go to: local paths and the URIs of any filesystem pyarrow knows (`s3://`,
`gs://`, `abfs://`, `hdfs://`, `file://`), through `pyarrow.fs`, the same layer Ray Data reads and writes with.

Credentials and endpoints come from the usual places (`AWS_*` variables, `~/.aws`, `AWS_ENDPOINT_URL` for an
S3-compatible store). A final name never holds a partial file: on a local disk each writer writes beside the final name
and renames (`colorizer.atomic`); on an object store the file is written locally and sent as one object, which appears
only once complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pyarrow.fs as pafs


class StorageError(Exception):
    """A location cannot be used (bad URI, unknown filesystem, no access); the message names it."""


@dataclass(frozen=True)
class Location:
    """A filesystem and a path on it, with the text the user gave (for messages and the manifest)."""

    fs: pafs.FileSystem
    path: str
    uri: str

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def child(self, relative: str) -> Location:
        """The location `relative` (a POSIX path) below this one."""
        path = str(PurePosixPath(self.path) / relative) if relative else self.path
        return Location(self.fs, path, f"{self.uri.rstrip('/')}/{relative}" if relative else self.uri)

    def sibling(self, name: str) -> Location:
        """The file `name` in the same folder as this one."""
        path = str(PurePosixPath(self.path).with_name(name))
        return Location(self.fs, path, self.uri[: self.uri.rstrip("/").rfind("/") + 1] + name)


def is_uri(text: str) -> bool:
    return "://" in str(text)


def locate(text: str | os.PathLike) -> Location:
    """A local path or a URI -> Location (the filesystem resolved once here; it travels to the workers pickled)."""
    text = str(text)
    if not is_uri(text):
        path = os.path.abspath(text)  # absolute: the manifest's names must not depend on where a rerun starts
        return Location(pafs.LocalFileSystem(), path, path)
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except Exception as err:  # pyarrow raises ArrowInvalid / ArrowNotImplementedError / OSError here
        raise StorageError(f"{text}: not a location this can read or write ({err})") from None
    if isinstance(fs, pafs.LocalFileSystem):
        return Location(fs, path, path)
    return Location(fs, path.rstrip("/"), text)


def info(location: Location) -> pafs.FileInfo:
    try:
        return location.fs.get_file_info(location.path)
    except OSError as err:
        raise StorageError(f"{location.uri}: {err}") from None


def walk(
    location: Location, exclude: Location | None = None, on_problem: Callable[[str, str], None] | None = None
) -> Iterator[tuple[str, list[str]]]:
    """(folder relative to `location`, sorted names of the files in it) for `location` and every folder below it,
    one folder at a time (what is held is one folder's listing, not the tree's), leaving out `exclude` (the output
    folder inside an input folder) and everything under it. On a local disk this is the local engine's walk
    (`colorizer.sources.walk_folder`: links followed, each real folder once, unreadable entries named to
    `on_problem(path, reason)`)."""
    if location.is_local:
        from colorizer.sources import walk_folder

        root = Path(location.path)
        excluded = exclude.path if exclude is not None and exclude.is_local else None
        report = None if on_problem is None else (lambda path, reason: on_problem(str(path), reason))
        for folder, names in walk_folder(root, excluded, report):
            relative = os.path.relpath(folder, root)
            yield ("" if relative == "." else relative.replace(os.sep, "/")), names
        return
    skip = exclude.path.rstrip("/") if exclude is not None and exclude.fs.equals(location.fs) else None
    root = location.path.rstrip("/")
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            found = location.fs.get_file_info(pafs.FileSelector(folder, recursive=False))
        except OSError as err:
            raise StorageError(f"{location.uri}: cannot list {folder} ({err})") from None
        files = sorted(entry.base_name for entry in found if entry.type == pafs.FileType.File)
        below = sorted((entry.path for entry in found if entry.type == pafs.FileType.Directory), reverse=True)
        folders += [path for path in below if path.rstrip("/") != skip]
        yield folder[len(root) + 1 :], files


def list_files(location: Location, extensions: tuple[str, ...], exclude: Location | None = None) -> Iterator[str]:
    """Paths relative to `location` (a folder) of the files below it with one of `extensions`, folder by folder."""
    for folder, names in walk(location, exclude):
        for name in names:
            if name.lower().endswith(extensions):
                yield f"{folder}/{name}" if folder else name


def read_bytes(location: Location, limit: int | None = None) -> bytes:
    """The file's bytes; more than `limit` is an error (checked before reading where the size is known)."""
    try:
        if limit is not None:
            size = location.fs.get_file_info(location.path).size
            if size is not None and size > limit:
                raise StorageError(f"{location.uri}: {size / 1e6:.0f} MB, over the limit of {limit / 1e6:.0f} MB")
        with location.fs.open_input_stream(location.path) as stream:
            return stream.read()
    except OSError as err:
        raise StorageError(f"cannot read {location.uri} ({err})") from None


def publish(location: Location, write: Callable[[Path], None]) -> int:
    """Have `write(path)` write the file, then make it appear under `location` in one step; returns its bytes.

    On a local disk `write` gets the final path: every writer it is given (`atomic_save`, `save_comparison`,
    `colorize_video`) already writes beside it and renames. Elsewhere it gets a temporary local file of the same name,
    which is then uploaded as one object."""
    if location.is_local:
        Path(location.path).parent.mkdir(parents=True, exist_ok=True)
        write(Path(location.path))
        return os.path.getsize(location.path)
    with tempfile.TemporaryDirectory(prefix="colorizer-") as folder:
        local = Path(folder) / PurePosixPath(location.path).name
        write(local)
        try:
            pafs.copy_files(
                str(local), location.path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=location.fs
            )
        except OSError as err:
            raise StorageError(f"could not write {location.uri} ({err})") from None
        return local.stat().st_size


def write_bytes(location: Location, data: bytes) -> None:
    """Small files (manifest parts): whole, under their final name only once complete."""
    publish(location, lambda path: _write_atomically(path, data))


def _write_atomically(path: Path, data: bytes) -> None:
    from colorizer.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def local_copy(location: Location) -> Iterator[Path]:
    """A local path holding the file (itself on a local disk; else downloaded to a temporary file) for readers that
    need one, such as the video decoder."""
    if location.is_local:
        yield Path(location.path)
        return
    with tempfile.TemporaryDirectory(prefix="colorizer-") as folder:
        local = Path(folder) / PurePosixPath(location.path).name
        try:
            pafs.copy_files(
                location.path, str(local), source_filesystem=location.fs, destination_filesystem=pafs.LocalFileSystem()
            )
        except OSError as err:
            raise StorageError(f"cannot read {location.uri} ({err})") from None
        yield local
