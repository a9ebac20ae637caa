"""Colourising: ONNX Runtime, NumPy and Pillow. Nothing in this package imports torch (a test enforces it), so
`pip install photo-colorizer` stays small and `colorizer colorize` starts at once."""
