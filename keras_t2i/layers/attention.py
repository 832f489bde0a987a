"""Attention from image pixels to a caption's words, shared by the cascade families: the
masked softmax over words, and AttnGAN's word-context layer (``GlobalAttentionGeneral``; the
local half of MirrorGAN's GLAM, seeds.md §1.6, §4)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.glu_blocks import orthogonal

# What a masked (padded) word scores before the softmax over words: exp() of it is 0, and a
# caption of padding alone (which the tokenizer never gives) reads its words uniformly
# instead of dividing by zero.
MASKED_SCORE = -1e9


def masked_word_softmax(scores, word_mask):
    """softmax over the last axis (words) of float (batch, N, T) ``scores``, in float32, with
    the words where ``word_mask`` (bool (batch, T), True for real words) is False left out
    (the codes' ``masked_fill_(mask, -inf)``)."""
    scores = ops.cast(scores, "float32")
    scores = ops.where(ops.cast(word_mask, "bool")[:, None, :], scores, MASKED_SCORE)
    return ops.softmax(scores, axis=-1)


@keras.saving.register_keras_serializable(package="keras_t2i")
class WordAttention(keras.layers.Layer):
    """Each pixel's word context (AttnGAN ``GlobalAttentionGeneral``, MirrorGAN's local
    attention, eq. 4): e′_i = U w_i (U a 1×1 convolution, words D → gf, no bias);
    β_ji = softmax over the words i of h_jᵀ e′_i, padded words left out; c_j = Σ_i β_ji e′_i.

    Args:
        gf_dim: int. The image features' channels (gf).
        word_dim: int. The words' width D. Defaults to 256.

    Call arguments:
        features: float (batch, H, W, gf), h.
        words: float (batch, T, word_dim).
        word_mask: bool (batch, T), True for real words.

    Returns:
        (context, attention): float (batch, H, W, gf) and float32 (batch, H·W, T).
    """

    def __init__(self, gf_dim, word_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.gf_dim = int(gf_dim)
        self.word_dim = int(word_dim)
        # A 1×1 convolution over a (T, 1) map of words is a Dense over the word axis.
        self.project = keras.layers.Dense(self.gf_dim, use_bias=False,
                                          kernel_initializer=orthogonal(), name="word_projection")

    def build(self, features_shape, words_shape=None, word_mask_shape=None):
        self.project.build((None, None, self.word_dim))
        self.built = True

    def call(self, features, words, word_mask):
        shape = ops.shape(features)
        keys = self.project(ops.cast(words, features.dtype))               # (B, T, gf)
        pixels = ops.reshape(features, (shape[0], -1, self.gf_dim))        # (B, N, gf)
        attention = masked_word_softmax(
            ops.matmul(pixels, ops.transpose(keys, (0, 2, 1))), word_mask)  # (B, N, T)
        context = ops.matmul(ops.cast(attention, keys.dtype), keys)        # (B, N, gf)
        return ops.reshape(context, shape), attention

    def compute_output_shape(self, features_shape, words_shape=None, word_mask_shape=None):
        h, w = features_shape[1], features_shape[2]
        n = None if None in (h, w) else h * w
        return (tuple(features_shape),
                (features_shape[0], n, None if words_shape is None else words_shape[1]))

    def get_config(self):
        return {**super().get_config(), "gf_dim": self.gf_dim, "word_dim": self.word_dim}
