"""Shared helpers for the benchmark scripts: timing and the machine line of RESULTS.md."""

import datetime
import os
import platform
import time


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def header(title: str) -> str:
    import keras
    import tensorflow as tf

    return (f"### {title}\n{datetime.date.today().isoformat()} · {machine()} · "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}\n")


def rate(fn, items_per_call: int, warmup: int = 2, min_seconds: float = 5.0) -> float:
    """Items per second of ``fn()``, after ``warmup`` calls, over at least ``min_seconds``."""
    for _ in range(warmup):
        fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    return calls * items_per_call / (time.perf_counter() - start)
