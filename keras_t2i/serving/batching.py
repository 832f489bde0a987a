"""Server-side request batching for ``keras-t2i serve`` (``--enable-batching``), with TF
Serving's semantics and its batching parameters file.

TF Serving's ``--enable_batching`` wraps each model in a BatchingSession over a
SharedBatchScheduler (``tensorflow_serving/batching/``): requests for the same signature that
arrive close together are concatenated along their 0th dimension into one model run, and the
outputs are split back. What this module keeps of it:

- ``max_batch_size``: a batch holds at most this many rows; a request that does not fit in the
  open batch closes it and opens the next. A request larger than it is refused.
- ``batch_timeout_micros``: a batch runs when it is full, or once its first request has waited
  this long, as soon as a batch thread is free.
- ``num_batch_threads``: batches running at once.
- ``max_enqueued_batches``: batches waiting per queue (open or full, not running); a request
  that would need one more is answered UNAVAILABLE, as TF Serving answers "The batch
  scheduling queue to which this task was submitted is full".
- ``allowed_batch_sizes``: a batch is padded up to the smallest allowed size that holds it,
  with copies of the first row of its last request (what BatchingSession pads with; the rows
  are dropped from the outputs). The last entry must equal ``max_batch_size``.

Requests are batched per model version, signature and set of requested outputs (TF Serving
batches per tensor signature). A request whose deadline passes while it waits is answered
DEADLINE_EXCEEDED and never runs. One departure, for isolation: when a merged run fails with
INVALID_ARGUMENT (a caption the model refuses), each request of the batch is run alone, so
only the request at fault gets the error; TF Serving fails the whole batch.

The parameters file is TF Serving's ``BatchingParameters`` text proto
(``session_bundle_config.proto``); a field that this server does not read is an error naming
it, never ignored.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    text_format,
    wrappers_pb2,
)

log = logging.getLogger("keras_t2i.serve")


def _parameters_message():
    """The ``BatchingParameters`` message class, built from its fields (the proto ships with
    TF Serving's sources, not with the ``tensorflow-serving-api`` wheel)."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(descriptor_pb2.FileDescriptorProto.FromString(
        wrappers_pb2.DESCRIPTOR.serialized_pb).SerializeToString())
    proto = descriptor_pb2.FileDescriptorProto(
        name="keras_t2i/batching_parameters.proto", package="tensorflow.serving",
        syntax="proto3", dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for number, (name, wrapper) in enumerate(
            (("max_batch_size", "Int64Value"), ("batch_timeout_micros", "Int64Value"),
             ("max_enqueued_batches", "Int64Value"), ("num_batch_threads", "Int64Value"),
             ("thread_pool_name", "StringValue")), start=1):
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE,
                          label=field.LABEL_OPTIONAL, type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, type=field.TYPE_INT64,
                      label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=field.TYPE_BOOL,
                      label=field.LABEL_OPTIONAL)
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """TF Serving's batching parameters; the defaults are its scheduler's when a field is
    left out (SharedBatchScheduler: batches of at most 1000 rows, no timeout, 10 enqueued
    batches, one thread per core).

    Args:
        max_batch_size: int. Rows per batch. Defaults to 1000.
        batch_timeout_micros: int. How long a batch's first request waits for others.
            Defaults to 0.
        max_enqueued_batches: int. Batches waiting to run. Defaults to 10.
        num_batch_threads: int. Batches running at once. Defaults to the number of cores.
        thread_pool_name: str. Names the batch threads. Defaults to ``"batch_threads"``.
        allowed_batch_sizes: tuple of int. Sizes batches are padded up to, increasing, the
            last equal to ``max_batch_size``. Defaults to none (no padding).
        pad_variable_length_inputs: bool. Accepted for the file's sake; the signatures'
            inputs are vectors (one caption, one seed per row), with nothing to pad.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    thread_pool_name: str = "batch_threads"
    allowed_batch_sizes: tuple = ()
    pad_variable_length_inputs: bool = False

    def __post_init__(self):
        for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"batching: {name} must be at least 1, got "
                                 f"{getattr(self, name)}")
        if self.batch_timeout_micros < 0:
            raise ValueError("batching: batch_timeout_micros must be 0 or more, got "
                             f"{self.batch_timeout_micros}")
        sizes = tuple(int(s) for s in self.allowed_batch_sizes)
        object.__setattr__(self, "allowed_batch_sizes", sizes)
        if sizes:
            if any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[0] < 1:
                raise ValueError("batching: allowed_batch_sizes must be positive and "
                                 f"increasing, got {list(sizes)}")
            if sizes[-1] != self.max_batch_size:
                raise ValueError("batching: the last entry of allowed_batch_sizes must equal "
                                 f"max_batch_size ({self.max_batch_size}), got {sizes[-1]}")

    @classmethod
    def from_text(cls, text, source="batching parameters"):
        """Parses a ``BatchingParameters`` text proto (TF Serving's
        ``--batching_parameters_file``)."""
        message = _parameters_message()()
        try:
            text_format.Parse(text, message)
        except text_format.ParseError as err:
            raise ValueError(f"{source} is not a valid TF Serving BatchingParameters text "
                             f"proto (the fields this server reads: {', '.join(FIELDS)}): "
                             f"{err}") from None
        given = {}
        for name in FIELDS:
            if name == "allowed_batch_sizes":
                if message.allowed_batch_sizes:
                    given[name] = tuple(message.allowed_batch_sizes)
            elif name == "pad_variable_length_inputs":
                given[name] = message.pad_variable_length_inputs
            elif message.HasField(name):
                given[name] = getattr(message, name).value
        return cls(**given)

    @classmethod
    def from_file(cls, path):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Batching parameters file {path} does not exist.")
        return cls.from_text(path.read_text(), source=str(path))

    def padded_size(self, rows: int) -> int:
        """The size a batch of ``rows`` runs at: the smallest allowed size that holds it."""
        return next((s for s in self.allowed_batch_sizes if s >= rows), rows)


FIELDS = tuple(f.name for f in dataclasses.fields(BatchingParameters))


class RequestError(Exception):
    """A request answered with an error: the gRPC status code and the message sent back
    (the server's and the batcher's alike)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class _Task:
    __slots__ = ("inputs", "rows", "deadline", "enqueued", "done", "outputs", "error")

    def __init__(self, inputs, rows, deadline):
        self.inputs, self.rows, self.deadline = inputs, rows, deadline
        self.enqueued = time.monotonic()
        self.done = threading.Event()
        self.outputs = None
        self.error = None


class _Batch:
    __slots__ = ("run", "tasks", "rows", "closed")

    def __init__(self, run):
        self.run, self.tasks, self.rows, self.closed = run, [], 0, False


class Batcher:
    """Merges concurrent requests into batched model runs (see the module doc).

    ``submit(key, run, inputs, rows, deadline)`` blocks until the request's outputs are
    ready and returns them: ``key`` names the queue (model version, signature, outputs),
    ``run`` maps a dict of batched NumPy inputs to a dict of batched outputs, ``inputs`` are the
    request's arrays, each with ``rows`` rows, and ``deadline`` a ``time.monotonic()`` time.
    """

    def __init__(self, parameters: BatchingParameters):
        self.parameters = parameters
        self._lock = threading.Condition()
        self._queues: OrderedDict = OrderedDict()  # key -> list of waiting _Batch
        self._stopped = False
        # {requests merged: model runs} so far (a run of one request counts as 1).
        self.merged = Counter()
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"{parameters.thread_pool_name}-{i}")
                         for i in range(parameters.num_batch_threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, key, run, inputs: dict, rows: int, deadline: float, max_rows=None):
        """The outputs of one request (a dict of arrays with ``rows`` rows each), run in a
        batch of at most ``max_rows`` rows (``max_batch_size`` or the model's own limit,
        whichever is smaller)."""
        limit = min(self.parameters.max_batch_size, max_rows or self.parameters.max_batch_size)
        if rows > limit:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                                f"Task size {rows} is larger than maximum batch size {limit}")
        task = _Task(inputs, rows, deadline)
        with self._lock:
            if self._stopped:
                raise RequestError(grpc.StatusCode.UNAVAILABLE, "The server is shutting down.")
            batches = self._queues.get(key, [])
            last = batches[-1] if batches else None
            if last is None or last.closed or last.rows + rows > limit:
                if last is not None:
                    last.closed = True
                if len(batches) >= self.parameters.max_enqueued_batches:
                    raise RequestError(grpc.StatusCode.UNAVAILABLE,
                                        "The batch scheduling queue to which this task was "
                                        "submitted is full")
                last = _Batch(run)
                batches.append(last)
                self._queues[key] = batches
            last.tasks.append(task)
            last.rows += rows
            if last.rows == limit:
                last.closed = True
            self._lock.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def stop(self):
        """Runs what is queued, then ends the batch threads."""
        with self._lock:
            self._stopped = True
            for batches in self._queues.values():
                for batch in batches:
                    batch.closed = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join()

    # -- the batch threads ------------------------------------------------------------------
    def _next(self):
        """The batch to run now (closed, or its first request waited the timeout), the
        oldest first, else None and the seconds until one may be ready."""
        now = time.monotonic()
        timeout = self.parameters.batch_timeout_micros / 1e6
        best, wait = None, None
        for key, batches in self._queues.items():
            if not batches:
                continue
            batch = batches[0]
            ready_at = batch.tasks[0].enqueued + (0.0 if batch.closed else timeout)
            if ready_at <= now:
                if best is None or batch.tasks[0].enqueued < best[1].tasks[0].enqueued:
                    best = (key, batch)
            else:
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
        if best is None:
            return None, wait
        key, batch = best
        self._queues[key].pop(0)
        if not self._queues[key]:
            del self._queues[key]
        batch.closed = True
        return batch, None

    def _work(self):
        while True:
            with self._lock:
                while True:
                    batch, wait = self._next()
                    if batch is not None:
                        break
                    if self._stopped and not self._queues:
                        return
                    self._lock.wait(wait)
            self._process(batch)

    def _process(self, batch: _Batch):
        now = time.monotonic()
        live = []
        for task in batch.tasks:
            if task.deadline < now:
                task.error = RequestError(grpc.StatusCode.DEADLINE_EXCEEDED,
                                           "Deadline exceeded while waiting in the batching "
                                           "queue.")
                task.done.set()
            else:
                live.append(task)
        if not live:
            return
        try:
            self._run(batch.run, live)
        except Exception as err:  # the tasks get it; the batch thread lives on
            for task in live:
                if not task.done.is_set():
                    task.error = err
                    task.done.set()

    def _run(self, run, tasks):
        rows = sum(t.rows for t in tasks)
        padding = self.parameters.padded_size(rows) - rows
        names = list(tasks[0].inputs)
        merged = {}
        for name in names:
            parts = [np.asarray(t.inputs[name]) for t in tasks]
            if padding:
                parts.append(np.repeat(parts[-1][:1], padding, axis=0))
            merged[name] = np.concatenate(parts, axis=0)
        try:
            outputs = run(merged)
        except RequestError as err:
            if err.code != grpc.StatusCode.INVALID_ARGUMENT or len(tasks) == 1:
                raise
            for task in tasks:  # one bad request must not fail the others
                try:
                    self._run(run, [task])
                except Exception as alone:
                    task.error = alone
                    task.done.set()
            return
        with self._lock:
            self.merged[len(tasks)] += 1
        ends = np.cumsum([t.rows for t in tasks])
        for task, end in zip(tasks, ends):
            task.outputs = {alias: value[end - task.rows:end] for alias, value in outputs.items()}
            task.done.set()
