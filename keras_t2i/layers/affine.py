"""The text-conditioned channel-wise Affine of DF-GAN (seeds.md §2.1; DF-GAN CVPR 2022, §3.3)."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.torch_init import build_torch_layer, torch_default_kernel


@keras.saving.register_keras_serializable(package="keras_t2i")
class Affine(keras.layers.Layer):
    """Channel-wise affine transform predicted from a condition: γ(c) ⊙ x + β(c).

    γ and β are each Linear(cond_dim → C) → ReLU → Linear(C → C). The last layer of γ starts at
    weight 0 and bias 1, that of β at weight 0 and bias 0, so the layer is the identity at
    initialisation (DF-GAN, CVPR'22 code ``Affine._initialize``).

    Args:
        channels: int. C, the channels of x.

    Call arguments:
        x: (batch, height, width, channels).
        condition: (batch, cond_dim).

    Returns:
        (batch, height, width, channels).
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        c = self.channels
        self.gamma_hidden = keras.layers.Dense(c, activation="relu", name="gamma_hidden",
                                               kernel_initializer=torch_default_kernel())
        self.gamma_out = keras.layers.Dense(c, kernel_initializer="zeros",
                                            bias_initializer="ones", name="gamma_out")
        self.beta_hidden = keras.layers.Dense(c, activation="relu", name="beta_hidden",
                                              kernel_initializer=torch_default_kernel())
        self.beta_out = keras.layers.Dense(c, kernel_initializer="zeros",
                                           bias_initializer="zeros", name="beta_out")

    def build(self, x_shape, condition_shape):
        if x_shape[-1] != self.channels:
            raise ValueError(f"Affine({self.channels}) got an input with {x_shape[-1]} channels")
        build_torch_layer(self.gamma_hidden, condition_shape)
        build_torch_layer(self.beta_hidden, condition_shape)
        hidden = tuple(condition_shape[:-1]) + (self.channels,)
        self.gamma_out.build(hidden)
        self.beta_out.build(hidden)

    def call(self, x, condition):
        gamma = self.gamma_out(self.gamma_hidden(condition))
        beta = self.beta_out(self.beta_hidden(condition))
        return gamma[:, None, None, :] * x + beta[:, None, None, :]

    def compute_output_shape(self, x_shape, condition_shape):
        return tuple(x_shape)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
