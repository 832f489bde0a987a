"""``kt.callbacks``: the callbacks of ``fit`` in one namespace (the public API; they live in
``keras_t2i.training.callbacks`` and, for the metrics, ``keras_t2i.evaluation.callback``)."""

from keras_t2i.evaluation.callback import Evaluate
from keras_t2i.grids import image_grid, labelled_grid
from keras_t2i.progress import StepProgress
from keras_t2i.training.callbacks import (
    CheckpointEvery,
    SampleGrid,
    ScalarLogger,
    StopAtStep,
    gan_step,
)

__all__ = ["CheckpointEvery", "Evaluate", "SampleGrid", "ScalarLogger", "StepProgress",
           "StopAtStep", "gan_step", "image_grid", "labelled_grid"]
