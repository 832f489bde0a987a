"""Evaluation statistics, one module each; feature extractors are injected.

- ``kt.metrics.diversity``: mean LPIPS-style distance between images of one caption (MSGAN).
- ``kt.metrics.frechet``: FID (``frechet_distance``, ``fid_from_features``) and KID
  (``kernel_inception_distance``) of two feature sets.
- ``kt.metrics.inception_score``: Inception Score of any classifier's softmax outputs.
- ``kt.metrics.r_precision``: R@1 of the true caption among 1 + 99 mismatched (DM-GAN protocol).
- ``kt.metrics.shapes_oracle``: the Shapes oracle (reads shape, colour, size and cell of every
  object back from an image) and the semantic accuracy of generated images.
"""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.metrics import diversity, frechet, inception_score, r_precision, shapes_oracle

__all__ = ["diversity", "frechet", "inception_score", "r_precision", "shapes_oracle"]
