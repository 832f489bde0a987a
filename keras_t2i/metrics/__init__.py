"""Evaluation statistics, one module each; feature extractors are injected.

- ``kt.metrics.r_precision``: R@1 of the true caption among 1 + 99 mismatched (DM-GAN protocol).
- ``kt.metrics.shapes_oracle``: the Shapes oracle (reads shape, colour, size and cell of every
  object back from an image) and the semantic accuracy of generated images.
"""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.metrics import r_precision, shapes_oracle

__all__ = ["r_precision", "shapes_oracle"]
