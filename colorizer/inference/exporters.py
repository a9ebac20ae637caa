"""Where a training checkpoint's exporter to ONNX is registered: plain Python, nothing imported.

`colorizer.training` registers its exporter here when it is imported, so the arrow between the packages points from
training to inference and never back; kept apart from `session.py` so that importing the training package (as the
command line's parser does) costs no NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

checkpoint_exporters: list[Callable[[Path], bytes]] = []


def register_checkpoint_exporter(export: Callable[[Path], bytes]) -> None:
    """How a training checkpoint becomes ONNX bytes (the last one registered is used)."""
    checkpoint_exporters.append(export)
