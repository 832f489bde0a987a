"""Serving overhead of `keras-t2i serve` against the in-process SavedModel call (issue 4).

The same exported model runs two ways on the same inputs:
- in process: ``LocalModel.generate`` (the loaded SavedModel's ``serving_default``);
- over gRPC: ``keras-t2i serve`` started as a separate process on a free loopback port, called
  with ``kt.serving.client.Client`` (the tensorflow-serving-api stubs).

Reported: Predict latency p50/p99 at batch 1 (sequential calls), images/s at concurrency 8
(8 client threads, batch 1 each), the server's p50 overhead as a ratio, and a stress check of
16 concurrent clients × 25 requests (errors and lost requests counted, every image compared
with the in-process result).

Usage: python benchmarks/serving_latency.py [--model savedmodels/NAME | --image-size 256 --nf 32]
       [--requests 200]
Without --model it exports an untrained DF-GAN to a temporary folder, by default of the
quickstart's size (nf 16, 64×64; ``--image-size``/``--nf`` for others, e.g. 256 and 32 for the
paper's CUB/COCO models): latency does not depend on the weights. Prints a Markdown section.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import header

import keras_t2i as kt
from keras_t2i.serving.client import Client
from keras_t2i.serving.savedmodel import LocalModel

CAPTION = "a big red circle in the center"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def untrained_export(directory, image_size=64, nf=16) -> Path:
    from keras_t2i.text.damsm import DAMSMTextEncoder

    text_encoder = DAMSMTextEncoder(kt.data.caption_tokenizer("shapes", max_objects=1))
    gan = kt.models.DFGAN(text_encoder, image_size=image_size, nf=nf)
    gan.compile()
    return kt.export.export_saved_model(gan, Path(directory) / "bench").parent


def wait_until_serving(client, server, seconds=120):
    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"keras-t2i serve exited with code {server.returncode}; see its "
                               "log for why")
        try:
            return client.status()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def latencies(call, n):
    for _ in range(5):
        call(0)
    times = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - start)
    return 1000 * np.percentile(times, 50), 1000 * np.percentile(times, 99)


def throughput(make_call, threads=8, seconds=10.0):
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(k):
        call = make_call()
        while time.perf_counter() < stop:
            call(k)
            counts[k] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def stress(target, name, local, clients=16, requests=25):
    errors, wrong, done = [], [], []

    def worker(k):
        with Client(target, name) as client:
            for r in range(requests):
                seed = 1000 * k + r
                try:
                    image = client.generate([CAPTION], [seed])[0]
                except Exception as err:  # counted, never raised: the run must finish
                    errors.append(repr(err))
                    continue
                done.append(seed)
                if not np.array_equal(image, local.generate([CAPTION], [seed])[0]):
                    wrong.append(seed)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(done), len(errors), len(wrong)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="an exported base path (default: an untrained export)")
    parser.add_argument("--image-size", type=int, default=64, help="of the untrained export")
    parser.add_argument("--nf", type=int, default=16, help="of the untrained export")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.model) if args.model else untrained_export(tmp, args.image_size, args.nf)
        local = LocalModel(base)
        port = free_port()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        log = open(Path(tmp) / "serve.log", "w")  # one line per request: not a pipe
        server = subprocess.Popen(
            [sys.executable, "-m", "keras_t2i.cli", "serve", "--model-base-path", str(base),
             "--model-name", "bench", "--port", str(port), "--rest-port", "0"],
            stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            target = f"127.0.0.1:{port}"
            client = Client(target, "bench")
            wait_until_serving(client, server)

            local_p50, local_p99 = latencies(lambda i: local.generate([CAPTION], [i]),
                                             args.requests)
            grpc_p50, grpc_p99 = latencies(lambda i: client.generate([CAPTION], [i]),
                                           args.requests)
            local_rate = throughput(lambda: lambda i: local.generate([CAPTION], [i]),
                                    seconds=args.seconds)
            grpc_rate = throughput(
                lambda: (lambda c: lambda i: c.generate([CAPTION], [i]))(Client(target, "bench")),
                seconds=args.seconds)
            done, errors, wrong = stress(target, "bench", local)
        except RuntimeError:
            log.flush()
            print(Path(log.name).read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            code = server.wait(timeout=60)
            log.close()
    meta = local.metadata
    print(header("Serving latency: `keras-t2i serve` vs the in-process SavedModel"))
    source = "given export" if args.model else f"untrained export (nf {args.nf})"
    print(f"Model: {meta['model_family']} {meta['image_size']}×{meta['image_size']}, "
          f"{source}; batch 1, caption "
          f"\"{CAPTION}\"; {args.requests} sequential calls, {args.seconds:.0f} s at "
          "concurrency 8; server and client are separate processes on one machine.\n")
    print("| path | p50 ms | p99 ms | images/s at concurrency 8 |")
    print("|---|---|---|---|")
    print(f"| in-process SavedModel | {local_p50:.2f} | {local_p99:.2f} | {local_rate:.1f} |")
    print(f"| gRPC `keras-t2i serve` | {grpc_p50:.2f} | {grpc_p99:.2f} | {grpc_rate:.1f} |")
    print(f"\np50 overhead: {100 * (grpc_p50 / local_p50 - 1):.1f} % "
          f"(+{grpc_p50 - local_p50:.2f} ms); throughput ratio {grpc_rate / local_rate:.2f}.")
    print(f"Stress, 16 clients × 25 requests: {done} answered, {errors} errors, "
          f"{400 - done - errors} lost, {wrong} images differing from the in-process call; "
          f"server exit code after SIGTERM: {code}.")


if __name__ == "__main__":
    main()
