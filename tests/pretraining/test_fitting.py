"""The pretraining runs' backup: a kill at any moment, even during the write of a backup, leaves
the last whole one, and a run started again continues from it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2i.pretraining.fitting import BACKUP_STATE, Backup, fit_with_budget


def _model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _data(killed_after=None):
    """16 examples in batches of 4; with ``killed_after``, the data end in an error after that
    many batches (the process "killed" there)."""
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = x.sum(1, keepdims=True)
    if killed_after is None:
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    def batches():
        for i in range(killed_after):
            yield x[4 * (i % 4):4 * (i % 4) + 4], y[4 * (i % 4):4 * (i % 4) + 4]
        raise RuntimeError("killed")

    spec = (tf.TensorSpec((4, 3), tf.float32), tf.TensorSpec((4, 1), tf.float32))
    return tf.data.Dataset.from_generator(batches, output_signature=spec)


def _kill_after_two_backups(out):
    """A 6-step run with a backup every 2 steps, stopped by an error in its third chunk."""
    with pytest.raises(Exception, match="killed"):
        fit_with_budget(_model(), _data(killed_after=4), out, steps=6, backup_every=2)


def test_a_run_killed_during_a_backups_write_resumes_from_the_last_whole_one(tmp_path):
    _kill_after_two_backups(tmp_path)
    backup = tmp_path / "backup"
    state = json.loads((backup / BACKUP_STATE).read_text())
    assert state["epoch"] == 2 and (backup / state["weights"]).is_file()
    assert len(list(backup.glob("*.weights.h5"))) == 1  # the older backup was removed
    saved = _model()
    saved.optimizer.build(saved.trainable_variables)
    saved.load_weights(backup / state["weights"])
    assert int(saved.optimizer.iterations.numpy()) == 4
    # Then killed during the next backup: its weights torn, its state staged but not renamed.
    (backup / "epoch-000003.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n torn")
    (backup / (BACKUP_STATE + ".tmp")).write_text('{"epoch": 3, "weigh')

    restored = _model()
    probe = Backup(backup)
    assert probe.epochs_done == 2
    restored.fit(_data(), initial_epoch=2, epochs=2, callbacks=[probe], verbose=0)
    assert len(restored.optimizer.variables) == len(saved.optimizer.variables) > 1
    for got, want in zip(restored.weights + restored.optimizer.variables,
                         saved.weights + saved.optimizer.variables):
        np.testing.assert_array_equal(got.numpy(), want.numpy())  # model and optimizer
    assert not backup.exists()  # a finished fit deletes its backup

    # A run killed after 4 of its 6 steps, started again, does the 2 left.
    _kill_after_two_backups(tmp_path)
    resumed = _model()
    fit_with_budget(resumed, _data(), tmp_path, steps=6, backup_every=2)
    assert int(resumed.optimizer.iterations.numpy()) == 6
    assert not backup.exists()


def test_a_backup_state_that_does_not_read_is_named(tmp_path):
    (tmp_path / BACKUP_STATE).write_text('{"epo')
    with pytest.raises(ValueError, match=rf"{BACKUP_STATE}.*does not read.*move"):
        Backup(tmp_path)
    (tmp_path / BACKUP_STATE).write_text('{"epoch": 1, "weights": "missing.weights.h5"}')
    model = _model()
    with pytest.raises(ValueError, match=r"missing\.weights\.h5 \(epoch 1\) does not load"):
        model.fit(_data(), initial_epoch=1, epochs=2, callbacks=[Backup(tmp_path)], verbose=0)
