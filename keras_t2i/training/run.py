"""Training runs (``keras-t2i train``): config → data → text encoder → model → fit → run dir.

A run directory holds ``config.json`` (the resolved options, ``training.config``), ``logs/``
(TensorBoard: every tracked loss, the sample grids, their captions, the hyper-parameters),
``samples/`` (grid PNGs), ``checkpoints/`` (``training.checkpoint``), ``damsm/`` (the text
encoder pretrained for the run, unless one was given) and ``model.keras`` at the end.

``resume=True`` restores the newest checkpoint that reads and continues to the same step
budget, so a killed run loses at most one checkpoint interval. Nothing here names a model
family: the family comes from the registry, and the model's roles say what to checkpoint,
which batch keys to feed and what to export.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from keras_t2i import _backend  # noqa: F401
from keras_t2i import data as kt_data
from keras_t2i.export import export_saved_model
from keras_t2i.models import registry
from keras_t2i.pretraining.captioner import CAPTIONER_FILE, load_captioner, pretrain_captioner
from keras_t2i.pretraining.damsm import pretrain_damsm
from keras_t2i.progress import Phases, StepProgress
from keras_t2i.text.damsm import TEXT_ENCODER_FILE, load_encoders
from keras_t2i.training import callbacks as kt_callbacks
from keras_t2i.training.checkpoint import (
    gan_checkpoint,
    remove_temporary_checkpoints,
    restore_newest,
)
from keras_t2i.training.config import (
    CONFIG_FILE,
    check_train_config,
    damsm_pretraining,
    load_run_config,
    resolve_train_config,
)
from keras_t2i.training.distributed import custom_loop, is_chief, make_strategy

MODEL_FILE = "model.keras"
# Training captions the condition's whitening statistics are fitted to (``condition_whitening``;
# on Shapes, 4,000 captions gave the 48 % regression probe of benchmarks/RESULTS.md).
CONDITION_CAPTIONS = 4000

# Fixed captions of the Shapes sample grid: every shape and colour, several positions.
SHAPES_GRID_CAPTIONS = (
    "a big red circle in the center",
    "a small blue square in the top left corner",
    "a big green triangle on the right",
    "a big yellow star at the bottom",
    "a small white cross in the center",
    "a big purple diamond in the lower left",
    "a big orange square in the upper right",
    "a small cyan circle on the left",
)


def needs_pretraining(config: dict) -> bool:
    """Whether the run must pretrain its DAMSM encoders first (no ``--text-encoder``, and
    none pretrained in ``RUN/damsm`` by an earlier start)."""
    return not config["text_encoder"] and not (
        Path(config["out"]) / "damsm" / TEXT_ENCODER_FILE).is_file()


def obtain_encoders(config: dict, phase=None):
    """The run's DAMSM (text_encoder, image_encoder): the pair given, the pair pretrained for
    this run, or a new pair (pretrained into ``RUN/damsm`` first). ``phase`` is the run's
    ``Phases`` (it announces the pretraining)."""
    if config["text_encoder"]:
        return load_encoders(config["text_encoder"])
    run_damsm = Path(config["out"]) / "damsm"
    if needs_pretraining(config):
        options = damsm_pretraining(config)
        # The recipe's own data options for the pretraining, where they replace the run's.
        scenes = "".join(f", {k}={v}" for k, v in
                         sorted(config["damsm"].get("data_options", {}).items()))
        (phase or Phases(["pretrain"])).start(
            f"pretraining the DAMSM text and image encoders ({_budget(options)}{scenes}) into "
            f"{run_damsm} (no --text-encoder given)")
        pretrain_damsm(**options)
    return load_encoders(run_damsm)


def needs_captioner_pretraining(config: dict) -> bool:
    """Whether the run must pretrain its STREAM captioner first (its family uses one, no
    ``--captioner``, and none pretrained in ``RUN/captioner`` by an earlier start)."""
    family = registry.get_family(config["model"])
    return (family.model_class.needs_captioner(**config["model_kwargs"])
            and not config.get("captioner")
            and not (Path(config["out"]) / "captioner" / CAPTIONER_FILE).is_file())


def obtain_captioner(config: dict, phase=None):
    """The run's STREAM captioner, or None for a family that uses none: the one given, the one
    pretrained for this run, or a new one (pretrained into ``RUN/captioner`` first, with the
    run's text encoder's vocabulary; an interrupted pretraining continues)."""
    family = registry.get_family(config["model"])
    if not family.model_class.needs_captioner(**config["model_kwargs"]):
        return None
    if config.get("captioner"):
        return load_captioner(config["captioner"])
    run_captioner = Path(config["out"]) / "captioner"
    if needs_captioner_pretraining(config):
        budget = config.get("captioner_pretraining") or {}
        (phase or Phases(["pretrain captioner"])).start(
            f"pretraining the STREAM captioner ({_budget(budget) if budget else 'defaults'}) "
            f"into {run_captioner} (no --captioner given)")
        pretrain_captioner(data=config["data"], data_dir=config["data_dir"],
                           data_options=config["data_options"], seed=config["seed"],
                           text_encoder=config["text_encoder"] or str(Path(config["out"])
                                                                      / "damsm"),
                           out=str(run_captioner), resume=True, **budget)
    return load_captioner(run_captioner)


def _budget(config) -> str:
    if config.get("steps") is not None:
        return f"{int(config['steps']):,} steps"
    return f"{int(config['epochs']):,} epochs"


def _optimizer(default, learning_rate, beta_1, beta_2):
    """The family's default optimizer with the run's learning rate and betas."""
    return type(default).from_config({**default.get_config(), "learning_rate": learning_rate,
                                      "beta_1": beta_1, "beta_2": beta_2})


def build_gan(config: dict, text_encoder, image_encoder=None, captioner=None):
    """The compiled GAN of a config. With ``precision="mixed_bfloat16"`` its networks compute
    in bfloat16 with float32 weights (the policy is set while they are built, then restored;
    the images and D's logits stay float32, losses are computed in float32). The DAMSM image
    encoder is only kept when the config's options use it (``needs_image_encoder``)."""
    model_class = registry.get_family(config["model"]).model_class
    kwargs = dict(config["model_kwargs"])
    if model_class.needs_image_encoder(**kwargs):
        kwargs["image_encoder"] = image_encoder
    if model_class.needs_captioner(**kwargs):
        kwargs["captioner"] = captioner
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.get("precision", "float32"))
    try:
        gan = model_class(text_encoder, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)
    default_g, default_d = model_class.default_optimizers()
    betas = (config["beta_1"], config["beta_2"])
    gan.compile(g_optimizer=_optimizer(default_g, config["g_learning_rate"], *betas),
                d_optimizer=_optimizer(default_d, config["d_learning_rate"], *betas))
    return gan


def load_run(run_dir):
    """The GAN of a run directory at its newest checkpoint that reads (for ``generate``,
    export and evaluation)."""
    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    text_dir = config["text_encoder"] or run_dir / "damsm"
    family = registry.get_family(config["model"])
    captioner = None
    if family.model_class.needs_captioner(**config["model_kwargs"]):
        captioner = load_captioner(config.get("captioner") or run_dir / "captioner")
    gan = build_gan(config, *load_encoders(text_dir), captioner)
    if restore_newest(gan_checkpoint(gan), run_dir / "checkpoints", set_aside=False) is None:
        raise FileNotFoundError(f"{run_dir / 'checkpoints'} holds no checkpoint yet.")
    return gan


def data_protocol(config: dict) -> dict:
    """What a run trains on, as recorded in its exports: dataset, options and image size."""
    return {"name": config["data"], "options": dict(config["data_options"]),
            "image_size": int(config["model_kwargs"]["image_size"])}


def _grid_captions(config, tokenizer):
    if config["data"] == "shapes":
        # Scenes of the run's fewest objects: each caption joined with the next ones (their
        # positions differ), so a model trained on scenes of two or more draws what it knows.
        n = int(config["data_options"].get("min_objects", 1))
        count = len(SHAPES_GRID_CAPTIONS)
        return [" and ".join(SHAPES_GRID_CAPTIONS[(i + j) % count] for j in range(n))
                for i in range(count)]
    batch = next(iter(kt_data.load(config["data"], "test", data_dir=config["data_dir"],
                                   batch_size=8, tokenizer=tokenizer, image_size=32)))
    return [c.decode() for c in batch["caption"].numpy()]


def _hparams(config) -> dict:
    flat = {"model": config["model"], "recipe": config["recipe"], "preset": config["preset"],
            "data": config["data"], "batch_size": config["batch_size"],
            "g_learning_rate": config["g_learning_rate"],
            "d_learning_rate": config["d_learning_rate"], "strategy": config["strategy"],
            "seed": config["seed"], "precision": config["precision"]}
    flat.update({k: v for k, v in config["model_kwargs"].items()
                 if isinstance(v, int | float | str)})
    return flat


def train(**options) -> dict:
    """Runs (or resumes) a training run; returns its resolved config with ``step`` reached."""
    config = resolve_train_config(**options)
    check_train_config(config)  # every option, before any work or any folder
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = make_strategy(config["strategy"])
    out = Path(config["out"])
    checkpoints = out / "checkpoints"
    chief = is_chief(strategy)
    out.mkdir(parents=True, exist_ok=True)
    if chief:
        (out / CONFIG_FILE).write_text(json.dumps(
            {k: v for k, v in config.items() if k != "resume"}, indent=2, sort_keys=True))
    keras.utils.set_random_seed(config["seed"])
    phases = Phases((["pretrain"] if needs_pretraining(config) else [])
                    + (["pretrain captioner"] if needs_captioner_pretraining(config) else [])
                    + ["train"] + (["export"] if config["export_dir"] and chief else []))
    text_encoder, image_encoder = obtain_encoders(config, phases)
    captioner = obtain_captioner(config, phases)
    # Seeded again: the GAN starts from the same random state whether this run pretrained its
    # encoders (which draws random numbers) or was given them, so the quickstart trains as a
    # run given the pair it pretrains does.
    keras.utils.set_random_seed(config["seed"])
    with strategy.scope():
        gan = build_gan(config, text_encoder, image_encoder, captioner)
    checkpoint = gan_checkpoint(gan)
    # Workers other than the chief write to a scratch directory (tf.distribute convention).
    ckpt_dir = checkpoints if chief else out / f"tmp_worker_{strategy.cluster_resolver.task_id}"
    if ckpt_dir.is_dir():
        remove_temporary_checkpoints(ckpt_dir)
    start = 0
    if config["resume"]:
        restored = restore_newest(checkpoint, checkpoints, set_aside=chief)
        if restored is not None:
            start = kt_callbacks.gan_step(gan)
            print(f"Resumed from step {start} ({restored})")
        else:
            print(f"No checkpoint in {checkpoints}: starting from step 0")
    # After the restore, which may have rewritten the state file the manager reads.
    manager = tf.train.CheckpointManager(checkpoint, ckpt_dir, max_to_keep=3)
    if gan.condition_whitener is not None and start == 0:
        # Fitted once, from the training captions (and, with condition_rank, their images); a
        # resumed run reads them from its checkpoint.
        captions = kt_data.load(config["data"], "train", data_dir=config["data_dir"],
                                image_size=gan.image_size, batch_size=100,
                                tokenizer=text_encoder.tokenizer, sampling_seed=config["seed"],
                                drop_remainder=False,  # a split smaller than a batch counts
                                **config["data_options"])
        count = gan.adapt_condition(captions.take(CONDITION_CAPTIONS // 100))
        rank = (f", its {gan.condition_rank} directions most correlated with their images"
                if gan.condition_rank else "")
        print(f"Fitted the condition's whitening ({gan.condition}, eps "
              f"{gan.condition_whitening:g}{rank}) to {count:,} training captions")

    dataset = kt_data.load(
        config["data"], "train", data_dir=config["data_dir"],
        image_size=gan.image_size, batch_size=config["batch_size"],
        tokenizer=text_encoder.tokenizer, sampling_seed=config["seed"] + start,
        **config["data_options"])
    keys = gan.batch_keys  # exactly what the model's hooks and loss terms read
    dataset = dataset.map(lambda b: {k: b[k] for k in keys})
    if config["steps"] is not None:
        total = int(config["steps"])
    else:
        per_epoch = int(dataset.cardinality())
        if per_epoch < 1:
            raise ValueError(f"--epochs needs a dataset of known size; {config['data']} gives "
                             f"cardinality {per_epoch}: pass --steps instead.")
        total = int(config["epochs"]) * per_epoch
    dataset = dataset.repeat()
    # Each worker reads the whole pipeline and keeps its share of every global batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)

    logs = out / "logs"
    callback_list = [kt_callbacks.StopAtStep(total),
                     kt_callbacks.CheckpointEvery(manager, config["checkpoint_every"])]
    if chief:  # only the chief writes logs and samples
        grid = kt_callbacks.SampleGrid(logs, _grid_captions(config, text_encoder.tokenizer),
                                       every_n_steps=config["sample_every"],
                                       samples_dir=out / "samples")
        callback_list += [kt_callbacks.ScalarLogger(logs), grid,
                          hp.KerasCallback(str(logs), _hparams(config)),
                          StepProgress(total, show=("d_loss", "g_loss"))]
    family = registry.get_family(config["model"])
    per_epoch = "" if config["steps"] is not None else f" = {config['epochs']:,} epochs"
    phases.start(f"training {family.title or family.name} ({total:,} steps{per_epoch} of batch "
                 f"{config['batch_size']}" + (f", resumed at step {start:,}" if start else "")
                 + f"; samples every {config['sample_every']:,} steps in {out / 'samples'})")
    started = time.time()
    if start < total:
        if config["strategy"] == "multi-worker":
            custom_loop(gan, strategy, dataset, total, callback_list)
        else:
            # fit's epochs are chunks of sample_every steps (the progress line counts steps).
            chunk = min(config["sample_every"], total)
            gan.fit(dataset, epochs=math.ceil(total / chunk), initial_epoch=start // chunk,
                    steps_per_epoch=chunk, callbacks=callback_list, verbose=0, shuffle=False)
    step = kt_callbacks.gan_step(gan)
    result = {**config, "step": step, "export": None}
    if chief:
        gan.save(out / MODEL_FILE)
        print(f"Trained to step {step:,} in {(time.time() - started) / 60:.1f} min.")
        if config["export_dir"]:
            phases.start(f"exporting the SavedModel to {config['export_dir']}")
            result["export"] = str(export_saved_model(
                gan, config["export_dir"], step=step, preset=config["preset"],
                data=data_protocol(config)))
        print(f"Logs:    tensorboard --logdir {logs}")
        print(f"Samples: {out / 'samples'} (the last: step_{step:07d}.png)")
        print(f"Model:   {out / MODEL_FILE} (checkpoints in {checkpoints})")
        if result["export"]:
            print(f"SavedModel: {result['export']} (serve it: keras-t2i serve "
                  f"--model-base-path {config['export_dir']})")
    return result
