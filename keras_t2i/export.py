"""SavedModel export in TF Serving's layout (DESIGN §4.3; ecosystem.md §3).

``export_saved_model(model, "savedmodels/NAME")`` writes ``savedmodels/NAME/<version>/`` with

- ``serving_default``: ``captions`` tf.string [None], ``seeds`` tf.int64 [None] →
  ``images`` tf.uint8 [None, S, S, 3];
- ``generate_png``: the same inputs → ``png`` tf.string [None] (one PNG file per caption);
- ``tokenize``: ``captions`` → ``tokens`` tf.int32 [None, L] (the ids the model reads),
  ``unknown_words`` and ``suggestions`` tf.string [None, M] (each caption's words outside the
  vocabulary and the nearest known word of each, "" padded: ``CaptionTokenizer.check_words``),
  so a serving client can check captions before generating;

tokenisation inside the graph (the vocabulary is in the SavedModel), the noise of caption i a
function of ``seeds[i]`` alone (so a caption and seed give the same image in any batch), and
input checks in the graph that fail with INVALID_ARGUMENT and say what was wrong. Every op is
core TensorFlow or tensorflow-text (a test reads the op list). ``assets/keras_t2i.json``
describes the model (package version, family, image size, latents and their truncation,
vocabulary, training step, preset, and the data it was trained on, which ``keras-t2i
evaluate --model`` reads). The layout's readers are ``keras_t2i.serving.layout``.

A version appears whole or not at all: it is written to a hidden sibling directory and renamed
into place, so a server polling the base path never loads a half-written model.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
from pathlib import Path

import keras
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)
from keras_t2i.models.base import to_uint8
from keras_t2i.serving.layout import (
    IMAGES_SIGNATURE,
    METADATA_FILE,
    PNG_SIGNATURE,
    TOKENIZE_SIGNATURE,
    WARMUP_FILE,
    version_dirs,
    versions,
)
from keras_t2i.text.tokenizer import PAD_ID
from keras_t2i.version import __version__

INPUT_SPECS = (tf.TensorSpec([None], tf.string, name="captions"),
               tf.TensorSpec([None], tf.int64, name="seeds"))


def _check_inputs(captions, seeds, max_batch):
    """Graph-side checks; each failure is an InvalidArgumentError naming the problem."""
    count, seed_count = tf.size(captions), tf.size(seeds)
    checks = [
        tf.debugging.Assert(count > 0, ["captions is empty: send at least one caption."]),
        tf.debugging.Assert(tf.equal(count, seed_count), [tf.strings.format(
            "captions and seeds must have the same length, got {} captions and {} seeds.",
            (count, seed_count))]),
        tf.debugging.Assert(count <= max_batch, [tf.strings.format(
            "{} captions exceed the batch limit of this model ({}); split the request.",
            (count, max_batch))]),
    ]
    # The caption check's message holds an argmax, which fails on an empty batch; without this
    # dependency the graph may run it before the emptiness check and answer with TF's own
    # "Reduction axis 0 is empty" instead of ours (it did, on CI).
    with tf.control_dependencies(checks):
        blank = tf.equal(tf.strings.length(tf.strings.strip(captions)), 0)
        checks.append(tf.debugging.Assert(tf.logical_not(tf.reduce_any(blank)), [
            tf.strings.format("caption {} is empty or whitespace only.",
                              tf.cast(tf.argmax(tf.cast(blank, tf.int32)), tf.int32))]))
    return checks


def serving_functions(model, truncation=None):
    """The exported functions of a text-to-image model (also used in tests, unexported).
    ``truncation`` is that of the latents (``TextToImageGAN.generate``)."""
    tokenizer = model.text_encoder.tokenizer
    max_batch = int(model.max_batch)

    def images_fn(captions, seeds):
        with tf.control_dependencies(_check_inputs(captions, seeds, max_batch)):
            tokens = tokenizer(tf.identity(captions))
        wordless = tf.logical_not(tf.reduce_any(tf.not_equal(tokens, PAD_ID), axis=1))
        check = tf.debugging.Assert(tf.logical_not(tf.reduce_any(wordless)), [tf.strings.format(
            "caption {} has no words (only punctuation or symbols).",
            tf.cast(tf.argmax(tf.cast(wordless, tf.int32)), tf.int32))])
        with tf.control_dependencies([check]):
            images = model.generate_from_tokens(tf.identity(tokens), seeds, truncation)
        return {"images": to_uint8(images)}

    def png_fn(captions, seeds):
        images = images_fn(captions, seeds)["images"]
        return {"png": tf.map_fn(tf.io.encode_png, images, fn_output_signature=tf.string)}

    def tokenize_fn(captions):
        unknown, suggestions = tokenizer.check_words(captions)
        return {"tokens": tokenizer(captions), "unknown_words": unknown,
                "suggestions": suggestions}

    return images_fn, png_fn, tokenize_fn


def model_metadata(model, step=None, preset=None, data=None, truncation=None) -> dict:
    """What travels with an export in ``assets/keras_t2i.json``."""
    tokenizer = model.text_encoder.tokenizer
    return {
        "package": "keras_t2i",
        "package_version": __version__,
        "model_family": type(model).__name__,
        "image_size": int(model.image_size),
        "latents": {name: int(dim) for name, dim in model.latent_dims().items()},
        "noise_dim": int(model.noise_dim),
        "truncation": truncation,
        "max_batch": int(model.max_batch),
        "vocabulary_size": int(tokenizer.vocabulary_size()),
        "max_words": int(tokenizer.max_words),
        "training_step": None if step is None else int(step),
        "preset": preset,
        "data": data,
        "ema_generator": model.generator_ema is not None,
        "signatures": {IMAGES_SIGNATURE: "captions, seeds -> images",
                       PNG_SIGNATURE: "captions, seeds -> png",
                       TOKENIZE_SIGNATURE: "captions -> tokens, unknown_words, suggestions"},
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
    }


def export_saved_model(model, base_dir, version=None, *, step=None, preset=None, data=None,
                       truncation=None) -> Path:
    """Exports ``model`` to ``base_dir/<version>/`` and returns that directory.

    Args:
        model: a ``TextToImageGAN`` (its EMA generator when it has one).
        base_dir: str or Path. The model's base path (TF Serving's ``base_path``).
        version: int. Defaults to one more than the highest version present (1 if none).
        step: int. Training step recorded in the metadata. Defaults to the generator
            optimizer's iterations when the model is compiled.
        preset: str. Preset name recorded in the metadata.
        data: dict. The data the model was trained on, ``{"name", "options",
            "image_size"}`` (``keras-t2i train`` and ``export --run`` record the run's):
            ``keras-t2i evaluate --model`` scores the export on that data.
        truncation: float or None. Draw the latents from a normal truncated to ±2 σ times
            this (DF-GAN's evaluation noise: 0.88). Defaults to None, N(0, I).

    Raises:
        FileExistsError: ``version`` is already there (versions are never overwritten).
    """
    base_dir = Path(base_dir)
    if version is None:
        version = (versions(base_dir) or [0])[-1] + 1
    version = int(version)
    if version < 1:
        raise ValueError(f"version must be a positive integer, got {version}")
    target = base_dir / str(version)
    existing = version_dirs(base_dir).get(version, target)
    if existing.exists():
        raise FileExistsError(f"{existing} exists; exported versions are never overwritten "
                              "(leave version unset for the next one).")
    if step is None and getattr(model, "g_optimizer", None) is not None:
        step = int(model.g_optimizer.iterations.numpy())

    images_fn, png_fn, tokenize_fn = serving_functions(model, truncation)
    archive = keras.export.ExportArchive()
    archive.track(model.inference_generator)
    archive.track(model.text_encoder)
    if model.condition_whitener is not None:
        archive.track(model.condition_whitener)
    # The vocabulary's lookup table is a resource of its own; a StringLookup only counts as
    # built once called (ecosystem.md §3.2).
    model.text_encoder.tokenizer(tf.constant(["a"]))
    archive.track(model.text_encoder.tokenizer.lookup)
    archive.add_endpoint(IMAGES_SIGNATURE, images_fn, input_signature=list(INPUT_SPECS))
    archive.add_endpoint(PNG_SIGNATURE, png_fn, input_signature=list(INPUT_SPECS))
    archive.add_endpoint(TOKENIZE_SIGNATURE, tokenize_fn, input_signature=list(INPUT_SPECS[:1]))

    base_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(base_dir)
    staging = base_dir / f".{version}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        archive.write_out(str(staging), verbose=False)
        (staging / "assets").mkdir(exist_ok=True)
        (staging / "assets" / METADATA_FILE).write_text(
            json.dumps(model_metadata(model, step, preset, data, truncation), indent=2,
                       sort_keys=True))
        _write_warmup(staging / WARMUP_FILE, model.text_encoder.tokenizer.vocabulary)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


_STAGING = re.compile(r"\.-?[0-9]+\.partial-([0-9]+)")


def remove_stale_staging(base_dir) -> list[Path]:
    """Deletes the staging folders that exports killed midway left in ``base_dir`` (those of
    processes no longer running: another export may be writing its own) and returns them."""
    removed = []
    for path in Path(base_dir).iterdir():
        match = _STAGING.fullmatch(path.name)
        if match and path.is_dir() and not _process_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            print(f"Removed {path}: an unfinished export of a process that no longer runs.")
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _write_warmup(path: Path, vocabulary):
    """One PredictionLog per signature, on a caption made of the model's own words."""
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    caption = " ".join(vocabulary[:6])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in (IMAGES_SIGNATURE, PNG_SIGNATURE, TOKENIZE_SIGNATURE):
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = signature
            request.inputs["captions"].CopyFrom(tf.make_tensor_proto([caption], tf.string))
            if signature != TOKENIZE_SIGNATURE:
                request.inputs["seeds"].CopyFrom(tf.make_tensor_proto([0], tf.int64))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
