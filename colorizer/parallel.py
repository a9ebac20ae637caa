"""One helper: map a top-level function over items in a process pool, in order, behind a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from multiprocessing import Pool
from typing import Any

from tqdm import tqdm


def parallel_map(function: Callable, items: Sequence, workers: int, label: str, progress: bool = True) -> list[Any]:
    """[function(item) for item in items], spread over `workers` processes (a plain loop when workers == 1)."""
    bar = tqdm(total=len(items), desc=label, unit="img", disable=not progress or not items, file=sys.stderr)
    results = []
    with bar:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                results.append(function(item))
                bar.update()
        else:
            with Pool(min(workers, len(items))) as pool:
                for result in pool.imap(function, items, chunksize=1):
                    results.append(result)
                    bar.update()
    return results
