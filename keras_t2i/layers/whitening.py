"""ZCA whitening with statistics fitted once, before training (the package's addition for the
text condition, issue 17; Bell & Sejnowski 1997 and Kessy et al. 2018, "Optimal Whitening and
Decorrelation", for ZCA)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_t2i import _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="keras_t2i")
class ZCAWhitening(keras.layers.Layer):
    """y = (x − μ) W with W = V diag(1 / √(λ + ε·λ_max)) Vᵀ, the eigen-decomposition
    V diag(λ) Vᵀ of the covariance of the vectors given to ``adapt``.

    ε is relative to the largest eigenvalue λ_max, so it floors the small directions at the
    same fraction of the strongest one whatever the features' scale: ε → 0 is full whitening
    (noise directions blown up), large ε leaves the vectors centred and almost unscaled.
    μ and W are non-trainable weights: saved with the model and its checkpoints, fitted by
    ``adapt`` (never by gradients).

    Args:
        dim: int. Size D of the vectors.
        epsilon: float > 0. The eigenvalue floor, relative to λ_max. Defaults to 1e-4.

    Call arguments:
        x: float (batch, D).

    Returns:
        float32 (batch, D).
    """

    def __init__(self, dim, epsilon=1e-4, **kwargs):
        super().__init__(**kwargs)
        if int(dim) < 1:
            raise ValueError(f"ZCAWhitening needs dim >= 1, got {dim}")
        if not float(epsilon) > 0:
            raise ValueError(f"ZCAWhitening needs epsilon > 0, got {epsilon}")
        self.dim = int(dim)
        self.epsilon = float(epsilon)
        self.mean = self.add_weight(shape=(self.dim,), initializer="zeros", trainable=False,
                                    name="mean")
        self.matrix = self.add_weight(shape=(self.dim, self.dim), initializer="zeros",
                                      trainable=False, name="matrix")
        # 0 until ``adapt`` ran: a model must not train on a zero condition unnoticed.
        self.adapted = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                       name="adapted")
        self.built = True

    @property
    def is_adapted(self) -> bool:
        return bool(float(keras.ops.convert_to_numpy(self.adapted)))

    def adapt(self, vectors):
        """Fits μ and W to ``vectors`` (N, D), N >= 2 (computed in float64)."""
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"ZCAWhitening.adapt needs vectors of shape (N, {self.dim}), got "
                             f"{x.shape}")
        if x.shape[0] < 2:
            raise ValueError(f"ZCAWhitening.adapt needs at least 2 vectors, got {x.shape[0]}")
        if not np.isfinite(x).all():
            raise ValueError("ZCAWhitening.adapt got non-finite values")
        mean = x.mean(axis=0)
        eigenvalues, vectors_ = np.linalg.eigh(np.cov(x - mean, rowvar=False))
        eigenvalues = np.maximum(eigenvalues, 0.0)
        floor = self.epsilon * max(float(eigenvalues.max()), np.finfo(np.float64).tiny)
        matrix = (vectors_ / np.sqrt(eigenvalues + floor)) @ vectors_.T
        self.mean.assign(mean.astype("float32"))
        self.matrix.assign(matrix.astype("float32"))
        self.adapted.assign(1.0)

    def call(self, x):
        return ops.matmul(ops.cast(x, "float32") - self.mean, self.matrix)

    def compute_output_shape(self, shape):
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "epsilon": self.epsilon}
