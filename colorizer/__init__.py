"""colorizer: turn grayscale photos into colour photos with a convolutional autoencoder, and train one yourself.

    import colorizer
    colorizer.colorize("old_photo.jpg").save("colour.png")    # the bundled model, loaded once on first use
    colorizer.colorize("street.jpg", hints=[{"x": 412, "y": 96, "color": "#b0302a"}])
    model = colorizer.Colorizer.load("my_model.onnx")         # any other model: the same methods

Nothing heavy is imported by `import colorizer`: the model loads on the first call.
"""

import threading

__version__ = "0.2.0"

__all__ = ["Colorizer", "__version__", "colorize", "reference"]

_bundled = None
_bundled_lock = threading.Lock()


def _bundled_colorizer():
    """The bundled model, loaded once (thread-safe) and kept for later calls."""
    global _bundled
    with _bundled_lock:
        if _bundled is None:
            from colorizer.inference.photos import Colorizer

            _bundled = Colorizer.load()
        return _bundled


def colorize(image, **options):
    """Colourise a photo (a path, PIL image or NumPy array) with the bundled model; returns a PIL image.
    `options` are `Colorizer.colorize`'s: size, hints, saturation, reference, reach, temperature."""
    return _bundled_colorizer().colorize(image, **options)


def reference(image, size=None):
    """A colour photo prepared once as a reference for many `colorize(..., reference=...)` calls (bundled model)."""
    return _bundled_colorizer().reference(image, size)


def __getattr__(name: str):
    if name == "Colorizer":  # imported lazily so `colorizer --help` does not load torch
        from colorizer.inference.photos import Colorizer

        return Colorizer
    raise AttributeError(name)
