"""Training the Shapes oracle on real Shapes scenes (``keras-t2i pretrain oracle``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import shapes as shapes_data
from keras_t2i.metrics.shapes_oracle.metric import cell_accuracy
from keras_t2i.metrics.shapes_oracle.network import (
    ATTRIBUTES,
    CELLS,
    WEIGHTS_FILE,
    ShapesOracle,
    report_path,
)


def cell_targets(example):
    """Per-cell targets of a Shapes example (from ``shapes_examples``): occupied (9,) float,
    shape/color/size (9,) int32 with 0 in empty cells (masked by ``occupied``)."""
    present = example["shape"] >= 0
    cell = tf.where(present, example["row"] * 3 + example["col"], CELLS)  # absent → dropped
    targets = {"occupied": tf.math.unsorted_segment_max(
        tf.cast(present, tf.float32), cell, CELLS + 1)[:CELLS]}
    targets["occupied"] = tf.maximum(targets["occupied"], 0.0)
    for name in ATTRIBUTES:
        values = tf.math.unsorted_segment_max(tf.where(present, example[name], -1), cell,
                                              CELLS + 1)[:CELLS]
        targets[name] = tf.maximum(values, 0)
    return targets


def oracle_dataset(split, num_scenes, batch_size, max_objects=4, image_size=64, seed=0,
                   shuffle=False):
    """(images in [-1, 1], targets) batches of real Shapes scenes: per-cell targets
    (``cell_targets``) and the per-object truth as ``object_shape``, ``object_color``, …
    (batch, max_objects), −1 for absent objects."""
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=seed)
    ds = shapes_data.shapes_examples(generator, split, num_scenes, image_size, shuffle=shuffle,
                                     seed=seed)

    def to_pair(example):
        image = tf.cast(example["image"], tf.float32) / 127.5 - 1.0
        targets = cell_targets(example)
        for name in ("shape", "color", "size", "row", "col"):
            targets[f"object_{name}"] = example[name]
        return image, targets

    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(2)


def oracle_loss(targets, logits):
    """Occupancy BCE over all cells + shape/colour/size cross-entropy over occupied cells."""
    occupied = targets["occupied"]
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(occupied,
                                                                  logits["occupied"]))
    weight = occupied / tf.maximum(tf.reduce_sum(occupied), 1.0)
    for name in ATTRIBUTES:
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(targets[name], logits[name])
        loss += tf.reduce_sum(weight * ce)
    return loss


def train(out=WEIGHTS_FILE, steps=1000, batch_size=64, learning_rate=2e-3, width=16,
          test_scenes=2000, seed=0):
    """Trains the oracle on real Shapes scenes (1–4 objects) and measures it on held-out
    test scenes. Writes the weights to ``out`` (unless None) with a JSON report beside them
    (accuracy, settings, seconds); returns (oracle, report)."""
    keras.utils.set_random_seed(seed)
    oracle = ShapesOracle(width=width)
    train_data = oracle_dataset("train", steps * batch_size, batch_size, seed=seed,
                                shuffle=False)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function
    def step(images, targets):
        with tf.GradientTape() as tape:
            loss = oracle_loss(targets, oracle(images, training=True))
        grads = tape.gradient(loss, oracle.trainable_variables)
        optimizer.apply(grads, oracle.trainable_variables)
        return loss

    start, losses = time.time(), []
    for i, (images, targets) in enumerate(train_data):
        losses.append(float(step(images, targets)))
        if i % 500 == 0 or i == steps - 1:
            print(f"step {i}: loss {losses[-1]:.4f} ({time.time() - start:.0f} s)", flush=True)
    seconds = time.time() - start
    accuracy = {}
    for objects in (1, 4):
        test = oracle_dataset("test", test_scenes, 128, max_objects=objects, seed=seed)
        accuracy[f"test_{objects}_objects"] = cell_accuracy(oracle, test)
    window = max(1, min(50, steps // 10))
    report = {"width": width, "steps": steps, "batch_size": batch_size,
              "learning_rate": learning_rate, "seed": seed, "train_seconds": round(seconds, 1),
              "first_loss": float(np.mean(losses[:window])),
              "final_loss": float(np.mean(losses[-window:])),
              "test_scenes": test_scenes, "accuracy": accuracy,
              "date": time.strftime("%Y-%m-%d")}
    if out is not None:
        out = Path(out)
        oracle.save_weights(str(out))
        report["weights"] = out.name
        report_path(out).write_text(json.dumps(report, indent=2) + "\n")
    return oracle, report
