"""Evaluation on CUB-200-2011 and COCO-2014 from the user's folder: FID/KID on InceptionV3
pool3 from a weights file, the Inception Score, R-precision and diversity (seeds.md §8)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from keras_t2i import _backend  # noqa: F401
from keras_t2i import data as kt_data
from keras_t2i.data.pipeline import DEFAULT_CAPTION_SEED
from keras_t2i.evaluation.common import (
    MIN_IMAGES,
    DamsmCodes,
    cache_dir,
    count_label,
    diversity_phase,
    entry,
    fid_kid_entries,
)
from keras_t2i.evaluation.sources import noise_protocol
from keras_t2i.metrics import inception_score
from keras_t2i.metrics.generated import generate_images
from keras_t2i.metrics.inception import DIVERSITY_LAYERS, InceptionV3Features
from keras_t2i.progress import Phases, Progress


def _test_split(data, image_size, data_dir, data_options, caption_seed):
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
                     batch_size=50, data_options=None, verbose=False) -> list[dict]:
    """FID/KID (InceptionV3 pool3), IS (when the weights hold the classifier), R-precision
    (with DAMSM encoders) and diversity (InceptionV3 maps) of ``generator`` on CUB or COCO:
    N test captions (seeds.md §8), image i with noise seed ``seed + i``; list of metric dicts.
    ``inception_weights`` is the weights file's path, or an ``InceptionV3Features`` to reuse.
    ``verbose`` prints each phase with a progress line."""
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
    damsm = DamsmCodes(damsm_dir) if damsm_dir else None
    if damsm is not None and num_images < MIN_IMAGES:
        raise ValueError(f"num_images must be at least {MIN_IMAGES} for R-precision (99 "
                         f"mismatched captions of other images each), got {num_images}")
    phases = Phases(["reference", "generate", "diversity" if diversity_captions else ""],
                    enabled=verbose)
    phases.start(f"InceptionV3 features of {num_images:,} real {data} test images (cached "
                 "after the first evaluation)")
    real_features, reference = dataset_reference(inception, data, num_images,
                                                 generator.image_size, data_dir, data_options)
    captions, class_ids = sample_test_captions(data, num_images, generator.image_size,
                                               data_dir, data_options)
    count = len(captions)
    label = count_label(count)
    note = (f"{count} {data} test captions (pass p over the split with caption seed "
            f"{DEFAULT_CAPTION_SEED} + p), noise seeds {seed}..{seed + count - 1}, "
            f"{noise_protocol(generator.truncation)}")

    features, probabilities, codes = [], [], []
    phases.start(f"generating and scoring {count:,} images of {generator.description}")
    with Progress("images", count, enabled=verbose) as progress:
        for start in range(0, count, batch_size):
            images = generate_images(generator, captions[start:start + batch_size],
                                     seed + start, batch_size)
            pool3, softmax = inception.pool3_and_probabilities(images)  # one forward pass
            features.append(pool3)
            probabilities.append(softmax)
            if damsm is not None:
                codes.append(damsm.images(images))
            progress.advance(len(images))
    features = np.concatenate(features)

    results = []

    def add(name, value, protocol, std=None, n=count):
        results.append(entry(name, value, protocol, n, std))

    subset = min(1000, count // 2, len(real_features))
    results += fid_kid_entries(features, real_features, label, reference, note, subset, seed, count)
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
        div = diversity_phase(generator, captions[:diversity_captions],
                              inception.feature_maps, diversity_samples, seed, phases, verbose)
        n = div["num_captions"]
        add(f"diversity_{n}x{diversity_samples}", div["diversity"],
            f"mean LPIPS-style distance ({inception.description}: maps "
            f"{', '.join(DIVERSITY_LAYERS)}, unit weights) over all pairs of "
            f"{diversity_samples} images of each of the first {n} test captions",
            std=div["diversity_std"], n=n * diversity_samples)
    return results
