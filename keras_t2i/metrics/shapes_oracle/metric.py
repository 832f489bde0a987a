"""Semantic accuracy on Shapes: oracle readings scored against the scenes the captions
describe (position, shape, colour, size per object; count and whole scene per image)."""

from __future__ import annotations

import numpy as np

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import shapes as shapes_data
from keras_t2i.metrics.generated import generate_images
from keras_t2i.metrics.shapes_oracle.network import ATTRIBUTES, CELLS, load_oracle


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
