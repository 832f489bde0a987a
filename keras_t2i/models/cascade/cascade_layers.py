"""The AttnGAN cascade's generator stages that DM-GAN and MirrorGAN share (seeds.md §1.6,
§3.5): the initial stage and the image head. (Conditioning Augmentation and the GLU blocks are
layers: ``keras_t2i.layers``.)"""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.glu_blocks import GLUUpBlock, batch_norm, conv3x3, glu, orthogonal


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
