"""The recurrent query of MemoryGAN's shared part memory: one step per part, reading the
caption's words, the part's latent code and feedback from what the memory drew last.

MemoryGAN (Wang, Peng, Liu, Electronics 2023) states only that "a recurrent neural network
models the dependency between parts and provides the query code" of a single shared generator,
with "a query and feedback mechanism" (seeds.md §6). The cell, its inputs, the word attention
and the feedback encoding below are this package's design, not the paper's.
"""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.attention import WordAttention

# The memory's mask for one part is pooled to FEEDBACK_GRID × FEEDBACK_GRID cells in the
# feedback, so the next step knows where the previous part went.
FEEDBACK_GRID = 4


@keras.saving.register_keras_serializable(package="keras_t2i")
class PartQueryRNN(keras.layers.Layer):
    """One recurrent step per part: q_k, h_k = step(h_{k−1}, z_k, words, feedback_{k−1}).

    - h_0 = tanh(W_0 [sentence; z]) (z the scene's noise).
    - The word context c_k = Σ_i β_ki U w_i, β_k = softmax over the real words of
      (h_{k−1})ᵀ U w_i (``WordAttention`` with the state as its single "pixel"), so each step
      can read a different object's phrase.
    - h_k = GRU([z_k; c_k; f_{k−1}], h_{k−1}); the query q_k = W_q [h_k; c_k].
    - The feedback f_k (``encode_feedback``) encodes what the memory returned for part k: its
      features averaged under its own soft mask σ(d_k) and that mask pooled to a 4×4 grid,
      through a Dense + LeakyReLU; f_0 = 0. With ``feedback=False`` f is always 0 (the
      ablation: parts then depend on each other through the state only).

    Args:
        units: int. The GRU state (and word-context) width. Defaults to 128.
        query_dim: int. q_k's width, the memory's input. Defaults to 64.
        part_dim: int. z_k's width. Defaults to 32.
        noise_dim: int. z's width. Defaults to 100.
        word_dim: int. The words' and sentence's width (the text encoder's). Defaults to 256.
        feature_channels: int. The memory's feature channels C (for the feedback). Defaults
            to 32.
        feedback_dim: int. f_k's width. Defaults to 64.
        feedback: bool. Defaults to True.

    Call arguments (one step):
        state: float (batch, units), h_{k−1}.
        part_code: float (batch, part_dim), z_k.
        words: float (batch, T, word_dim).
        word_mask: bool (batch, T), True for real words.
        feedback: float (batch, feedback_dim), f_{k−1}.

    Returns:
        (query (batch, query_dim), state (batch, units), attention float32 (batch, T)).
    """

    def __init__(self, units=128, query_dim=64, part_dim=32, noise_dim=100, word_dim=256,
                 feature_channels=32, feedback_dim=64, feedback=True, **kwargs):
        super().__init__(**kwargs)
        self.units, self.query_dim, self.part_dim = int(units), int(query_dim), int(part_dim)
        self.noise_dim, self.word_dim = int(noise_dim), int(word_dim)
        self.feature_channels, self.feedback_dim = int(feature_channels), int(feedback_dim)
        self.feedback = bool(feedback)
        self.initial = keras.layers.Dense(self.units, activation="tanh", name="initial_state")
        self.attention = WordAttention(self.units, self.word_dim, name="word_attention")
        self.cell = keras.layers.GRUCell(self.units, name="cell")
        self.to_query = keras.layers.Dense(self.query_dim, name="to_query")
        self.feedback_encoder = keras.layers.Dense(self.feedback_dim, name="feedback_encoder")

    def build(self, state_shape=None, part_code_shape=None, words_shape=None,
              word_mask_shape=None, feedback_shape=None):
        self.initial.build((None, self.word_dim + self.noise_dim))
        self.attention.build((None, 1, 1, self.units), (None, None, self.word_dim))
        self.cell.build((None, self.part_dim + self.units + self.feedback_dim))
        self.to_query.build((None, 2 * self.units))
        self.feedback_encoder.build((None, self.feature_channels + FEEDBACK_GRID ** 2))
        self.built = True

    def initial_state(self, sentence, noise):
        """h_0 (batch, units) from the sentence and the scene's noise."""
        return self.initial(ops.concatenate([ops.cast(sentence, noise.dtype), noise], axis=-1))

    def initial_feedback(self, batch_size, dtype="float32"):
        """f_0: zeros (batch, feedback_dim)."""
        return ops.zeros((batch_size, self.feedback_dim), dtype)

    def encode_feedback(self, features, mask_logit):
        """f_k from the memory's output for part k: features (batch, h, w, C) and mask logit
        (batch, h, w, 1) → (batch, feedback_dim); zeros without feedback."""
        if not self.feedback:
            return self.initial_feedback(ops.shape(features)[0], features.dtype)
        alpha = ops.sigmoid(mask_logit)
        pooled = ops.sum(alpha * features, axis=(1, 2)) / (ops.sum(alpha, axis=(1, 2)) + 1e-6)
        size = ops.shape(alpha)[1]
        cells = ops.average_pool(alpha, size // FEEDBACK_GRID, size // FEEDBACK_GRID)
        where = ops.reshape(cells, (ops.shape(alpha)[0], FEEDBACK_GRID ** 2))
        return ops.leaky_relu(self.feedback_encoder(ops.concatenate([pooled, where], -1)), 0.2)

    def call(self, state, part_code, words, word_mask, feedback):
        context, attention = self.attention(ops.reshape(state, (-1, 1, 1, self.units)), words,
                                            word_mask)
        context = ops.reshape(context, (-1, self.units))
        inputs = ops.concatenate([part_code, context, ops.cast(feedback, part_code.dtype)], -1)
        _, (state,) = self.cell(inputs, [state])
        query = self.to_query(ops.concatenate([state, context], axis=-1))
        return query, state, ops.reshape(attention, (ops.shape(attention)[0], -1))

    def compute_output_shape(self, state_shape, part_code_shape=None, words_shape=None,
                             word_mask_shape=None, feedback_shape=None):
        batch = state_shape[0]
        words = None if words_shape is None else words_shape[1]
        return (batch, self.query_dim), (batch, self.units), (batch, words)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "query_dim": self.query_dim,
                "part_dim": self.part_dim, "noise_dim": self.noise_dim,
                "word_dim": self.word_dim, "feature_channels": self.feature_channels,
                "feedback_dim": self.feedback_dim, "feedback": self.feedback}
