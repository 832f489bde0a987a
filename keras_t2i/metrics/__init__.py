"""Evaluation statistics, one module each; feature extractors are injected.

- ``kt.metrics.r_precision``: R@1 of the true caption among 1 + 99 mismatched (DM-GAN protocol).
"""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.metrics import r_precision

__all__ = ["r_precision"]
