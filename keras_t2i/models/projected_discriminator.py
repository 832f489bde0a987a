"""The projected discriminator (Sauer et al., "Projected GANs Converge Faster", NeurIPS 2021),
conditioned on the sentence: heads on the maps of a frozen pretrained network.

The base model (``TextToImageGAN(projected_weight=λ)``) reads the maps of its frozen DAMSM
image encoder (``DAMSMImageEncoder.feature_maps_model``: the run's own CNN on Shapes, the
ImageNet InceptionV3 on CUB and COCO) and gives them to this network, which holds only the
heads. This is the package's addition for small compute; no paper preset uses it.

Each map k (h×h×c) goes through

- a fixed random 1×1 convolution to ``width`` channels (the paper's cross-channel mixing,
  CCM: random and never trained, so that D cannot learn to ignore most of the features);
- strided 4×4 convolutions with LeakyReLU 0.2, doubling the width up to 4·``width``, until
  the map is at most 4×4;
- a dense layer on the flattened map to an embedding φ_k (``embed_dim``), which keeps where
  things are (the captions say where) rather than pooling it away;

and scores the sentence s by projection (Miyato & Koyama, ICLR 2018, as the paper's
conditional heads do): logit_k = w_k·φ_k + b_k + ⟨φ_k, P_k s⟩ / √embed_dim.

Departures from the paper, all for a text condition on a CPU budget: no cross-scale mixing
(CSM; the paper's ablation gets most of the gain from CCM, Table 2), no spectral or batch
normalisation in the heads (state that would follow real and fake batches differently, and
replicas differently under ``tf.distribute``), three scales (the encoders' natural maps)
instead of four, and the sentence instead of a class.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="keras_t2i")
class ProjectedDiscriminator(keras.Model):
    """Sentence-conditioned heads on a frozen network's maps, one logit per map.

    Args:
        feature_shapes: list of (h, w, c), the maps' shapes, finest first.
        cond_dim: int. Width of the sentence vector.
        width: int. Channels after the fixed random mixing. Defaults to 64.
        embed_dim: int. Width of each head's embedding φ_k. Defaults to 64.

    Call arguments:
        features: list of float (batch, h, w, c), as ``feature_shapes``.
        sentence: float (batch, cond_dim).

    Returns:
        float32 (batch, heads) logits. ``embed`` and ``logits`` expose the two halves, so the
        real images' embeddings can be scored against other sentences (the mismatched pairs)
        without a second pass.
    """

    def __init__(self, feature_shapes, cond_dim, width=64, embed_dim=64, **kwargs):
        super().__init__(**kwargs)
        self.feature_shapes = [tuple(int(d) for d in shape) for shape in feature_shapes]
        if not self.feature_shapes or any(len(s) != 3 for s in self.feature_shapes):
            raise ValueError(f"feature_shapes must be (h, w, c) triples, got {feature_shapes}")
        self.cond_dim = int(cond_dim)
        self.width = int(width)
        self.embed_dim = int(embed_dim)
        self.mixers, self.downs, self.embeds, self.outs, self.projections = [], [], [], [], []
        for k, (h, w, c) in enumerate(self.feature_shapes):
            mixer = keras.layers.Conv2D(self.width, 1, kernel_initializer="he_normal",
                                        name=f"ccm_{k}")
            mixer.build((None, h, w, c))
            mixer.trainable = False
            self.mixers.append(mixer)
            blocks, channels = [], self.width
            while max(h, w) > 4:
                channels_out = min(2 * channels, 4 * self.width)
                block = keras.layers.Conv2D(channels_out, 4, strides=2, padding="same",
                                            name=f"head_{k}_down_{len(blocks)}")
                block.build((None, h, w, channels))
                blocks.append(block)
                h, w, channels = (h + 1) // 2, (w + 1) // 2, channels_out
            self.downs.append(blocks)
            embed = keras.layers.Dense(self.embed_dim, name=f"head_{k}_embed")
            embed.build((None, h * w * channels))
            self.embeds.append(embed)
            out = keras.layers.Dense(1, name=f"head_{k}_out", dtype="float32")
            out.build((None, self.embed_dim))
            self.outs.append(out)
            projection = keras.layers.Dense(self.embed_dim, use_bias=False,
                                            name=f"head_{k}_sentence", dtype="float32")
            projection.build((None, self.cond_dim))
            self.projections.append(projection)
        self.built = True

    def embed(self, features):
        """The maps → the heads' embeddings, a list of (batch, embed_dim)."""
        if len(features) != len(self.feature_shapes):
            raise ValueError(f"{self.name} has {len(self.feature_shapes)} heads, got "
                             f"{len(features)} feature maps.")
        embeddings = []
        for x, mixer, blocks, embed in zip(features, self.mixers, self.downs, self.embeds):
            x = mixer(x)
            for block in blocks:
                x = ops.leaky_relu(block(x), 0.2)
            x = ops.reshape(x, (ops.shape(x)[0], -1))
            embeddings.append(ops.leaky_relu(embed(x), 0.2))
        return embeddings

    def logits(self, embeddings, sentence):
        """The heads' embeddings and a sentence per row → float32 (batch, heads)."""
        sentence = ops.cast(sentence, "float32")
        scale = 1.0 / math.sqrt(self.embed_dim)
        columns = []
        for phi, out, projection in zip(embeddings, self.outs, self.projections):
            phi = ops.cast(phi, "float32")
            columns.append(out(phi)[:, 0]
                           + scale * ops.sum(phi * projection(sentence), axis=-1))
        return ops.stack(columns, axis=-1)

    def call(self, features, sentence, training=None):
        return self.logits(self.embed(features), sentence)

    def compute_output_shape(self, features_shape, sentence_shape):
        return (sentence_shape[0], len(self.feature_shapes))

    def get_config(self):
        return {**super().get_config(), "feature_shapes": [list(s) for s in self.feature_shapes],
                "cond_dim": self.cond_dim, "width": self.width, "embed_dim": self.embed_dim}
