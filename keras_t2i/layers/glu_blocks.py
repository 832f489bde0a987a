"""The GLU blocks of the AttnGAN-family generators (AttnGAN, DM-GAN, MirrorGAN; seeds.md §1.6):
the up-block and the residual block, with the helpers those codes build them from.
Channels last; convolutions without bias; BatchNorm with PyTorch's momentum 0.1 and ε 1e-5;
DM-GAN's ``weights_init`` (orthogonal kernels, gain 1; BN γ from N(1, 0.02), β 0)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401


def glu(x):
    """Gated linear unit over the last axis: x[..., :C/2] · σ(x[..., C/2:])."""
    half = x.shape[-1] // 2
    return x[..., :half] * ops.sigmoid(x[..., half:])


def orthogonal():
    return keras.initializers.Orthogonal(gain=1.0)


def batch_norm(name):
    """BatchNorm as the PyTorch codes build it (momentum 0.1 → Keras 0.9, ε 1e-5), with
    ``weights_init``'s γ ~ N(1, 0.02). Under tf.distribute each replica normalises its own
    share of the batch, as the codes' ``nn.DataParallel`` does on several GPUs. (Keras'
    ``synchronized=True`` was tried: its all-reduces and the gradients' were issued in
    different orders on the two replicas of a MirroredStrategy on this CPU, and the collective
    aborted on a shape mismatch.)"""
    return keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02),
        name=name)


def conv3x3(filters, name, use_bias=False):
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=use_bias,
                               kernel_initializer=orthogonal(), name=name)


@keras.saving.register_keras_serializable(package="keras_t2i")
class GLUUpBlock(keras.layers.Layer):
    """AttnGAN ``upBlock``: nearest ×2 → conv3×3 (→ 2·out, no bias) → BN → GLU.

    Args:
        filters: int. Output channels.
    """

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.up = keras.layers.UpSampling2D(2, interpolation="nearest", name="up")
        self.conv = conv3x3(2 * self.filters, "conv")
        self.norm = batch_norm("bn")

    def build(self, input_shape):
        shape = self.up.compute_output_shape(input_shape)
        self.conv.build(shape)
        self.norm.build(self.conv.compute_output_shape(shape))
        self.built = True

    def call(self, x, training=None):
        return glu(self.norm(self.conv(self.up(x)), training=training))

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (input_shape[0], None if h is None else 2 * h, None if w is None else 2 * w,
                self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="keras_t2i")
class GLUResBlock(keras.layers.Layer):
    """AttnGAN ``ResBlock``: x + BN(conv3×3(GLU(BN(conv3×3(x → 2C))))), convs without bias.

    Args:
        channels: int. C, in and out.
    """

    def __init__(self, channels, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.conv_1 = conv3x3(2 * self.channels, "conv_1")
        self.norm_1 = batch_norm("bn_1")
        self.conv_2 = conv3x3(self.channels, "conv_2")
        self.norm_2 = batch_norm("bn_2")

    def build(self, input_shape):
        self.conv_1.build(input_shape)
        self.norm_1.build(tuple(input_shape[:3]) + (2 * self.channels,))
        self.conv_2.build(tuple(input_shape[:3]) + (self.channels,))
        self.norm_2.build(tuple(input_shape[:3]) + (self.channels,))
        self.built = True

    def call(self, x, training=None):
        y = glu(self.norm_1(self.conv_1(x), training=training))
        return x + self.norm_2(self.conv_2(y), training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}
