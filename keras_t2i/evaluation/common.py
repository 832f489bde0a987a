"""What the evaluation modules share: the cache of reference statistics, metric entries with
their protocol, FID/KID entries, the DAMSM codes behind R-precision, and the diversity phase."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401
from keras_t2i.metrics import diversity, frechet, r_precision
from keras_t2i.progress import Progress
from keras_t2i.text.damsm import load_encoders

MIN_IMAGES = 200


def diversity_phase(generator, captions, feature_maps, samples, seed, phases,
                    verbose=False) -> dict:
    """MSGAN's diversity over ``captions`` (``kt.metrics.diversity.diversity``), announced as
    the next of ``phases`` with a progress line over the captions when ``verbose``."""
    phases.start(f"diversity: {samples} images of each of {len(captions)} captions")
    with Progress("captions", len(captions), enabled=verbose) as progress:
        return diversity.diversity(generator, captions, feature_maps, samples=samples,
                                   seed=seed, progress=progress.advance)


def cache_dir() -> Path:
    """Where reference statistics are cached: $KERAS_T2I_CACHE or ~/.cache/keras_t2i."""
    return Path(os.environ.get("KERAS_T2I_CACHE", Path.home() / ".cache" / "keras_t2i"))


def count_label(n: int) -> str:
    """1000 → "1k", 2500 → "2.5k", 500 → "500": the sample count in metric names."""
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g}k"
    return str(n)


def to_unit(images):
    return images.astype(np.float32) / 127.5 - 1.0


def entry(name, value, protocol, num_images, std=None) -> dict:
    """One metric of a report: name, value, protocol, sample count and, when given, std."""
    entry = {"name": name, "value": float(value), "protocol": protocol,
             "num_images": num_images}
    if std is not None:
        entry["std"] = float(std)
    return entry


def fid_kid_entries(features, real_features, label, reference, note, subset, seed, num_images):
    """The FID and KID entries of generated against reference features."""
    kid, kid_std = frechet.kernel_inception_distance(features, real_features, subsets=100,
                                                     subset_size=subset, seed=seed)
    return [entry(f"fid_{label}", frechet.fid_from_features(features, real_features),
                   f"FID against {reference}; evaluated: {note}", num_images),
            entry(f"kid_{label}", kid, f"KID (cubic polynomial kernel, 100 subsets of "
                   f"{subset}) against {reference}", num_images, std=kid_std)]


class DamsmCodes:
    """Global image codes and sentence codes from the DAMSM encoders saved in a directory."""

    def __init__(self, damsm_dir):
        self.directory = damsm_dir
        self.text_encoder, self.image_encoder = load_encoders(damsm_dir)

    def images(self, images, batch_size=100):
        return np.concatenate([
            self.image_encoder(to_unit(images[i:i + batch_size]), training=False)[1].numpy()
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
