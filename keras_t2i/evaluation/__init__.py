"""``keras-t2i evaluate``: what is evaluated (``sources``), the Shapes benchmark (``shapes``),
CUB/COCO (``datasets``), the report (``report``: JSON, table, TensorBoard) and the metrics
during ``fit`` (``callback``). ``kt.evaluate`` is this package."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.evaluation.callback import Evaluate
from keras_t2i.evaluation.datasets import evaluate_dataset
from keras_t2i.evaluation.report import REAL_MODEL, evaluate, format_table, write_scalars
from keras_t2i.evaluation.shapes import evaluate_shapes
from keras_t2i.evaluation.sources import Generator

__all__ = ["REAL_MODEL", "Evaluate", "Generator", "evaluate", "evaluate_dataset",
           "evaluate_shapes", "format_table", "write_scalars"]
