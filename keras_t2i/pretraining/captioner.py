"""Pretraining MirrorGAN's STREAM captioner (``keras-t2i pretrain captioner``).

A run takes resolved keyword arguments (``cli.py`` parses the flags), writes ``config.json``
first, trains with ``fit`` (one progress line, TensorBoard, a backup every
``checkpoint_every`` steps that ``resume`` continues from after a kill), recalibrates the CNN's
BatchNorm statistics, saves the captioner, and measures it on the test split into
``metrics.json``: teacher-forced word accuracy, BLEU-4 of its greedy captions against every
caption of each test image, and on Shapes the accuracy on the words naming each attribute.

The vocabulary is the text encoder's (``text_encoder``: a ``pretrain damsm`` run), so the
captioner's word ids are the GAN's; without one it is built from the dataset exactly as DAMSM
pretraining builds it.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)
from keras_t2i import data as kt_data
from keras_t2i.metrics.bleu import corpus_bleu
from keras_t2i.models.mirror_gan.stream_captioner import BACKBONES, STREAMCaptioner
from keras_t2i.pretraining.damsm import machine_description
from keras_t2i.pretraining.fitting import fit_with_budget, recalibrate
from keras_t2i.text.damsm import load_encoders
from keras_t2i.text.tokenizer import RESERVED_TOKENS
from keras_t2i.version import __version__

CAPTIONER_FILE = "captioner.keras"
EVAL_BATCH_SIZE = 100
# Test captions per image gathered as BLEU references (Shapes writes 5 per scene, CUB 10).
REFERENCE_SEEDS = 5

CAPTIONER_DEFAULTS = {
    "data": "shapes",
    "data_dir": None,
    "data_options": {},
    "image_size": 64,
    "batch_size": 32,
    "steps": None,  # None with epochs None: DEFAULT_CAPTIONER_BUDGET of the dataset
    "epochs": None,
    "text_encoder": None,
    "max_words": None,
    # None: "damsm" when text_encoder's image encoder is the small CNN, else "cnn".
    "backbone": None,
    "backbone_weights": None,
    "feature_dim": 256,
    "units": 512,
    # yunjey's image-captioning tutorial (the official README's pointer): Adam 1e-3.
    "learning_rate": 1e-3,
    "checkpoint_every": 200,
    "bn_calibration_batches": 50,
    "seed": 0,
}
# Shapes: a few minutes on a 2-core CPU. CUB/COCO: the tutorial's 5 epochs at batch 128.
DEFAULT_CAPTIONER_BUDGET = {"shapes": {"steps": 1000}, "cub": {"epochs": 5},
                            "coco": {"epochs": 5}}


def resolve_captioner_config(**overrides) -> dict:
    """Defaults, then the dataset's budget, then what the caller passed explicitly."""
    unknown = sorted(set(overrides) - set(CAPTIONER_DEFAULTS) - {"out", "resume"})
    if unknown:
        raise TypeError(f"Unknown captioner option(s) {unknown}; valid: "
                        f"{sorted(CAPTIONER_DEFAULTS)}")
    config = {**CAPTIONER_DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}}
    if config["steps"] is not None and config["epochs"] is not None:
        raise ValueError("Give either steps or epochs, not both.")
    if config["steps"] is None and config["epochs"] is None:
        config.update(DEFAULT_CAPTIONER_BUDGET[config["data"]])
    if config["backbone"] is None:
        config["backbone"] = default_backbone(config["text_encoder"])
    if not overrides.get("out"):
        config["out"] = f"runs/captioner-{config['data']}"
    config["out"] = str(config["out"])
    config["resume"] = bool(overrides.get("resume"))
    check_captioner_config(config)
    return config


def default_backbone(text_encoder) -> str:
    """``"damsm"`` when the DAMSM run ``text_encoder`` has the small-CNN image encoder (its
    frozen trunk reads the attributes a CNN trained from scratch alongside the decoder does
    not learn in the same steps: on Shapes, colour 100 % against 28 %; README), else
    ``"cnn"``."""
    if not text_encoder or not (Path(text_encoder) / "text_encoder.keras").is_file():
        return "cnn"
    saved = Path(text_encoder) / "config.json"
    if saved.is_file():
        backbone = json.loads(saved.read_text()).get("backbone", "cnn")
    else:  # encoders saved from Python, without a run's config
        backbone = load_encoders(text_encoder)[1].backbone
    return "damsm" if backbone == "cnn" else "cnn"


def check_captioner_config(config: dict) -> None:
    """Raises an error naming the first option the pretraining would fail on, before any
    work."""
    kt_data.check(config["data"], data_dir=config["data_dir"], image_size=config["image_size"],
                  batch_size=config["batch_size"], **config["data_options"])
    for key in ("steps", "epochs", "max_words", "checkpoint_every"):
        if config[key] is not None and int(config[key]) < 1:
            raise ValueError(f"{key} must be a positive integer, got {config[key]}")
    if int(config["bn_calibration_batches"]) < 0:
        raise ValueError("bn_calibration_batches must be 0 or more, got "
                         f"{config['bn_calibration_batches']}.")
    if not float(config["learning_rate"]) > 0:
        raise ValueError(f"learning_rate must be positive, got {config['learning_rate']}")
    if config["backbone"] not in BACKBONES:
        raise ValueError(f"Unknown captioner backbone {config['backbone']!r}; valid: "
                         f"{BACKBONES}")
    if config["backbone"] == "damsm" and not config["text_encoder"]:
        raise ValueError("backbone damsm reads the DAMSM image encoder of --text-encoder DIR (a "
                         "`keras-t2i pretrain damsm` run): give it.")
    weights = config["backbone_weights"]
    if config["backbone"] == "resnet152" and not weights:
        raise ValueError("backbone resnet152 needs its ImageNet weights file (--backbone-weights "
                         "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5); this package "
                         "never downloads weights.")
    if weights and not Path(weights).is_file():
        raise FileNotFoundError(f"Backbone weights file {weights} does not exist.")
    encoder = config["text_encoder"]
    if encoder is not None and not (Path(encoder) / "text_encoder.keras").is_file():
        raise FileNotFoundError(f"text_encoder {encoder} holds no text_encoder.keras (give a "
                                "`keras-t2i pretrain damsm` output folder).")
    if encoder is not None and config["max_words"] is not None:
        raise ValueError("max_words comes with the text encoder's tokenizer; leave it out "
                         "when text_encoder is given.")
    out = Path(config["out"])
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"out {out} exists and is not a directory.")
    if (out / CAPTIONER_FILE).is_file():
        raise FileExistsError(f"{out} already holds a trained captioner ({CAPTIONER_FILE}); "
                              "choose another --out.")
    if (out / "backup").is_dir() and not config["resume"]:
        raise FileExistsError(f"{out} holds an interrupted captioner run: pass --resume to "
                              "continue it, or choose another --out.")


def load_captioner(directory) -> STREAMCaptioner:
    """The captioner a ``pretrain captioner`` run saved (``DIR/captioner.keras``)."""
    path = Path(directory) / CAPTIONER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} holds no {CAPTIONER_FILE} (give a `keras-t2i "
                                "pretrain captioner` output folder).")
    return keras.saving.load_model(path, compile=False)


def pretrain_captioner(**overrides) -> dict:
    """Pretrains the STREAM captioner and returns its test metrics (also in metrics.json).

    Keyword arguments are those of ``CAPTIONER_DEFAULTS`` plus ``out`` and ``resume``.
    """
    config = resolve_captioner_config(**overrides)
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    keras.utils.set_random_seed(config["seed"])

    data_args = dict(data_dir=config["data_dir"], **config["data_options"])
    image_encoder = None
    if config["text_encoder"]:
        text_encoder, image_encoder = load_encoders(config["text_encoder"])
        tokenizer = text_encoder.tokenizer
    else:
        tokenizer = kt_data.caption_tokenizer(config["data"], max_words=config["max_words"],
                                              **data_args)
    load = dict(data_args, image_size=config["image_size"], batch_size=config["batch_size"],
                tokenizer=tokenizer)
    train = kt_data.load(config["data"], "train", **load).map(
        lambda b: {"image": b["image"], "tokens": b["tokens"]})
    captioner = STREAMCaptioner(tokenizer, backbone=config["backbone"],
                                feature_dim=config["feature_dim"], units=config["units"],
                                backbone_weights=config["backbone_weights"],
                                image_encoder=image_encoder if config["backbone"] == "damsm"
                                else None, name="captioner")
    captioner.compile(keras.optimizers.Adam(config["learning_rate"]))

    # The step budget in chunks of checkpoint_every steps, each followed by a backup.
    history, train_seconds = fit_with_budget(
        captioner, train, out, steps=config["steps"], epochs=config["epochs"],
        show=("loss", "word_accuracy"), backup_every=int(config["checkpoint_every"]))
    calibration_images = 0
    if config["backbone"] in ("cnn", "damsm"):  # the trained layers' statistics
        calibration_images = recalibrate(captioner, train, config["bn_calibration_batches"],
                                         "the captioner")
    captioner.save(out / CAPTIONER_FILE)

    print("  measuring the captioner on the test split", flush=True)
    metrics = evaluate_captioner(captioner, config["data"],
                                 dict(load, batch_size=EVAL_BATCH_SIZE))
    metrics.update(
        train_loss=float(history.history["loss"][-1]) if history.history else None,
        bn_calibration_images=calibration_images,
        steps=int(captioner.optimizer.iterations.numpy()),
        train_minutes=round(train_seconds / 60, 2),
        date=datetime.date.today().isoformat(),
        machine=machine_description(),
        package_version=__version__,
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    with tf.summary.create_file_writer(str(out / "logs" / "test")).as_default():
        for name in ("word_accuracy", "bleu4"):
            tf.summary.scalar(name, metrics[name], step=metrics["steps"])
    return metrics


def evaluate_captioner(captioner, data, load) -> dict:
    """Test-split metrics of a captioner: ``word_accuracy`` (teacher-forced, real words),
    ``bleu4`` (greedy captions against each image's captions under ``REFERENCE_SEEDS``
    caption draws) and, on Shapes, per attribute (shape, colour, size, position), at the words
    of the caption that name it, teacher-forced: ``attribute_accuracy``, whether the
    captioner's most probable word *among those naming that attribute* names the caption's
    value (what it reads in the image), and ``attribute_word_accuracy``, whether its most
    probable word overall does (which also needs the caption's word order: after "a big" the
    grammar allows a colour or a shape)."""
    from keras_t2i.data.shapes import ATTRIBUTE_WORDS

    tokenizer = captioner.tokenizer
    vocabulary = list(RESERVED_TOKENS) + list(tokenizer.vocabulary)  # by id
    value_of = {attribute: np.array([words.get(w, "") for w in vocabulary], dtype=object)
                for attribute, words in ATTRIBUTE_WORDS.items()}
    # Per attribute, 0 for the words naming it and -inf for the others (a restricted argmax).
    restrict = {attribute: tf.constant(np.where(values != "", 0.0, -np.inf), tf.float32)
                for attribute, values in value_of.items()}

    @tf.function(reduce_retracing=True)
    def predict(images, tokens):
        logits = tf.cast(captioner(images, tokens, training=False), tf.float32)
        among = {a: tf.argmax(logits + r, axis=-1, output_type=tf.int32)
                 for a, r in restrict.items()}
        return (tf.argmax(logits, axis=-1, output_type=tf.int32), among,
                captioner.decode(images))

    hits = real = 0
    attribute_hits = {a: 0 for a in ATTRIBUTE_WORDS}
    attribute_word_hits = {a: 0 for a in ATTRIBUTE_WORDS}
    attribute_seen = {a: 0 for a in ATTRIBUTE_WORDS}
    hypotheses, keys = {}, []
    for batch in kt_data.load(data, "test", **load):
        tokens = batch["tokens"].numpy()
        predicted, among, greedy = predict(batch["image"], batch["tokens"])
        predicted, greedy = predicted.numpy(), greedy.numpy()
        mask = tokens != 0
        hits += int((predicted == tokens)[mask].sum())
        real += int(mask.sum())
        if data == "shapes":
            for attribute, values in value_of.items():
                named = values[tokens] != ""
                attribute_seen[attribute] += int(named.sum())
                read = values[among[attribute].numpy()]
                attribute_hits[attribute] += int((read == values[tokens])[named].sum())
                attribute_word_hits[attribute] += int(
                    (values[predicted] == values[tokens])[named].sum())
        for key, text in zip(batch["key"].numpy(), tokenizer.detokenize(greedy).numpy()):
            hypotheses[key] = text.decode().split()
            keys.append(key)
    references = {key: [] for key in keys}
    for seed in range(REFERENCE_SEEDS):
        for batch in kt_data.load(data, "test", caption_seed=seed, **load):
            for key, tokens in zip(batch["key"].numpy(),
                                   tokenizer.detokenize(batch["tokens"]).numpy()):
                words = tokens.decode().split()
                if words not in references[key]:
                    references[key].append(words)
    metrics = {
        "word_accuracy": hits / max(real, 1),
        "bleu4": corpus_bleu([references[k] for k in keys], [hypotheses[k] for k in keys]),
        "num_images": len(keys),
        "references_per_image": float(np.mean([len(references[k]) for k in keys])),
    }
    if data == "shapes":
        metrics["attribute_accuracy"] = {a: attribute_hits[a] / max(attribute_seen[a], 1)
                                         for a in ATTRIBUTE_WORDS}
        metrics["attribute_word_accuracy"] = {
            a: attribute_word_hits[a] / max(attribute_seen[a], 1) for a in ATTRIBUTE_WORDS}
    return metrics
