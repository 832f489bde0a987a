"""The AttnGAN cascade's generator pieces that DM-GAN and MirrorGAN share (seeds.md §1.5,
§1.6, §3.5): Conditioning Augmentation, the GLU up-block and residual block, the initial
stage and the image head. Channels last; convolutions without bias; BatchNorm with PyTorch's
momentum 0.1 and ε 1e-5; the DM-GAN code's initialisation (orthogonal kernels, gain 1; BN γ
from N(1, 0.02), β 0; Linear biases 0)."""

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
class ConditioningAugmentation(keras.layers.Layer):
    """Conditioning Augmentation (StackGAN; AttnGAN ``CA_NET``): Linear(D → 4c) + GLU gives
    μ and log σ² (c each); ĉ = μ + exp(½ log σ²)·ε.

    Args:
        condition_dim: int. c. Defaults to 100.

    Call arguments:
        sentence: float (batch, D).
        epsilon: float (batch, c), ε ~ N(0, I): a latent of the model, so a seed fixes it.

    Returns:
        (ĉ, μ, log σ²), float (batch, c) each.
    """

    def __init__(self, condition_dim=100, **kwargs):
        super().__init__(**kwargs)
        self.condition_dim = int(condition_dim)
        self.fc = keras.layers.Dense(4 * self.condition_dim, kernel_initializer=orthogonal(),
                                     bias_initializer="zeros", name="fc")

    def build(self, sentence_shape, epsilon_shape=None):
        self.fc.build(sentence_shape)
        self.built = True

    def call(self, sentence, epsilon):
        x = glu(self.fc(sentence))
        mu, logvar = x[:, :self.condition_dim], x[:, self.condition_dim:]
        return mu + ops.exp(0.5 * logvar) * ops.cast(epsilon, mu.dtype), mu, logvar

    def compute_output_shape(self, sentence_shape, epsilon_shape=None):
        shape = (sentence_shape[0], self.condition_dim)
        return shape, shape, shape

    def get_config(self):
        return {**super().get_config(), "condition_dim": self.condition_dim}


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


@keras.saving.register_keras_serializable(package="keras_t2i")
class InitialStage(keras.layers.Layer):
    """AttnGAN/DM-GAN ``INIT_STAGE_G``: concat(ĉ, z) → Linear (→ 2·16gf·4·4, no bias) → BN1d →
    GLU → a 4×4×16gf map → four ``GLUUpBlock`` (16gf → 8gf → 4gf → 2gf → gf) to 64×64×gf.
    With ``size`` 32 (the package's small cascades) the map starts at 8gf and three blocks
    bring it to 32×32×gf.

    Args:
        gf_dim: int. gf (GF_DIM: 64 in DM-GAN, 32 in AttnGAN and MirrorGAN).
        size: int. The output side, a power of two >= 8. Defaults to 64 (the codes').

    Call arguments:
        condition: float (batch, c), ĉ.
        noise: float (batch, z).

    Returns:
        float (batch, size, size, gf).
    """

    def __init__(self, gf_dim, size=64, **kwargs):
        super().__init__(**kwargs)
        self.gf_dim = int(gf_dim)
        self.size = int(size)
        ups = self.size.bit_length() - 3  # 4 · 2^ups = size
        if self.size < 8 or self.size & (self.size - 1):
            raise ValueError(f"The initial stage's size must be a power of two >= 8, got {size}")
        self.top = self.gf_dim * 2 ** ups
        self.fc = keras.layers.Dense(2 * self.top * 4 * 4, use_bias=False,
                                     kernel_initializer=orthogonal(), name="fc")
        self.norm = batch_norm("bn")
        self.reshape = keras.layers.Reshape((4, 4, self.top), name="to_4x4")
        self.blocks = [GLUUpBlock(self.top // 2 ** (k + 1), name=f"up_block_{k}")
                       for k in range(ups)]

    def build(self, condition_shape, noise_shape):
        width = condition_shape[-1] + noise_shape[-1]
        self.fc.build((condition_shape[0], width))
        self.norm.build((condition_shape[0], self.fc.units))
        shape = (condition_shape[0], 4, 4, self.top)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.built = True

    def call(self, condition, noise, training=None):
        # torch.cat((c_code, z_code), 1): the condition first.
        x = ops.concatenate([condition, ops.cast(noise, condition.dtype)], axis=-1)
        # The PyTorch view(-1, C, 4, 4) reads the GLU's output channel-major; the Keras map is
        # 4×4×C, so the Linear's units are ordered (h, w, c) instead (same family of maps).
        x = self.reshape(glu(self.norm(self.fc(x), training=training)))
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def compute_output_shape(self, condition_shape, noise_shape):
        return (condition_shape[0], self.size, self.size, self.gf_dim)

    def get_config(self):
        return {**super().get_config(), "gf_dim": self.gf_dim, "size": self.size}


@keras.saving.register_keras_serializable(package="keras_t2i")
class ImageHead(keras.layers.Layer):
    """AttnGAN ``GET_IMAGE_G``: conv3×3 (gf → 3, no bias) → tanh, kept in float32."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = conv3x3(3, "conv")
        self.conv.dtype_policy = keras.DTypePolicy("float32")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.built = True

    def call(self, x):
        return ops.tanh(self.conv(ops.cast(x, "float32")))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:3]) + (3,)
