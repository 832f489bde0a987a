"""A 2-D convolution with spectral normalisation as the PyTorch GAN codes apply it."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401


def _unit(x, eps=1e-12):
    return x / (ops.sqrt(ops.sum(x * x)) + eps)


@keras.saving.register_keras_serializable(package="keras_t2i")
class SpectralConv2D(keras.layers.Conv2D):
    """``Conv2D`` whose kernel is used divided by its largest singular value σ (Miyato et al.,
    ICLR 2018), with the semantics of DM-GAN's ``code/spectral.py``.

    The trained variable is the raw kernel W̄. σ is estimated by power iteration on W̄
    reshaped to (out, in·kh·kw), with a persistent vector u (out) that is not trained: every
    call computes v ← W̄ᵀu/‖·‖, u ← W̄v/‖·‖ (``power_iterations`` times) and convolves with
    W̄ / (uᵀ W̄ v), the gradient flowing through W̄ in σ as well (u and v held constant), so σ
    is ‖W̄v‖ > 0 from the first call on. Training calls keep the new u (and v, which the code
    also stores); inference calls leave them as they are.

    Keras' ``SpectralNormalization`` wrapper differs: it overwrites the trained kernel with
    W̄/σ on each training call, so no gradient flows through σ and the raw weight is lost.

    Args:
        power_iterations: int. Defaults to 1 (DM-GAN's).
        **kwargs: ``Conv2D``'s.
    """

    def __init__(self, *args, power_iterations=1, **kwargs):
        super().__init__(*args, **kwargs)
        self.power_iterations = int(power_iterations)
        if self.power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1, got {power_iterations}")

    def build(self, input_shape):
        super().build(input_shape)
        width = math.prod(self.kernel.shape[:-1])
        # One replica's update is every replica's (the same weights give the same vectors).
        self.sn_u = self.add_weight(shape=(self.filters,), name="sn_u", trainable=False,
                                    initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                    aggregation="mean")
        self.sn_v = self.add_weight(shape=(width,), name="sn_v", trainable=False,
                                    initializer=keras.initializers.RandomNormal(0.0, 1.0),
                                    aggregation="mean")

    def normalized_kernel(self, training=False):
        """W̄ / σ(W̄), updating u and v first when ``training``."""
        kernel = ops.cast(self.kernel, "float32")
        matrix = ops.reshape(kernel, (-1, self.filters))  # (in·kh·kw, out) = W̄ᵀ
        u = ops.cast(self.sn_u, "float32")
        frozen = ops.stop_gradient(matrix)
        for _ in range(self.power_iterations):
            v = _unit(ops.matmul(frozen, u))
            u = _unit(ops.matmul(v, frozen))
        if training:
            self.sn_u.assign(u)
            self.sn_v.assign(v)
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        sigma = ops.sum(u * ops.matmul(v, matrix))
        return kernel / sigma

    def call(self, inputs, training=None):
        kernel = ops.cast(self.normalized_kernel(bool(training)), self.compute_dtype)
        outputs = self.convolution_op(inputs, kernel)
        if self.use_bias:
            outputs = ops.add(outputs, ops.reshape(ops.cast(self.bias, self.compute_dtype),
                                                   (1, 1, 1, self.filters)))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    # Conv2D saves its kernel and bias only; u and v are state too (Layer's default saves all).
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}
