"""MirrorGAN's GLAM: global sentence attention and the refinement stage that fuses it with the
local word attention (``GLAttention.py``, ``model.py`` ``NEXT_STAGE_G``; seeds.md §4, §4.1)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.attention import WordAttention
from keras_t2i.layers.glu_blocks import GLUResBlock, GLUUpBlock, orthogonal


@keras.saving.register_keras_serializable(package="keras_t2i")
class SentenceAttention(keras.layers.Layer):
    """MirrorGAN's global sentence attention (eq. 5, as coded): s′ = V ĉ (V a Linear
    condition_dim → gf with bias, on CA's sample), tiled over the pixels;
    a = softmax over the channels of conv1×1(h ⊙ s′) (gf → gf, no bias); f = s′ ⊙ a.

    The code's ``nn.Softmax()`` on a 4-D tensor picks the channel axis (legacy PyTorch), so
    each pixel's attention sums to 1 over its gf channels. (The paper writes
    f = V ĉ ∘ softmax(h ∘ V ĉ), without the 1×1 convolution; the code is followed.)

    Args:
        gf_dim: int. gf.
        condition_dim: int. ĉ's width. Defaults to 100.

    Call arguments:
        features: float (batch, H, W, gf), h.
        condition: float (batch, condition_dim), ĉ.

    Returns:
        (weighted, attention): float (batch, H, W, gf) each, f and a.
    """

    def __init__(self, gf_dim, condition_dim=100, **kwargs):
        super().__init__(**kwargs)
        self.gf_dim = int(gf_dim)
        self.condition_dim = int(condition_dim)
        self.project = keras.layers.Dense(self.gf_dim, kernel_initializer=orthogonal(),
                                          bias_initializer="zeros", name="sentence_projection")
        self.gate = keras.layers.Conv2D(self.gf_dim, 1, use_bias=False,
                                        kernel_initializer=orthogonal(), name="channel_scores")

    def build(self, features_shape, condition_shape=None):
        self.project.build((None, self.condition_dim))
        self.gate.build(tuple(features_shape[:3]) + (self.gf_dim,))
        self.built = True

    def call(self, features, condition):
        sentence = self.project(ops.cast(condition, features.dtype))[:, None, None, :]
        scores = ops.cast(self.gate(features * sentence), "float32")
        attention = ops.cast(ops.softmax(scores, axis=-1), features.dtype)
        return sentence * attention, attention

    def compute_output_shape(self, features_shape, condition_shape=None):
        return tuple(features_shape), tuple(features_shape)

    def get_config(self):
        return {**super().get_config(), "gf_dim": self.gf_dim,
                "condition_dim": self.condition_dim}


@keras.saving.register_keras_serializable(package="keras_t2i")
class GLAMStage(keras.layers.Layer):
    """One GLAM refinement stage: concat[h, word context, sentence attention] (3gf) → conv1×1
    (3gf → 2gf, no bias) → ``r_num`` × ``GLUResBlock`` (2gf) → ``GLUUpBlock`` (2gf → gf at twice
    the side). At MirrorGAN's CUB config (gf 32, R_NUM 2) it has 277,536 parameters, as the
    code's.

    Args:
        gf_dim: int. gf.
        r_num: int. Residual blocks. Defaults to 2.
        word_dim: int. Defaults to 256.
        condition_dim: int. ĉ's width. Defaults to 100.

    Call arguments:
        features: float (batch, H, W, gf).
        words: float (batch, T, word_dim); word_mask: bool (batch, T).
        condition: float (batch, condition_dim), ĉ.

    Returns:
        (features, word_attention): float (batch, 2H, 2W, gf) and float32 (batch, H·W, T).
    """

    def __init__(self, gf_dim, r_num=2, word_dim=256, condition_dim=100, **kwargs):
        super().__init__(**kwargs)
        self.gf_dim = int(gf_dim)
        self.r_num = int(r_num)
        self.word_dim = int(word_dim)
        self.condition_dim = int(condition_dim)
        self.words = WordAttention(self.gf_dim, self.word_dim, name="word_attention")
        self.sentence = SentenceAttention(self.gf_dim, self.condition_dim,
                                          name="sentence_attention")
        self.fuse = keras.layers.Conv2D(2 * self.gf_dim, 1, use_bias=False,
                                        kernel_initializer=orthogonal(), name="fuse")
        self.residual = [GLUResBlock(2 * self.gf_dim, name=f"res_block_{k}")
                         for k in range(self.r_num)]
        self.upsample = GLUUpBlock(self.gf_dim, name="up_block")

    def build(self, features_shape, words_shape=None, word_mask_shape=None, condition_shape=None):
        spatial = tuple(features_shape[:3])
        self.words.build(features_shape, (None, None, self.word_dim))
        self.sentence.build(features_shape, (None, self.condition_dim))
        self.fuse.build(spatial + (3 * self.gf_dim,))
        for block in self.residual:
            block.build(spatial + (2 * self.gf_dim,))
        self.upsample.build(spatial + (2 * self.gf_dim,))
        self.built = True

    def call(self, features, words, word_mask, condition, training=None):
        context, attention = self.words(features, words, word_mask)
        weighted, _ = self.sentence(features, condition)
        x = self.fuse(ops.concatenate([features, context, weighted], axis=-1))
        for block in self.residual:
            x = block(x, training=training)
        return self.upsample(x, training=training), attention

    def compute_output_shape(self, features_shape, words_shape=None, word_mask_shape=None,
                             condition_shape=None):
        h, w = features_shape[1], features_shape[2]
        out = (features_shape[0], None if h is None else 2 * h, None if w is None else 2 * w,
               self.gf_dim)
        return out, self.words.compute_output_shape(features_shape, words_shape)[1]

    def get_config(self):
        return {**super().get_config(), "gf_dim": self.gf_dim, "r_num": self.r_num,
                "word_dim": self.word_dim, "condition_dim": self.condition_dim}
