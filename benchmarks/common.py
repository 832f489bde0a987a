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


# The quality columns of the Shapes tables: the evaluation report's metric prefix, the column's
# name and its format.
QUALITY_COLUMNS = (
    ("semantic_attributes", "attributes", "{:.1%}"), ("semantic_shape", "shape", "{:.1%}"),
    ("semantic_color", "colour", "{:.1%}"), ("semantic_size", "size", "{:.1%}"),
    ("semantic_position", "position", "{:.1%}"), ("semantic_count", "count", "{:.1%}"),
    ("semantic_scene", "whole scene", "{:.1%}"), ("fid", "FID", "{:.2f}"),
    ("kid", "KID", "{:.4f}"), ("r_precision", "R-precision", "{:.1%}"),
    ("diversity", "diversity", "{:.4f}"))


def report_value(report, prefix):
    """The value of the first metric of an evaluation report whose name starts with prefix_."""
    for entry in report["metrics"]:
        if entry["name"].startswith(prefix + "_"):
            return entry["value"]
    return None


def quality_table(rows) -> str:
    """A Markdown table of (label, evaluation report, train minutes or None) rows."""
    lines = ["| model | " + " | ".join(name for _, name, _ in QUALITY_COLUMNS)
             + " | train minutes |", "|---|" + "---|" * (len(QUALITY_COLUMNS) + 1)]
    for label, report, minutes in rows:
        cells = []
        for prefix, _, fmt in QUALITY_COLUMNS:
            found = report_value(report, prefix)
            cells.append("—" if found is None else fmt.format(found))
        cells.append("—" if minutes is None else f"{minutes:.1f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
