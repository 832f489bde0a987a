"""InceptionV3 features for FID/KID, IS and diversity on CUB and COCO, from a weights file.

The package never downloads weights: pass the path of Keras' ImageNet InceptionV3 weights,
``inception_v3_weights_tf_dim_ordering_tf_kernels.h5`` (with the classifier: pool3 features,
the 1000-way softmax for the Inception Score) or ``..._notop.h5`` (pool3 features only), or a
``.weights.h5`` saved by Keras 3 from ``keras.applications.InceptionV3``.

Protocol (seeds.md §8): images are resized bilinearly to 299×299 and scaled to [-1, 1]
(Keras' ``inception_v3.preprocess_input``); pool3 is the 2048-d global average of ``mixed10``.
Keras' ImageNet weights are not the torchvision/pytorch-fid port the DM-GAN and DF-GAN papers
used, nor the TF-FID graph, so FIDs from them are comparable with each other, not with
published numbers (the protocol string of every metric says which weights file was used).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401

INPUT_SIZE = 299
# Maps of the LPIPS-style diversity distance: one per resolution stage (35², 17², 8²).
DIVERSITY_LAYERS = ("mixed2", "mixed7", "mixed10")


def has_classifier(path) -> bool:
    """Whether an InceptionV3 weights file holds the 1000-way classifier (include_top)."""
    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs:  # Keras 2 / legacy HDF5 weights (the released files)
            names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
            return "predictions" in names
        if "layers" in f:  # Keras 3 .weights.h5: layers are keyed by class, the head is "dense"
            return "dense" in f["layers"]
    raise ValueError(f"{path} is not a Keras weights file (neither legacy HDF5 weights nor a "
                     "Keras 3 .weights.h5)")


def file_digest(path) -> str:
    """The first 12 hex digits of the file's SHA-256 (names the weights in protocols)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


class InceptionV3Features:
    """pool3 features, class probabilities and feature maps of uint8 or [-1, 1] images.

    Args:
        weights: str. Path of the InceptionV3 weights file (see the module docstring).
        batch_size: int. Images per forward pass. Defaults to 50.

    Example:
    >>> inception = InceptionV3Features("inception_v3_weights_tf_dim_ordering_tf_kernels.h5")
    >>> pool3 = inception.pool3(images)               # (N, 2048)
    >>> probabilities = inception.probabilities(images)   # (N, 1000), needs the classifier
    """

    def __init__(self, weights, batch_size=50):
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"InceptionV3 weights file {path} does not exist. Evaluation on CUB/COCO needs "
                "Keras' ImageNet InceptionV3 weights (inception_v3_weights_tf_dim_ordering_tf_"
                "kernels[_notop].h5) on disk; this package never downloads them.")
        self.path = path
        self.batch_size = int(batch_size)
        self.has_classifier = has_classifier(path)
        base = keras.applications.InceptionV3(
            include_top=self.has_classifier, weights=str(path),
            input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
        outputs = {name: base.get_layer(name).output for name in DIVERSITY_LAYERS}
        if self.has_classifier:
            outputs["pool3"] = base.get_layer("avg_pool").output
            outputs["probabilities"] = base.output
        else:
            outputs["pool3"] = keras.layers.GlobalAveragePooling2D(name="pool3")(base.output)
        self.model = keras.Model(base.input, outputs, name="inception_v3_features")
        self.digest = file_digest(path)
        self._forward = tf.function(lambda x: self.model(x, training=False),
                                    reduce_retracing=True)

    @property
    def description(self) -> str:
        return (f"Keras InceptionV3 from {self.path.name} (sha256 {self.digest}), bilinear "
                f"resize to {INPUT_SIZE}, inputs in [-1, 1]")

    @staticmethod
    def prepare(images) -> tf.Tensor:
        """uint8 (or float in [-1, 1]) (N, H, W, 3) → float32 (N, 299, 299, 3) in [-1, 1]."""
        images = tf.convert_to_tensor(images)
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise ValueError(f"InceptionV3 features need images (N, H, W, 3), got shape "
                             f"{images.shape}")
        if images.dtype == tf.uint8:
            images = tf.cast(images, tf.float32) / 127.5 - 1.0
        images = tf.cast(images, tf.float32)
        return tf.image.resize(images, (INPUT_SIZE, INPUT_SIZE), method="bilinear")

    def _outputs(self, images, key):
        images = np.asarray(images)
        return np.concatenate([
            self._forward(self.prepare(images[i:i + self.batch_size]))[key].numpy()
            for i in range(0, len(images), self.batch_size)])

    def pool3(self, images) -> np.ndarray:
        """2048-d pool3 features (N, 2048) of images (N, H, W, 3)."""
        return self._outputs(images, "pool3")

    def probabilities(self, images) -> np.ndarray:
        """ImageNet softmax (N, 1000); needs the weights file with the classifier."""
        self._require_classifier()
        return self._outputs(images, "probabilities")

    def pool3_and_probabilities(self, images) -> tuple[np.ndarray, np.ndarray | None]:
        """Both from one forward pass; probabilities are None without the classifier."""
        images = np.asarray(images)
        pool3, probabilities = [], []
        for i in range(0, len(images), self.batch_size):
            out = self._forward(self.prepare(images[i:i + self.batch_size]))
            pool3.append(out["pool3"].numpy())
            if self.has_classifier:
                probabilities.append(out["probabilities"].numpy())
        return (np.concatenate(pool3),
                np.concatenate(probabilities) if self.has_classifier else None)

    def _require_classifier(self):
        if not self.has_classifier:
            raise ValueError(f"{self.path} has no classifier (a _notop file): the Inception "
                             "Score needs inception_v3_weights_tf_dim_ordering_tf_kernels.h5.")

    def feature_maps(self, images) -> list[tf.Tensor]:
        """The ``DIVERSITY_LAYERS`` maps of [-1, 1] images, for the LPIPS-style distance."""
        outputs = self._forward(self.prepare(images))
        return [outputs[name] for name in DIVERSITY_LAYERS]
