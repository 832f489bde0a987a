"""Pretraining runs: the DAMSM text/image encoders (``keras-t2i pretrain damsm``).

A run takes resolved keyword arguments (``cli.py`` is the only place that parses flags),
writes ``config.json`` first, trains with ``fit`` while logging to TensorBoard, saves the
encoders, and measures R-precision on the test split into ``metrics.json``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)
from keras_t2i import data as kt_data
from keras_t2i.metrics.r_precision import r_precision
from keras_t2i.pretraining.fitting import fit_with_budget, recalibrate
from keras_t2i.text.damsm import (
    BACKBONES,
    DAMSM,
    IMAGE_ENCODER_FILE,
    TEXT_ENCODER_FILE,
    DAMSMImageEncoder,
    DAMSMTextEncoder,
)
from keras_t2i.version import __version__

EVAL_BATCH_SIZE = 200

DAMSM_DEFAULTS = {
    "data": "shapes",
    "data_dir": None,
    "data_options": {},
    "image_size": 64,
    "batch_size": 32,
    "steps": None,  # None with epochs None: DEFAULT_DAMSM_BUDGET of the dataset
    "epochs": None,
    "max_words": None,
    "backbone": "cnn",
    "backbone_weights": None,
    "embedding_dim": 300,
    "units": 128,
    # AttnGAN pretrain_DAMSM.py: Adam(0.002, betas (0.5, 0.999)), clip 0.25 on the RNN.
    "learning_rate": 2e-3,
    "beta_1": 0.5,
    "beta_2": 0.999,
    "text_clip_norm": 0.25,
    "gamma1": 4.0,
    "gamma2": 5.0,
    "gamma3": 10.0,
    "seed": 0,
    "r_precision_folds": 10,
    # After fit, the CNN image encoder's BatchNorm statistics are recomputed exactly on this
    # many training batches (DAMSMImageEncoder.calibrate_batch_norm); 0 keeps fit's moving
    # averages. The InceptionV3 backbone is frozen with its ImageNet statistics either way.
    "bn_calibration_batches": 50,
}
# Shapes: a few minutes on a 2-core CPU. CUB/COCO: the epochs of the released AttnGAN encoders.
DEFAULT_DAMSM_BUDGET = {"shapes": {"steps": 400}, "cub": {"epochs": 200}, "coco": {"epochs": 100}}


def resolve_damsm_config(**overrides) -> dict:
    """Defaults, then the dataset's budget, then what the caller passed explicitly."""
    unknown = sorted(set(overrides) - set(DAMSM_DEFAULTS) - {"out"})
    if unknown:
        raise TypeError(f"Unknown DAMSM option(s) {unknown}; valid: {sorted(DAMSM_DEFAULTS)}")
    config = {**DAMSM_DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    if config["steps"] is not None and config["epochs"] is not None:
        raise ValueError("Give either steps or epochs, not both.")
    if config["steps"] is None and config["epochs"] is None:
        config.update(DEFAULT_DAMSM_BUDGET[config["data"]])
    if int(config["bn_calibration_batches"]) < 0:
        raise ValueError("bn_calibration_batches must be 0 or more, got "
                         f"{config['bn_calibration_batches']}.")
    if "out" not in overrides or overrides["out"] is None:
        config["out"] = f"runs/damsm-{config['data']}"
    config["out"] = str(config["out"])
    check_damsm_config(config)
    return config


def check_damsm_config(config: dict) -> None:
    """Raises an error naming the first option of a resolved DAMSM config that pretraining
    would fail on (the data and its folder, the budget, the backbone and its weights file,
    the run directory), before anything is trained or written."""
    kt_data.check(config["data"], data_dir=config["data_dir"], image_size=config["image_size"],
                  batch_size=config["batch_size"], **config["data_options"])
    for key in ("steps", "epochs", "max_words"):
        if config[key] is not None and int(config[key]) < 1:
            raise ValueError(f"{key} must be a positive integer, got {config[key]}")
    if not float(config["learning_rate"]) > 0:
        raise ValueError(f"learning_rate must be positive, got {config['learning_rate']}")
    if config["backbone"] not in BACKBONES:
        raise ValueError(f"Unknown backbone {config['backbone']!r}; valid: {BACKBONES}")
    weights = config["backbone_weights"]
    if config["backbone"] == "inception_v3" and not weights:
        raise ValueError("backbone inception_v3 needs its ImageNet weights file "
                         "(--backbone-weights inception_v3_weights_tf_dim_ordering_tf_kernels_"
                         "notop.h5); this package never downloads weights.")
    if weights and not Path(weights).is_file():
        raise FileNotFoundError(f"Backbone weights file {weights} does not exist.")
    if Path(config["out"]).exists() and not Path(config["out"]).is_dir():
        raise FileExistsError(f"out {config['out']} exists and is not a directory.")


def machine_description() -> str:
    """What the numbers of a run were measured on, for metrics files and benchmarks."""
    gpus = len(tf.config.list_physical_devices("GPU"))
    return (f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
            f"{gpus} GPU(s), TensorFlow {tf.__version__}, Keras {keras.__version__}")


def _model_inputs(batch):
    return {"image": batch["image"], "tokens": batch["tokens"], "class_id": batch["class_id"]}


def encode_split(text_encoder, image_encoder, dataset):
    """Global image codes, sentence codes and class ids of every example of a dataset."""

    @tf.function(reduce_retracing=True)
    def encode(tokens, images):
        return (image_encoder(images, training=False)[1],
                text_encoder(tokens, training=False)[1])

    image_codes, text_codes, class_ids = [], [], []
    for batch in dataset:
        image_global, sentence = encode(batch["tokens"], batch["image"])
        image_codes.append(image_global.numpy())
        text_codes.append(sentence.numpy())
        class_ids.append(batch["class_id"].numpy())
    return np.concatenate(image_codes), np.concatenate(text_codes), np.concatenate(class_ids)


def pretrain_damsm(**overrides) -> dict:
    """Pretrains the DAMSM encoders and returns the test metrics (also in metrics.json).

    Keyword arguments are those of ``DAMSM_DEFAULTS`` plus ``out`` (the run directory).
    """
    config = resolve_damsm_config(**overrides)
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    keras.utils.set_random_seed(config["seed"])

    data_args = dict(data_dir=config["data_dir"], **config["data_options"])
    tokenizer = kt_data.caption_tokenizer(config["data"], max_words=config["max_words"],
                                          **data_args)
    load = dict(data_args, image_size=config["image_size"], batch_size=config["batch_size"],
                tokenizer=tokenizer)
    train = kt_data.load(config["data"], "train", **load).map(_model_inputs)

    text_encoder = DAMSMTextEncoder(tokenizer, embedding_dim=config["embedding_dim"],
                                    units=config["units"], name="text_encoder")
    image_encoder = DAMSMImageEncoder(
        backbone=config["backbone"], feature_dim=text_encoder.feature_dim,
        backbone_weights=config["backbone_weights"], name="image_encoder")
    damsm = DAMSM(text_encoder, image_encoder, gamma1=config["gamma1"],
                  gamma2=config["gamma2"], gamma3=config["gamma3"],
                  text_clip_norm=config["text_clip_norm"])
    damsm.compile(optimizer=keras.optimizers.Adam(
        config["learning_rate"], beta_1=config["beta_1"], beta_2=config["beta_2"]))

    history, train_seconds = fit_with_budget(damsm, train, out, steps=config["steps"],
                                             epochs=config["epochs"])
    calibration_images = 0
    if config["backbone"] == "cnn":
        calibration_images = recalibrate(image_encoder, train,
                                         config["bn_calibration_batches"], "the image encoder")

    text_encoder.save(out / TEXT_ENCODER_FILE)
    image_encoder.save(out / IMAGE_ENCODER_FILE)

    print("  measuring R-precision on the test split", flush=True)
    test = kt_data.load(config["data"], "test", **dict(load, batch_size=EVAL_BATCH_SIZE))
    codes = encode_split(text_encoder, image_encoder, test)
    metrics = r_precision(*codes, folds=config["r_precision_folds"], seed=config["seed"])
    metrics.update(
        train_loss=float(history.history["loss"][-1]),
        bn_calibration_images=calibration_images,
        steps=int(damsm.optimizer.iterations.numpy()),
        train_minutes=round(train_seconds / 60, 2),
        date=datetime.date.today().isoformat(),
        machine=machine_description(),
        package_version=__version__,
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    with tf.summary.create_file_writer(str(out / "logs" / "test")).as_default():
        tf.summary.scalar("r_precision", metrics["r_precision"], step=metrics["steps"])
    return metrics
