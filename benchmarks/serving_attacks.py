"""Hostile and unlucky requests against `keras-t2i serve` (issue 14): status, time and memory.

Starts `keras-t2i serve` as its own process on free loopback ports (an untrained export of the
quickstart's size unless --model is given) and sends each attack ``--repeat`` times (20), then
one good gRPC and one good REST request. For each attack it reports the answer (gRPC status or
HTTP code), the slowest answer, the server's resident memory (VmRSS) before and after, and
whether the good requests that follow still get the right images. Prints a Markdown table.

Usage: python benchmarks/serving_attacks.py [--model savedmodels/NAME] [--repeat 20]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from common import header
from serving_latency import free_port, untrained_export, wait_until_serving
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_t2i.serving.client import Client
from keras_t2i.serving.savedmodel import LocalModel

CAPTION = "a big red circle in the center"


def rss_mb(pid) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Target:
    def __init__(self, grpc_port, rest_port, name):
        self.grpc = f"127.0.0.1:{grpc_port}"
        self.rest_port = rest_port
        self.name = name
        self.channel = grpc.insecure_channel(self.grpc, options=[
            ("grpc.max_send_message_length", 256 << 20),
            ("grpc.max_receive_message_length", 256 << 20)])
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)

    def predict(self, inputs, signature="") -> str:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.name
        request.model_spec.signature_name = signature
        for key, proto in inputs.items():
            request.inputs[key].CopyFrom(proto)
        try:
            self.stub.Predict(request, timeout=60)
            return "OK"
        except grpc.RpcError as err:
            return f"{err.code().name}: {err.details()[:70]}"

    def http(self, raw: bytes, read_seconds=60.0) -> str:
        """Sends raw bytes over one connection; returns the status line and error, or what
        happened instead."""
        with socket.create_connection(("127.0.0.1", self.rest_port), timeout=read_seconds) as s:
            s.sendall(raw)
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
            except (TimeoutError, ConnectionResetError) as err:
                return f"no answer ({type(err).__name__})"
        if not data:
            return "connection closed, no answer"
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode(errors="replace").split(" ", 1)[1]
        try:
            message = json.loads(body)["error"][:60]
        except (ValueError, KeyError):
            message = f"non-JSON body {body[:40]!r}"
        return f"{status.split()[0]}: {message}"


def post(path, body: bytes, headers=()) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", *headers]
    if not any(h.lower().startswith("content-length") for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def proto(values, dtype, shape=None):
    p = tf.make_tensor_proto(values, dtype=dtype)
    if shape is not None:
        del p.tensor_shape.dim[:]
        for size in shape:
            p.tensor_shape.dim.add().size = size
    return p


def attacks(t: Target, predict_path: str):
    one = {"captions": proto([CAPTION], tf.string)}
    big = "word " * 200_000  # 1 MB
    nested = "[" * 1000 + "]" * 1000
    return [
        ("gRPC seeds declared [10⁹], one value sent",
         lambda: t.predict({**one, "seeds": proto([1], tf.int64, [10 ** 9])})),
        ("gRPC seeds declared [10⁸]",
         lambda: t.predict({**one, "seeds": proto([1], tf.int64, [10 ** 8])})),
        ("gRPC seeds declared [2·10⁷]",
         lambda: t.predict({**one, "seeds": proto([1], tf.int64, [2 * 10 ** 7])})),
        ("gRPC captions declared [10⁹], one sent",
         lambda: t.predict({"captions": proto([CAPTION], tf.string, [10 ** 9]),
                            "seeds": proto([1], tf.int64)})),
        ("gRPC one 1 MB caption",
         lambda: t.predict({"captions": proto([big], tf.string),
                            "seeds": proto([1], tf.int64)})),
        ("gRPC 64 captions of 1 MB (64 MB message)",
         lambda: t.predict({"captions": proto([big] * 64, tf.string),
                            "seeds": proto(list(range(64)), tf.int64)})),
        ("gRPC a negative dimension",
         lambda: t.predict({**one, "seeds": proto([1], tf.int64, [-5])})),
        ("REST Content-Length: 2147483648",
         lambda: t.http(post(predict_path, b"{}", ["Content-Length: 2147483648"]))),
        ("REST Content-Length: -1",
         lambda: t.http(post(predict_path, b"{}", ["Content-Length: -1"]))),
        ("REST Content-Length: abc",
         lambda: t.http(post(predict_path, b"{}", ["Content-Length: abc"]))),
        ('REST "signature_name": 123',
         lambda: t.http(post(predict_path, json.dumps(
             {"signature_name": 123, "inputs": {"captions": [CAPTION], "seeds": [1]}}).encode()))),
        ("REST seeds [2⁷⁰]",
         lambda: t.http(post(predict_path, json.dumps(
             {"inputs": {"captions": [CAPTION], "seeds": [2 ** 70]}}).encode()))),
        ("REST version 2⁶⁴ in the URL",
         lambda: t.http(post(f"/v1/models/{t.name}/versions/{2 ** 64}:predict", json.dumps(
             {"inputs": {"captions": [CAPTION], "seeds": [1]}}).encode()))),
        ("REST JSON nested 1,000 deep",
         lambda: t.http(post(predict_path, ('{"inputs": {"captions": ' + nested
                                            + ', "seeds": [1]}}').encode()))),
        ("REST body that is not UTF-8",
         lambda: t.http(post(predict_path, b'{"inputs": "\xff\xfe"}'))),
    ]


def run_attack(pid, call, repeat, check):
    before = rss_mb(pid)
    answers, slowest = set(), 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        answers.add(call())
        slowest = max(slowest, time.perf_counter() - start)
    after = rss_mb(pid)
    return sorted(answers), slowest, before, after, check()


def hold_connections(target, count, seconds):
    """``count`` connections that send nothing, held open; returns them."""
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", target.rest_port), timeout=seconds + 30)
        held.append(s)
    return held


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="an exported base path (default: an untrained export)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.model) if args.model else untrained_export(tmp)
        local = LocalModel(base)
        reference = local.generate([CAPTION], [7])[0]
        ports = free_port(), free_port()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        log = open(Path(tmp) / "serve.log", "w")
        server = subprocess.Popen(
            [sys.executable, "-m", "keras_t2i.cli", "serve", "--model-base-path", str(base),
             "--model-name", "bench", "--port", str(ports[0]), "--rest-port", str(ports[1])],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            client = Client(f"127.0.0.1:{ports[0]}", "bench")
            wait_until_serving(client, server)
            target = Target(*ports, "bench")
            predict_path = "/v1/models/bench:predict"
            good_body = json.dumps({"inputs": {"captions": [CAPTION], "seeds": [7]}}).encode()

            def good():
                image = client.generate([CAPTION], [7])[0]
                rest = target.http(post(predict_path, good_body))
                return np.array_equal(image, reference) and rest.startswith("200")

            # warm both paths so the first attack's RSS is not the first request's
            for _ in range(3):
                good()
            for name, call in attacks(target, predict_path):
                rows.append((name, *run_attack(server.pid, call, args.repeat, good)))

            # 200 silent connections: good requests while they are held, then what they get.
            before = rss_mb(server.pid)
            held = hold_connections(target, 200, 10)
            start = time.perf_counter()
            ok = good()
            during = time.perf_counter() - start
            answers = set()
            for s in held:
                try:
                    answers.add(s.recv(4096).split(b"\r\n")[0].decode() or "closed")
                except OSError as err:
                    answers.add(type(err).__name__)
                s.close()
            waited = time.perf_counter() - start
            rows.append(("REST 200 silent connections", sorted(answers), waited, before,
                         rss_mb(server.pid), ok and good()))
            extra = (f"While the 200 silent connections were open, a good gRPC and REST request "
                     f"took {during:.2f} s together and got the right image: {ok}.")

            # one connection dripping a byte a second
            before = rss_mb(server.pid)
            start = time.perf_counter()
            with socket.create_connection(("127.0.0.1", ports[1]), timeout=60) as s:
                answer = "no answer"
                for byte in b"POST /v1/models/bench:predict HTTP/1.1\r\nHost: x\r\n":
                    try:
                        s.sendall(bytes([byte]))
                    except OSError:
                        break
                    s.settimeout(1.0)
                    try:
                        data = s.recv(4096)
                        answer = data.split(b"\r\n")[0].decode() or "closed"
                        break
                    except TimeoutError:
                        continue
            rows.append(("REST headers dripped at 1 byte/s", [answer],
                         time.perf_counter() - start, before, rss_mb(server.pid), good()))

            # concurrency: more than workers + queue at once
            before = rss_mb(server.pid)
            statuses = []

            def burst():
                c = Client(f"127.0.0.1:{ports[0]}", "bench", retries=0)
                try:
                    c.generate([CAPTION] * 8, list(range(8)))
                    statuses.append("OK")
                except Exception as err:  # counted
                    statuses.append(getattr(getattr(err, "code", None), "name", repr(err)))

            threads = [threading.Thread(target=burst) for _ in range(80)]
            start = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            counts = {s: statuses.count(s) for s in sorted(set(statuses))}
            rows.append(("gRPC 80 batch-8 predicts at once",
                         [f"{k} ×{v}" for k, v in counts.items()],
                         time.perf_counter() - start, before, rss_mb(server.pid), good()))
        finally:
            server.terminate()
            code = server.wait(timeout=60)
            log.close()
    print(header("Serving under attack: `keras-t2i serve`"))
    print(f"Untrained {local.metadata['image_size']}×{local.metadata['image_size']} DF-GAN "
          f"export (max_batch {local.metadata['max_batch']}), default limits; each attack "
          f"{args.repeat}× unless said; RSS of the server process in MB. 'good after' = a "
          "good gRPC and a good REST request right after it returned the right image.\n")
    print("| attack | answer | slowest answer, s | RSS before | RSS after | good after |")
    print("|---|---|---|---|---|---|")
    for name, answers, slowest, before, after, ok in rows:
        print(f"| {name} | {'; '.join(answers)} | {slowest:.3f} | {before:.0f} | {after:.0f} | "
              f"{'yes' if ok else 'NO'} |")
    print(f"\n{extra} Server exit code after SIGTERM: {code}.")


if __name__ == "__main__":
    main()
