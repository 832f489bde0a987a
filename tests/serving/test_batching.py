"""Request batching in `keras-t2i serve` (``--enable-batching``): TF Serving's parameters file,
the batcher's merging, padding, queue limit, deadlines and isolation on a model-free run
function, then the real client against a batching server: every caption's image is the one it
gets unbatched."""

import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from fixtures import concurrent_generate, raw_predict

from keras_t2i.serving.batching import Batcher, BatchingParameters, RequestError
from keras_t2i.serving.client import Client
from keras_t2i.serving.server import ModelRegistry, Service, build_server

SHIPPED = "serving/batching_parameters.txt"


def test_the_shipped_parameters_file_parses(request):
    path = request.config.rootpath / SHIPPED
    parameters = BatchingParameters.from_file(path)
    assert (parameters.max_batch_size, parameters.batch_timeout_micros,
            parameters.max_enqueued_batches, parameters.num_batch_threads) == (64, 5000, 100, 4)
    # Padded to powers of two: odd batch sizes moved single pixels (the file says why).
    assert parameters.allowed_batch_sizes == (1, 2, 4, 8, 16, 32, 64)
    assert BatchingParameters().max_batch_size == 1000  # TF Serving's default


@pytest.mark.parametrize("text, message", [
    ("max_batch_size { value: 8 } enable_magic { value: true }", "no field named"),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 2 allowed_batch_sizes: 4",
     "must equal max_batch_size"),
    ("max_batch_size { value: 8 } allowed_batch_sizes: 8 allowed_batch_sizes: 8",
     "increasing"),
    ("num_batch_threads { value: 0 }", "num_batch_threads must be at least 1"),
    ("batch_timeout_micros { value: -1 }", "batch_timeout_micros"),
])
def test_bad_parameters_are_refused_with_the_field(text, message):
    with pytest.raises(ValueError, match=message):
        BatchingParameters.from_text(text)


class Recorder:
    """A run function: doubles ``x``, records each call's batch size, optionally waits."""

    def __init__(self, delay=0.0, refuse=None):
        self.sizes, self.delay, self.refuse = [], delay, refuse

    def __call__(self, merged):
        self.sizes.append(len(merged["x"]))
        time.sleep(self.delay)
        if self.refuse is not None and self.refuse in merged["x"]:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"refused {self.refuse}")
        return {"y": 2 * merged["x"]}


def submit_all(batcher, run, rows_each, deadline=None, key="k"):
    """Submits requests from concurrent threads; returns their results or errors, in order."""
    results = [None] * len(rows_each)
    start = sum(rows_each[:0])

    def one(i, first):
        x = np.arange(first, first + rows_each[i], dtype="float32")
        try:
            results[i] = batcher.submit(key, run, {"x": x}, len(x),
                                        deadline or time.monotonic() + 30)["y"]
        except RequestError as err:
            results[i] = err

    threads, first = [], start
    for i, rows in enumerate(rows_each):
        threads.append(threading.Thread(target=one, args=(i, first)))
        first += rows
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_requests_are_merged_and_split_back():
    batcher = Batcher(BatchingParameters(max_batch_size=8, batch_timeout_micros=300_000,
                                         num_batch_threads=1))
    run = Recorder()
    results = submit_all(batcher, run, [1, 2, 1, 3])  # 7 rows: one batch within the timeout
    batcher.stop()
    first = 0
    for rows, y in zip([1, 2, 1, 3], results):
        np.testing.assert_array_equal(y, 2 * np.arange(first, first + rows))
        first += rows
    assert run.sizes == [7] and batcher.merged == {4: 1}


def test_a_full_batch_runs_at_once_and_the_next_request_opens_another():
    batcher = Batcher(BatchingParameters(max_batch_size=4, batch_timeout_micros=10_000_000,
                                         num_batch_threads=1))
    run = Recorder()
    start = time.monotonic()
    results = submit_all(batcher, run, [2, 2])  # full: no waiting for the 10 s timeout
    assert time.monotonic() - start < 5 and run.sizes == [4]
    assert all(isinstance(r, np.ndarray) for r in results)
    with pytest.raises(RequestError, match="larger than maximum batch size 4") as err:
        batcher.submit("k", run, {"x": np.zeros(5, "float32")}, 5, time.monotonic() + 5)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    batcher.stop()


def test_batches_are_padded_to_the_allowed_sizes_with_the_first_row():
    batcher = Batcher(BatchingParameters(max_batch_size=8, allowed_batch_sizes=(2, 4, 8),
                                         batch_timeout_micros=200_000, num_batch_threads=1))
    seen = []

    def run(merged):
        seen.append(merged["x"].copy())
        return {"y": 2 * merged["x"]}

    results = submit_all(batcher, run, [2, 1])  # 3 rows → padded to 4
    batcher.stop()
    assert [len(x) for x in seen] == [4]
    np.testing.assert_array_equal(seen[0][3], seen[0][2])  # the last request's first row
    assert [len(r) for r in results] == [2, 1]  # the padding is dropped


def test_a_full_queue_answers_unavailable_and_a_late_request_deadline_exceeded():
    batcher = Batcher(BatchingParameters(max_batch_size=1, max_enqueued_batches=1,
                                         num_batch_threads=1))
    run = Recorder(delay=0.5)
    running = []
    first = threading.Thread(target=lambda: running.extend(submit_all(batcher, run, [1])))
    first.start()
    waited = time.monotonic() + 10
    while not run.sizes and time.monotonic() < waited:  # until the thread runs the first
        time.sleep(0.01)
    results = submit_all(batcher, run, [1, 1, 1])  # then one waits, the rest are refused
    first.join()
    codes = sorted(r.code.name if isinstance(r, RequestError) else "OK"
                   for r in running + results)
    assert codes == ["OK", "OK", "UNAVAILABLE", "UNAVAILABLE"]
    batcher.stop()
    batcher = Batcher(BatchingParameters(max_batch_size=1, num_batch_threads=1))
    # One runs for 0.5 s; the other's deadline passes while it waits for the thread.
    late = submit_all(batcher, Recorder(delay=0.5), [1, 1], deadline=time.monotonic() + 0.2)
    batcher.stop()
    assert any(isinstance(r, RequestError) and r.code == grpc.StatusCode.DEADLINE_EXCEEDED
               for r in late)


def test_a_refused_request_fails_alone():
    batcher = Batcher(BatchingParameters(max_batch_size=8, batch_timeout_micros=300_000,
                                         num_batch_threads=1))
    run = Recorder(refuse=2.0)  # the third row, in the second request
    results = submit_all(batcher, run, [2, 1, 2])
    batcher.stop()
    assert isinstance(results[1], RequestError) and "refused" in results[1].message
    np.testing.assert_array_equal(results[0], [0, 2])
    np.testing.assert_array_equal(results[2], [6, 8])
    assert run.sizes[0] == 5 and sorted(run.sizes[1:]) == [1, 2, 2]  # merged, then alone


def test_the_batching_server_gives_each_caption_its_unbatched_image(exported):
    registry = ModelRegistry({"tiny": str(exported["base"])})
    service = Service(registry, batching=BatchingParameters(
        max_batch_size=8, allowed_batch_sizes=(4, 8), batch_timeout_micros=100_000,
        num_batch_threads=2))
    server, port = build_server(service, port=0)
    try:
        done, failures = concurrent_generate(f"127.0.0.1:{port}", exported["images"], 6, 3)
        with Client(f"127.0.0.1:{port}", "tiny") as client:  # an empty caption fails alone
            with pytest.raises(Exception, match="empty"):
                client.generate([""], [0])
        inputs = {"captions": tf.make_tensor_proto(np.array([], dtype=object), tf.string),
                  "seeds": tf.make_tensor_proto(np.array([], np.int64))}
        with pytest.raises(grpc.RpcError, match="captions is empty"):  # as unbatched
            raw_predict(f"127.0.0.1:{port}", inputs)
    finally:
        server.stop(None)
        service.stop()
    assert not failures and done == 18
    assert max(service.batcher.merged) > 1  # some requests did share a run


def test_the_serve_command_reads_the_file_with_enable_batching_only(exported, capsys, request):
    from keras_t2i import cli

    path = str(request.config.rootpath / SHIPPED)
    assert cli.main(["serve", "--model-base-path", str(exported["base"]),
                     "--batching-parameters-file", path]) == 1
    assert "read with --enable-batching only" in capsys.readouterr().err
