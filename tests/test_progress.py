"""Phases and progress lines: numbered phases, one line over a step budget with its ETA
(counted from the model's own step, so a resumed run continues the count), progress over a
phase's items; a log file gets whole lines."""

import io

import keras
import numpy as np

from keras_t2i.progress import Phases, Progress, StepProgress


def test_phases_are_numbered_and_skip_the_empty_ones():
    out = io.StringIO()
    phases = Phases(["pretrain", "", "train"], stream=out)
    phases.start("pretraining the DAMSM (800 steps)")
    phases.start("training DF-GAN (3,000 steps)")
    assert out.getvalue() == ("[1/2] pretraining the DAMSM (800 steps)\n"
                              "[2/2] training DF-GAN (3,000 steps)\n")
    quiet = io.StringIO()
    Phases(["a"], stream=quiet, enabled=False).start("x")
    assert quiet.getvalue() == ""


def test_step_progress_counts_the_models_steps_with_an_eta():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    out = io.StringIO()
    progress = StepProgress(total=12, show=("loss",), stream=out, log_interval=0.0)
    x, y = np.zeros((24, 2), "float32"), np.zeros((24, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[progress])  # steps 1..6
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[progress])  # steps 7..12
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  step  1/12   8%") and "loss" in lines[0]
    assert "ETA" not in lines[0] and "ETA" in lines[3]  # after the first step
    assert any(line.startswith("  step  7/12  58%") for line in lines)  # the count goes on
    assert lines[-1].startswith("  step 12/12 100%") and "ETA" not in lines[-1]


def test_progress_over_items():
    out = io.StringIO()
    with Progress("images", 100, stream=out, log_interval=0.0) as progress:
        for _ in range(4):
            progress.advance(25)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("  images: 25/100  25%")
    assert lines[-1].startswith("  images: 100/100 100%")
    empty = io.StringIO()
    with Progress("cached", 10, stream=empty):
        pass
    assert empty.getvalue() == ""  # a phase with nothing to do prints no line
