"""Conditioning Augmentation (Zhang et al., StackGAN, ICCV 2017; AttnGAN's ``CA_NET``;
seeds.md §1.5)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.glu_blocks import glu, orthogonal


@keras.saving.register_keras_serializable(package="keras_t2i")
class ConditioningAugmentation(keras.layers.Layer):
    """Conditioning Augmentation (StackGAN; AttnGAN ``CA_NET``): Linear(D → 4c) + GLU gives
    μ and log σ² (c each); ĉ = μ + exp(½ log σ²)·ε.

    Args:
        condition_dim: int. c. Defaults to 100.

    Call arguments:
        sentence: float (batch, D).
        epsilon: float (batch, c), ε ~ N(0, I): a latent of the model, so a seed fixes it.

    Returns:
        (ĉ, μ, log σ²), float (batch, c) each.
    """

    def __init__(self, condition_dim=100, **kwargs):
        super().__init__(**kwargs)
        self.condition_dim = int(condition_dim)
        self.fc = keras.layers.Dense(4 * self.condition_dim, kernel_initializer=orthogonal(),
                                     bias_initializer="zeros", name="fc")

    def build(self, sentence_shape, epsilon_shape=None):
        self.fc.build(sentence_shape)
        self.built = True

    def call(self, sentence, epsilon):
        x = glu(self.fc(sentence))
        mu, logvar = x[:, :self.condition_dim], x[:, self.condition_dim:]
        return mu + ops.exp(0.5 * logvar) * ops.cast(epsilon, mu.dtype), mu, logvar

    def compute_output_shape(self, sentence_shape, epsilon_shape=None):
        shape = (sentence_shape[0], self.condition_dim)
        return shape, shape, shape

    def get_config(self):
        return {**super().get_config(), "condition_dim": self.condition_dim}
