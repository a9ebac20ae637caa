"""One helper: map a top-level function over items in a process pool, in order, behind a progress bar.

Workers start from a fork server, not by forking the caller: the caller may have threads (ONNX Runtime's, torch's,
a web server's), and a child forked while one of them held a lock can wait on it forever (seen once in the test
suite: a cache-building worker that hung and ignored the pool's SIGTERM).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

from colorizer.progress import progress_bar

PRELOAD = ["colorizer.prepare", "colorizer.training.data"]  # the modules of the functions mapped (absent ones skipped)


def parallel_map(function: Callable, items: Sequence, workers: int, label: str, progress: bool = True) -> list[Any]:
    """[function(item) for item in items], spread over `workers` processes (a plain loop when workers == 1)."""
    bar = progress_bar(total=len(items), desc=label, unit="img", disable=not progress or not items)
    results = []
    with bar:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                results.append(function(item))
                bar.update()
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)  # imported once by the server, not by every worker
            with context.Pool(min(workers, len(items))) as pool:
                for result in pool.imap(function, items, chunksize=1):
                    results.append(result)
                    bar.update()
    return results
