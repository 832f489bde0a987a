"""DF-GAN generator ``NetG`` (CVPR'22 code, ``models/GAN.py``; seeds.md §2.1)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.torch_init import build_torch_layer, torch_default_kernel
from keras_t2i.models.df_gan.df_gan_layers import UpBlock, channel_multipliers, conv


def generator_channels(image_size: int, nf: int) -> list[tuple[int, int]]:
    """(in, out) channels of the UpBlocks, 4×4 → S×S; for S = 256: ×nf 8,8,8,8,4,2,1."""
    chans = [nf * m for m in reversed(channel_multipliers(image_size))]
    return list(zip(chans[:-1], chans[1:]))


@keras.saving.register_keras_serializable(package="keras_t2i")
class DFGANGenerator(keras.Model):
    """One-stage DF-GAN generator ``NetG``.

    The noise goes through Linear(nz → 8·nf·4·4) to a 4×4 map; UpBlocks double it to S×S, each
    conditioned on concat(noise, sentence) (nz + cond_dim, as in the CVPR'22 code); to-RGB is
    LeakyReLU(0.2) → conv3×3(nf → 3) → tanh.

    Args:
        image_size: int. S, a power of two ≥ 8. Defaults to 64.
        nf: int. Base width. Defaults to 32 (the released configs).
        noise_dim: int. nz. Defaults to 100.
        cond_dim: int. Sentence embedding width. Defaults to 256.

    Call arguments:
        noise: (batch, noise_dim).
        sentence: (batch, cond_dim).

    Returns:
        (batch, S, S, 3) in [-1, 1].
    """

    def __init__(self, image_size=64, nf=32, noise_dim=100, cond_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.nf = int(nf)
        self.noise_dim = int(noise_dim)
        self.cond_dim = int(cond_dim)
        pairs = generator_channels(self.image_size, self.nf)
        self.fc = keras.layers.Dense(4 * 4 * pairs[0][0], kernel_initializer=torch_default_kernel(),
                                     name="fc")
        self.reshape = keras.layers.Reshape((4, 4, pairs[0][0]), name="to_4x4")
        self.blocks = [UpBlock(i, o, name=f"up_block_{k}") for k, (i, o) in enumerate(pairs)]
        # Kept in float32 under mixed precision: the image leaves the network here.
        self.to_rgb = conv(3, 3, name="to_rgb")
        self.to_rgb.dtype_policy = keras.DTypePolicy("float32")
        self.build((None, self.noise_dim), (None, self.cond_dim))

    def build(self, noise_shape, sentence_shape):
        build_torch_layer(self.fc, noise_shape)
        shape = (None, 4, 4, self.blocks[0].in_channels)
        condition = (None, self.noise_dim + self.cond_dim)
        for block in self.blocks:
            block.build(shape, condition)
            shape = block.compute_output_shape(shape, condition)
        build_torch_layer(self.to_rgb, shape)
        self.built = True

    def call(self, noise, sentence, training=None):
        condition = ops.concatenate([noise, ops.cast(sentence, noise.dtype)], axis=-1)
        x = self.reshape(self.fc(noise))
        for block in self.blocks:
            x = block(x, condition)
        # LeakyReLU(0.2) written as max(x, 0.2x): with ops.leaky_relu here, TF 2.21's Grappler
        # remapper fuses the last block's residual add into it although the gradient still
        # needs the add, fails and logs "remapper failed" on every training run.
        x = self.to_rgb(ops.maximum(x, 0.2 * x))
        return ops.tanh(x)

    def compute_output_shape(self, noise_shape, sentence_shape):
        return (noise_shape[0], self.image_size, self.image_size, 3)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "nf": self.nf,
                "noise_dim": self.noise_dim, "cond_dim": self.cond_dim}
