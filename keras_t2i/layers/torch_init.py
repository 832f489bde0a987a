"""PyTorch's default initialisation of Linear and Conv layers, for ported networks.

PyTorch draws a Linear/Conv kernel from kaiming-uniform with a = √5, which is U(±1/√fan_in),
and its bias from U(±1/√fan_in) too; Keras starts biases at zero. The reference code trains from
PyTorch's values, and a GAN's first steps depend on them, so the ported layers start there.
"""

from __future__ import annotations

import math

import keras

from keras_t2i import _backend  # noqa: F401


def torch_default_kernel():
    """U(±1/√fan_in) for a kernel (Keras computes fan_in from the kernel's shape)."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, mode="fan_in", distribution="uniform")


def torch_default_bias(fan_in: int):
    """U(±1/√fan_in) for the bias of a layer whose kernel has ``fan_in`` inputs per output."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def build_torch_layer(layer, input_shape):
    """Builds a Dense or Conv layer on ``input_shape`` with PyTorch's default bias (its fan-in
    is only known from the input), unless the layer was given a bias initializer of its own."""
    if getattr(layer, "use_bias", False) and _is_default_bias(layer.bias_initializer):
        kernel_size = getattr(layer, "kernel_size", ())
        layer.bias_initializer = torch_default_bias(input_shape[-1] * math.prod(kernel_size))
    layer.build(input_shape)


def _is_default_bias(initializer) -> bool:
    return isinstance(initializer, keras.initializers.Zeros)
