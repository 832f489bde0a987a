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
(1–4 objects) by ``python -m keras_t2i.metrics.shapes_oracle train``, which writes the
weights file that ships with the package (``shapes_oracle.weights.h5`` next to this module)
and prints the held-out accuracy; ``load_oracle()`` loads it without training.
"""

from __future__ import annotations

import argparse
import json
import time
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


def _truth_cells(truth):
    """Per-object truth (shape/color/size/row/col (N, K), -1 for absent) → present (N, K)
    and each object's cell (N, K)."""
    present = np.asarray(truth["shape"]) >= 0
    cell = np.where(present, np.asarray(truth["row"]) * 3 + np.asarray(truth["col"]), 0)
    return present, cell


def score_readings(reading, truth):
    """Hit counts of oracle readings against the scenes they should show.

    Args:
        reading: ``ShapesOracle.read`` output for N images.
        truth: dict of int arrays (N, K) ``shape``, ``color``, ``size``, ``row``, ``col``, −1
            for absent objects (as ``kt.data`` Shapes examples carry them).

    Returns:
        dict of (hits, total): ``position`` (the object's cell reads occupied), ``shape``,
        ``color``, ``size`` (read at the object's cell) over objects; ``cells`` (occupancy
        right) over all 9·N cells; ``count`` and ``scene`` (every object right and nothing
        else in the image) over images.
    """
    present, cell = _truth_cells(truth)
    rows = np.arange(len(present))[:, None]
    occupied = np.zeros((len(present), CELLS + 1), bool)
    occupied[rows, np.where(present, cell, CELLS)] = True  # absent objects → spare column
    occupied = occupied[:, :CELLS]
    positioned = reading["occupied"][rows, cell] & present
    right = positioned.copy()
    out = {"position": (positioned.sum(), present.sum())}
    for name in ATTRIBUTES:
        same = (reading[name][rows, cell] == np.asarray(truth[name])) & present
        right &= same
        out[name] = (same.sum(), present.sum())
    count_right = reading["count"] == present.sum(1)
    out["cells"] = ((reading["occupied"] == occupied).sum(), occupied.size)
    out["count"] = (count_right.sum(), len(present))
    out["scene"] = (((right | ~present).all(1) & count_right).sum(), len(present))
    return {k: (int(h), int(t)) for k, (h, t) in out.items()}


def accuracies(hits):
    """(hits, total) counts → fractions; ``attributes`` is the mean of position, shape,
    colour and size (the semantic accuracy of the quickstart's target)."""
    result = {k: h / t if t else float("nan") for k, (h, t) in hits.items()}
    result["attributes"] = float(np.mean([result[k] for k in ("position", *ATTRIBUTES)]))
    return result


def add_hits(total, hits):
    for k, (h, t) in hits.items():
        seen = total.get(k, (0, 0))
        total[k] = (seen[0] + h, seen[1] + t)
    return total


def cell_accuracy(oracle, dataset):
    """The oracle's accuracies (``score_readings``) on a dataset of (images, targets)."""
    total = {}
    for images, targets in dataset:
        truth = {k: targets[f"object_{k}"].numpy() for k in ("shape", "color", "size", "row",
                                                              "col")}
        add_hits(total, score_readings(oracle.read(images.numpy()), truth))
    return accuracies(total)


def scene_truth(scenes):
    """Per-object truth arrays (N, K) of Shapes scenes, −1 for absent objects."""
    k = max(len(scene.objects) for scene in scenes)
    truth = {name: np.full((len(scenes), k), -1, np.int64)
             for name in ("shape", "color", "size", "row", "col")}
    for i, scene in enumerate(scenes):
        for j, obj in enumerate(scene.objects):
            for name in truth:
                truth[name][i, j] = getattr(obj, name)
    return truth


def semantic_accuracy(generate, num_images=1000, max_objects=1, seed=0, batch_size=50,
                      oracle=None, data_seed=0):
    """How often generated images show what their captions say, read by the oracle.

    Captions are the first captions of the Shapes test scenes 0..N−1 (the listing template,
    which names every object's shape, colour, size and cell); image i uses noise seed
    ``seed + i``.

    Args:
        generate: callable (captions list[str], seeds list[int]) → uint8 (B, S, S, 3).
        num_images: int. Defaults to 1000.
        max_objects: int. Objects per test scene (the data the model was trained on).
        seed: int. First noise seed. Defaults to 0.
        batch_size: int. Captions per ``generate`` call. Defaults to 50.
        oracle: ShapesOracle. Defaults to the shipped one.
        data_seed: int. The Shapes dataset seed. Defaults to 0.

    Returns:
        dict: the accuracies of ``accuracies`` plus ``num_images``.
    """
    oracle = load_oracle() if oracle is None else oracle
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed)
    scenes = [generator.scene("test", i) for i in range(num_images)]
    images = generate_images(generate, [scene.captions[0] for scene in scenes], seed,
                             batch_size)
    hits = score_readings(oracle.read(images), scene_truth(scenes))
    return {**accuracies(hits), "num_images": num_images}


def generate_images(generate, captions, seed=0, batch_size=50):
    """All images of ``generate`` (captions, seeds) → uint8 (B, S, S, 3) for ``captions``, in
    batches, caption i with seed ``seed + i``; a wrong output type or count is an error."""
    parts = []
    for start in range(0, len(captions), batch_size):
        stop = min(len(captions), start + batch_size)
        images = np.asarray(generate(list(captions[start:stop]),
                                     list(range(seed + start, seed + stop))))
        if images.dtype != np.uint8 or images.ndim != 4 or len(images) != stop - start:
            raise ValueError(f"generate must return uint8 (batch, S, S, 3) images, one per "
                             f"caption; got {images.dtype} {images.shape} for "
                             f"{stop - start} captions")
        parts.append(images)
    return np.concatenate(parts)


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
            "`python -m keras_t2i.metrics.shapes_oracle train`.")
    report = report_path(path)
    if not report.is_file():
        raise FileNotFoundError(f"No report {report} beside the oracle weights {path} (it "
                                "holds the network's width); train writes both.")
    width = json.loads(report.read_text())["width"]
    oracle = ShapesOracle(width=width)
    oracle.load_weights(str(path))
    return oracle


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_t2i.metrics.shapes_oracle")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the oracle on real Shapes and write its weights")
    t.add_argument("--out", default=str(WEIGHTS_FILE))
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--width", type=int, default=16)
    t.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    _, report = train(out=args.out, steps=args.steps, batch_size=args.batch_size,
                      width=args.width, seed=args.seed)
    print(json.dumps(report["accuracy"], indent=2))


if __name__ == "__main__":
    main()
