"""The TF Serving layout of exported models, read and written without Keras or the model
code: version directories (TF Serving's naming rule), the metadata asset, the warm-up
requests, and the tensorflow-text ops the exported tokenizer needs.

``keras-t2i serve`` and the client import this module, never ``keras_t2i.export``.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

IMAGES_SIGNATURE = "serving_default"
PNG_SIGNATURE = "generate_png"
# captions → tokens, unknown_words, suggestions (export.py); exports made before it have none.
TOKENIZE_SIGNATURE = "tokenize"
METADATA_FILE = "keras_t2i.json"
# TF Serving replays these requests when it loads a version, so the first real request does
# not pay for graph warm-up (its SavedModel warmup convention); `keras-t2i serve` does too.
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"

# TF Serving reads a child of a base path as a version when tsl's ``safe_strto64`` parses its
# whole name: optional ASCII whitespace, an optional "-", ASCII digits, optional whitespace, in
# int64 range (file_system_storage_path_source.cc, ParseVersionNumber). "007" is version 7 and
# is loaded from "007"; "²" or "1.0" are not versions.
_VERSION_NAME = re.compile(r"[ \t\n\v\f\r]*(-?[0-9]+)[ \t\n\v\f\r]*")
_INT64 = (-(1 << 63), (1 << 63) - 1)


def parse_version(name: str) -> int | None:
    """The version a directory name stands for under TF Serving's rule, or None."""
    match = _VERSION_NAME.fullmatch(name)
    if match is None:
        return None
    value = int(match.group(1))
    return value if _INT64[0] <= value <= _INT64[1] else None


def version_dirs(base_dir) -> dict[int, Path]:
    """``{version: directory}`` of the version directories under ``base_dir`` (none if it is
    not a directory). When two names give one version ("7" and "007"), the last in sorted
    order wins, as in TF Serving (which logs a warning; ``keras-t2i serve`` does too)."""
    return scan_versions(base_dir)[0]


def scan_versions(base_dir) -> tuple[dict[int, Path], list[str], list[str]]:
    """``(version_dirs, ignored names, shadowed names)`` of ``base_dir``.

    Ignored: visible entries that are not version directories; shadowed: version directories
    that lose to another name of the same version. Hidden entries (the exporter's staging
    folders) are neither.
    """
    base_dir = Path(base_dir)
    found, ignored, shadowed = {}, [], []
    if not base_dir.is_dir():
        return found, ignored, shadowed
    for path in sorted(base_dir.iterdir(), key=lambda p: p.name):
        version = parse_version(path.name)
        if version is None or not path.is_dir():
            if not path.name.startswith("."):
                ignored.append(path.name)
            continue
        if version in found:
            shadowed.append(found[version].name)
        found[version] = path
    return found, ignored, shadowed


def versions(base_dir) -> list[int]:
    """The version numbers under ``base_dir``, ascending (TF Serving's rule)."""
    return sorted(version_dirs(base_dir))


def read_warmup(version_dir) -> list:
    """The PredictRequests of a version's warm-up file (empty when it has none)."""
    path = Path(version_dir) / WARMUP_FILE
    if not path.is_file():
        return []
    requests = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        if log.HasField("predict_log"):
            requests.append(log.predict_log.request)
    return requests


def read_metadata(version_dir) -> dict:
    """The ``assets/keras_t2i.json`` of an exported version."""
    path = Path(version_dir) / "assets" / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {version_dir} a keras_t2i export "
                                "(savedmodels/NAME/<version>)?")
    return json.loads(path.read_text())


_TEXT_OPS_LOADED = False


def load_text_ops():
    """Registers the tensorflow-text ops an exported tokenizer uses, from the op libraries of
    the installed ``tensorflow_text``, without importing its Python package (which imports
    Keras): a server then loads SavedModels as TF Serving does, with the ops linked in."""
    global _TEXT_OPS_LOADED
    if _TEXT_OPS_LOADED:
        return
    spec = importlib.util.find_spec("tensorflow_text")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tensorflow-text is not installed; exported models need its ops "
                          "(pip install tensorflow-text).")
    root = list(spec.submodule_search_locations)[0]
    libraries = sorted(glob.glob(os.path.join(root, "python", "ops", "_*.so")))
    if not libraries:
        raise ImportError(f"No tensorflow-text op libraries under {root}/python/ops.")
    for library in libraries:
        tf.load_op_library(library)
    _TEXT_OPS_LOADED = True


def unknown_word_report(unknown, suggestions) -> list[dict]:
    """The outputs of ``CaptionTokenizer.check_words`` (or the ``tokenize`` signature) as
    ``[{"caption": i, "word": w, "suggestion": s or None}]``, one per unknown word in order."""
    report = []
    for index, (words, near) in enumerate(zip(unknown, suggestions)):
        for word, suggestion in zip(words, near):
            word = word.decode() if isinstance(word, bytes) else str(word)
            suggestion = suggestion.decode() if isinstance(suggestion, bytes) else str(suggestion)
            if word:
                report.append({"caption": index, "word": word, "suggestion": suggestion or None})
    return report


def unknown_word_message(captions, report) -> str:
    """One line per caption with words outside the vocabulary: ``caption 0 "…": 'gren' (→
    green?), 'dog'``; "" when every word is known."""
    lines = []
    for index, caption in enumerate(captions):
        words = [f"'{r['word']}'" + (f" (→ {r['suggestion']}?)" if r["suggestion"] else "")
                 for r in report if r["caption"] == index]
        if words:
            lines.append(f'  caption {index} "{caption}": {", ".join(words)}')
    return "\n".join(lines)
