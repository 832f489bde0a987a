"""Reading datasets from the layouts users already have on disk (CUB-200-2011, COCO-2014).

Shared by the tensorflow-datasets builders in ``cub.py`` and ``coco.py``: a safe reader for the
AttnGAN ``filenames.pickle`` split lists, image validation with errors that name the file, and
preparation of a builder into a TFRecord cache.
"""

from __future__ import annotations

import codecs
import io
import logging
import os
import pickle
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

log = logging.getLogger(__name__)

# TF decodes these natively; anything else is re-encoded as JPEG at preparation time.
_TF_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}


class DatasetLayoutError(FileNotFoundError):
    """A required file of a manual dataset layout is missing."""


class CorruptImageError(ValueError):
    """An image file cannot be decoded."""


def require_file(path: Path, what: str) -> Path:
    """Returns ``path`` if it is a file, else raises an error naming it and what it holds."""
    if not path.is_file():
        raise DatasetLayoutError(f"Missing {what}: {path} does not exist (see the README's "
                                 "'Datasets on disk' section for the expected layout).")
    return path


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetLayoutError(f"Missing {what}: directory {path} does not exist (see the "
                                 "README's 'Datasets on disk' section for the expected layout).")
    return path


class _StringListUnpickler(pickle.Unpickler):
    """Unpickler that resolves no globals but ``_codecs.encode``: only plain data loads.

    A pickle can run arbitrary code through the GLOBAL/REDUCE opcodes; refusing globals means
    nothing but built-in containers and strings can come out of it. ``_codecs.encode`` (str →
    bytes, no side effects) is how Python 3 writes ``bytes`` at protocols below 3.
    """

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name}: only lists of strings are accepted")


def read_string_list_pickle(path: Path) -> list[str]:
    """Reads a pickle that must hold a list of strings (Python 2 or 3 pickles).

    Raises:
        ValueError: naming the file if it holds anything else or tries to load a global.
    """
    try:
        with open(path, "rb") as f:
            value = _StringListUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as err:
        raise ValueError(f"{path} is not a plain pickled list of strings: {err}") from err
    if not isinstance(value, list | tuple):
        raise ValueError(f"{path} must hold a list of strings, found {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        if not isinstance(item, str):
            raise ValueError(f"{path} must hold a list of strings, found an item of type "
                             f"{type(item).__name__}: {item!r}")
        out.append(item)
    return out


def read_split_list(split_dir: Path) -> list[str]:
    """Keys of a split from ``filenames.pickle`` or, as plain text, ``filenames.txt``."""
    pickled, text = split_dir / "filenames.pickle", split_dir / "filenames.txt"
    if pickled.is_file():
        keys = read_string_list_pickle(pickled)
    elif text.is_file():
        keys = [line.strip() for line in text.read_text().splitlines() if line.strip()]
    else:
        raise DatasetLayoutError(f"Missing split list: neither {pickled} nor {text} exists.")
    if not keys:
        raise ValueError(f"The split list in {split_dir} is empty.")
    return keys


def read_image(path: Path) -> tuple[bytes, int, int]:
    """Reads and checks an image file.

    Returns:
        (encoded bytes that tf.io.decode_image can decode, height, width). JPEG/PNG bytes are
        kept as they are; other formats and colour modes are re-encoded as RGB JPEG.

    Raises:
        CorruptImageError: naming the path if the file cannot be decoded.
    """
    data = path.read_bytes()  # an unreadable file (permissions) is an OSError, not corrupt
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            width, height = img.size
            if img.format not in _TF_FORMATS or img.mode not in ("RGB", "L", "RGBA", "P"):
                buf = io.BytesIO()
                img.convert("RGB").save(buf, format="JPEG", quality=95)
                data = buf.getvalue()
    except Image.DecompressionBombError as err:
        raise CorruptImageError(f"Cannot decode image {path}: too many pixels to decode "
                                f"safely ({err})") from err
    except Exception as err:  # PIL raises OSError, but also SyntaxError, ValueError, …
        raise CorruptImageError(f"Cannot decode image {path}: {type(err).__name__}: "
                                f"{err}") from err
    return data, height, width


class SkipCounter:
    """Counts what a preparation skips (corrupt images, unusable captions), warning once per
    item and once with the total.

    Args:
        dataset: str. Name in the messages.
        what: str. What is skipped, plural ("corrupt image(s)").
    """

    def __init__(self, dataset: str, what: str = "corrupt image(s)"):
        self.dataset = dataset
        self.what = what
        self.items: list[str] = []

    def skip(self, item, reason):
        self.items.append(str(item))
        log.warning("%s: skipping %s (%s)", self.dataset, item, reason)

    def report(self):
        if self.items:
            log.warning("%s: skipped %d %s: %s", self.dataset, len(self.items), self.what,
                        ", ".join(self.items[:10]) + (" …" if len(self.items) > 10 else ""))


def read_caption_lines(path: Path, skipped: SkipCounter | None = None) -> list[str]:
    """The non-blank lines of a caption file, one caption each. Lines that are not UTF-8 are
    skipped, and named (file and line) and counted in ``skipped`` when given (the dataset
    preparation warns; a second read, for the vocabulary, need not)."""
    captions = []
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            if skipped is not None:
                skipped.skip(f"{path}, line {number}",
                             f"not UTF-8: {err.reason} at byte {err.start}")
            continue
        if line:
            captions.append(line)
    return captions


class ManualCaptionBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the caption builders over a manual dir.

    Every example holds the image file's bytes (no re-encoding), its captions, a key and a
    class id; subclasses add ``EXTRA_FEATURES`` and read their own layout.

    Args:
        skip_corrupt: bool. Skip images that cannot be decoded (logged and counted) instead
            of failing. Defaults to False.
        **kwargs: for ``tfds.core.GeneratorBasedBuilder`` (``data_dir``, …).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    DESCRIPTION = ""
    HOMEPAGE = ""
    EXTRA_FEATURES: dict = {}

    def __init__(self, *, skip_corrupt: bool = False, **kwargs):
        self.skip_corrupt = skip_corrupt
        super().__init__(**kwargs)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            homepage=self.HOMEPAGE,
            features=tfds.features.FeaturesDict({
                "image_bytes": tfds.features.Tensor(shape=(), dtype=np.object_),
                "captions": tfds.features.Sequence(tfds.features.Text()),
                "key": tfds.features.Text(),
                "class_id": tfds.features.Tensor(shape=(), dtype=np.int32),
                **self.EXTRA_FEATURES,
            }),
        )

    def _read_images(self, items):
        """Yields ``(item, bytes, height, width)`` for each ``(path, what, item)``.

        A missing file raises an error naming it and ``what`` it is; an undecodable one raises
        :class:`CorruptImageError`, or with ``skip_corrupt`` is skipped and counted.
        """
        skipped = SkipCounter(self.name)
        for path, what, item in items:
            require_file(path, what)
            try:
                data, height, width = read_image(path)
            except CorruptImageError as err:
                if not self.skip_corrupt:
                    raise
                skipped.skip(path, err)
                continue
            yield item, data, height, width
        skipped.report()


def prepare(builder: tfds.core.DatasetBuilder, manual_dir: str, rebuild: bool = False):
    """Writes the builder's TFRecords from ``manual_dir`` unless they are already there."""
    mode = (tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS if rebuild
            else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=os.fspath(manual_dir), download_mode=mode))
    return builder
