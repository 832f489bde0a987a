"""Strategies and the multi-worker loop.

``default`` (one device), ``mirrored`` (all local devices, through ``fit``) and
``multi-worker`` (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, through a custom loop
that runs the same ``train_step``: Keras 3.15's ``fit`` fails under multi-worker,
keras-team/keras#20585).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from keras_t2i.training.callbacks import gan_step

STRATEGIES = ("default", "mirrored", "multi-worker")


def check_strategy(name: str) -> None:
    """Raises ValueError if ``make_strategy(name)`` would fail on its name or, for
    ``multi-worker``, on ``TF_CONFIG`` (unset, not JSON, or without ``cluster`` and
    ``task``)."""
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; valid: {STRATEGIES}")
    if name != "multi-worker":
        return
    hint = "(see the README, 'Training on several machines')"
    if "TF_CONFIG" not in os.environ:
        raise ValueError(f"--strategy multi-worker reads the cluster from TF_CONFIG, which is "
                         f"not set {hint}.")
    try:
        tf_config = json.loads(os.environ["TF_CONFIG"])
    except ValueError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}) {hint}.") from None
    if not isinstance(tf_config, dict) or not {"cluster", "task"} <= set(tf_config):
        raise ValueError(f"TF_CONFIG needs \"cluster\" and \"task\" {hint}.")


def make_strategy(name: str) -> tf.distribute.Strategy:
    check_strategy(name)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker"
                                              and resolver.task_id == 0)


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


def custom_loop(gan, strategy, dataset, total, callback_list):
    """The multi-worker path: ``distributed_train_step`` in a loop, with the same callbacks
    and a progress bar like ``fit``'s."""
    callbacks = keras.callbacks.CallbackList(callback_list, model=gan)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    step_fn = distributed_train_step(gan, strategy)
    progress = keras.utils.Progbar(total, stateful_metrics=list(gan.trackers))
    callbacks.on_train_begin()
    while gan_step(gan) < total and not gan.stop_training:
        logs = step_fn(next(iterator))
        step = gan_step(gan)
        callbacks.on_train_batch_end(step, logs)
        progress.update(step, list(logs.items()))
    callbacks.on_train_end()
