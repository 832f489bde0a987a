"""Server-side batching in `keras-t2i serve` (issue 21): images/s and latency at 1, 4 and 16
concurrent clients (batch 1 each), with batching off and on (``--enable-batching
--batching-parameters-file serving/batching_parameters.txt`` unless ``--parameters``), every
image compared with the in-process SavedModel's for the same caption and seed.

One server process per setting, on a free loopback port; each client is a thread with its own
``Client`` sending requests back to back for ``--seconds``. Prints a Markdown section.

Usage: python benchmarks/serving_batching.py [--model savedmodels/NAME] [--clients 1 4 16]
       [--seconds 20] [--parameters FILE]
Without --model it exports an untrained DF-GAN of the quickstart's size (nf 16, 64×64):
the speed does not depend on the weights.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import header
from serving_latency import CAPTION, free_port, untrained_export, wait_until_serving

from keras_t2i.serving.client import Client
from keras_t2i.serving.savedmodel import LocalModel

ROOT = Path(__file__).resolve().parents[1]


def load(target, clients, seconds):
    """(images/s, p50 ms, p99 ms, answered, errors, [(seed, image)]) of ``clients`` threads."""
    stop = time.perf_counter() + seconds
    times, errors, images = [], [], []
    lock = threading.Lock()

    def worker(k):
        with Client(target, "bench") as client:
            client.generate([CAPTION], [k])  # the connection, before the clock
            r = 0
            while time.perf_counter() < stop:
                seed = 100_000 * (k + 1) + r
                r += 1
                start = time.perf_counter()
                try:
                    image = client.generate([CAPTION], [seed])[0]
                except Exception as err:  # counted, never raised: the run must finish
                    with lock:
                        errors.append(repr(err))
                    continue
                with lock:
                    times.append(time.perf_counter() - start)
                    if len(images) < 400:
                        images.append((seed, image))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    ms = 1000 * np.asarray(times)
    return (len(times) / elapsed, np.percentile(ms, 50), np.percentile(ms, 99), len(times),
            len(errors), images)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="an exported base path (default: an untrained export)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--parameters", default=str(ROOT / "serving/batching_parameters.txt"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.model) if args.model else untrained_export(tmp)
        local = LocalModel(base)
        for batching in (False, True):
            port = free_port()
            flags = (["--enable-batching", "--batching-parameters-file", args.parameters]
                     if batching else [])
            log = open(Path(tmp) / f"serve-{batching}.log", "w")
            server = subprocess.Popen(
                [sys.executable, "-m", "keras_t2i.cli", "serve", "--model-base-path",
                 str(base), "--model-name", "bench", "--port", str(port), "--rest-port", "0",
                 *flags], stdout=subprocess.DEVNULL, stderr=log,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            try:
                target = f"127.0.0.1:{port}"
                wait_until_serving(Client(target, "bench"), server)
                for clients in args.clients:
                    rate, p50, p99, done, errors, images = load(target, clients, args.seconds)
                    wrong = sum(not np.array_equal(image, local.generate([CAPTION], [seed])[0])
                                for seed, image in images)
                    rows.append((batching, clients, rate, p50, p99, done, errors, len(images),
                                 wrong))
            finally:
                server.terminate()
                server.wait(timeout=60)
                log.close()
    meta = local.metadata
    print(header("Request batching in `keras-t2i serve`"))
    print(f"Model: {meta['model_family']} {meta['image_size']}×{meta['image_size']}"
          f"{'' if args.model else ', untrained export (nf 16)'}; batch 1 per request, caption "
          f"\"{CAPTION}\", a new seed per request; {args.seconds:.0f} s per row; batching "
          f"parameters {Path(args.parameters).name}; server and clients are separate "
          "processes on one machine.\n")
    print("| batching | clients | images/s | p50 ms | p99 ms | answered | errors | "
          "images compared | differing |")
    print("|---|---|---|---|---|---|---|---|---|")
    for batching, clients, rate, p50, p99, done, errors, compared, wrong in rows:
        print(f"| {'on' if batching else 'off'} | {clients} | {rate:.1f} | {p50:.1f} | "
              f"{p99:.1f} | {done} | {errors} | {compared} | {wrong} |")
    by = {(b, c): r for b, c, r, *_ in rows}
    for clients in args.clients:
        print(f"\n{clients} clients: batching on / off = "
              f"{by[(True, clients)] / by[(False, clients)]:.2f}×", end="")
    print()


if __name__ == "__main__":
    main()
