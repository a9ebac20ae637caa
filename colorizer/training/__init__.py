"""Training, evaluation and export to ONNX: PyTorch (`pip install 'photo-colorizer[train]'`). Only the constants
of `colorizer.conventions` are shared with `colorizer.inference`."""
