"""The Shapes oracle: its network and shipped weights (``network``), its training
(``training``, ``keras-t2i pretrain oracle``) and the semantic accuracy it measures
(``metric``)."""

from keras_t2i.metrics.shapes_oracle.metric import (
    accuracies,
    add_hits,
    cell_accuracy,
    scene_truth,
    score_readings,
    semantic_accuracy,
)
from keras_t2i.metrics.shapes_oracle.network import (
    ATTRIBUTES,
    CELLS,
    INPUT_SIZE,
    NUM_CLASSES,
    WEIGHTS_FILE,
    ShapesOracle,
    load_oracle,
    report_path,
)

__all__ = ["ATTRIBUTES", "CELLS", "INPUT_SIZE", "NUM_CLASSES", "WEIGHTS_FILE", "ShapesOracle",
           "accuracies", "add_hits", "cell_accuracy", "load_oracle", "report_path",
           "scene_truth", "score_readings", "semantic_accuracy"]
