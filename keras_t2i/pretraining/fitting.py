"""What every pretraining run does around ``fit``: the budget in steps or epochs, TensorBoard,
one progress line, an optional backup that a resumed run continues from, and the BatchNorm
recalibration of a CNN trained from scratch."""

from __future__ import annotations

import math
import time

import keras

from keras_t2i.progress import StepProgress


def fit_with_budget(model, train, out, *, steps=None, epochs=None, show=("loss",),
                    backup_every=None):
    """Trains ``model`` on ``train`` for ``steps`` (over the repeated dataset) or ``epochs``,
    logging to ``out/logs``. With ``backup_every``, the step budget runs as epochs of that many
    steps and ``keras.callbacks.BackupAndRestore`` keeps ``out/backup`` after each, so a killed
    run started again continues from the last one (and a finished run deletes it). Returns
    (fit's history, seconds)."""
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
        callbacks.insert(0, keras.callbacks.BackupAndRestore(str(out / "backup")))
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
