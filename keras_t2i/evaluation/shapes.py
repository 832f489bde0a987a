"""Evaluation on the built-in Shapes benchmark: semantic accuracy read by the Shapes oracle,
FID/KID on its cell features, the Inception Score of its softmax, R-precision, diversity."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import shapes as shapes_data
from keras_t2i.evaluation import compositional
from keras_t2i.evaluation.common import (
    DamsmCodes,
    cache_dir,
    count_label,
    diversity_phase,
    entry,
    fid_kid_entries,
    to_unit,
)
from keras_t2i.evaluation.sources import noise_protocol
from keras_t2i.metrics import inception_score, shapes_oracle
from keras_t2i.metrics.generated import generate_images
from keras_t2i.progress import Phases, Progress


def oracle_features(oracle, images, batch_size=200):
    return np.concatenate([oracle.features(to_unit(images[i:i + batch_size])).numpy()
                           for i in range(0, len(images), batch_size)])


def _objects_note(min_objects, max_objects):
    """How many objects the scenes hold, for the protocols."""
    if min_objects == 1:
        return f"{max_objects} max objects"
    return f"{min_objects}-{max_objects} objects"


def _shapes_scenes(num, max_objects, data_seed, start=0, min_objects=1):
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed,
                                            min_objects=min_objects)
    return [generator.scene("test", i) for i in range(start, start + num)]


def shapes_reference(num_images, image_size, max_objects, data_seed=0, oracle=None,
                     progress=None, min_objects=1):
    """Oracle features of the real test images of scenes 0..N−1, cached as ``.npz``.

    Features are divided by their root mean square over this reference, so FID and KID
    (whose cubic kernel assumes features of order 1) have the usual scale; the same divisor
    applies to the features of the images evaluated against it.

    ``progress(n)`` is called as the real images are rendered (only when not cached).

    Returns:
        (scaled features (N, d), divisor, protocol string).
    """
    protocol = (f"Shapes oracle cell features ({shapes_oracle.WEIGHTS_FILE.name}, divided by "
                f"their RMS over the reference) of the real images of Shapes test scenes "
                f"0..{num_images - 1}, {_objects_note(min_objects, max_objects)}, data seed "
                f"{data_seed}, "
                f"rendered at {image_size}px")
    objects = f"{max_objects}obj" if min_objects == 1 else f"{min_objects}to{max_objects}obj"
    name = f"shapes_test_{num_images}_{objects}_{image_size}px_seed{data_seed}_oracle.npz"
    path = cache_dir() / "reference_stats" / name
    if path.is_file():
        with np.load(path) as cached:
            if str(cached["protocol"]) == protocol:
                return cached["features"], float(cached["scale"]), protocol
    oracle = shapes_oracle.load_oracle() if oracle is None else oracle
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed,
                                            min_objects=min_objects)
    images = []
    for i in range(num_images):
        images.append(generator.render(generator.scene("test", i), image_size)[0])
        if progress is not None:
            progress(1)
    features = oracle_features(oracle, np.stack(images))
    scale = float(np.sqrt(np.mean(features.astype(np.float64) ** 2)))
    features = features / scale
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    # The features themselves, not only their mean and covariance: KID needs them.
    np.savez(tmp, features=features, scale=scale, protocol=protocol)
    tmp.replace(path)
    return features, scale, protocol


def _oracle_class_probabilities(oracle, images, batch_size=200):
    """48-way shape × colour probabilities at each image's most confidently occupied cell."""
    out = []
    for i in range(0, len(images), batch_size):
        logits = oracle(to_unit(images[i:i + batch_size]))
        cell = tf.argmax(logits["occupied"], axis=1)
        shape = tf.nn.softmax(tf.gather(logits["shape"], cell, batch_dims=1))
        color = tf.nn.softmax(tf.gather(logits["color"], cell, batch_dims=1))
        joint = shape[:, :, None] * color[:, None, :]
        out.append(tf.reshape(joint, (tf.shape(joint)[0], -1)).numpy())
    return np.concatenate(out)


def _render_real(scenes, image_size, max_objects):
    """The real images of ``scenes`` (rendering depends on the scene and ``max_objects``
    alone)."""
    generator = shapes_data.ShapesGenerator(max_objects=max_objects)
    return np.stack([generator.render(scene, image_size)[0] for scene in scenes])


def _trained_max_objects(generator):
    """The ``max_objects`` of the Shapes data the model was trained on (its options, else
    the Shapes default), or an error when that data is not known or is not Shapes."""
    if generator.data is None:
        raise ValueError(f"{generator.description} does not record the data it was trained on "
                         "(an export from an older keras_t2i, or from Python without data=): "
                         "give max_objects (--max-objects), export it again with `keras-t2i "
                         "export --run runs/NAME`, or evaluate the run (--run).")
    if generator.data["name"] != "shapes":
        raise ValueError(f"{generator.description} was trained on {generator.data['name']!r}; "
                         f"evaluate it with data={generator.data['name']!r} (--data).")
    return generator.max_objects or shapes_data.ShapesGenerator().max_objects


def evaluate_shapes(generator, num_images=1000, seed=0, max_objects=None, damsm_dir=None,
                    diversity_captions=50, diversity_samples=10, batch_size=50, data_seed=0,
                    oracle=None, image_size=64, verbose=False, min_objects=None,
                    probe_images=200) -> list[dict]:
    """Every Shapes metric of ``generator`` (a :class:`Generator`, or None for real images:
    the sanity rows, where semantic accuracy and R-precision read the real images of the
    scenes themselves, and FID/KID/IS those of test scenes N..2N−1); list of metric dicts.
    With scenes of two or more objects it adds the part-disentanglement probe, and for a model
    trained with held-out colour–shape pairs the held-out-pair probe
    (``keras_t2i.evaluation.compositional``, ``probe_images`` scenes each; 0 skips them).
    ``verbose`` prints each phase with a progress line."""
    real = generator is None
    if not real:
        max_objects = max_objects or _trained_max_objects(generator)
        min_objects = min_objects or min(generator.min_objects, max_objects)
        image_size = generator.image_size
        damsm_dir = damsm_dir or generator.damsm_dir
    max_objects = max_objects or shapes_data.ShapesGenerator().max_objects
    min_objects = min_objects or 1
    objects = _objects_note(min_objects, max_objects)
    oracle = shapes_oracle.load_oracle() if oracle is None else oracle
    label = count_label(num_images)
    scenes = _shapes_scenes(num_images, max_objects, data_seed, min_objects=min_objects)
    captions = [scene.captions[0] for scene in scenes]
    diverse = bool(diversity_captions) and not real
    holdout = () if real or probe_images <= 0 else generator.holdout
    disentangle = not real and max_objects >= 2 and probe_images > 0
    phases = Phases(["generate", "oracle", "reference", "r_precision" if damsm_dir else "",
                     "diversity" if diverse else "", "holdout" if holdout else "",
                     "disentangle" if disentangle else ""], enabled=verbose)
    if real:
        phases.start(f"rendering {2 * num_images:,} real test images")
        images = _render_real(scenes, image_size, max_objects)
        sample = _render_real(_shapes_scenes(num_images, max_objects, data_seed, num_images,
                                             min_objects), image_size, max_objects)
        note = (f"real images of Shapes test scenes 0..{num_images - 1} (semantic, "
                f"R-precision) and {num_images}..{2 * num_images - 1} (FID, KID, IS), "
                f"{objects}")
    else:
        phases.start(f"generating {num_images:,} images of {generator.description}")
        with Progress("images", num_images, enabled=verbose) as progress:
            images = sample = generate_images(generator, captions, seed, batch_size,
                                              progress.advance)
        note = (f"first caption of Shapes test scenes 0..{num_images - 1} ({objects}), "
                f"noise seeds {seed}..{seed + num_images - 1}, "
                f"{noise_protocol(generator.truncation)}")
    results = []

    def add(name, value, protocol, std=None, count=num_images):
        results.append(entry(name, value, protocol, count, std))

    phases.start("reading them with the Shapes oracle: semantic accuracy, Inception Score")
    accuracy = shapes_oracle.accuracies(shapes_oracle.score_readings(
        oracle.read(images), shapes_oracle.scene_truth(scenes)))
    for name in ("attributes", "position", "shape", "color", "size", "count", "scene"):
        add(f"semantic_{name}_{label}", accuracy[name],
            f"Shapes oracle reading vs the caption's scene; {note}")

    phases.start("FID/KID against the real test images (their features are cached after "
                 "the first evaluation)")
    with Progress("real images", num_images, enabled=verbose) as progress:
        real_features, scale, reference = shapes_reference(
            num_images, image_size, max_objects, data_seed, oracle, progress.advance,
            min_objects)
    features = oracle_features(oracle, sample) / scale
    subset = min(1000, num_images // 2)  # below N, so that subsets differ
    results += fid_kid_entries(features, real_features, label, reference, note, subset, seed,
                        num_images)
    is_mean, is_std = inception_score.inception_score(
        _oracle_class_probabilities(oracle, sample), splits=10)
    add(f"is_{label}", is_mean, "Inception Score of the oracle's 48-way shape × colour softmax "
        "at its most confidently occupied cell, 10 splits", std=is_std)

    if damsm_dir:
        phases.start(f"R-precision with the DAMSM encoders of {damsm_dir}")
        damsm = DamsmCodes(damsm_dir)
        result = damsm.r_precision(damsm.images(images), captions,
                                   [scene.class_id for scene in scenes], seed)
        add(f"r_precision_{label}", result["r_precision"], damsm.protocol,
            std=result["r_precision_std"])

    if diverse:
        div = diversity_phase(generator, captions[:diversity_captions], oracle.feature_maps,
                              diversity_samples, seed, phases, verbose)
        n = div["num_captions"]
        add(f"diversity_{n}x{diversity_samples}", div["diversity"],
            f"mean LPIPS-style distance (oracle trunk, unit weights) over all pairs of "
            f"{diversity_samples} images of each of the first {n} captions",
            std=div["diversity_std"], count=n * diversity_samples)

    if holdout:
        phases.start(f"held-out pairs ({', '.join(holdout)}): {probe_images} test scenes "
                     "holding one")
        results += compositional.holdout_probe(
            generator, oracle, holdout, probe_images, seed, min_objects, max_objects,
            data_seed, batch_size)
    if disentangle:
        phases.start(f"part disentanglement: {probe_images} captions, each with one object "
                     "changed")
        results += compositional.disentanglement_probe(
            generator, probe_images, seed, min_objects, max_objects, data_seed, image_size)
    return results
