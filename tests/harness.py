"""Shared checks run the same way for every layer and model (CONVENTIONS.md #10)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _as_list(x):
    return list(x) if isinstance(x, list | tuple) else [x]


def check_config_round_trip(layer):
    """from_config(get_config()) gives a layer with the same config, via Keras' registry."""
    config = keras.layers.serialize(layer)
    clone = keras.layers.deserialize(config)
    assert type(clone) is type(layer)
    assert keras.layers.serialize(clone)["config"] == config["config"]
    return clone


def run_layer_checks(layer, inputs, expected_shapes, expected_dtypes, *, symbolic_dtype=None,
                     fit=True):
    """Config round trip, eager call, symbolic call, output shapes/dtypes, one fit step.

    Args:
        layer: a built-able Keras layer or model.
        inputs: a concrete input batch.
        expected_shapes: the output shape (or list of shapes), batch dimension included.
        expected_dtypes: the output dtype (or list of dtypes).
        symbolic_dtype: dtype of the symbolic ``keras.Input``. Defaults to the input's.
        fit: run one ``fit`` step on a model wrapping the layer (trainable layers).
    """
    check_config_round_trip(layer)
    outputs = _as_list(layer(inputs))
    for out, shape, dtype in zip(outputs, _as_list(expected_shapes), _as_list(expected_dtypes),
                                 strict=True):
        assert tuple(out.shape) == tuple(shape), (out.shape, shape)
        assert out.dtype == tf.as_dtype(dtype), (out.dtype, dtype)

    inputs_t = tf.convert_to_tensor(inputs)
    symbolic_in = keras.Input(shape=tuple(inputs_t.shape[1:]),
                              dtype=symbolic_dtype or inputs_t.dtype.name)
    symbolic_out = _as_list(layer(symbolic_in))
    for out, shape in zip(symbolic_out, _as_list(expected_shapes), strict=True):
        assert tuple(out.shape[1:]) == tuple(shape[1:]), (out.shape, shape)

    if fit:
        model = keras.Model(symbolic_in, symbolic_out)
        model.compile(optimizer="sgd", loss=["mse"] * len(symbolic_out))
        before = [w.numpy().copy() for w in layer.trainable_weights]
        targets = [np.zeros(o.shape, "float32") for o in outputs]
        model.fit(inputs_t, targets, epochs=1, batch_size=len(inputs_t), verbose=0)
        changed = [not np.allclose(b, w.numpy()) for b, w in
                   zip(before, layer.trainable_weights)]
        assert any(changed), "one fit step changed no trainable weight"
    return outputs
