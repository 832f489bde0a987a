"""``keras-t2i evaluate``: the quality numbers of a trained model, with written protocols.

On Shapes (the built-in benchmark), for N test captions (the first caption of test scenes
0..N−1, which names every object's shape, colour, size and cell; image i with noise seed
``seed + i``):

- semantic accuracy, read by the Shapes oracle (``kt.metrics.shapes_oracle``): position,
  shape, colour, size (over objects), their mean ``attributes``, object count and whole scene;
- FID and KID on the oracle's cell features, against reference statistics of the real
  test images of the same scenes (computed once and cached as ``.npz`` with the protocol
  inside);
- Inception Score from the oracle's shape × colour softmax at its most confidently occupied
  cell (48 classes, 10 splits);
- R-precision with DAMSM encoders (1 true + 99 mismatched captions of other classes, R@1,
  10 folds), when the run's (or ``damsm=``) encoders are available;
- diversity: the mean LPIPS-style distance (oracle trunk) between 10 images of each of the
  first 50 captions, as MSGAN measures it.

On CUB and COCO (``evaluate_dataset``): N test captions (pass p over the test split draws
each image's caption with caption seed 1234 + p), FID/KID on InceptionV3 pool3 features from
a user-given weights file against the real test images (each once, cached), the Inception
Score when the weights hold the classifier, R-precision and diversity (InceptionV3 maps).

Metric names carry the sample count (``fid_1k``).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import tensorflow as tf

from keras_t2i import _backend  # noqa: F401
from keras_t2i.data import DATASETS
from keras_t2i.evaluation.common import MIN_IMAGES
from keras_t2i.evaluation.datasets import evaluate_dataset
from keras_t2i.evaluation.shapes import evaluate_shapes
from keras_t2i.evaluation.sources import Generator

DEFAULTS = {"num_images": 1000, "seed": 0, "diversity_captions": 50, "diversity_samples": 10,
            "batch_size": 50, "probe_images": 200}
REAL_MODEL = "real"  # model="real": real Shapes images (the sanity rows of the table)


def evaluate(model=None, run=None, data="shapes", out=None, log_dir=None, damsm_dir=None,
             max_objects=None, min_objects=None, version=None, data_dir=None,
             inception_weights=None, data_options=None, truncation=None, num_parts=None,
             verbose=False, **options) -> dict:
    """Evaluates a SavedModel (``model``), a run directory (``run``) or, with
    ``model="real"``, real Shapes images (the sanity rows: FID near 0, accuracy near 1).

    ``data="shapes"`` uses the Shapes oracle; ``"cub"`` and ``"coco"`` read the test split
    from ``data_dir`` and need ``inception_weights`` (see ``kt.metrics.inception``). On
    Shapes, the test scenes have the ``min_objects`` and ``max_objects`` the model was trained
    with (its run's or export's data protocol) unless those arguments say otherwise.
    ``truncation`` draws the latents of a run from a truncated normal (DF-GAN's evaluation,
    0.88); a SavedModel keeps the truncation it was exported with. ``num_parts`` runs a
    MemoryGAN run with that many parts (scenes of more objects than it was trained on).
    ``verbose`` prints each phase with a progress line (``keras-t2i evaluate`` does).

    Returns (and writes to ``out`` as JSON) ``{"model", "data", "date", "step",
    "metrics": [{name, value, std?, protocol, num_images}]}``; also TensorBoard scalars
    ``eval/<name>`` in ``log_dir`` (a run's ``logs/`` by default).
    """
    if (model is None) == (run is None):
        raise ValueError("Evaluate either a SavedModel (model=) or a run directory (run=).")
    if data not in DATASETS:
        raise ValueError(f"Unknown dataset {data!r}; valid: {', '.join(DATASETS)}")
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"Unknown evaluate option(s) {unknown}; valid: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **options}
    if data == "shapes" and settings["num_images"] < MIN_IMAGES:
        raise ValueError(f"num_images must be at least {MIN_IMAGES} (R-precision needs 99 "
                         f"mismatched captions of other scenes per image), got "
                         f"{settings['num_images']}")
    if model == REAL_MODEL and data != "shapes":
        raise ValueError("model='real' (the sanity rows) is built for Shapes only.")
    if num_parts is not None and run is None:
        raise ValueError("num_parts applies to a run (--run): an export has its parts fixed.")
    if run is not None:
        generator = Generator.from_run(run, truncation, num_parts)
    elif model == REAL_MODEL:
        generator = None
    else:
        generator = Generator.from_saved_model(model, version, damsm_dir, truncation)
    if data == "shapes":
        metrics = evaluate_shapes(generator, max_objects=max_objects, min_objects=min_objects,
                                  damsm_dir=damsm_dir, verbose=verbose, **settings)
    else:  # the compositional probes are Shapes'
        settings.pop("probe_images")
        metrics = evaluate_dataset(generator, data, data_dir, inception_weights,
                                   damsm_dir=damsm_dir, data_options=data_options,
                                   verbose=verbose, **settings)
    description = generator.description if generator else "real Shapes test images"
    step = generator.step if generator else None
    report = {"model": description, "data": data, "step": step,
              "truncation": generator.truncation if generator else None,
              "date": datetime.date.today().isoformat(), "metrics": metrics}
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2) + "\n")
    log_dir = log_dir or (generator.log_dir if generator else None)
    if log_dir:
        write_scalars(log_dir, metrics, step or 0)
    return report


def write_scalars(log_dir, metrics, step):
    """Each metric as the TensorBoard scalar ``eval/<name>`` in ``log_dir/eval``."""
    writer = tf.summary.create_file_writer(str(Path(log_dir) / "eval"))
    with writer.as_default():
        for entry in metrics:
            tf.summary.scalar(f"eval/{entry['name']}", entry["value"], step=int(step))
    writer.flush()


def format_table(report) -> str:
    """The report as a Markdown table (metric, value ± std)."""
    lines = [f"{report['model']} (step {report['step']}), {report['data']}, {report['date']}",
             "", "| metric | value |", "|---|---|"]
    for entry in report["metrics"]:
        value = f"{entry['value']:.4f}"
        if "std" in entry:
            value += f" ± {entry['std']:.4f}"
        lines.append(f"| {entry['name']} | {value} |")
    return "\n".join(lines)
