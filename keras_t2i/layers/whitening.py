"""ZCA whitening with statistics fitted once, before training, optionally followed by the
projection onto the directions most correlated with a target (the package's addition for the
text condition, issue 17; Bell & Sejnowski 1997 and Kessy et al. 2018, "Optimal Whitening and
Decorrelation", for ZCA; Hotelling 1936, "Relations between two sets of variates", for the
canonical correlations)."""

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

    With ``rank`` k > 0, ``adapt`` also takes targets (N, P) paired with the vectors and the
    layer keeps, of the whitened vectors, only their k canonical directions, those most
    correlated with the targets (whitened the same way, floor ``target_epsilon``):
    y = (x − μ) W U_k U_kᵀ, U_k the k leading left singular vectors of the cross-covariance
    of the two whitened sets. The output keeps its D dimensions; the D − k directions that
    do not predict the targets (on Shapes, a caption's phrasing) become 0.

    Args:
        dim: int. Size D of the vectors.
        epsilon: float > 0. The eigenvalue floor, relative to λ_max. Defaults to 1e-4.
        rank: int in [0, D]. 0, the default, whitens only; k > 0 keeps the k canonical
            directions.
        target_epsilon: float > 0. The targets' eigenvalue floor (with ``rank``), relative
            to their largest eigenvalue. Defaults to 1e-3.

    Call arguments:
        x: float (batch, D).

    Returns:
        float32 (batch, D).
    """

    def __init__(self, dim, epsilon=1e-4, rank=0, target_epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        if int(dim) < 1:
            raise ValueError(f"ZCAWhitening needs dim >= 1, got {dim}")
        for name, value in (("epsilon", epsilon), ("target_epsilon", target_epsilon)):
            if not float(value) > 0:
                raise ValueError(f"ZCAWhitening needs {name} > 0, got {value}")
        if not 0 <= int(rank) <= int(dim):
            raise ValueError(f"ZCAWhitening needs rank in [0, dim={dim}], got {rank}")
        self.dim = int(dim)
        self.epsilon = float(epsilon)
        self.rank = int(rank)
        self.target_epsilon = float(target_epsilon)
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

    def adapt(self, vectors, targets=None):
        """Fits μ and W to ``vectors`` (N, D), N >= 2 (computed in float64); with ``rank``,
        also the canonical projection to ``targets`` (N, P), row i paired with vector i.
        Returns the k canonical correlations kept (an empty array without ``rank``)."""
        x = _matrix(vectors, "vectors", self.dim)
        mean = x.mean(axis=0)
        matrix = _zca(x - mean, self.epsilon)
        correlations = np.zeros((0,))
        if self.rank:
            if targets is None:
                raise ValueError(f"ZCAWhitening(rank={self.rank}).adapt needs the targets "
                                 "paired with the vectors")
            y = _matrix(targets, "targets")
            if len(y) != len(x):
                raise ValueError(f"ZCAWhitening.adapt got {len(x)} vectors but {len(y)} "
                                 "targets")
            if self.rank > y.shape[1]:
                raise ValueError(f"ZCAWhitening(rank={self.rank}) needs targets of at least "
                                 f"{self.rank} values each, got {y.shape[1]}")
            y = y - y.mean(axis=0)
            cross = ((x - mean) @ matrix).T @ (y @ _zca(y, self.target_epsilon)) / (len(x) - 1)
            u, singular, _ = np.linalg.svd(cross, full_matrices=False)
            kept = u[:, :self.rank]
            matrix = matrix @ kept @ kept.T
            correlations = singular[:self.rank]
        elif targets is not None:
            raise ValueError("ZCAWhitening.adapt got targets, but rank is 0 (whitening only)")
        self.mean.assign(mean.astype("float32"))
        self.matrix.assign(matrix.astype("float32"))
        self.adapted.assign(1.0)
        return correlations

    def call(self, x):
        return ops.matmul(ops.cast(x, "float32") - self.mean, self.matrix)

    def compute_output_shape(self, shape):
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "epsilon": self.epsilon,
                "rank": self.rank, "target_epsilon": self.target_epsilon}


def _matrix(values, name, dim=None):
    """``values`` as a float64 (N >= 2, dim) array, or a ValueError naming ``name``."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        want = f"(N, {dim})" if dim is not None else "(N, P)"
        raise ValueError(f"ZCAWhitening.adapt needs {name} of shape {want}, got {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"ZCAWhitening.adapt needs at least 2 {name}, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError(f"ZCAWhitening.adapt got non-finite {name}")
    return x


def _zca(centred, epsilon):
    """The ZCA matrix V diag(1 / √(λ + ε·λ_max)) Vᵀ of centred rows (float64)."""
    eigenvalues, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    eigenvalues = np.maximum(eigenvalues, 0.0)
    floor = epsilon * max(float(eigenvalues.max()), np.finfo(np.float64).tiny)
    return (vectors / np.sqrt(eigenvalues + floor)) @ vectors.T
