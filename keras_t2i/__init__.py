"""keras_t2i: text-to-image GANs as Keras 3 models on TensorFlow.

Use as ``import keras_t2i as kt``; see the README for the Python API and the CLI.
"""

from keras_t2i import (
    _backend,  # noqa: F401  (sets KERAS_BACKEND before anything else)
    data,
    losses,
    metrics,
    text,
)
from keras_t2i.version import __version__

__all__ = ["__version__", "data", "losses", "metrics", "text"]
