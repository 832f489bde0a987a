"""The multi-generator baseline MemoryGAN is measured against: one part generator per part,
independent part codes, no RNN and no feedback (as SemanticStyleGAN's local generators and
Composite GAN's per-part generators), with MemoryGAN's compositor, renderer, discriminator
and losses."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.attention import WordAttention
from keras_t2i.models.memory_gan.memory_gan import PartGAN
from keras_t2i.models.memory_gan.memory_gan_generator import PartSceneGenerator
from keras_t2i.models.memory_gan.memory_gan_presets import MULTI_PART_PRESETS


@keras.saving.register_keras_serializable(package="keras_t2i")
class StaticPartQuery(keras.layers.Layer):
    """A part's query without recurrence: a learned vector u attends over the caption's words
    (``WordAttention``), and q = W [z_k; c; sentence]. Part k of the baseline owns one, so it
    can learn to read "its" phrase, but never sees the other parts.

    Args:
        units: int. u's (and the word context's) width. Defaults to 128.
        query_dim: int. Defaults to 64.
        part_dim: int. Defaults to 32.
        word_dim: int. The text encoder's width. Defaults to 256.

    Call arguments:
        part_code: float (batch, part_dim).
        sentence: float (batch, word_dim).
        words: float (batch, T, word_dim).
        word_mask: bool (batch, T).

    Returns:
        (query (batch, query_dim), attention float32 (batch, T)).
    """

    def __init__(self, units=128, query_dim=64, part_dim=32, word_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.units, self.query_dim = int(units), int(query_dim)
        self.part_dim, self.word_dim = int(part_dim), int(word_dim)
        self.attention = WordAttention(self.units, self.word_dim, name="word_attention")
        self.to_query = keras.layers.Dense(self.query_dim, name="to_query")

    def build(self, *shapes):
        self.reader = self.add_weight(shape=(self.units,), initializer="random_normal",
                                      name="reader")
        self.attention.build((None, 1, 1, self.units), (None, None, self.word_dim))
        self.to_query.build((None, self.part_dim + self.units + self.word_dim))
        self.built = True

    def call(self, part_code, sentence, words, word_mask):
        batch = ops.shape(part_code)[0]
        reader = ops.broadcast_to(ops.cast(self.reader, part_code.dtype)[None, None, None, :],
                                  (batch, 1, 1, self.units))
        context, attention = self.attention(reader, words, word_mask)
        inputs = [part_code, ops.reshape(context, (batch, self.units)),
                  ops.cast(sentence, part_code.dtype)]
        return self.to_query(ops.concatenate(inputs, -1)), ops.reshape(attention, (batch, -1))

    def compute_output_shape(self, part_code_shape, *shapes):
        words = shapes[1][1] if len(shapes) > 1 else None
        return (part_code_shape[0], self.query_dim), (part_code_shape[0], words)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "query_dim": self.query_dim,
                "part_dim": self.part_dim, "word_dim": self.word_dim}


@keras.saving.register_keras_serializable(package="keras_t2i")
class MultiPartGenerator(PartSceneGenerator):
    """K part generators, each with its own ``StaticPartQuery``; part k is drawn by generator
    k from z_k and the text alone. K is fixed by the weights.

    Args:
        num_parts: int. K. Defaults to 3.
        query_units: int. The static queries' width. Defaults to 128.
        **kwargs: ``PartSceneGenerator``'s.
    """

    def __init__(self, image_size=64, part_size=None, nf=16, noise_dim=100, part_dim=32,
                 cond_dim=256, query_dim=64, feature_channels=32, num_parts=3,
                 query_units=128, **kwargs):
        super().__init__(image_size, part_size, nf, noise_dim, part_dim, cond_dim, query_dim,
                         feature_channels, **kwargs)
        self.num_parts, self.query_units = int(num_parts), int(query_units)
        self.part_queries = [StaticPartQuery(self.query_units, self.query_dim, self.part_dim,
                                             self.cond_dim, name=f"query_{k}")
                             for k in range(self.num_parts)]
        self.part_generators = [self.make_part_generator(f"part_generator_{k}")
                                for k in range(self.num_parts)]
        self.build()

    def build_parts(self):
        for query, generator in zip(self.part_queries, self.part_generators, strict=True):
            query.build()
            generator.build((None, self.query_dim))

    def part_maps(self, noise, parts, sentence, words, word_mask):
        if parts.shape[1] != self.num_parts:
            raise ValueError(f"MultiPartGenerator has {self.num_parts} part generators and "
                             f"cannot draw {parts.shape[1]} parts.")
        features, logits, attention = [], [], []
        for k, (query, generator) in enumerate(zip(self.part_queries, self.part_generators)):
            q, beta = query(parts[:, k], sentence, words, word_mask)
            f, d = generator(q)
            features.append(f)
            logits.append(d)
            attention.append(beta)
        return (ops.stack(features, axis=1), ops.stack(logits, axis=1),
                ops.stack(attention, axis=1))

    def get_config(self):
        return {**super().get_config(), "num_parts": self.num_parts,
                "query_units": self.query_units}


@keras.saving.register_keras_serializable(package="keras_t2i")
class MultiPartGAN(PartGAN):
    """The multi-generator baseline: ``MemoryGAN`` with K part generators and static queries
    in place of the one shared memory and its RNN (so K times the part generator's
    parameters), and the same compositor, renderer, discriminator and losses.

    Args:
        text_encoder: DAMSMTextEncoder, pretrained.
        query_units: int. The static queries' width (MemoryGAN's rnn_units). Defaults to 128.
        **kwargs: ``PartGAN``'s (``image_size``, ``nf``, ``num_parts``, …).

    Example:
    >>> gan = kt.models.MultiPartGAN(text_encoder, image_size=64, num_parts=3)
    """

    PRESETS = MULTI_PART_PRESETS

    def __init__(self, text_encoder, query_units=128, **kwargs):
        self.query_units = int(query_units)
        super().__init__(text_encoder, **kwargs)

    def make_generator(self, noise_dim):
        return MultiPartGenerator(**self.generator_kwargs(noise_dim),
                                  num_parts=self.num_parts, query_units=self.query_units,
                                  name="generator")

    def with_num_parts(self, num_parts):
        if int(num_parts) == self.num_parts:
            return self
        raise ValueError(f"MultiPartGAN has one generator per part ({self.num_parts}); it "
                         f"cannot draw {num_parts} parts without new, untrained generators "
                         "(MemoryGAN can: its memory is shared).")

    def get_config(self):
        return {**super().get_config(), "query_units": self.query_units}
