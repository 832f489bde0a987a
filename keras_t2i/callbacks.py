"""Training callbacks: the fixed sample grid, checkpoints every N steps, a step budget, and
the evaluation metrics during training.

The step of a GAN is its generator optimizer's ``iterations`` (one G update per batch), so
logs, samples and checkpoints line up across resumes.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_t2i import _backend  # noqa: F401


def gan_step(model) -> int:
    return int(model.g_optimizer.iterations.numpy())


def image_grid(images: np.ndarray, rows: int) -> np.ndarray:
    """uint8 (rows·cols, H, W, 3) → one uint8 (rows·H, cols·W, 3) image, row-major."""
    n, h, w, c = images.shape
    cols = n // rows
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(
        rows * h, cols * w, c)


class SampleGrid(keras.callbacks.Callback):
    """Generates a fixed grid — fixed captions × fixed noise seeds — and logs it.

    Each time it runs, it writes the grid (rows: seeds, columns: captions) to TensorBoard as
    the image summary ``samples/grid`` and as ``samples_dir/step_NNNNNNN.png``; the captions go
    to TensorBoard as text once, at the start.

    Args:
        log_dir: str. TensorBoard directory; summaries go to ``log_dir/samples``.
        captions: list of str. One column each.
        seeds: list of int. One row each. Defaults to [0, 1, 2, 3].
        every_n_steps: int. Also runs at the start and at the end of training. Defaults to 100.
        samples_dir: str. Where the PNGs go. Defaults to None (no PNGs).
    """

    def __init__(self, log_dir, captions, seeds=(0, 1, 2, 3), every_n_steps=100,
                 samples_dir=None):
        super().__init__()
        if not captions:
            raise ValueError("SampleGrid needs at least one caption.")
        self.captions = list(captions)
        self.seeds = [int(s) for s in seeds]
        self.every_n_steps = int(every_n_steps)
        self.samples_dir = Path(samples_dir) if samples_dir else None
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "samples"))
        self._last = None

    def grid(self) -> np.ndarray:
        caption_list = [c for _ in self.seeds for c in self.captions]
        seed_list = [1000 * s + i for s in self.seeds for i in range(len(self.captions))]
        images = np.concatenate([
            self.model.generate(caption_list[i:i + self.model.max_batch],
                                seeds=seed_list[i:i + self.model.max_batch])
            for i in range(0, len(caption_list), self.model.max_batch)])
        return image_grid(images, rows=len(self.seeds))

    def write(self):
        step = gan_step(self.model)
        if step == self._last:
            return
        self._last = step
        grid = self.grid()
        with self.writer.as_default():
            tf.summary.image("samples/grid", grid[None], step=step)
        self.writer.flush()
        if self.samples_dir is not None:
            self.samples_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(grid).save(self.samples_dir / f"step_{step:07d}.png")

    def on_train_begin(self, logs=None):
        table = "| column | caption |\n|---|---|\n" + "\n".join(
            f"| {i} | {c} |" for i, c in enumerate(self.captions))
        with self.writer.as_default():
            tf.summary.text("samples/captions", table, step=gan_step(self.model))
        self.write()

    def on_train_batch_end(self, batch, logs=None):
        if gan_step(self.model) % self.every_n_steps == 0:
            self.write()

    def on_train_end(self, logs=None):
        self.write()


class CheckpointEvery(keras.callbacks.Callback):
    """Saves a ``tf.train.CheckpointManager`` every N steps and at the end of training.

    Args:
        manager: tf.train.CheckpointManager over the GAN's state (see ``train.gan_checkpoint``).
        every_n_steps: int.
    """

    def __init__(self, manager, every_n_steps):
        super().__init__()
        self.manager = manager
        self.every_n_steps = int(every_n_steps)
        self._saved_step = None

    def save(self):
        step = gan_step(self.model)
        if step != self._saved_step:
            self.manager.save(checkpoint_number=step)
            self._saved_step = step

    def on_train_batch_end(self, batch, logs=None):
        if gan_step(self.model) % self.every_n_steps == 0:
            self.save()

    def on_train_end(self, logs=None):
        self.save()


class StopAtStep(keras.callbacks.Callback):
    """Stops ``fit`` once the GAN has made ``steps`` generator updates in all."""

    def __init__(self, steps):
        super().__init__()
        self.steps = int(steps)

    def on_train_batch_end(self, batch, logs=None):
        if gan_step(self.model) >= self.steps:
            self.model.stop_training = True


class Evaluate(keras.callbacks.Callback):
    """Runs ``keras-t2i evaluate``'s metrics on the model every N epochs.

    It evaluates what ``model.generate`` uses (the EMA generator when there is one) and writes
    each metric as the TensorBoard scalar ``eval/<name>`` at the GAN step; ``history`` keeps
    ``(step, metrics)`` of every evaluation.

    Args:
        log_dir: str. TensorBoard directory; scalars go to ``log_dir/eval``.
        every_n_epochs: int. Defaults to 1.
        num_images: int. Test captions per evaluation (at least 200). Defaults to 1000.
        max_objects: int. Objects per Shapes test scene (the training data's). Defaults to
            the Shapes default.
        damsm_dir: str. DAMSM encoders for R-precision; None leaves it out.
        diversity_captions: int. Captions for diversity; 0 skips it. Defaults to 50.
        seed: int. First noise seed. Defaults to 0.
        data: str. ``"shapes"`` (the oracle's metrics, the default), ``"cub"`` or ``"coco"``
            (InceptionV3 metrics; then ``data_dir`` and ``inception_weights`` are required).
        data_dir: str. The CUB/COCO folder.
        inception_weights: str. Path of Keras' InceptionV3 ImageNet weights file.

    Example:
    >>> gan.fit(data, epochs=10, callbacks=[kt.callbacks.Evaluate("runs/x/logs", 5,
    ...                                                            max_objects=1)])
    """

    def __init__(self, log_dir, every_n_epochs=1, num_images=1000, max_objects=None,
                 damsm_dir=None, diversity_captions=50, seed=0, data="shapes", data_dir=None,
                 inception_weights=None):
        super().__init__()
        from keras_t2i.evaluate import MIN_IMAGES

        if int(num_images) < MIN_IMAGES:
            raise ValueError(f"Evaluate needs num_images >= {MIN_IMAGES}, got {num_images}")
        if data != "shapes" and (data_dir is None or inception_weights is None):
            raise ValueError(f"Evaluate on {data!r} needs data_dir= and inception_weights= "
                             "(the test split and Keras' InceptionV3 ImageNet weights file).")
        self.log_dir = str(log_dir)
        self.every_n_epochs = int(every_n_epochs)
        self.data = data
        self.options = dict(num_images=int(num_images), damsm_dir=damsm_dir,
                            diversity_captions=int(diversity_captions), seed=int(seed))
        if data == "shapes":
            self.options["max_objects"] = max_objects
        else:
            self.options.update(data=data, data_dir=data_dir)
        self.inception_weights = inception_weights
        self.history = []
        self._extractor = None  # the oracle or InceptionV3, built at the first evaluation

    def evaluate(self):
        from keras_t2i import evaluate as kt_evaluate

        step = gan_step(self.model)
        generator = kt_evaluate.Generator.from_model(self.model)
        if self.data == "shapes":
            from keras_t2i.metrics.shapes_oracle import load_oracle

            if self._extractor is None:
                self._extractor = load_oracle()
            metrics = kt_evaluate.evaluate_shapes(generator, oracle=self._extractor,
                                                  **self.options)
        else:
            from keras_t2i.metrics.inception import InceptionV3Features

            if self._extractor is None:
                self._extractor = InceptionV3Features(self.inception_weights)
            metrics = kt_evaluate.evaluate_dataset(generator, inception_weights=self._extractor,
                                                   **self.options)
        kt_evaluate.write_scalars(self.log_dir, metrics, step)
        self.history.append((step, metrics))
        return metrics

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            self.evaluate()
