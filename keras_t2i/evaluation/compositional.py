"""Compositional probes on Shapes (issue 20): how a model draws colour–shape pairs it never saw
in training, and how much of a scene changes when one object's phrase changes.

Both read generated images with the Shapes oracle or compare them pixel by pixel, so they apply
to any generator (a run, an export, a model in memory). The third probe, more objects than
trained, is ``evaluate_shapes`` on scenes of that many objects (``min_objects`` =
``max_objects`` = N), with a model that can draw N parts (``MemoryGAN.with_num_parts``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import shapes as shapes_data
from keras_t2i.evaluation.common import entry
from keras_t2i.metrics.shapes_oracle.metric import score_readings

# Scenes drawn from the test stream, at most, to find those a probe needs.
MAX_SCAN = 200_000


def _scan(generator, wanted, num, start=0):
    """The first ``num`` test scenes (index ≥ ``start``) for which ``wanted(scene)`` holds."""
    found = []
    for index in range(start, start + MAX_SCAN):
        scene = generator.scene("test", index)
        if wanted(scene):
            found.append(scene)
            if len(found) == num:
                return found
    raise ValueError(f"Only {len(found)} of the first {MAX_SCAN:,} Shapes test scenes suit "
                     f"this probe; {num} were asked for.")


def _truth(scenes, max_objects):
    truth = {k: np.full((len(scenes), max_objects), -1, np.int64)
             for k in ("shape", "color", "size", "row", "col")}
    for i, scene in enumerate(scenes):
        for j, o in enumerate(scene.objects):
            for name, value in zip(("shape", "color", "size", "row", "col"),
                                   (o.shape, o.color, o.size, o.row, o.col)):
                truth[name][i, j] = value
    return truth


def holdout_probe(generator, oracle, holdout, num_images=500, seed=0, min_objects=1,
                  max_objects=2, data_seed=0, batch_size=50) -> list[dict]:
    """Held-out colour–shape pairs: the test scenes holding at least one pair that training
    left out (``holdout``, e.g. ``["red circle"]``), generated from their first caption;
    the oracle reads every object at its cell.

    Returns metric entries: ``holdout_pair_<n>`` (the held-out objects whose colour and shape
    both read right), ``holdout_seen_pair_<n>`` (the same for the other objects of those
    scenes: the model's level on pairs it saw), ``holdout_scene_<n>``.
    """
    pairs = shapes_data.parse_holdout(holdout)
    if not pairs:
        raise ValueError("holdout_probe needs the held-out pairs the model was trained "
                         "without (e.g. ['red circle']).")
    scenes_source = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed,
                                                min_objects=min_objects)
    scenes = _scan(scenes_source, lambda s: any((o.color, o.shape) in pairs
                                                for o in s.objects), num_images)
    images = generator([s.captions[0] for s in scenes],
                       list(range(seed, seed + len(scenes))))
    reading = oracle.read(images)
    truth = _truth(scenes, max_objects)
    rows = np.arange(len(scenes))[:, None]
    present = truth["shape"] >= 0
    cell = np.where(present, truth["row"] * 3 + truth["col"], 0)
    both = ((reading["shape"][rows, cell] == truth["shape"])
            & (reading["color"][rows, cell] == truth["color"]) & present)
    held = np.zeros_like(present)
    for i, scene in enumerate(scenes):
        for j, o in enumerate(scene.objects):
            held[i, j] = (o.color, o.shape) in pairs
    seen = present & ~held
    scene_hits = score_readings(reading, truth)["scene"]
    names = ", ".join(sorted(f"{shapes_data.COLOR_NAMES[c]} {shapes_data.SHAPES[s]}"
                             for c, s in pairs))
    note = (f"first caption of the first {len(scenes)} Shapes test scenes holding a pair left "
            f"out of training ({names}), noise seeds {seed}.., oracle at each object's cell")
    n = len(scenes)
    return [entry(f"holdout_pair_{n}", both[held].mean(), "held-out objects with colour and "
                  f"shape read right; {note}", n),
            entry(f"holdout_seen_pair_{n}", both[seen].mean() if seen.any() else float("nan"),
                  f"the other objects of those scenes, colour and shape right; {note}", n),
            entry(f"holdout_scene_{n}", scene_hits[0] / scene_hits[1],
                  f"whole scene right; {note}", n)]


def _changed(obj, rng):
    """``obj`` with another colour or another shape (one of them, at random)."""
    if rng.integers(2):
        colors = [c for c in range(len(shapes_data.COLOR_NAMES)) if c != obj.color]
        return dataclasses.replace(obj, color=int(rng.choice(colors)))
    kinds = [s for s in range(len(shapes_data.SHAPES)) if s != obj.shape]
    return dataclasses.replace(obj, shape=int(rng.choice(kinds)))


def disentanglement_probe(generator, num_images=200, seed=0, min_objects=2, max_objects=2,
                          data_seed=0, image_size=64) -> list[dict]:
    """Part disentanglement: for test scenes of at least two objects, one caption (the
    listing, ``listing_caption``) and the same caption with one object's colour or shape
    changed, each generated with the same seed; the mean absolute pixel change (in [0, 1])
    over the other objects' pixels (their real masks) and over the changed object's.

    Returns: ``disentangle_other_<n>`` (the other objects' change, lower is better),
    ``disentangle_changed_<n>`` (the changed object's) and ``disentangle_ratio_<n>`` (other
    / changed: 0 when only the changed object moves, 1 when the whole scene does).
    """
    source = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed,
                                         min_objects=max(2, min_objects))
    scenes = _scan(source, lambda s: len(s.objects) >= 2, num_images)
    rng = np.random.default_rng(seed)
    before, after, masks_other, masks_changed = [], [], [], []
    for i, scene in enumerate(scenes):
        k = int(rng.integers(len(scene.objects)))
        objects = list(scene.objects)
        changed = objects.copy()
        changed[k] = _changed(objects[k], rng)
        before.append(shapes_data.listing_caption(objects, seed + i))
        after.append(shapes_data.listing_caption(changed, seed + i))
        _, masks = source.render(scene, image_size)
        masks = masks.astype(bool)
        masks_changed.append(masks[..., k])
        masks_other.append(masks[..., [j for j in range(len(objects)) if j != k]].any(-1))
    seeds = list(range(seed, seed + len(scenes)))
    delta = np.abs(generator(before, seeds).astype(np.float32)
                   - generator(after, seeds).astype(np.float32)).mean(-1) / 255.0
    other = np.stack(masks_other)
    changed = np.stack(masks_changed)
    if delta.shape[1:] != other.shape[1:]:
        raise ValueError(f"The generator draws {delta.shape[1]}px images; the probe was asked "
                         f"for {image_size}px (image_size=).")
    other_change = float(delta[other].mean())
    changed_change = float(delta[changed].mean())
    n = len(scenes)
    note = (f"{n} Shapes test scenes of 2+ objects, listing caption vs the same with one "
            f"object's colour or shape changed, same noise seed ({seed}..), mean |Δpixel| in "
            "[0, 1] under the real masks")
    return [entry(f"disentangle_other_{n}", other_change, f"the other objects' pixels; {note}",
                  n),
            entry(f"disentangle_changed_{n}", changed_change,
                  f"the changed object's pixels; {note}", n),
            entry(f"disentangle_ratio_{n}", other_change / max(changed_change, 1e-12),
                  f"other / changed; {note}", n)]
