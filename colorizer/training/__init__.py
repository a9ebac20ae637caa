"""Training, evaluation and export to ONNX: PyTorch (`pip install 'photo-colorizer[train]'`).

The arrow between the two packages points one way: training may use `colorizer.inference` (evaluation scores models
through it, export writes what it reads), inference never imports training. Importing this package registers the
exporter that lets `colorizer.inference` open a training checkpoint directly (it imports torch only when used).
"""

from pathlib import Path

from colorizer.inference.exporters import register_checkpoint_exporter


def _checkpoint_to_onnx(path: Path) -> bytes:
    from colorizer.inference.session import ModelError

    try:
        from colorizer.training.checkpoint import CheckpointError
        from colorizer.training.export import onnx_bytes
    except ImportError:
        raise ModelError(
            f"{path} is a training checkpoint; colourising with it needs the training extra (pip install "
            f"'photo-colorizer[train]'), or export it once where that is installed: colorizer export {path} model.onnx"
        ) from None
    try:
        return onnx_bytes(path)
    except CheckpointError as err:
        raise ModelError(str(err)) from None


register_checkpoint_exporter(_checkpoint_to_onnx)
