"""The Shapes oracle: a classifier that reads a Shapes image back into its scene (DESIGN §5).

Shapes puts every object inside one cell of a 3×3 grid (radius + jitter < half a cell,
``kt.data.shapes``), so the oracle answers, for each of the 9 cells: is there an object, and
if so its shape, colour and size. Position is the cell; the object count is the number of
occupied cells. Generated images are scored by comparing that reading with the scene their
caption describes (``kt.metrics.shapes_accuracy``), and the oracle's pooled cell features
are the domain features of FID/KID on Shapes.

Network: images are resized to 72×72 (a multiple of 3·8), a small all-convolutional trunk
reduces them by 8 to 9×9, average pooling by 3 gives one feature vector per cell, and 1×1
convolutions shared by all cells give the four heads. It is trained on real Shapes images
(1–4 objects) by ``keras-t2i pretrain oracle`` (``training.py``), which writes the weights
file that ships with the package (``shapes_oracle.weights.h5`` next to this module) and its
report; ``load_oracle()`` loads it without training. The scoring of readings is
``metric.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import shapes as shapes_data

WEIGHTS_FILE = Path(__file__).with_name("shapes_oracle.weights.h5")
INPUT_SIZE = 72
CELLS = 9
ATTRIBUTES = ("shape", "color", "size")
NUM_CLASSES = {"shape": len(shapes_data.SHAPES), "color": len(shapes_data.COLOR_NAMES),
               "size": len(shapes_data.SIZES)}


@keras.saving.register_keras_serializable(package="keras_t2i")
class ShapesOracle(keras.Model):
    """Per-cell reader of Shapes images.

    Args:
        width: int. Channels of the first stage (doubled twice). Defaults to 16.

    Call arguments:
        images: float (batch, S, S, 3) in [-1, 1], any S (resized to 72×72).

    Returns:
        dict of logits: ``occupied`` (batch, 9), ``shape`` (batch, 9, 6), ``color``
        (batch, 9, 8), ``size`` (batch, 9, 2). Cell k is row k // 3, column k % 3.
    """

    def __init__(self, width=16, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)
        layers = []
        for stage, channels in enumerate((width, 2 * width, 4 * width)):
            layers += [keras.layers.Conv2D(channels, 3, padding="same", activation="relu",
                                           name=f"conv_{stage}a"),
                       keras.layers.Conv2D(channels, 3, strides=2, padding="same",
                                           activation="relu", name=f"conv_{stage}b")]
        layers.append(keras.layers.Conv2D(4 * width, 3, padding="same", activation="relu",
                                          name="conv_3"))
        self.trunk = layers
        self.cell_pool = keras.layers.AveragePooling2D(3, name="cell_pool")
        self.heads = {
            "occupied": keras.layers.Conv2D(1, 1, name="occupied"),
            **{name: keras.layers.Conv2D(NUM_CLASSES[name], 1, name=name)
               for name in ATTRIBUTES},
        }
        self.build((None, INPUT_SIZE, INPUT_SIZE, 3))

    def build(self, input_shape):
        shape = (None, INPUT_SIZE, INPUT_SIZE, 3)
        for layer in self.trunk:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        cell_shape = (None, 3, 3, shape[-1])
        for head in self.heads.values():
            head.build(cell_shape)
        self.built = True

    def feature_maps(self, images):
        """The trunk's activations at the end of each stage (72, 36, 18 → 9 pixels wide),
        the layers a perceptual (LPIPS-style) distance compares."""
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise ValueError(f"The Shapes oracle reads (batch, height, width, 3) images, got "
                             f"shape {tuple(images.shape)}")
        x = tf.image.resize(images, (INPUT_SIZE, INPUT_SIZE), antialias=True)
        maps = []
        for layer in self.trunk:
            if layer.strides == (2, 2):
                maps.append(x)
            x = layer(x)
        return maps + [x]

    def cell_features(self, images):
        """(batch, S, S, 3) in [-1, 1] → (batch, 3, 3, 4·width), one vector per cell."""
        return self.cell_pool(self.feature_maps(images)[-1])

    def features(self, images):
        """(batch, 9 · 4·width) float32: the cell features in row-major order (FID/KID)."""
        cells = self.cell_features(images)
        return tf.reshape(cells, (tf.shape(cells)[0], -1))

    def call(self, images, training=None):
        cells = self.cell_features(images)
        batch = tf.shape(cells)[0]
        out = {"occupied": tf.reshape(self.heads["occupied"](cells), (batch, CELLS))}
        for name in ATTRIBUTES:
            out[name] = tf.reshape(self.heads[name](cells), (batch, CELLS, NUM_CLASSES[name]))
        return out

    def read(self, images, batch_size=128):
        """The scene in each image, as per-cell integer arrays.

        Args:
            images: uint8 (N, S, S, 3) or float in [-1, 1].

        Returns:
            dict of numpy arrays: ``occupied`` bool (N, 9), ``shape``, ``color``, ``size``
            int (N, 9) (meaningful where occupied), ``count`` int (N,).
        """
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 127.5 - 1.0
        parts = []
        for start in range(0, len(images), batch_size):
            logits = self(images[start:start + batch_size], training=False)
            parts.append({"occupied": logits["occupied"].numpy() > 0,
                          **{k: np.argmax(logits[k].numpy(), -1) for k in ATTRIBUTES}})
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["count"] = out["occupied"].sum(-1)
        return out

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def report_path(weights):
    """The JSON report that travels with a weights file (``x.weights.h5`` → ``x.json``)."""
    weights = Path(weights)
    return weights.with_name(weights.name.replace(".weights.h5", "") + ".json")


def load_oracle(path=None):
    """The trained oracle (the shipped weights unless ``path`` is given)."""
    path = Path(path) if path else WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"No Shapes oracle weights at {path}; train them with "
            "`keras-t2i pretrain oracle`.")
    report = report_path(path)
    if not report.is_file():
        raise FileNotFoundError(f"No report {report} beside the oracle weights {path} (it "
                                "holds the network's width); train writes both.")
    width = json.loads(report.read_text())["width"]
    oracle = ShapesOracle(width=width)
    oracle.load_weights(str(path))
    return oracle
