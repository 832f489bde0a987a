"""The part generator: a DF-GAN-style generator from a part's query code to its feature map
and mask logit. MemoryGAN uses one, shared by every part (its "memory"); the multi-generator
baseline uses one per part."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.torch_init import build_torch_layer, torch_default_kernel
from keras_t2i.models.df_gan.df_gan_generator import generator_channels
from keras_t2i.models.df_gan.df_gan_layers import UpBlock, conv


@keras.saving.register_keras_serializable(package="keras_t2i")
class SharedPartGenerator(keras.layers.Layer):
    """G(q) → (F, d): a part's features F (C channels) and its mask logit d, at part_size.

    DF-GAN's generator body with the query in place of [noise; sentence]: Linear(q → 4·4·c₀)
    to a 4×4 map, UpBlocks (each DF-Block's affine conditioned on q) to part_size, then
    LeakyReLU(0.2) → conv3×3 to C + 1 channels: C features and one mask logit (the part's
    pseudo-depth; SemanticStyleGAN's local generators output the same pair).

    Args:
        part_size: int. The side of F and d, a power of two ≥ 8. Defaults to 32.
        nf: int. Base width (the UpBlocks' channels are DF-GAN's for part_size). Defaults to 16.
        query_dim: int. q's width. Defaults to 64.
        feature_channels: int. C. Defaults to 32.

    Call arguments:
        query: float (batch, query_dim).

    Returns:
        (features (batch, part_size, part_size, C), mask logit float32 (batch, part_size,
        part_size, 1)).
    """

    def __init__(self, part_size=32, nf=16, query_dim=64, feature_channels=32, **kwargs):
        super().__init__(**kwargs)
        self.part_size, self.nf = int(part_size), int(nf)
        self.query_dim, self.feature_channels = int(query_dim), int(feature_channels)
        pairs = generator_channels(self.part_size, self.nf)
        self.first_channels = pairs[0][0]
        self.fc = keras.layers.Dense(16 * self.first_channels,
                                     kernel_initializer=torch_default_kernel(), name="fc")
        self.blocks = [UpBlock(i, o, name=f"up_block_{k}") for k, (i, o) in enumerate(pairs)]
        self.out = conv(self.feature_channels + 1, 3, name="to_features")
        self.last_channels = pairs[-1][1]

    def build(self, query_shape=None):
        build_torch_layer(self.fc, (None, self.query_dim))
        shape = (None, 4, 4, self.first_channels)
        for block in self.blocks:
            block.build(shape, (None, self.query_dim))
            shape = block.compute_output_shape(shape, (None, self.query_dim))
        build_torch_layer(self.out, shape)
        self.built = True

    def call(self, query):
        x = ops.reshape(self.fc(query), (-1, 4, 4, self.first_channels))
        for block in self.blocks:
            x = block(x, query)
        x = self.out(ops.maximum(x, 0.2 * x))
        return x[..., :self.feature_channels], ops.cast(x[..., self.feature_channels:],
                                                        "float32")

    def compute_output_shape(self, query_shape):
        s = self.part_size
        return ((query_shape[0], s, s, self.feature_channels), (query_shape[0], s, s, 1))

    def get_config(self):
        return {**super().get_config(), "part_size": self.part_size, "nf": self.nf,
                "query_dim": self.query_dim, "feature_channels": self.feature_channels}
