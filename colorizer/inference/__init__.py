"""Colourising: ONNX Runtime, NumPy and Pillow. Nothing in this package imports torch (a test enforces it), so
`pip install photo-colorizer` stays small and `colorizer colorize` starts at once."""

# How far a hint's colour goes beyond the object under it, to what looks alike, unless a call or the hint says
# otherwise: 0 = that object only, 1 = everything alike in the photo (`alike.py`; chosen on validation photos, README
# "How a hint spreads"). Here, in plain Python, so the command line's help can say it without importing NumPy.
DEFAULT_REACH = 0.5
