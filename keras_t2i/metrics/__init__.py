"""Evaluation statistics. Each is a pure function of features; feature extractors are injected."""
from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)
from keras_t2i.metrics.r_precision import r_precision

__all__ = ["r_precision"]
