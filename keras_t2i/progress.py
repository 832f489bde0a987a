"""What a long command shows while it works: numbered phases (``[2/3] training DF-GAN …``), one
progress line over a training budget (``StepProgress``, a Keras callback) and progress over
the items of a phase (``Progress``, for evaluation's loops). Lines go to standard output; on a
terminal they are redrawn in place, in a log file they are printed at intervals.
"""

from __future__ import annotations

import sys
import time

import keras

from keras_t2i import _backend  # noqa: F401


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Phases:
    """Numbered announcements of a command's phases: ``[2/3] training DFGAN (…)``.

    Args:
        names: list of str, one per phase the command will run (only their number is shown;
            empty names are left out, for phases that do not apply).
        stream: file. Defaults to ``sys.stdout``.
        enabled: bool. False prints nothing (a library call that runs quietly).
    """

    def __init__(self, names, stream=None, enabled=True):
        self.names = [n for n in names if n]
        self.done = 0
        self.stream = stream
        self.enabled = enabled

    def start(self, text):
        self.done += 1
        if not self.enabled:
            return
        stream = self.stream or sys.stdout
        stream.write(f"[{self.done}/{len(self.names)}] {text}\n")
        stream.flush()


class _Line:
    """A status line: redrawn in place on a terminal at most every ``interval`` seconds,
    printed every ``log_interval`` seconds otherwise, and always when final."""

    def __init__(self, stream=None, interval=0.5, log_interval=30.0, enabled=True):
        self.stream = stream
        self.interval = float(interval)
        self.log_interval = float(log_interval)
        self.enabled = enabled
        self._drawn = 0.0

    def draw(self, text, final=False, now=None):
        if not self.enabled:
            return
        stream = self.stream or sys.stdout
        tty = stream.isatty()
        now = time.time() if now is None else now
        if not final and now - self._drawn < (self.interval if tty else self.log_interval):
            return
        self._drawn = now
        if tty:
            stream.write("\r" + text + "\033[K" + ("\n" if final else ""))
        else:
            stream.write(text + "\n")
        stream.flush()


def _eta(done, total, first, now) -> str:
    """", ETA m:ss" from the rate since ``first`` = (done, time) (after the first item, which
    often pays for tracing), or "" when it cannot be estimated yet."""
    if first is None or done <= first[0] or done >= total:
        return ""
    rate = (now - first[1]) / (done - first[0])
    return f", ETA {_duration(rate * (total - done))}"


class StepProgress(keras.callbacks.Callback):
    """One progress line over a whole step budget — steps done, percentage, elapsed time, ETA
    and some losses — in place of ``fit``'s per-epoch bars (run ``fit`` with ``verbose=0``).

    The step is the model's own count (a GAN's generator updates, else its optimizer's
    iterations), so a resumed run continues the count, and the ETA is measured from the
    second step on (the first one traces the graph).

    Args:
        total: int. The step the run ends at.
        show: tuple of str. The logged values to show (all are in TensorBoard). Defaults to
            all of them.
        stream: file. Defaults to ``sys.stdout``.
        interval, log_interval: float. Seconds between redraws on a terminal (0.5) and
            between lines in a log file (30).
    """

    def __init__(self, total, show=None, stream=None, interval=0.5, log_interval=30.0):
        super().__init__()
        self.total = int(total)
        self.show = tuple(show) if show is not None else None
        self.status = _Line(stream, interval, log_interval)
        self._started = time.time()
        self._first = None
        self._logs = {}

    def _step(self) -> int:
        optimizer = getattr(self.model, "g_optimizer", None) or self.model.optimizer
        return int(optimizer.iterations.numpy())

    def line(self, step, logs, now) -> str:
        width = len(f"{self.total:,}")
        text = (f"  step {step:>{width},}/{self.total:,} {100 * step / self.total:3.0f}%  "
                f"{_duration(now - self._started)} elapsed"
                + _eta(step, self.total, self._first, now))
        values = {k: v for k, v in (logs or {}).items() if self.show is None or k in self.show}
        if values:
            text += "  " + " ".join(f"{k} {float(v):.4g}" for k, v in values.items())
        return text

    def on_train_begin(self, logs=None):
        self._started, self._first, self._logs = time.time(), None, {}

    def on_train_batch_end(self, batch, logs=None):
        now, step = time.time(), self._step()
        self._logs = logs or {}
        if self._first is None:
            self._first = (step, now)
        self.status.draw(self.line(step, self._logs, now), now=now)

    def on_train_end(self, logs=None):
        self.status.draw(self.line(self._step(), self._logs, time.time()), final=True)


class Progress:
    """Progress over the items of one phase of a command.

    Example:
    >>> with Progress("generating images", total=1000) as progress:
    ...     for batch in batches:
    ...         progress.advance(len(batch))
    (prints "  generating images: 1,000/1,000 100%  0:41" when done)
    """

    def __init__(self, title, total, stream=None, interval=0.5, log_interval=30.0,
                 enabled=True):
        self.title = title
        self.total = max(int(total), 1)
        self.done = 0
        self.status = _Line(stream, interval, log_interval, enabled)
        self._started = time.time()
        self._first = None

    def line(self, now) -> str:
        return (f"  {self.title}: {self.done:,}/{self.total:,} "
                f"{100 * self.done / self.total:3.0f}%  {_duration(now - self._started)}"
                + _eta(self.done, self.total, self._first, now))

    def advance(self, count=1):
        now = time.time()
        self.done += int(count)
        if self._first is None:  # the rate is measured from the end of the first advance
            self._first = (self.done, now)
        self.status.draw(self.line(now), now=now)

    def __enter__(self):
        self._started = time.time()
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self.done:  # nothing to report when the phase had no items
            self.status.draw(self.line(time.time()), final=True)
        return False
