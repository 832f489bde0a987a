"""What a request may ask of `keras-t2i serve`: sizes checked before decoding, a bounded and
deadline-aware worker pool, and REST errors that always come back as JSON."""

import json
import resource
import socket
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from fixtures import CAPTIONS, SEEDS, serve_process
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_t2i.serving.client import Client, ServingError
from keras_t2i.serving.limits import ServingLimits
from keras_t2i.serving.rest import build_rest_server
from keras_t2i.serving.server import (
    Admission,
    ModelRegistry,
    Service,
    _Abort,
    build_server,
)


def _declared(values, dtype, shape):
    """A TensorProto that declares ``shape`` but carries only ``values``."""
    proto = tf.make_tensor_proto(values, dtype=dtype)
    del proto.tensor_shape.dim[:]
    for size in shape:
        proto.tensor_shape.dim.add().size = size
    return proto


def _predict(target, inputs, name="tiny"):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    for key, proto in inputs.items():
        request.inputs[key].CopyFrom(proto)
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            stub.Predict(request, timeout=60)
            return "OK", ""
        except grpc.RpcError as err:
            return err.code().name, err.details()


def _rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _limit_memory():
    # Address space well above the server's own (~3 GB of mostly reserved virtual memory) and
    # far below this machine's: a regression that materialises a declared [10^9] tensor
    # (8 GB) fails inside the server instead of taking the machine down.
    limit = 6 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.slow
def test_a_few_byte_request_declaring_a_huge_tensor_costs_nothing(exported, tmp_path):
    with serve_process(exported["base"], tmp_path / "serve.log", rest=False,
                       preexec_fn=_limit_memory) as (server, target, _):
        client = Client(target, "tiny", retries=0)
        good = client.generate(CAPTIONS, SEEDS)
        before = _rss_mb(server.pid)
        captions = tf.make_tensor_proto(CAPTIONS[:1])
        attack = {"captions": captions, "seeds": _declared([1], tf.int64, [10 ** 9])}
        assert len(predict_pb2.PredictRequest(inputs=attack).SerializeToString()) < 100
        for size in (10 ** 9, 10 ** 8, 2 * 10 ** 7) * 7:
            code, details = _predict(target, {"captions": captions,
                                              "seeds": _declared([1], tf.int64, [size])})
            assert code == "INVALID_ARGUMENT", (code, details)
            assert f"input 'seeds' has {size} rows, over the batch limit" in details
        code, details = _predict(target, {"captions": _declared(CAPTIONS[:1], tf.string,
                                                                [10 ** 9]),
                                          "seeds": tf.make_tensor_proto([1], tf.int64)})
        assert code == "INVALID_ARGUMENT" and "over the batch limit" in details
        assert _rss_mb(server.pid) - before < 100  # flat: nothing was materialised
        assert server.poll() is None
        np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), good)


@pytest.fixture(scope="module")
def small_server(exported):
    """The tiny model behind small limits: 1 worker, 1 waiting request, 200-byte captions of
    at most 10 words, 64 KiB requests, a 1 s REST timeout and 3 REST connections."""
    limits = ServingLimits(max_workers=1, max_queue=1, max_caption_bytes=200,
                           max_caption_words=10, max_request_bytes=64 << 10, rest_timeout=1.0,
                           max_connections=3)
    service = Service(ModelRegistry({"tiny": str(exported["base"])}), limits)
    grpc_server, port = build_server(service, port=0)
    rest_server, rest_port = build_rest_server(service, port=0)
    yield {"target": f"127.0.0.1:{port}", "rest_port": rest_port, "service": service}
    rest_server.shutdown()
    rest_server.server_close()
    grpc_server.stop(None)


def test_captions_and_requests_over_the_limits_are_refused(small_server, exported):
    target = small_server["target"]
    client = Client(target, "tiny")
    cases = [
        (["x" * 201], "INVALID_ARGUMENT", "element 0 is 201 bytes; this server takes at most 200"),
        (["a " * 11], "INVALID_ARGUMENT", "element 0 has 11 words; this server takes at most 10"),
        (["a red circle", "é" * 101], "INVALID_ARGUMENT", "element 1 is 202 bytes"),
        (["x" * 150] * 500, "RESOURCE_EXHAUSTED", "Received message larger than max"),
    ]
    for captions, code, message in cases:
        with pytest.raises(ServingError) as err:
            client.generate(captions, list(range(len(captions))))
        assert err.value.code.name == code and message in err.value.details, str(err.value)
    for shape, message in [([-1], "declares a negative dimension"), ([1, 1], "must have rank 1")]:
        code, details = _predict(target, {"captions": tf.make_tensor_proto(CAPTIONS[:1]),
                                          "seeds": _declared([1], tf.int64, shape)})
        assert code == "INVALID_ARGUMENT" and message in details, details
    unknown = tf.make_tensor_proto([1], tf.int64)
    unknown.dtype = 999
    code, details = _predict(target, {"captions": tf.make_tensor_proto(CAPTIONS[:1]),
                                      "seeds": unknown})
    assert code == "INVALID_ARGUMENT" and "unknown dtype" in details
    np.testing.assert_array_equal(client.generate(CAPTIONS, SEEDS), exported["images"])


def test_admission_bounds_running_and_waiting_requests_and_honours_deadlines():
    admission = Admission(workers=1, queue=1)
    running, release = threading.Event(), threading.Event()
    outcomes = []

    def hold():
        with admission.slot(time.monotonic() + 60):
            running.set()
            release.wait(60)

    def wait_for_slot(seconds):
        try:
            with admission.slot(time.monotonic() + seconds):
                outcomes.append("ran")
        except _Abort as err:
            outcomes.append(err.code.name)

    holder = threading.Thread(target=hold)
    holder.start()
    assert running.wait(10)
    waiter = threading.Thread(target=wait_for_slot, args=(60,))
    waiter.start()
    while admission._waiting == 0:
        time.sleep(0.01)
    wait_for_slot(60)  # the queue (1) is full
    assert outcomes == ["RESOURCE_EXHAUSTED"]
    release.set()
    holder.join()
    waiter.join()
    assert outcomes == ["RESOURCE_EXHAUSTED", "ran"]
    release.clear()
    running.clear()
    holder = threading.Thread(target=hold)
    holder.start()
    assert running.wait(10)
    wait_for_slot(0.2)  # nothing frees up within its deadline
    assert outcomes[-1] == "DEADLINE_EXCEEDED"
    release.set()
    holder.join()
    with pytest.raises(_Abort, match="Deadline exceeded"):
        with admission.slot(time.monotonic() - 1):
            pass
    service = Service(None, ServingLimits(request_timeout=30))
    assert service.deadline(0.5) - time.monotonic() <= 0.5  # the client's deadline is sooner
    assert 29 < service.deadline() - time.monotonic() <= 30
    assert 29 < service.deadline(100) - time.monotonic() <= 30


def test_a_busy_server_answers_resource_exhausted_and_keeps_serving(small_server, exported):
    service = small_server["service"]
    model = service.registry.models["tiny"].current
    started, release = threading.Event(), threading.Event()
    real = model.signatures["serving_default"]

    def slow(**inputs):
        started.set()
        release.wait(60)
        return real(**inputs)

    results = []

    def call():
        try:
            Client(small_server["target"], "tiny", retries=0).generate(CAPTIONS[:1], [1])
            results.append("OK")
        except ServingError as err:
            results.append(err.code.name)

    model.signatures["serving_default"] = slow
    try:
        first = threading.Thread(target=call)
        first.start()
        assert started.wait(30)
        second = threading.Thread(target=call)  # waits in the queue
        second.start()
        while service.admission._waiting == 0:
            time.sleep(0.01)
        call()  # one too many: answered at once
        assert results == ["RESOURCE_EXHAUSTED"]
        body = json.dumps({"inputs": {"captions": CAPTIONS[:1], "seeds": [1]}}).encode()
        code, answer = _raw_http(small_server["rest_port"], _post("/v1/models/tiny:predict",
                                                                  body))
        assert code == 429 and "The server is busy" in answer["error"]  # REST shares the slots
        release.set()
        first.join()
        second.join()
        assert sorted(results) == ["OK", "OK", "RESOURCE_EXHAUSTED"]
    finally:
        release.set()
        model.signatures["serving_default"] = real
    np.testing.assert_array_equal(
        Client(small_server["target"], "tiny").generate(CAPTIONS, SEEDS), exported["images"])


def _raw_http(port, data: bytes, timeout=10.0):
    """Sends raw bytes on one connection; returns (status, JSON body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head, "the connection closed without an answer"
    return int(head.split(b" ")[1]), json.loads(body)


def _post(path, body: bytes, headers=None):
    headers = {"Content-Length": str(len(body)), **(headers or {})}
    lines = [f"POST {path} HTTP/1.1", "Host: test",
             *(f"{k}: {v}" for k, v in headers.items() if v is not None)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_every_rest_failure_gets_a_json_answer(small_server, exported):
    port = small_server["rest_port"]
    path = "/v1/models/tiny:predict"
    good = json.dumps({"inputs": {"captions": CAPTIONS[:1], "seeds": SEEDS[:1]}}).encode()
    cases = [
        (_post(path, b"{}", {"Content-Length": "2147483648"}), 413, "this server takes at most"),
        (_post(path, b"{}", {"Content-Length": "-1"}), 400, "Invalid Content-Length"),
        (_post(path, b"{}", {"Content-Length": "abc"}), 400, "Invalid Content-Length"),
        (_post(path, b"{}", {"Content-Length": None}), 411, "needs a Content-Length"),
        (_post(path, b"{}", {"Transfer-Encoding": "chunked"}), 411, "Chunked bodies"),
        (_post(path, json.dumps({"signature_name": 123, "inputs": {}}).encode()), 400,
         '"signature_name" must be a string'),
        (_post(path, json.dumps({"inputs": {"captions": ["a"], "seeds": [2 ** 70]}}).encode()),
         400, "Cannot read input 'seeds' as int64"),
        (_post(f"/v1/models/tiny/versions/{2 ** 64}:predict", good), 400,
         f"Failed to convert version: {2 ** 64} to numeric"),
        (_post(path, b'{"inputs": {"captions": ' + b"[" * 1000 + b"]" * 1000 + b"}}"), 400,
         "nested too deeply"),
        (_post(path, b'{"inputs": "\xff"}'), 400, "Invalid JSON body"),
        (_post(path, b'{"inputs": {"captions": [{"b64": 5}], "seeds": [1]}}'), 400,
         "Cannot read input 'captions'"),
        (_post(path, json.dumps({"inputs": {"captions": ["x" * 201], "seeds": [1]}}).encode()),
         400, "element 0 is 201 bytes"),
        (b"GARBAGE\r\n\r\n", 400, "Bad request"),
        (b"PUT /v1/models/tiny HTTP/1.1\r\n\r\n", 501, "Unsupported method"),
        (b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "URI Too Long"),
    ]
    for raw, status, message in cases:
        code, body = _raw_http(port, raw)
        assert code == status and message in body["error"], (raw[:80], code, body)
    code, body = _raw_http(port, _post(path, b"{}", {"Content-Length": "10"})[:-2] + b"{")
    assert code == 408 and "did not arrive whole" in body["error"]  # 3 of 10 bytes, then silence
    code, body = _raw_http(port, _post(path, good))
    np.testing.assert_array_equal(np.asarray(body["outputs"], np.uint8), exported["images"][:1])


def test_silent_and_slow_rest_clients_are_cut_off_and_connections_are_bounded(small_server):
    port = small_server["rest_port"]
    silent = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        time.sleep(0.2)  # the three are accepted: a fourth is refused at once
        code, body = _raw_http(port, b"GET /v1/models/tiny HTTP/1.1\r\n\r\n")
        assert code == 503 and "Too many connections (at most 3)" in body["error"]
        start = time.monotonic()
        for s in silent:
            answer = s.recv(4096)
            assert answer.startswith(b"HTTP/1.0 408"), answer
        assert time.monotonic() - start < 5
    finally:
        for s in silent:
            s.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        answer = b""
        for byte in b"GET /v1/models/tiny HTTP/1.1\r\nHost: x\r\n":  # one byte per 0.3 s
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            s.settimeout(0.3)
            try:
                answer = s.recv(4096)
                break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.0 408"), answer
    deadline = time.monotonic() + 10
    while True:  # the slots come back once the reaped connections' threads end
        code, body = _raw_http(port, b"GET /v1/models/tiny HTTP/1.1\r\n\r\n")
        if code != 503 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"


def test_limits_are_validated_and_every_one_is_a_serve_flag():
    from keras_t2i import cli

    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        ServingLimits(max_workers=0)
    with pytest.raises(ValueError, match="rest_timeout must be positive"):
        ServingLimits(rest_timeout=0)
    args = cli.build_parser().parse_args(["serve", "--model-base-path", "x"])
    assert cli.serving_limits(args) == ServingLimits()
    args = cli.build_parser().parse_args([
        "serve", "--model-base-path", "x", "--max-workers", "2", "--max-queue", "0",
        "--request-timeout", "5", "--max-request-bytes", "1000", "--max-caption-bytes", "50",
        "--max-caption-words", "9", "--rest-timeout", "3", "--max-connections", "7"])
    assert cli.serving_limits(args) == ServingLimits(
        max_workers=2, max_queue=0, request_timeout=5, max_request_bytes=1000,
        max_caption_bytes=50, max_caption_words=9, rest_timeout=3, max_connections=7)
