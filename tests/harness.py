"""Shared checks run the same way for every layer and model (CONVENTIONS.md #10)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def _as_list(x):
    """Layer outputs: a tuple or list of tensors is several outputs."""
    return list(x) if isinstance(x, list | tuple) else [x]


def _expected(x):
    """Expected shapes/dtypes: a list means one per output; a tuple is a single shape."""
    return x if isinstance(x, list) else [x]


def check_config_round_trip(layer):
    """from_config(get_config()) gives a layer with the same config, via Keras' registry."""
    config = keras.layers.serialize(layer)
    clone = keras.layers.deserialize(config)
    assert type(clone) is type(layer)
    assert keras.layers.serialize(clone)["config"] == config["config"]
    return clone


def run_layer_checks(layer, inputs, expected_shapes, expected_dtypes, *, fit=True):
    """Config round trip, eager call, symbolic call, output shapes/dtypes, one fit step.

    Args:
        layer: a Keras layer or model.
        inputs: a concrete input batch, or a tuple of them for layers with several inputs
            (passed positionally).
        expected_shapes: the output shape (or list of shapes), batch dimension included.
        expected_dtypes: the output dtype (or list of dtypes).
        fit: run one ``fit`` step on a model wrapping the layer (trainable layers).
    """
    clone = check_config_round_trip(layer)
    inputs = [tf.convert_to_tensor(x) for x in (inputs if isinstance(inputs, tuple)
                                                else (inputs,))]
    outputs = _as_list(layer(*inputs))
    for out, shape, dtype in zip(outputs, _expected(expected_shapes), _expected(expected_dtypes),
                                 strict=True):
        assert tuple(out.shape) == tuple(shape), (out.shape, shape)
        assert out.dtype == tf.as_dtype(dtype), (out.dtype, dtype)
    # A deserialised clone builds and runs on the same inputs with the same output shapes.
    for out, clone_out in zip(outputs, _as_list(clone(*inputs)), strict=True):
        assert tuple(clone_out.shape) == tuple(out.shape)

    symbolic_in = [keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype.name) for x in inputs]
    symbolic_out = _as_list(layer(*symbolic_in))
    for out, shape in zip(symbolic_out, _expected(expected_shapes), strict=True):
        assert tuple(out.shape[1:]) == tuple(shape[1:]), (out.shape, shape)

    if fit:
        model = keras.Model(symbolic_in, symbolic_out)
        model.compile(optimizer="sgd", loss=["mse"] * len(symbolic_out))
        before = [w.numpy().copy() for w in layer.trainable_weights]
        targets = [np.ones(o.shape, "float32") for o in outputs]
        model.fit(inputs, targets, epochs=1, batch_size=len(inputs[0]), verbose=0)
        changed = [not np.allclose(b, w.numpy()) for b, w in
                   zip(before, layer.trainable_weights)]
        assert any(changed), "one fit step changed no trainable weight"
    return outputs


def run_call_checks(layer, inputs, expected):
    """For any registered class, whatever its input and output structures: config round trip
    through Keras' registry, an eager call, and a call of the deserialised clone, with every
    output's shape and dtype as ``expected`` says.

    Args:
        layer: a Keras layer or model.
        inputs: tuple of positional inputs (tensors, dicts of tensors, strings).
        expected: the output structure (a tensor, tuple or dict of them, as the layer returns
            it) with ``(shape, dtype)`` pairs in place of the tensors.
    """
    clone = check_config_round_trip(layer)
    outputs = layer(*inputs)
    clone_outputs = clone(*inputs)
    pairs = _expected_leaves(expected)
    for result in (outputs, clone_outputs):
        flat = tf.nest.flatten(result)
        assert len(flat) == len(pairs), (len(flat), len(pairs))
        for out, (shape, dtype) in zip(flat, pairs):
            assert tuple(out.shape) == tuple(shape), (layer.name, out.shape, shape)
            assert out.dtype == tf.as_dtype(dtype), (layer.name, out.dtype, dtype)
    return outputs


def _expected_leaves(expected):
    """The (shape, dtype) pairs of an expected structure, in ``tf.nest.flatten``'s order
    (dicts by sorted key)."""
    if isinstance(expected, tuple) and len(expected) == 2 and isinstance(expected[1], str):
        return [expected]
    if isinstance(expected, dict):
        return [leaf for key in sorted(expected) for leaf in _expected_leaves(expected[key])]
    return [leaf for item in expected for leaf in _expected_leaves(item)]
