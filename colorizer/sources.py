"""The user's sources on a local disk: one walk of input folders, and one rule that keeps outputs off them.

Both engines (the local batch and the cluster driver) list folders with `walk_folder` and ask `writes_over_source`
before a run starts and before each output, so a folder reached twice (a link to itself or to a folder above it),
a link loop, a dangling link or a device is named once and never followed, and an output is refused wherever it
would land on a source, however the two paths are spelled (relative or absolute, through links either way).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path


def real(path: str | os.PathLike) -> str:
    """The path with every link resolved, as far as it resolves: never raises, even on a link loop."""
    return os.path.realpath(os.path.abspath(path))


def same_place(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file or folder (through links, whatever their spelling)."""
    return real(a) == real(b)


def is_inside(inner: str | os.PathLike, outer: str | os.PathLike) -> bool:
    """Whether `inner` is `outer` or below it, once links are resolved."""
    inner_real, outer_real = real(inner), real(outer).rstrip(os.sep)
    return inner_real == outer_real or inner_real.startswith(outer_real + os.sep)


def writes_over_source(output: str | os.PathLike, sources: list[str | os.PathLike]) -> str | None:
    """Why writing `output` would modify one of `sources` (its real path is one of theirs), or None."""
    output_real = real(output)
    for source in sources:
        if real(source) == output_real:
            return f"its output {output} is the source {source} (through a link): sources are never modified"
    return None


def entry_problem(path: str | os.PathLike) -> str | None:
    """Why a listed file cannot be read as a photo or video (a dangling link, a link loop, a device...), or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if os.path.islink(path):
            if err.errno == errno.ELOOP:
                return "a symbolic link loop: skipped"
            return "a symbolic link to nothing (its target is missing): skipped"
        return f"cannot be read ({err.strerror or err})"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket): skipped"
    return None


def walk_folder(
    root: str | os.PathLike,
    exclude: str | os.PathLike | None = None,
    on_problem: Callable[[Path, str], None] | None = None,
) -> Iterator[tuple[Path, list[str]]]:
    """(folder, sorted names of the readable regular files in it) for `root` and each folder below it, links
    followed, each real folder once: a folder reached again (a link loop, a link to a folder above) is not walked
    twice. `exclude` (the output folder inside an input folder) is left out. Files that cannot be read, and folders
    reached twice, go to `on_problem(path, reason)`."""
    seen: set[tuple[int, int]] = set()
    exclude_real = real(exclude) if exclude is not None else None

    def problem(path: Path, reason: str) -> None:
        if on_problem is not None:
            on_problem(path, reason)

    def onerror(err: OSError) -> None:
        problem(Path(err.filename or root), f"cannot be listed ({err.strerror or err})")

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        folder = Path(dirpath)
        try:
            info = os.stat(folder)
        except OSError as err:
            problem(folder, f"cannot be listed ({err.strerror or err})")
            dirnames[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            problem(folder, "a folder reached again through a link (a loop): walked once")
            dirnames[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        if exclude_real is not None and real(folder) == exclude_real:
            dirnames[:] = []
            continue
        dirnames.sort()
        names = []
        for name in sorted(filenames):
            reason = entry_problem(folder / name)
            if reason is None:
                names.append(name)
            else:
                problem(folder / name, reason)
        yield folder, names
