"""Figures: original | grayscale | colourised comparison grids, and the training loss curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from colorizer.atomic import atomic_path
from colorizer.images import atomic_save

COMPARISON_LABELS = ("original", "grayscale", "colourised")


def comparison_grid(
    rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str] = COMPARISON_LABELS, height: int = 256
) -> Image.Image:
    """One row per photo, one column per version ((H, W, 3) uint8 each), scaled to `height`, labelled on top."""
    gap, header = 6, 22
    scaled = [
        [Image.fromarray(p).resize((max(1, round(p.shape[1] * height / p.shape[0])), height)) for p in r] for r in rows
    ]
    column_widths = [max(row[c].width for row in scaled) for c in range(len(labels))]
    width = sum(column_widths) + gap * (len(labels) + 1)
    canvas = Image.new("RGB", (width, header + len(rows) * (height + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for c, label in enumerate(labels):
        draw.text((x + 2, 5), label, fill="black")
        for r, row in enumerate(scaled):
            canvas.paste(row[c], (x, header + r * (height + gap)))
        x += column_widths[c] + gap
    return canvas


def save_comparison(
    rows: Sequence[Sequence[np.ndarray]], path: Path, labels: Sequence[str] = COMPARISON_LABELS
) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(comparison_grid(rows, labels), path, "PNG")


def _logged(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The epochs that logged `key` and its values (older runs lack newer keys)."""
    rows = [h for h in history if key in h]
    return [h["epoch"] for h in rows], [h[key] for h in rows]


def plot_loss(history: list[dict], path: Path) -> None:
    """Training and validation loss per epoch (paper Fig. 5; the weight average's beside the raw weights' when the run
    keeps one) and, where logged, the validation ΔE2000 of the automatic colour on a second axis; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6.5, 4), dpi=100)
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation")
    if any("ema_val_loss" in h for h in history):
        ax.plot(*_logged(history, "ema_val_loss"), "^-", label="validation, weight average")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("loss")
    ax.set_title("colorizer training loss")
    ax.grid(alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    if any("val_delta_e" in h for h in history):
        right = ax.twinx()
        for key, label in (("val_delta_e", "validation ΔE2000"), ("ema_val_delta_e", "ΔE2000, weight average")):
            if any(key in h for h in history):
                right.plot(
                    *_logged(history, key), "x--", color="gray" if key == "val_delta_e" else "black", label=label
                )
        right.set_ylabel("ΔE2000, automatic colour")
        more_lines, more_labels = right.get_legend_handles_labels()
        lines, labels = lines + more_lines, labels + more_labels
    ax.legend(lines, labels, fontsize="small")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
