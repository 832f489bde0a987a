"""Exported models on disk: find a base path's versions and run one (``generate --model``,
the server). Pure TensorFlow: nothing here imports Keras or the package's models; the
tokenizer's tensorflow-text ops are registered from their libraries (``load_text_ops``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_t2i.serving.layout import (
    IMAGES_SIGNATURE,
    PNG_SIGNATURE,
    TOKENIZE_SIGNATURE,
    load_text_ops,
    parse_version,
    read_metadata,
    unknown_word_report,
    version_dirs,
)

_ASSERTION = re.compile(r"assertion failed: \[(.*?)\]", re.S)


def error_message(err: tf.errors.OpError) -> str:
    """The readable part of an error from running an exported model: the message of the
    graph's input check that failed, else the first line of TensorFlow's message."""
    found = _ASSERTION.search(err.message)
    return found.group(1).replace("\\'", "'") if found else err.message.strip().split("\n")[0]


def resolve_version_dir(path, version=None) -> Path:
    """``path`` is a base path (``savedmodels/NAME``) or one version directory in it.

    Returns the version directory: ``version`` if given, else the highest one (TF Serving's
    default policy). Version directories are named as TF Serving reads them
    (:func:`keras_t2i.export.parse_version`).
    """
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        if version is not None and parse_version(path.name) != int(version):
            raise ValueError(f"{path} is version {path.name}, not {version}.")
        return path
    found = version_dirs(path)
    if not found:
        raise FileNotFoundError(
            f"No SavedModel under {path}: expected {path}/<version>/saved_model.pb "
            "(export one with `keras-t2i export --run runs/NAME`).")
    if version is None:
        return found[max(found)]
    if int(version) not in found:
        raise FileNotFoundError(f"{path} has no version {version}; it has {sorted(found)}.")
    return found[int(version)]


class LocalModel:
    """One loaded version of an exported model.

    Args:
        path: base path or version directory (see :func:`resolve_version_dir`).
        version: int. Defaults to the latest.

    Example:
    >>> model = LocalModel("savedmodels/dfgan_shapes_64")
    >>> images = model.generate(["a red circle"], seeds=[0])   # uint8 (1, 64, 64, 3)
    """

    def __init__(self, path, version=None):
        self.directory = resolve_version_dir(path, version)
        self.version = parse_version(self.directory.name)
        self.metadata = read_metadata(self.directory)
        load_text_ops()
        self.loaded = tf.saved_model.load(str(self.directory))
        self.signatures = dict(self.loaded.signatures)

    def run(self, signature: str, captions, seeds=None) -> dict:
        """Runs a signature on numpy/list inputs (``seeds`` for those that take them);
        returns its outputs as numpy arrays."""
        if signature not in self.signatures:
            raise KeyError(f"Unknown signature {signature!r}; this model has "
                           f"{sorted(self.signatures)}.")
        inputs = {"captions": tf.constant(captions, tf.string)}
        if seeds is not None:
            inputs["seeds"] = tf.constant(seeds, tf.int64)
        outputs = self.signatures[signature](**inputs)
        return {k: v.numpy() for k, v in outputs.items()}

    def check_words(self, captions) -> list[dict]:
        """The captions' words outside the model's vocabulary, with the nearest known word:
        ``[{"caption": i, "word": w, "suggestion": s or None}]`` (the ``tokenize``
        signature; an export without it raises KeyError saying so)."""
        if TOKENIZE_SIGNATURE not in self.signatures:
            raise KeyError(f"{self.directory} has no {TOKENIZE_SIGNATURE!r} signature (it was "
                           "exported before keras_t2i had one): export it again to check "
                           "caption words.")
        outputs = self.run(TOKENIZE_SIGNATURE, list(captions))
        return unknown_word_report(outputs["unknown_words"], outputs["suggestions"])

    def generate(self, captions, seeds) -> np.ndarray:
        return self.run(IMAGES_SIGNATURE, captions, seeds)["images"]

    def generate_png(self, captions, seeds) -> list[bytes]:
        return list(self.run(PNG_SIGNATURE, captions, seeds)["png"])
