"""``keras-t2i evaluate``: the quality numbers of a trained model, with written protocols.

On Shapes (the built-in benchmark), for N test captions (the first caption of test scenes
0..N−1, which names every object's shape, colour, size and cell; image i with noise seed
``seed + i``):

- semantic accuracy, read by the Shapes oracle (``kt.metrics.shapes_oracle``): position,
  shape, colour, size (over objects), their mean ``attributes``, object count and whole scene;
- FID and KID on the oracle's cell features, against reference statistics of the real
  test images of the same scenes (computed once and cached as ``.npz`` with the protocol
  inside);
- Inception Score from the oracle's shape × colour softmax at its most confidently occupied
  cell (48 classes, 10 splits);
- R-precision with DAMSM encoders (1 true + 99 mismatched captions of other classes, R@1,
  10 folds), when the run's (or ``damsm=``) encoders are available;
- diversity: the mean LPIPS-style distance (oracle trunk) between 10 images of each of the
  first 50 captions, as MSGAN measures it.

On CUB and COCO (``evaluate_dataset``): N test captions (pass p over the test split draws
each image's caption with caption seed 1234 + p), FID/KID on InceptionV3 pool3 features from
a user-given weights file against the real test images (each once, cached), the Inception
Score when the weights hold the classifier, R-precision and diversity (InceptionV3 maps).

Metric names carry the sample count (``fid_1k``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import shapes as shapes_data
from keras_t2i.data.pipeline import DEFAULT_CAPTION_SEED
from keras_t2i.metrics import diversity as kt_diversity
from keras_t2i.metrics import frechet, inception_score, r_precision, shapes_oracle
from keras_t2i.metrics.inception import DIVERSITY_LAYERS

DEFAULTS = {"num_images": 1000, "seed": 0, "diversity_captions": 50, "diversity_samples": 10,
            "batch_size": 50}
MIN_IMAGES = 200
REAL_MODEL = "real"  # model="real": real Shapes images (the sanity rows of the table)


def cache_dir() -> Path:
    """Where reference statistics are cached: $KERAS_T2I_CACHE or ~/.cache/keras_t2i."""
    return Path(os.environ.get("KERAS_T2I_CACHE", Path.home() / ".cache" / "keras_t2i"))


def count_label(n: int) -> str:
    """1000 → "1k", 2500 → "2.5k", 500 → "500": the sample count in metric names."""
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g}k"
    return str(n)


class Generator:
    """What is evaluated: a callable (captions, seeds) → uint8 images, and its description.

    Build it with :meth:`from_run`, :meth:`from_saved_model` or :meth:`from_model`.
    """

    def __init__(self, generate, image_size, description, step=None, damsm_dir=None,
                 max_objects=None, log_dir=None):
        self.generate = generate
        self.image_size = int(image_size)
        self.description = description
        self.step = step
        self.damsm_dir = damsm_dir
        self.max_objects = max_objects
        self.log_dir = log_dir

    def __call__(self, captions, seeds):
        return self.generate(list(captions), list(seeds))

    @classmethod
    def from_model(cls, gan, description="in-memory model", **kwargs):
        return cls(lambda c, s: gan.generate(c, seeds=s), gan.image_size, description,
                   **kwargs)

    @classmethod
    def from_run(cls, run_dir):
        from keras_t2i import train as kt_train

        config = kt_train.load_run_config(run_dir)
        gan = kt_train.load_run(run_dir)
        damsm = config.get("text_encoder") or str(Path(run_dir) / "damsm")
        return cls.from_model(
            gan, description=f"run {run_dir}",
            step=int(gan.g_optimizer.iterations.numpy()) if gan.g_optimizer else None,
            damsm_dir=damsm,
            max_objects=config.get("data_options", {}).get("max_objects"),
            log_dir=str(Path(run_dir) / "logs"))

    @classmethod
    def from_saved_model(cls, path, version=None, damsm_dir=None):
        from keras_t2i.models.presets import PRESETS
        from keras_t2i.serving.savedmodel import LocalModel

        model = LocalModel(path, version)
        meta = model.metadata
        preset = PRESETS.get(meta.get("preset") or "", {})
        return cls(model.generate, meta["image_size"],
                   f"SavedModel {model.directory}", step=meta.get("training_step"),
                   damsm_dir=damsm_dir,
                   max_objects=preset.get("data", {}).get("options", {}).get("max_objects"))


def _shapes_scenes(num, max_objects, data_seed, start=0):
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed)
    return [generator.scene("test", i) for i in range(start, start + num)]


def _to_unit(images):
    return images.astype(np.float32) / 127.5 - 1.0


def _oracle_features(oracle, images, batch_size=200):
    return np.concatenate([oracle.features(_to_unit(images[i:i + batch_size])).numpy()
                           for i in range(0, len(images), batch_size)])


def shapes_reference(num_images, image_size, max_objects, data_seed=0, oracle=None):
    """Oracle features of the real test images of scenes 0..N−1, cached as ``.npz``.

    Features are divided by their root mean square over this reference, so FID and KID
    (whose cubic kernel assumes features of order 1) have the usual scale; the same divisor
    applies to the features of the images evaluated against it.

    Returns:
        (scaled features (N, d), divisor, protocol string).
    """
    protocol = (f"Shapes oracle cell features ({shapes_oracle.WEIGHTS_FILE.name}, divided by "
                f"their RMS over the reference) of the real images of Shapes test scenes "
                f"0..{num_images - 1}, {max_objects} max objects, data seed {data_seed}, "
                f"rendered at {image_size}px")
    name = (f"shapes_test_{num_images}_{max_objects}obj_{image_size}px_seed{data_seed}"
            "_oracle.npz")
    path = cache_dir() / "reference_stats" / name
    if path.is_file():
        with np.load(path) as cached:
            if str(cached["protocol"]) == protocol:
                return cached["features"], float(cached["scale"]), protocol
    oracle = shapes_oracle.load_oracle() if oracle is None else oracle
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed)
    images = np.stack([generator.render(generator.scene("test", i), image_size)[0]
                       for i in range(num_images)])
    features = _oracle_features(oracle, images)
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
        logits = oracle(_to_unit(images[i:i + batch_size]))
        cell = tf.argmax(logits["occupied"], axis=1)
        shape = tf.nn.softmax(tf.gather(logits["shape"], cell, batch_dims=1))
        color = tf.nn.softmax(tf.gather(logits["color"], cell, batch_dims=1))
        joint = shape[:, :, None] * color[:, None, :]
        out.append(tf.reshape(joint, (tf.shape(joint)[0], -1)).numpy())
    return np.concatenate(out)


def _entry(name, value, protocol, num_images, std=None) -> dict:
    """One metric of a report: name, value, protocol, sample count and, when given, std."""
    entry = {"name": name, "value": float(value), "protocol": protocol,
             "num_images": num_images}
    if std is not None:
        entry["std"] = float(std)
    return entry


def _fid_kid(features, real_features, label, reference, note, subset, seed, num_images):
    """The FID and KID entries of generated against reference features."""
    kid, kid_std = frechet.kernel_inception_distance(features, real_features, subsets=100,
                                                     subset_size=subset, seed=seed)
    return [_entry(f"fid_{label}", frechet.fid_from_features(features, real_features),
                   f"FID against {reference}; evaluated: {note}", num_images),
            _entry(f"kid_{label}", kid, f"KID (cubic polynomial kernel, 100 subsets of "
                   f"{subset}) against {reference}", num_images, std=kid_std)]


class _DamsmCodes:
    """Global image codes and sentence codes from the DAMSM encoders saved in a directory."""

    def __init__(self, damsm_dir):
        from keras_t2i.pretrain import load_encoders

        self.directory = damsm_dir
        self.text_encoder, self.image_encoder = load_encoders(damsm_dir)

    def images(self, images, batch_size=100):
        return np.concatenate([
            self.image_encoder(_to_unit(images[i:i + batch_size]), training=False)[1].numpy()
            for i in range(0, len(images), batch_size)])

    def sentences(self, captions, batch_size=100):
        return np.concatenate([
            self.text_encoder(self.text_encoder.tokenizer(tf.constant(captions[i:i + batch_size])),
                              training=False)[1].numpy()
            for i in range(0, len(captions), batch_size)])

    def r_precision(self, image_codes, captions, class_ids, seed):
        return r_precision.r_precision(image_codes, self.sentences(captions),
                                       np.asarray(class_ids), folds=10, seed=seed)

    @property
    def protocol(self):
        return (f"R@1, 1 true + 99 mismatched captions of other classes, 10 folds, DAMSM "
                f"encoders of {self.directory}")


def _render_real(scenes, image_size, max_objects, data_seed):
    generator = shapes_data.ShapesGenerator(max_objects=max_objects, seed=data_seed)
    return np.stack([generator.render(scene, image_size)[0] for scene in scenes])


def evaluate_shapes(generator, num_images=1000, seed=0, max_objects=None, damsm_dir=None,
                    diversity_captions=50, diversity_samples=10, batch_size=50, data_seed=0,
                    oracle=None, image_size=64) -> list[dict]:
    """Every Shapes metric of ``generator`` (a :class:`Generator`, or None for real images:
    the sanity rows, where semantic accuracy and R-precision read the real images of the
    scenes themselves, and FID/KID/IS those of test scenes N..2N−1); list of metric dicts."""
    real = generator is None
    if not real:
        max_objects = max_objects or generator.max_objects
        image_size = generator.image_size
        damsm_dir = damsm_dir or generator.damsm_dir
    max_objects = max_objects or shapes_data.ShapesGenerator().max_objects
    oracle = shapes_oracle.load_oracle() if oracle is None else oracle
    label = count_label(num_images)
    scenes = _shapes_scenes(num_images, max_objects, data_seed)
    captions = [scene.captions[0] for scene in scenes]
    if real:
        images = _render_real(scenes, image_size, max_objects, data_seed)
        sample = _render_real(_shapes_scenes(num_images, max_objects, data_seed, num_images),
                              image_size, max_objects, data_seed)
        note = (f"real images of Shapes test scenes 0..{num_images - 1} (semantic, "
                f"R-precision) and {num_images}..{2 * num_images - 1} (FID, KID, IS), "
                f"{max_objects} max objects")
    else:
        images = sample = shapes_oracle.generate_images(generator, captions, seed, batch_size)
        note = (f"first caption of Shapes test scenes 0..{num_images - 1} ({max_objects} max "
                f"objects), noise seeds {seed}..{seed + num_images - 1}")
    results = []

    def add(name, value, protocol, std=None, count=num_images):
        results.append(_entry(name, value, protocol, count, std))

    accuracy = shapes_oracle.accuracies(shapes_oracle.score_readings(
        oracle.read(images), shapes_oracle.scene_truth(scenes)))
    for name in ("attributes", "position", "shape", "color", "size", "count", "scene"):
        add(f"semantic_{name}_{label}", accuracy[name],
            f"Shapes oracle reading vs the caption's scene; {note}")

    real_features, scale, reference = shapes_reference(num_images, image_size, max_objects,
                                                       data_seed, oracle)
    features = _oracle_features(oracle, sample) / scale
    subset = min(1000, num_images // 2)  # below N, so that subsets differ
    results += _fid_kid(features, real_features, label, reference, note, subset, seed,
                        num_images)
    is_mean, is_std = inception_score.inception_score(
        _oracle_class_probabilities(oracle, sample), splits=10)
    add(f"is_{label}", is_mean, "Inception Score of the oracle's 48-way shape × colour softmax "
        "at its most confidently occupied cell, 10 splits", std=is_std)

    if damsm_dir:
        damsm = _DamsmCodes(damsm_dir)
        result = damsm.r_precision(damsm.images(images), captions,
                                   [scene.class_id for scene in scenes], seed)
        add(f"r_precision_{label}", result["r_precision"], damsm.protocol,
            std=result["r_precision_std"])

    if diversity_captions and not real:
        div = kt_diversity.diversity(generator, captions[:diversity_captions],
                                     oracle.feature_maps, samples=diversity_samples, seed=seed)
        n = div["num_captions"]
        add(f"diversity_{n}x{diversity_samples}", div["diversity"],
            f"mean LPIPS-style distance (oracle trunk, unit weights) over all pairs of "
            f"{diversity_samples} images of each of the first {n} captions",
            std=div["diversity_std"], count=n * diversity_samples)
    return results


def _test_split(data, image_size, data_dir, data_options, caption_seed):
    from keras_t2i import data as kt_data

    return kt_data.load(data, "test", data_dir=data_dir, image_size=image_size, batch_size=100,
                        caption_seed=caption_seed, **data_options)


def sample_test_captions(data, num_images, image_size, data_dir, data_options=None):
    """The first ``num_images`` (captions, class ids) of a dataset's test split: pass p over
    the split draws each image's caption with caption seed 1234 + p, as DF-GAN samples the
    test set ``sample_times`` times (seeds.md §8)."""
    captions, class_ids, passes = [], [], 0
    while len(captions) < num_images:
        before = len(captions)
        for batch in _test_split(data, image_size, data_dir, data_options or {},
                                 DEFAULT_CAPTION_SEED + passes):
            captions += [c.decode() for c in batch["caption"].numpy()]
            class_ids += [int(c) for c in batch["class_id"].numpy()]
        if len(captions) == before:
            raise ValueError(f"The {data} test split in {data_dir} is empty.")
        passes += 1
    return captions[:num_images], class_ids[:num_images]


def dataset_reference(inception, data, num_images, image_size, data_dir, data_options=None):
    """Pool3 features of the real test images (each once, at most ``num_images``), cached as
    ``.npz`` with the protocol inside; returns (features, protocol)."""
    folder = str(Path(data_dir).expanduser().resolve())
    protocol = (f"InceptionV3 pool3 ({inception.description}) of the real {data} test images "
                f"of {folder} {data_options or ''}, each once (at most {num_images}), centre "
                f"crop at {image_size}px as kt.data.load gives them")
    key = hashlib.sha256(protocol.encode()).hexdigest()[:12]
    path = cache_dir() / "reference_stats" / f"{data}_test_{num_images}_{image_size}px_{key}.npz"
    if path.is_file():
        with np.load(path) as cached:
            if str(cached["protocol"]) == protocol:
                return cached["features"], protocol
    features, count = [], 0
    for batch in _test_split(data, image_size, data_dir, data_options or {},
                             DEFAULT_CAPTION_SEED):
        images = batch["image"].numpy()[:num_images - count]
        features.append(inception.pool3(images))
        count += len(images)
        if count >= num_images:
            break
    features = np.concatenate(features)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, features=features, protocol=protocol)
    tmp.replace(path)
    return features, protocol


def evaluate_dataset(generator, data, data_dir, inception_weights, num_images=1000, seed=0,
                     damsm_dir=None, diversity_captions=50, diversity_samples=10,
                     batch_size=50, data_options=None) -> list[dict]:
    """FID/KID (InceptionV3 pool3), IS (when the weights hold the classifier), R-precision
    (with DAMSM encoders) and diversity (InceptionV3 maps) of ``generator`` on CUB or COCO:
    N test captions (seeds.md §8), image i with noise seed ``seed + i``; list of metric dicts.
    ``inception_weights`` is the weights file's path, or an ``InceptionV3Features`` to reuse."""
    from keras_t2i.metrics.inception import InceptionV3Features

    if data_dir is None:
        raise ValueError(f"Evaluating on {data!r} reads its test split from disk: pass "
                         "data_dir= (--data-dir).")
    if inception_weights is None:
        raise ValueError(f"Evaluating on {data!r} needs InceptionV3 features: pass "
                         "inception_weights= (--inception-weights) with the path of Keras' "
                         "inception_v3_weights_tf_dim_ordering_tf_kernels[_notop].h5.")
    inception = (inception_weights if isinstance(inception_weights, InceptionV3Features)
                 else InceptionV3Features(inception_weights, batch_size=batch_size))
    damsm_dir = damsm_dir or generator.damsm_dir
    damsm = _DamsmCodes(damsm_dir) if damsm_dir else None
    if damsm is not None and num_images < MIN_IMAGES:
        raise ValueError(f"num_images must be at least {MIN_IMAGES} for R-precision (99 "
                         f"mismatched captions of other images each), got {num_images}")
    real_features, reference = dataset_reference(inception, data, num_images,
                                                 generator.image_size, data_dir, data_options)
    captions, class_ids = sample_test_captions(data, num_images, generator.image_size,
                                               data_dir, data_options)
    count = len(captions)
    label = count_label(count)
    note = (f"{count} {data} test captions (pass p over the split with caption seed "
            f"{DEFAULT_CAPTION_SEED} + p), noise seeds {seed}..{seed + count - 1}")

    features, probabilities, codes = [], [], []
    for start in range(0, count, batch_size):
        images = shapes_oracle.generate_images(generator, captions[start:start + batch_size],
                                               seed + start, batch_size)
        pool3, softmax = inception.pool3_and_probabilities(images)  # one forward pass
        features.append(pool3)
        probabilities.append(softmax)
        if damsm is not None:
            codes.append(damsm.images(images))
    features = np.concatenate(features)

    results = []

    def add(name, value, protocol, std=None, n=count):
        results.append(_entry(name, value, protocol, n, std))

    subset = min(1000, count // 2, len(real_features))
    results += _fid_kid(features, real_features, label, reference, note, subset, seed, count)
    if inception.has_classifier:
        is_mean, is_std = inception_score.inception_score(np.concatenate(probabilities),
                                                          splits=10)
        add(f"is_{label}", is_mean, f"Inception Score of the ImageNet softmax of "
            f"{inception.description}, 10 splits; {note}", std=is_std)
    if damsm is not None:
        result = damsm.r_precision(np.concatenate(codes), captions, class_ids, seed)
        add(f"r_precision_{label}", result["r_precision"], damsm.protocol,
            std=result["r_precision_std"])
    if diversity_captions:
        div = kt_diversity.diversity(generator, captions[:diversity_captions],
                                     inception.feature_maps, samples=diversity_samples,
                                     seed=seed)
        n = div["num_captions"]
        add(f"diversity_{n}x{diversity_samples}", div["diversity"],
            f"mean LPIPS-style distance ({inception.description}: maps "
            f"{', '.join(DIVERSITY_LAYERS)}, unit weights) over all pairs of "
            f"{diversity_samples} images of each of the first {n} test captions",
            std=div["diversity_std"], n=n * diversity_samples)
    return results


def evaluate(model=None, run=None, data="shapes", out=None, log_dir=None, damsm_dir=None,
             max_objects=None, version=None, data_dir=None, inception_weights=None,
             data_options=None, **options) -> dict:
    """Evaluates a SavedModel (``model``), a run directory (``run``) or, with
    ``model="real"``, real Shapes images (the sanity rows: FID near 0, accuracy near 1).

    ``data="shapes"`` uses the Shapes oracle; ``"cub"`` and ``"coco"`` read the test split
    from ``data_dir`` and need ``inception_weights`` (see ``kt.metrics.inception``).

    Returns (and writes to ``out`` as JSON) ``{"model", "data", "date", "step",
    "metrics": [{name, value, std?, protocol, num_images}]}``; also TensorBoard scalars
    ``eval/<name>`` in ``log_dir`` (a run's ``logs/`` by default).
    """
    from keras_t2i.data import DATASETS

    if (model is None) == (run is None):
        raise ValueError("Evaluate either a SavedModel (model=) or a run directory (run=).")
    if data not in DATASETS:
        raise ValueError(f"Unknown dataset {data!r}; valid: {', '.join(DATASETS)}")
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"Unknown evaluate option(s) {unknown}; valid: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **options}
    if data == "shapes" and settings["num_images"] < MIN_IMAGES:
        raise ValueError(f"num_images must be at least {MIN_IMAGES} (R-precision needs 99 "
                         f"mismatched captions of other scenes per image), got "
                         f"{settings['num_images']}")
    if model == REAL_MODEL and data != "shapes":
        raise ValueError("model='real' (the sanity rows) is built for Shapes only.")
    if run is not None:
        generator = Generator.from_run(run)
    elif model == REAL_MODEL:
        generator = None
    else:
        generator = Generator.from_saved_model(model, version, damsm_dir)
    if data == "shapes":
        metrics = evaluate_shapes(generator, max_objects=max_objects, damsm_dir=damsm_dir,
                                  **settings)
    else:
        metrics = evaluate_dataset(generator, data, data_dir, inception_weights,
                                   damsm_dir=damsm_dir, data_options=data_options, **settings)
    description = generator.description if generator else "real Shapes test images"
    step = generator.step if generator else None
    report = {"model": description, "data": data, "step": step,
              "date": datetime.date.today().isoformat(), "metrics": metrics}
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2) + "\n")
    log_dir = log_dir or (generator.log_dir if generator else None)
    if log_dir:
        write_scalars(log_dir, metrics, step or 0)
    return report


def write_scalars(log_dir, metrics, step):
    """Each metric as the TensorBoard scalar ``eval/<name>`` in ``log_dir/eval``."""
    writer = tf.summary.create_file_writer(str(Path(log_dir) / "eval"))
    with writer.as_default():
        for entry in metrics:
            tf.summary.scalar(f"eval/{entry['name']}", entry["value"], step=int(step))
    writer.flush()


def format_table(report) -> str:
    """The report as a Markdown table (metric, value ± std)."""
    lines = [f"{report['model']} (step {report['step']}), {report['data']}, {report['date']}",
             "", "| metric | value |", "|---|---|"]
    for entry in report["metrics"]:
        value = f"{entry['value']:.4f}"
        if "std" in entry:
            value += f" ± {entry['std']:.4f}"
        lines.append(f"| {entry['name']} | {value} |")
    return "\n".join(lines)
