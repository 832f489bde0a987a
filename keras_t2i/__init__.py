"""keras_t2i: text-to-image GANs as Keras 3 models on TensorFlow.

Use as ``import keras_t2i as kt``; see the README for the Python API and the CLI.
Submodules load on first use (``kt.data``, ``kt.text``, …), so the command line starts without
importing TensorFlow; each of them selects the TensorFlow backend first (``_backend``).
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_t2i.version import __version__  # noqa: E402

_SUBMODULES = ("callbacks", "data", "evaluate", "export", "layers", "losses", "metrics", "models",
               "pretrain", "serving", "text", "train")
__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        importlib.import_module("keras_t2i._backend")
        return importlib.import_module(f"keras_t2i.{name}")
    raise AttributeError(f"module 'keras_t2i' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
