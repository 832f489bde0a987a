"""Training runs (``keras-t2i train``): config → data → text encoder → model → fit → run dir.

A run directory holds ``config.json`` (the resolved options), ``logs/`` (TensorBoard: every
tracked loss, the sample grid, its captions, the hyper-parameters), ``samples/`` (grid PNGs),
``checkpoints/`` (generator, discriminator, both optimizers with their step counters, and the
noise RNG state, every ``checkpoint_every`` steps and at the end), ``damsm/`` (the text
encoder pretrained for the run, unless one was given) and ``model.keras`` at the end.

``resume=True`` restores the latest checkpoint and continues to the same step budget, so a
killed run loses at most one checkpoint interval.

Strategies: ``default`` (one device), ``mirrored`` (all local devices, through ``fit``) and
``multi-worker`` (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, through a custom loop
that runs the same ``train_step``: Keras 3.15's ``fit`` fails under multi-worker,
keras-team/keras#20585).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from keras_t2i import _backend  # noqa: F401
from keras_t2i import callbacks as kt_callbacks
from keras_t2i import data as kt_data
from keras_t2i.models.df_gan import DFGAN
from keras_t2i.models.presets import get_preset, preset_for

FAMILIES = {"dfgan": DFGAN}
STRATEGIES = ("default", "mirrored", "multi-worker")
CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"

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

TRAIN_OPTIONS = ("model", "preset", "data", "data_dir", "data_options", "image_size", "nf",
                 "ema_decay", "batch_size", "steps", "epochs", "mode_seeking", "damsm_weight",
                 "strategy",
                 "out", "resume", "checkpoint_every", "sample_every", "text_encoder", "seed",
                 "g_learning_rate", "d_learning_rate", "beta_1", "beta_2", "precision",
                 "export_dir")
PRECISIONS = ("float32", "mixed_bfloat16")


def resolve_train_config(**options) -> dict:
    """Preset values, then the saved config of a resumed run, then the explicit options.

    Options left as None take the preset's value. With ``resume``, the run's saved config is
    the base, so ``--resume`` alone continues exactly the run that was started.
    """
    unknown = sorted(set(options) - set(TRAIN_OPTIONS))
    if unknown:
        raise TypeError(f"Unknown training option(s) {unknown}; valid: {TRAIN_OPTIONS}")
    given = {k: v for k, v in options.items() if v is not None}
    family = given.get("model", "dfgan")
    if family not in FAMILIES:
        raise ValueError(f"Unknown model {family!r}; built so far: {', '.join(FAMILIES)}")
    data = given.get("data", "shapes")
    preset_name = given.get("preset") or preset_for(family, data)
    preset = get_preset(preset_name)
    if "data" not in given:
        data = preset["data"]["name"]
    mode_seeking = float(given.get("mode_seeking", 0.0))
    default_out = f"runs/{preset_name}" + ("-ms" if mode_seeking else "")
    out = str(given.get("out", default_out))

    config = {
        "model": family,
        "preset": preset_name,
        "data": data,
        "data_dir": None,
        "data_options": preset["data"]["options"] if data == preset["data"]["name"] else {},
        "model_kwargs": {**preset["model"], "mode_seeking": mode_seeking},
        **{k: preset["train"].get(k) for k in ("batch_size", "steps", "epochs",
                                               "checkpoint_every", "sample_every",
                                               "g_learning_rate", "d_learning_rate",
                                               "beta_1", "beta_2")},
        "damsm": preset["damsm"],
        "strategy": "default",
        "out": out,
        "text_encoder": None,
        "seed": 0,
        "precision": "float32",
    }
    saved = Path(out) / CONFIG_FILE
    if given.get("resume") and saved.is_file():
        config = load_run_config(out)
        # What shapes the checkpointed variables cannot change on resume.
        fixed = {"model": config["model"], "preset": config["preset"], "data": config["data"],
                 "image_size": config["model_kwargs"]["image_size"],
                 "nf": config["model_kwargs"]["nf"],
                 "ema_decay": config["model_kwargs"].get("ema_decay", 0.0)}
        changed = sorted(k for k, v in fixed.items() if k in given and given[k] != v)
        started_encoder = config["text_encoder"] or str(Path(out) / "damsm")
        if not _same_text_encoder(config, started_encoder, given.get("text_encoder")):
            if given.get("text_encoder") in (None, started_encoder):
                raise ValueError(f"The text encoder in {started_encoder} is not the one {out} "
                                 "was trained with (its text_encoder.keras has changed since); "
                                 "resume with --text-encoder pointing at a copy of the "
                                 "original.")
            changed.append("text_encoder")
            fixed["text_encoder"] = started_encoder
        if changed:
            raise ValueError(
                f"--resume continues {out} as it was started, but {', '.join(changed)} differ "
                f"from its {CONFIG_FILE} ({', '.join(f'{k}={fixed[k]!r}' for k in changed)}); "
                "start a new run with another --out to change them.")
        _resume_in_place(config, out)
    for key in ("data_dir", "batch_size", "checkpoint_every", "sample_every", "strategy",
                "text_encoder", "seed", "g_learning_rate", "d_learning_rate", "beta_1",
                "beta_2", "precision"):
        if key in given:
            config[key] = given[key]
    config["data_options"] = {**config["data_options"], **given.get("data_options", {})}
    for key in ("image_size", "nf", "ema_decay", "damsm_weight"):
        if key in given:
            config["model_kwargs"][key] = given[key]
    if "mode_seeking" in given:
        config["model_kwargs"]["mode_seeking"] = mode_seeking
    if "steps" in given or "epochs" in given:
        if "steps" in given and "epochs" in given:
            raise ValueError("Give either steps or epochs, not both.")
        config["steps"], config["epochs"] = given.get("steps"), given.get("epochs")
    if config.setdefault("precision", "float32") not in PRECISIONS:
        raise ValueError(f"Unknown precision {config['precision']!r}; valid: {PRECISIONS}")
    if config["strategy"] not in STRATEGIES:
        raise ValueError(f"Unknown strategy {config['strategy']!r}; valid: {STRATEGIES}")
    if config["strategy"] == "multi-worker" and not config["text_encoder"]:
        raise ValueError("--strategy multi-worker needs --text-encoder DIR (pretrain it once "
                         "with `keras-t2i pretrain damsm`): workers must not each pretrain one.")
    # Where the finished run is exported (TF Serving base path); "" turns the export off.
    if "export_dir" in given:
        config["export_dir"] = str(given["export_dir"]) or None
    config.setdefault("export_dir", f"savedmodels/{Path(config['out']).name}")
    config["resume"] = bool(given.get("resume", False))
    if config["text_encoder"] and "text_encoder_sha256" not in config:
        config["text_encoder_sha256"] = _encoder_digest(config["text_encoder"])
    return config


def _encoder_digest(directory) -> str | None:
    """SHA-256 of a DAMSM directory's text encoder file (None if it has none yet)."""
    from keras_t2i.pretrain import TEXT_ENCODER_FILE

    path = Path(directory) / TEXT_ENCODER_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _same_text_encoder(config, started, given) -> bool:
    """Whether ``given`` (or, when None, the folder the run started with) holds the text
    encoder the run was trained with: the same file contents (so a copy elsewhere is the same
    encoder, and a file replaced in place is not); by path where there is nothing to hash."""
    recorded = config.get("text_encoder_sha256") or _encoder_digest(started)
    candidate = given or started
    if recorded is None:
        return Path(candidate).resolve() == Path(started).resolve()
    return _encoder_digest(candidate) == recorded


def _resume_in_place(config, out):
    """A resumed run stays where ``--out`` points, wherever its config says it was started
    (a copied or moved run): its checkpoints, logs and samples are those of ``out``. An export
    directory left at its default follows the run's new name."""
    started = config["out"]
    if Path(started).resolve() == Path(out).resolve():
        return
    print(f"Resuming in {out}: its {CONFIG_FILE} says it was started in {started} (copied or "
          f"moved since); everything is read from and written to {out}.")
    if config.get("export_dir") == f"savedmodels/{Path(started).name}":
        config["export_dir"] = f"savedmodels/{Path(out).name}"
    config["out"] = str(out)


def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi-worker reads the cluster from TF_CONFIG, which is "
                             "not set (see the README, 'Training on several machines').")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker"
                                              and resolver.task_id == 0)


def obtain_encoders(config: dict):
    """The run's DAMSM (text_encoder, image_encoder): the pair given, the pair pretrained for
    this run, or a new pair (pretrained into ``RUN/damsm`` first)."""
    from keras_t2i.pretrain import TEXT_ENCODER_FILE, load_encoders, pretrain_damsm

    if config["text_encoder"]:
        return load_encoders(config["text_encoder"])
    run_damsm = Path(config["out"]) / "damsm"
    if not (run_damsm / TEXT_ENCODER_FILE).is_file():
        print(f"No --text-encoder given: pretraining DAMSM into {run_damsm} first.")
        pretrain_damsm(data=config["data"], data_dir=config["data_dir"],
                       data_options=config["data_options"], seed=config["seed"],
                       out=str(run_damsm), **config["damsm"])
    return load_encoders(run_damsm)


def build_gan(config: dict, text_encoder, image_encoder=None):
    """The compiled GAN of a config. With ``precision="mixed_bfloat16"`` its networks compute
    in bfloat16 with float32 weights (the policy is set while they are built, then restored;
    the images and D's logits stay float32, losses are computed in float32). The DAMSM image
    encoder is only kept when the config's ``damsm_weight`` uses it."""
    kwargs = dict(config["model_kwargs"])
    if kwargs.get("damsm_weight"):
        kwargs["image_encoder"] = image_encoder
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.get("precision", "float32"))
    try:
        gan = FAMILIES[config["model"]](text_encoder, **kwargs)
    finally:
        keras.config.set_dtype_policy(previous)
    opt = dict(beta_1=config["beta_1"], beta_2=config["beta_2"])
    gan.compile(g_optimizer=keras.optimizers.Adam(config["g_learning_rate"], **opt),
                d_optimizer=keras.optimizers.Adam(config["d_learning_rate"], **opt))
    return gan


def gan_checkpoint(gan) -> tf.train.Checkpoint:
    """Everything a resumed run needs: both networks (and the EMA generator), both optimizers
    (with their step counters) and the noise generator's state.

    Each network's variables are also listed explicitly (in ``weights`` order): a
    ``tf.train.Checkpoint`` does not walk the Python lists of layers inside Keras 3 models, so
    without the lists only what an optimizer references (the trainable weights of G and D)
    would be saved, and the EMA generator's blocks would silently come back at their
    initial values."""
    parts = dict(generator=gan.generator, discriminator=gan.discriminator,
                 g_optimizer=gan.g_optimizer, d_optimizer=gan.d_optimizer,
                 noise_seed=gan.seed_generator.state.value,
                 generator_variables=[w.value for w in gan.generator.weights],
                 discriminator_variables=[w.value for w in gan.discriminator.weights])
    if gan.generator_ema is not None:
        parts["generator_ema"] = gan.generator_ema
        parts["generator_ema_variables"] = [w.value for w in gan.generator_ema.weights]
    return tf.train.Checkpoint(**parts)


_CHECKPOINT_NAME = re.compile(r"ckpt-[0-9]+")


def checkpoint_prefixes(directory) -> list[Path]:
    """The ``ckpt-N`` prefixes of ``directory``, newest first: those its state file lists and
    those whose index file is on disk (a kill can leave either without the other)."""
    directory = Path(directory)
    names = set()
    state = tf.train.get_checkpoint_state(str(directory)) if directory.is_dir() else None
    if state is not None:
        names.update(Path(p).name for p in (*state.all_model_checkpoint_paths,
                                            state.model_checkpoint_path) if p)
    names.update(p.name[: -len(".index")] for p in directory.glob("ckpt-*.index"))
    numbered = [n for n in names if _CHECKPOINT_NAME.fullmatch(n)]
    return [directory / n for n in sorted(numbered, key=lambda n: -int(n.split("-")[1]))]


def checkpoint_problem(prefix) -> str | None:
    """Why the checkpoint at ``prefix`` cannot be restored (missing or truncated files), or
    None when every tensor in it reads back. Nothing is restored."""
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as err:  # NotFound, DataLoss, OutOfRange, …: all mean "unreadable"
        message = getattr(err, "message", None) or str(err) or type(err).__name__
        return message.strip().splitlines()[0][:300]
    return None


def restore_newest(checkpoint, directory, *, set_aside=True) -> Path | None:
    """Restores the newest checkpoint of ``directory`` that reads whole and returns its
    prefix (None when there is no checkpoint at all).

    Newer checkpoints that do not read are named with the reason; with ``set_aside`` their
    files are moved to ``directory/unreadable/`` (never deleted, and never overwritten by the
    run's next checkpoints of the same numbers) and the state file is rewritten to list the
    remaining ones.

    Raises:
        ValueError: checkpoints exist but none reads, naming each with its reason.
    """
    directory = Path(directory)
    prefixes = checkpoint_prefixes(directory)
    skipped = []
    for prefix in prefixes:
        problem = checkpoint_problem(prefix)
        if problem is None:
            break
        skipped.append(prefix)
        print(f"Skipping checkpoint {prefix}: it does not read ({problem}).")
    else:
        if skipped:
            raise ValueError(f"No checkpoint in {directory} can be restored (each is named "
                             "above with its reason); move the folder away to start again "
                             "from step 0.")
        return None
    try:
        checkpoint.restore(str(prefix)).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise ValueError(f"Checkpoint {prefix} does not match this run's networks: {err}") \
            from None
    if skipped and set_aside:
        aside, moved = directory / "unreadable", set()
        for bad in skipped:
            for path in directory.glob(f"{bad.name}.*"):
                aside.mkdir(exist_ok=True)
                target = aside / path.name
                while target.exists():
                    target = target.with_name(target.name + "~")
                path.rename(target)
                moved.add(bad.name)
        kept = [q for q in prefixes if q not in skipped]
        tf.compat.v1.train.update_checkpoint_state(
            str(directory), prefix.name, [q.name for q in reversed(kept)])
        if moved:
            print(f"Moved the files of {', '.join(sorted(moved))} to {aside}: newer than "
                  f"{prefix.name} but unreadable, kept there rather than overwritten.")
    return prefix


def remove_temporary_checkpoints(directory) -> list[Path]:
    """Deletes the ``ckpt-N_temp`` folders a kill during a checkpoint save leaves behind."""
    removed = []
    for path in sorted(Path(directory).glob("ckpt-*_temp")):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            print(f"Removed {path}: a checkpoint save that was interrupted.")
            removed.append(path)
    return removed


def load_run_config(run_dir) -> dict:
    """The resolved configuration a run saved in ``run_dir/config.json``."""
    saved = Path(run_dir) / CONFIG_FILE
    if not saved.is_file():
        raise FileNotFoundError(f"{run_dir} is not a training run: {saved} does not exist.")
    try:
        config = json.loads(saved.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{saved} is damaged (not valid JSON: {err}); restore it from a copy "
                         "of the run, or start a new run with another --out.") from None
    required = ("model", "preset", "data", "model_kwargs", "out")
    if not isinstance(config, dict) or any(k not in config for k in required):
        raise ValueError(f"{saved} is not a run configuration (it needs {', '.join(required)}).")
    return config


def load_run(run_dir):
    """The GAN of a run directory at its latest checkpoint (for ``generate`` and export)."""
    from keras_t2i.pretrain import load_encoders

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    text_dir = config["text_encoder"] or run_dir / "damsm"
    gan = build_gan(config, *load_encoders(text_dir))
    if restore_newest(gan_checkpoint(gan), run_dir / "checkpoints", set_aside=False) is None:
        raise FileNotFoundError(f"{run_dir / 'checkpoints'} holds no checkpoint yet.")
    return gan


def _grid_captions(config, tokenizer):
    if config["data"] == "shapes":
        return list(SHAPES_GRID_CAPTIONS)
    batch = next(iter(kt_data.load(config["data"], "test", data_dir=config["data_dir"],
                                   batch_size=8, tokenizer=tokenizer, image_size=32)))
    return [c.decode() for c in batch["caption"].numpy()]


def _hparams(config) -> dict:
    flat = {"model": config["model"], "preset": config["preset"], "data": config["data"],
            "batch_size": config["batch_size"], "g_learning_rate": config["g_learning_rate"],
            "d_learning_rate": config["d_learning_rate"], "strategy": config["strategy"],
            "seed": config["seed"], "precision": config["precision"]}
    flat.update({k: v for k, v in config["model_kwargs"].items()
                 if isinstance(v, int | float | str)})
    return flat


class ScalarLogger(keras.callbacks.Callback):
    """Every tracked loss as a TensorBoard scalar, at the GAN step (stable across resumes)."""

    def __init__(self, log_dir, every_n_steps=10):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "train"))
        self.every_n_steps = int(every_n_steps)
        self._last = (None, None)

    def _write(self, step, logs):
        with self.writer.as_default():
            for name, value in logs.items():
                tf.summary.scalar(f"loss/{name}", float(value), step=step)

    def on_train_batch_end(self, batch, logs=None):
        step = kt_callbacks.gan_step(self.model)
        if logs:
            self._last = (step, dict(logs))
            if step % self.every_n_steps == 0:
                self._write(step, logs)

    def on_train_end(self, logs=None):
        step, last = self._last
        if last and step % self.every_n_steps:
            self._write(step, last)
        self.writer.flush()


def train(**options) -> dict:
    """Runs (or resumes) a training run; returns its resolved config with ``step`` reached."""
    config = resolve_train_config(**options)
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = make_strategy(config["strategy"])
    out = Path(config["out"])
    checkpoints = out / "checkpoints"
    if not config["resume"] and checkpoint_prefixes(checkpoints):
        raise ValueError(f"{out} already holds a run with checkpoints: pass --resume to continue "
                         "it, or choose another --out.")
    chief = is_chief(strategy)
    out.mkdir(parents=True, exist_ok=True)
    if chief:
        (out / CONFIG_FILE).write_text(json.dumps(
            {k: v for k, v in config.items() if k != "resume"}, indent=2, sort_keys=True))
    keras.utils.set_random_seed(config["seed"])
    text_encoder, image_encoder = obtain_encoders(config)
    with strategy.scope():
        gan = build_gan(config, text_encoder, image_encoder)
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

    global_batch = config["batch_size"]
    dataset = kt_data.load(
        config["data"], "train", data_dir=config["data_dir"],
        image_size=gan.image_size, batch_size=global_batch,
        tokenizer=text_encoder.tokenizer, sampling_seed=config["seed"] + start,
        **config["data_options"])
    dataset = dataset.map(lambda b: {"image": b["image"], "tokens": b["tokens"]})
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
        callback_list += [ScalarLogger(logs), grid, hp.KerasCallback(str(logs), _hparams(config))]
    started = time.time()
    if start < total:
        if config["strategy"] == "multi-worker":
            _custom_loop(gan, strategy, dataset, total, callback_list)
        else:
            chunk = min(config["sample_every"], total)
            gan.fit(dataset, epochs=math.ceil(total / chunk), initial_epoch=start // chunk,
                    steps_per_epoch=chunk, callbacks=callback_list, verbose=1, shuffle=False)
    step = kt_callbacks.gan_step(gan)
    result = {**config, "step": step, "export": None}
    if chief:
        gan.save(out / MODEL_FILE)
        print(f"Trained to step {step} in {(time.time() - started) / 60:.1f} min.")
        print(f"Logs:    tensorboard --logdir {logs}")
        print(f"Samples: {out / 'samples'}")
        print(f"Model:   {out / MODEL_FILE} (checkpoints in {checkpoints})")
        if config["export_dir"]:
            from keras_t2i.export import export_saved_model

            result["export"] = str(export_saved_model(gan, config["export_dir"], step=step,
                                                      preset=config["preset"]))
            print(f"SavedModel: {result['export']} (serve it: keras-t2i serve "
                  f"--model-base-path {config['export_dir']})")
    return result


def distributed_train_step(gan, strategy):
    """A tf.function running ``gan.train_step`` on every replica of ``strategy``.

    It takes a distributed batch (``strategy.experimental_distribute_dataset`` or
    ``experimental_distribute_values_from_function``) and returns the tracked losses averaged
    over replicas as Python floats: each replica's trackers hold means over its equal share of
    the global batch, so their mean is the global batch's mean.
    """

    @tf.function
    def step(batch):
        logs = strategy.run(gan.train_step, args=(batch,))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in logs.items()}

    return lambda batch: {k: float(v) for k, v in step(batch).items()}


def _custom_loop(gan, strategy, dataset, total, callback_list):
    """The multi-worker path: ``distributed_train_step`` in a loop, with the same callbacks
    and a progress bar like ``fit``'s."""
    callbacks = keras.callbacks.CallbackList(callback_list, model=gan)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    step_fn = distributed_train_step(gan, strategy)
    progress = keras.utils.Progbar(total, stateful_metrics=list(gan.trackers))
    callbacks.on_train_begin()
    while kt_callbacks.gan_step(gan) < total and not gan.stop_training:
        logs = step_fn(next(iterator))
        step = kt_callbacks.gan_step(gan)
        callbacks.on_train_batch_end(step, logs)
        progress.update(step, list(logs.items()))
    callbacks.on_train_end()
