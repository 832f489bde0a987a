"""Reusable Keras layers of the text-to-image models."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.affine import Affine
from keras_t2i.layers.df_blocks import DFBlock, DownBlock, UpBlock

__all__ = ["Affine", "DFBlock", "DownBlock", "UpBlock"]
