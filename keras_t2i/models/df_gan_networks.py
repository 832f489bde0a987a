"""DF-GAN generator and discriminator (CVPR'22 code, ``models/GAN.py``; seeds.md §2.1)."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.affine import torch_default_kernel
from keras_t2i.layers.df_blocks import DownBlock, UpBlock, conv


def channel_multipliers(image_size: int) -> list[int]:
    """[min(2^k, 8) for k in 0..log2(S)−2]: the width multipliers from the image to 4×4."""
    levels = math.log2(image_size)
    if image_size < 8 or levels != int(levels):
        raise ValueError(f"DF-GAN needs a power-of-two image size of at least 8, got {image_size}")
    return [min(2**k, 8) for k in range(int(levels) - 1)]


def generator_channels(image_size: int, nf: int) -> list[tuple[int, int]]:
    """(in, out) channels of the UpBlocks, 4×4 → S×S; for S = 256: ×nf 8,8,8,8,4,2,1."""
    chans = [nf * m for m in reversed(channel_multipliers(image_size))]
    return list(zip(chans[:-1], chans[1:]))


def discriminator_channels(image_size: int, nf: int) -> list[tuple[int, int]]:
    """(in, out) channels of the DownBlocks, S×S → 4×4; for S = 256: ×nf 1,2,4,8,8,8,8."""
    chans = [nf * m for m in channel_multipliers(image_size)]
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
        self.fc.build(noise_shape)
        shape = (None, 4, 4, self.blocks[0].in_channels)
        condition = (None, self.noise_dim + self.cond_dim)
        for block in self.blocks:
            block.build(shape, condition)
            shape = block.compute_output_shape(shape, condition)
        self.to_rgb.build(shape)
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
        self.conv_img.build(images_shape)
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
