"""Keras layers shared by several model families (a family's own layers live in its folder,
e.g. ``kt.models.df_gan.DFBlock``)."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.affine import Affine
from keras_t2i.layers.attention import WordAttention
from keras_t2i.layers.conditioning import ConditioningAugmentation
from keras_t2i.layers.diff_augment import DiffAugment
from keras_t2i.layers.glu_blocks import GLUResBlock, GLUUpBlock, glu
from keras_t2i.layers.spectral import SpectralConv2D
from keras_t2i.layers.torch_init import build_torch_layer, torch_default_bias, torch_default_kernel
from keras_t2i.layers.whitening import ZCAWhitening

__all__ = ["Affine", "ConditioningAugmentation", "DiffAugment", "GLUResBlock", "GLUUpBlock",
           "SpectralConv2D", "WordAttention", "ZCAWhitening", "build_torch_layer", "glu",
           "torch_default_bias", "torch_default_kernel"]
