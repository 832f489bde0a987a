"""DM-GAN's dynamic memory and its refinement stage (``code/model.py`` ``NEXT_STAGE_G`` and
``Memory``; seeds.md §3.1, §3.5)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.attention import masked_word_softmax
from keras_t2i.layers.glu_blocks import (
    GLUResBlock,
    GLUUpBlock,
    batch_norm,
    glu,
    orthogonal,
)


def _dense(units, name, use_bias=True):
    return keras.layers.Dense(units, use_bias=use_bias, kernel_initializer=orthogonal(),
                              bias_initializer="zeros", name=name)


@keras.saving.register_keras_serializable(package="keras_t2i")
class DynamicMemory(keras.layers.Layer):
    """DM-GAN's dynamic memory: memory writing with its gate, key addressing, value reading and
    the response gate (Zhu et al., CVPR 2019, eq. 1-8, as coded).

    With image features r_j (pixels j of h, gf channels), words w_i (D) and r̄ = mean_j r_j
    (treated as a constant, as the code detaches it):

    - writing gate g^w_i = σ(A w_i + B r̄) (A, B without bias);
    - memory slots m_i = ReLU(M_w w_i)·g^w_i + ReLU(M_r r̄)·(1 − g^w_i) (2gf channels);
    - keys k_i = ReLU(φ_K m_i), values v_i = ReLU(φ_V m_i) (gf channels);
    - addressing α_ij = softmax over the words i of k_iᵀ r_j, padded words left out;
    - reading o_j = Σ_i α_ij v_i;
    - response gate g^r_j = σ(W [r_j; o_j] + b), one scalar per pixel;
      r'_j = o_j·g^r_j + r_j·(1 − g^r_j).

    The ablation switches (the paper's section 4.3 removes each gate): ``write_gate=False``
    weighs the words and the image equally, g^w = ½; ``response_gate=False`` adds the read
    memory to the image features, r' = r + o. Each such layer has no A, B or W.

    Args:
        gf_dim: int. gf, the image features' channels (N_r); the slots have 2gf (N_m).
        word_dim: int. D, the words' width (N_w). Defaults to 256.
        write_gate: bool. Defaults to True.
        response_gate: bool. Defaults to True.

    Call arguments:
        features: float (batch, H, W, gf).
        words: float (batch, T, D).
        word_mask: bool (batch, T), True for real words.

    Returns:
        (r', α): float (batch, H, W, gf) and the attention (batch, H·W, T).
    """

    def __init__(self, gf_dim, word_dim=256, write_gate=True, response_gate=True, **kwargs):
        super().__init__(**kwargs)
        self.gf_dim = int(gf_dim)
        self.word_dim = int(word_dim)
        self.write_gate = bool(write_gate)
        self.response_gate = bool(response_gate)
        memory_dim = 2 * self.gf_dim
        if self.write_gate:
            self.gate_words = _dense(1, "gate_words", use_bias=False)   # A
            self.gate_image = _dense(1, "gate_image", use_bias=False)   # B
        self.write_words = _dense(memory_dim, "write_words")            # M_w
        self.write_image = _dense(memory_dim, "write_image")            # M_r
        self.key = _dense(self.gf_dim, "key")                           # φ_K
        self.value = _dense(self.gf_dim, "value")                       # φ_V
        if self.response_gate:
            self.gate_response = keras.layers.Conv2D(1, 1, kernel_initializer=orthogonal(),
                                                     name="gate_response")

    def build(self, features_shape, words_shape=None, word_mask_shape=None):
        if self.write_gate:
            self.gate_words.build((None, None, self.word_dim))
            self.gate_image.build((None, self.gf_dim))
        self.write_words.build((None, None, self.word_dim))
        self.write_image.build((None, self.gf_dim))
        self.key.build((None, None, 2 * self.gf_dim))
        self.value.build((None, None, 2 * self.gf_dim))
        if self.response_gate:
            self.gate_response.build((None, None, None, 2 * self.gf_dim))
        self.built = True

    def call(self, features, words, word_mask):
        words = ops.cast(words, features.dtype)
        shape = ops.shape(features)
        image = ops.stop_gradient(ops.mean(features, axis=(1, 2)))         # r̄ (B, gf)
        from_words = ops.relu(self.write_words(words))                     # (B, T, 2gf)
        from_image = ops.relu(self.write_image(image))[:, None, :]         # (B, 1, 2gf)
        if self.write_gate:
            gate = ops.sigmoid(self.gate_words(words) + self.gate_image(image)[:, None, :])
        else:
            gate = ops.cast(0.5, features.dtype)
        memory = from_words * gate + from_image * (1.0 - gate)             # (B, T, 2gf)
        keys = ops.relu(self.key(memory))                                  # (B, T, gf)
        values = ops.relu(self.value(memory))
        pixels = ops.reshape(features, (shape[0], -1, self.gf_dim))        # (B, N, gf)
        attention = masked_word_softmax(
            ops.matmul(pixels, ops.transpose(keys, (0, 2, 1))), word_mask)  # (B, N, T)
        read = ops.matmul(ops.cast(attention, values.dtype), values)       # (B, N, gf)
        read = ops.reshape(read, shape)
        if self.response_gate:
            response = ops.sigmoid(self.gate_response(
                ops.concatenate([features, read], axis=-1)))
            refined = read * response + features * (1.0 - response)
        else:
            refined = features + read
        return refined, attention

    def compute_output_shape(self, features_shape, words_shape=None, word_mask_shape=None):
        n = None if None in features_shape[1:3] else features_shape[1] * features_shape[2]
        words = None if words_shape is None else words_shape[1]
        return tuple(features_shape), (features_shape[0], n, words)

    def get_config(self):
        return {**super().get_config(), "gf_dim": self.gf_dim, "word_dim": self.word_dim,
                "write_gate": self.write_gate, "response_gate": self.response_gate}


@keras.saving.register_keras_serializable(package="keras_t2i")
class MemoryRefinementStage(keras.layers.Layer):
    """One DM-GAN refinement stage: ``DynamicMemory`` → concat(r', r') (2gf) → ``r_num`` ×
    ``GLUResBlock`` (2gf) → ``GLUUpBlock`` (→ gf, twice the side).

    With ``memory=False`` (the ablation's baseline without memory, StackGAN-v2's refinement
    stage) the features and the condition ĉ tiled over the map go through a joint conv3×3
    (→ 4gf, no bias) → BN → GLU to the same 2gf channels instead, and the words are not read.

    Args:
        gf_dim: int. gf.
        r_num: int. Residual blocks (R_NUM: 2 on CUB, 3 on COCO). Defaults to 2.
        word_dim: int. Defaults to 256.
        condition_dim: int. ĉ's width, read only with ``memory=False``. Defaults to 100.
        memory: bool. Defaults to True.
        write_gate, response_gate: bool. ``DynamicMemory``'s switches. Default True.

    Call arguments:
        features: float (batch, H, W, gf).
        words, word_mask: as ``DynamicMemory``.
        condition: float (batch, condition_dim), ĉ.

    Returns:
        (features, attention): float (batch, 2H, 2W, gf) and (batch, H·W, T), or None
        without memory.
    """

    def __init__(self, gf_dim, r_num=2, word_dim=256, condition_dim=100, memory=True,
                 write_gate=True, response_gate=True, **kwargs):
        super().__init__(**kwargs)
        self.gf_dim = int(gf_dim)
        self.r_num = int(r_num)
        self.word_dim = int(word_dim)
        self.condition_dim = int(condition_dim)
        self.memory = bool(memory)
        self.write_gate = bool(write_gate)
        self.response_gate = bool(response_gate)
        if self.memory:
            self.dynamic_memory = DynamicMemory(self.gf_dim, self.word_dim, self.write_gate,
                                                self.response_gate, name="dynamic_memory")
        else:
            self.joint_conv = keras.layers.Conv2D(4 * self.gf_dim, 3, padding="same",
                                                  use_bias=False,
                                                  kernel_initializer=orthogonal(),
                                                  name="joint_conv")
            self.joint_norm = batch_norm("joint_bn")
        self.residual = [GLUResBlock(2 * self.gf_dim, name=f"res_block_{k}")
                         for k in range(self.r_num)]
        self.upsample = GLUUpBlock(self.gf_dim, name="up_block")

    def build(self, features_shape, words_shape=None, word_mask_shape=None, condition_shape=None):
        spatial = tuple(features_shape[:3])
        if self.memory:
            self.dynamic_memory.build(features_shape, (None, None, self.word_dim))
        else:
            self.joint_conv.build(spatial + (self.gf_dim + self.condition_dim,))
            self.joint_norm.build(spatial + (4 * self.gf_dim,))
        for block in self.residual:
            block.build(spatial + (2 * self.gf_dim,))
        self.upsample.build(spatial + (2 * self.gf_dim,))
        self.built = True

    def call(self, features, words, word_mask, condition, training=None):
        attention = None
        if self.memory:
            refined, attention = self.dynamic_memory(features, words, word_mask)
            x = ops.concatenate([refined, refined], axis=-1)
        else:
            shape = ops.shape(features)
            tiled = ops.broadcast_to(ops.cast(condition, features.dtype)[:, None, None, :],
                                     (shape[0], shape[1], shape[2], self.condition_dim))
            x = self.joint_conv(ops.concatenate([features, tiled], axis=-1))
            x = glu(self.joint_norm(x, training=training))
        for block in self.residual:
            x = block(x, training=training)
        return self.upsample(x, training=training), attention

    def compute_output_shape(self, features_shape, words_shape=None, word_mask_shape=None,
                             condition_shape=None):
        h, w = features_shape[1], features_shape[2]
        out = (features_shape[0], None if h is None else 2 * h, None if w is None else 2 * w,
               self.gf_dim)
        if not self.memory:
            return out, None
        n = None if None in (h, w) else h * w
        return out, (features_shape[0], n, None if words_shape is None else words_shape[1])

    def get_config(self):
        return {**super().get_config(), "gf_dim": self.gf_dim, "r_num": self.r_num,
                "word_dim": self.word_dim, "condition_dim": self.condition_dim,
                "memory": self.memory, "write_gate": self.write_gate,
                "response_gate": self.response_gate}
