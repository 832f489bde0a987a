"""Shared helpers for the benchmark scripts: timing and the machine line of RESULTS.md."""

import datetime
import json
import os
import platform
import time
from pathlib import Path


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


# The options a DF-GAN row of another family's Shapes table trains with: the fast-convergence
# options and the sentence condition those families' presets use (DF-GAN's own quickstart has
# moved on to shapes_presets.SHAPE_FROM_WORDS), so the rows differ only in the family.
def dfgan_as_the_other_presets() -> dict:
    from keras_t2i.models.shapes_presets import FAST_CONVERGENCE

    return {**FAST_CONVERGENCE, "condition": "sentence", "condition_whitening": 0.0,
            "condition_rank": 0}


def shapes_damsm(work, recipe_name, damsm=None) -> str:
    """The DAMSM encoders every run of a Shapes table starts from: ``damsm`` when given, else a
    pair pretrained once into ``work/damsm`` as a run of the recipe without --text-encoder
    would pretrain it (its data, DAMSM budget and DAMSM data options), seed 0."""
    if damsm:
        return str(damsm)
    import keras_t2i as kt
    from keras_t2i.models.registry import get_recipe
    from keras_t2i.training.config import damsm_pretraining, resolve_train_config

    damsm = Path(work) / "damsm"
    if not (damsm / "text_encoder.keras").is_file():
        config = resolve_train_config(model=get_recipe(recipe_name)[0].name,
                                      preset=recipe_name, out=str(work), seed=0)
        kt.pretrain.pretrain_damsm(**damsm_pretraining(config))
    return str(damsm)


def train_and_evaluate(run, num_images, **train_options):
    """(evaluation report, train minutes) of one run of a table: ``keras-t2i train`` with the
    options (no export), then ``keras-t2i evaluate``'s protocol on ``num_images`` test
    captions. A run whose result is saved is read, not retrained, and an interrupted one
    resumes, so a table can be completed across sittings (the minutes are then those of the
    sitting that finished it)."""
    import keras_t2i as kt
    from keras_t2i.evaluation import report as kt_evaluate

    run = Path(run)
    saved = run / "ablation.json"
    if saved.is_file():
        result = json.loads(saved.read_text())
        return result["report"], result["train_minutes"]
    started = time.time()
    kt.train.train(out=str(run), export_dir="", resume=(run / "checkpoints").is_dir(),
                   **train_options)
    minutes = (time.time() - started) / 60
    report = kt_evaluate.evaluate(run=str(run), num_images=num_images,
                                  out=str(run / "metrics.json"))
    saved.write_text(json.dumps({"report": report, "train_minutes": minutes}))
    return report, minutes


def shapes_captioner(work, recipe_name, damsm, captioner=None) -> str:
    """The STREAM captioner every MirrorGAN run of a Shapes table reads: ``captioner`` when
    given, else one pretrained once into ``work/captioner`` in the vocabulary of the DAMSM
    encoders in ``damsm``, with the recipe's data and captioner budget, seed 0."""
    if captioner:
        return str(captioner)
    import keras_t2i as kt
    from keras_t2i.models.registry import get_recipe

    recipe = get_recipe(recipe_name)[1]
    out = Path(work) / "captioner"
    if not (out / "captioner.keras").is_file():
        kt.pretrain.pretrain_captioner(data="shapes", data_options=recipe["data"]["options"],
                                       text_encoder=str(damsm), out=str(out), seed=0,
                                       resume=True, **recipe["captioner"])
    return str(out)
