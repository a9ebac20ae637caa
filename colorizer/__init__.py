"""colorizer: turn grayscale photos into colour photos with a convolutional autoencoder, and train one yourself."""

__version__ = "0.2.0"

__all__ = ["Colorizer", "__version__"]


def __getattr__(name: str):
    if name == "Colorizer":  # imported lazily so `colorizer --help` does not load torch
        from colorizer.inference.photos import Colorizer

        return Colorizer
    raise AttributeError(name)
