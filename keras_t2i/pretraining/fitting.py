"""What every pretraining run does around ``fit``: the budget in steps or epochs, TensorBoard,
one progress line, an optional backup that a resumed run continues from, and the BatchNorm
recalibration of a CNN trained from scratch."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import keras

from keras_t2i.progress import StepProgress

# The state file of a ``Backup`` (the name keras.callbacks.BackupAndRestore uses too).
BACKUP_STATE = "training_metadata.json"


def fit_with_budget(model, train, out, *, steps=None, epochs=None, show=("loss",),
                    backup_every=None):
    """Trains ``model`` on ``train`` for ``steps`` (over the repeated dataset) or ``epochs``,
    logging to ``out/logs``. With ``backup_every``, the step budget runs as epochs of that many
    steps and ``Backup`` keeps ``out/backup`` after each, so a killed run started again
    continues from the last one (and a finished run deletes it).
    Returns (fit's history, seconds)."""
    if steps is not None:
        total = int(steps)
        every = int(backup_every or total)
        fit_args = dict(x=train.repeat(), epochs=math.ceil(total / every),
                        steps_per_epoch=min(every, total))
        update_freq = max(1, math.ceil(total / 100))
    else:
        per_epoch = int(train.cardinality())
        total = int(epochs) * per_epoch if per_epoch > 0 else None
        fit_args = dict(x=train, epochs=int(epochs))
        update_freq = "epoch"
    callbacks = [keras.callbacks.TensorBoard(str(out / "logs"), update_freq=update_freq)]
    if backup_every:
        backup = Backup(Path(out) / "backup")
        callbacks.insert(0, backup)
        fit_args["initial_epoch"] = backup.epochs_done
    if total:  # one line over the whole budget; fit's own bars when its length is unknown
        callbacks.append(StepProgress(total, show=show))
    start = time.time()
    history = model.fit(**fit_args, callbacks=callbacks, verbose=0 if total else 1,
                        shuffle=False)
    return history, time.time() - start


def recalibrate(module, train, batches, what) -> int:
    """``module.calibrate_batch_norm`` on the images of ``batches`` training batches (0: none),
    announced; returns the number of images read."""
    if batches <= 0:
        return 0
    print(f"  recomputing {what}'s BatchNorm statistics on {batches} training batches",
          flush=True)
    return module.calibrate_batch_norm(batch["image"] for batch in train.repeat().take(batches))


class Backup(keras.callbacks.Callback):
    """The model's and its optimizer's weights in ``directory`` after every epoch, kept so that
    a kill at any moment leaves the last whole backup to resume from.

    ``keras.callbacks.BackupAndRestore`` overwrites one weights file in place, so a kill during
    the write leaves a file that no longer opens and the run cannot resume (CI saw it:
    "Unable to synchronously open file (bad object header version number)"). Here each epoch's
    weights go to a new file; only when it is written and synced does the state file that
    names it (``BACKUP_STATE``: ``epoch`` and ``weights``) change, by one atomic rename; then
    the older weights are removed. Give ``fit`` ``initial_epoch=backup.epochs_done``; the
    weights load when training begins (the model is built by then). A run that finishes
    deletes the folder.
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = Path(directory)
        self.state = self._read_state()

    @property
    def epochs_done(self) -> int:
        return int(self.state["epoch"]) if self.state else 0

    def _read_state(self):
        path = self.directory / BACKUP_STATE
        if not path.is_file():
            return None
        try:
            state = json.loads(path.read_text())
            int(state["epoch"])
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"The backup state {path} does not read ({err!r}); move "
                             f"{self.directory} away to start again from step 0.") from None
        # A backup written by keras.callbacks.BackupAndRestore (before this class) names no
        # file: its weights are latest.weights.h5.
        state.setdefault("weights", "latest.weights.h5")
        return state

    def on_train_begin(self, logs=None):
        if not self.state:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        path = self.directory / self.state["weights"]
        try:
            self.model.load_weights(path)
        except (OSError, ValueError) as err:
            raise ValueError(f"The backup {path} (epoch {self.epochs_done}) does not load "
                             f"({err}); move {self.directory} away to start again from "
                             "step 0.") from None

    def on_epoch_end(self, epoch, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1:06d}.weights.h5"
        self.model.save_weights(self.directory / name, overwrite=True)
        _sync(self.directory / name)
        state = {"epoch": epoch + 1, "weights": name}
        staged = self.directory / (BACKUP_STATE + ".tmp")
        staged.write_text(json.dumps(state))
        _sync(staged)
        os.replace(staged, self.directory / BACKUP_STATE)
        self.state = state
        for old in self.directory.glob("*.weights.h5"):
            if old.name != name:
                old.unlink()

    def on_train_end(self, logs=None):
        shutil.rmtree(self.directory, ignore_errors=True)


def _sync(path):
    with open(path, "rb") as file:
        os.fsync(file.fileno())
