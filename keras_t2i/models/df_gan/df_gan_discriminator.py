"""DF-GAN discriminator ``NetD`` + ``NetC`` (CVPR'22 code, ``models/GAN.py``; seeds.md §2.1)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.torch_init import build_torch_layer
from keras_t2i.models.df_gan.df_gan_layers import DownBlock, channel_multipliers, conv


def discriminator_channels(image_size: int, nf: int) -> list[tuple[int, int]]:
    """(in, out) channels of the DownBlocks, S×S → 4×4; for S = 256: ×nf 1,2,4,8,8,8,8."""
    chans = [nf * m for m in channel_multipliers(image_size)]
    return list(zip(chans[:-1], chans[1:]))


@keras.saving.register_keras_serializable(package="keras_t2i")
class DFGANDiscriminator(keras.Model):
    """DF-GAN discriminator: ``NetD`` (conv3×3 then DownBlocks to 4×4) and ``NetC``, the
    sentence-conditioned one-way output (concat ē tiled to 4×4 → conv3×3 → 2·nf, LeakyReLU →
    conv4×4 valid → 1 logit, no sigmoid).

    Args:
        image_size: int. Defaults to 64.
        nf: int. Base width. Defaults to 32.
        cond_dim: int. Defaults to 256.

    Call arguments:
        images: (batch, S, S, 3) in [-1, 1].
        sentence: (batch, cond_dim).

    Returns:
        (batch,) logits. ``features`` and ``logits`` expose the two halves, so a batch of real
        features can be scored against other sentences (the mismatched term) without a second
        pass.
    """

    def __init__(self, image_size=64, nf=32, cond_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.nf = int(nf)
        self.cond_dim = int(cond_dim)
        pairs = discriminator_channels(self.image_size, self.nf)
        self.conv_img = conv(self.nf, 3, name="conv_img")
        self.blocks = [DownBlock(i, o, name=f"down_block_{k}") for k, (i, o) in enumerate(pairs)]
        self.feature_channels = pairs[-1][1]
        self.joint_conv = conv(2 * self.nf, 3, use_bias=False, name="joint_conv")
        self.out_conv = conv(1, 4, padding="valid", use_bias=False, name="out_conv")
        self.out_conv.dtype_policy = keras.DTypePolicy("float32")
        self.build((None, self.image_size, self.image_size, 3), (None, self.cond_dim))

    def build(self, images_shape, sentence_shape):
        build_torch_layer(self.conv_img, images_shape)
        shape = (None, self.image_size, self.image_size, self.nf)
        for block in self.blocks:
            block.build(shape)
            shape = block.compute_output_shape(shape)
        self.joint_conv.build((None, 4, 4, self.feature_channels + self.cond_dim))
        self.out_conv.build((None, 4, 4, 2 * self.nf))
        self.built = True

    def features(self, images):
        """(batch, S, S, 3) → (batch, 4, 4, 8·nf)."""
        x = self.conv_img(images)
        for block in self.blocks:
            x = block(x)
        return x

    def logits(self, features, sentence):
        """(batch, 4, 4, 8·nf), (batch, cond_dim) → (batch,)."""
        tiled = ops.tile(ops.cast(sentence, features.dtype)[:, None, None, :], (1, 4, 4, 1))
        x = self.joint_conv(ops.concatenate([features, tiled], axis=-1))
        x = self.out_conv(ops.leaky_relu(x, 0.2))
        return ops.reshape(x, (-1,))

    def call(self, images, sentence, training=None):
        return self.logits(self.features(images), sentence)

    def compute_output_shape(self, images_shape, sentence_shape):
        return (images_shape[0],)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "nf": self.nf,
                "cond_dim": self.cond_dim}
