"""Training callbacks: the fixed sample grids, the losses as TensorBoard scalars, checkpoints
every N steps and a step budget (the progress line is ``keras_t2i.progress.StepProgress``, the
evaluation metrics during training ``keras_t2i.evaluation.callback.Evaluate``).

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
from keras_t2i.grids import colorize_masks, labelled_grid


def gan_step(model) -> int:
    return int(model.g_optimizer.iterations.numpy())


class SampleGrid(keras.callbacks.Callback):
    """Generates a fixed grid — fixed captions × fixed noise seeds — and logs it.

    Each time it runs, it draws the labelled grid (``keras_t2i.grids.labelled_grid``: a
    header with each column's caption, each row's seed, tiles of at least 128 pixels, one
    block per stage of a multi-stage generator) and writes that one picture to TensorBoard as
    the image summary ``samples/grid`` and to ``samples_dir/step_NNNNNNN.png``. Row r uses
    seed ``seeds[r]`` for every caption, as ``keras-t2i generate`` does. The captions also go
    to TensorBoard as text once, at the start; a model with a captioner (MirrorGAN) also logs
    what it reads in each final image (``samples/redescription``); a model that composes parts
    (MemoryGAN, MultiPartGAN) gets a second block under the images with its part masks, one
    colour per part (``keras_t2i.grids.colorize_masks``).

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

    def stages(self) -> list[np.ndarray]:
        """uint8 images of every stage (lowest resolution first), row-major (seed, caption)."""
        caption_list = [c for _ in self.seeds for c in self.captions]
        seed_list = [s for s in self.seeds for _ in self.captions]
        size = self.model.max_batch
        chunks = [self.model.generate_stages(caption_list[i:i + size], seeds=seed_list[i:i + size])
                  for i in range(0, len(caption_list), size)]
        return [np.concatenate(stage) for stage in zip(*chunks)]

    def masks(self) -> np.ndarray:
        """The part masks of the grid's images, colourised (uint8), row-major (seed,
        caption)."""
        caption_list = [c for _ in self.seeds for c in self.captions]
        seed_list = [s for s in self.seeds for _ in self.captions]
        size = self.model.max_batch
        return colorize_masks(np.concatenate([
            self.model.generate_masks(caption_list[i:i + size], seeds=seed_list[i:i + size])
            for i in range(0, len(caption_list), size)]))

    def grid(self, stages=None) -> np.ndarray:
        """The labelled picture (uint8 (H, W, 3)) that is logged and saved."""
        stages = self.stages() if stages is None else stages
        titles = None
        if hasattr(self.model, "generate_masks"):
            stages = [*stages, self.masks()]
            titles = ["images", "part masks (background dark, one colour per part)"]
        return labelled_grid(stages, self.captions, self.seeds, block_titles=titles,
                             title=f"{type(self.model).__name__}, step {gan_step(self.model):,}")

    def redescriptions(self, images) -> str:
        """A Markdown table of what the model's captioner (MirrorGAN's STREAM) reads in the
        grid's final images (uint8, row-major (seed, caption)), beside each caption."""
        read = self.model.captioner.describe(images.astype("float32") / 127.5 - 1.0).numpy()
        rows = [f"| {seed} | {caption} | {text.decode()} |"
                for (seed, caption), text in zip(
                    ((s, c) for s in self.seeds for c in self.captions), read)]
        return "| seed | caption | the captioner reads |\n|---|---|---|\n" + "\n".join(rows)

    def write(self):
        step = gan_step(self.model)
        if step == self._last:
            return
        self._last = step
        stages = self.stages()
        picture = self.grid(stages)
        with self.writer.as_default():
            tf.summary.image("samples/grid", picture[None], step=step)
            if getattr(self.model, "captioner", None) is not None:
                tf.summary.text("samples/redescription", self.redescriptions(stages[-1]),
                                step=step)
        self.writer.flush()
        if self.samples_dir is not None:
            self.samples_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(picture).save(self.samples_dir / f"step_{step:07d}.png")

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
        step = gan_step(self.model)
        if logs:
            self._last = (step, dict(logs))
            if step % self.every_n_steps == 0:
                self._write(step, logs)

    def on_train_end(self, logs=None):
        step, last = self._last
        if last and step % self.every_n_steps:
            self._write(step, last)
        self.writer.flush()


class CheckpointEvery(keras.callbacks.Callback):
    """Saves a ``tf.train.CheckpointManager`` every N steps and at the end of training.

    Args:
        manager: tf.train.CheckpointManager over the GAN's state
            (``training.checkpoint.gan_checkpoint``).
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

