"""Datasets as tf.data pipelines: the built-in Shapes scenes, CUB-200-2011 and COCO-2014.

Example:
>>> import keras_t2i as kt
>>> train = kt.data.load("shapes", "train", image_size=64, batch_size=32)
>>> batch = next(iter(train))
>>> batch["image"].shape, batch["tokens"].shape      # (32, 64, 64, 3), (32, 18)

The vocabulary comes from the dataset's training captions (:func:`caption_tokenizer`); pass the
tokenizer of a trained text encoder to ``load`` so that ids match that encoder.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import tensorflow as tf

from keras_t2i import _backend  # noqa: F401  (TensorFlow backend before keras)
from keras_t2i.data import pipeline
from keras_t2i.data.shapes import ShapesGenerator, max_caption_words, shapes_examples
from keras_t2i.text.tokenizer import CaptionTokenizer

DATASETS = ("shapes", "cub", "coco")
SPLITS = ("train", "test")
DEFAULT_MAX_WORDS = 18

SHAPES_DEFAULTS = {
    "num_scenes": None,  # None: 10,000 train scenes, 1,000 test scenes
    "min_objects": 1,
    "max_objects": 2,
    "num_captions": 5,
    "seed": 0,
    "holdout": (),
}
SHAPES_NUM_SCENES = {"train": 10_000, "test": 1_000}
# The Shapes vocabulary is read from the captions of this many training scenes: the grammar has
# well under a hundred words, and every one of them occurs there (checked in the tests).
SHAPES_VOCABULARY_SCENES = 1_000
MANUAL_DEFAULTS = {"prepared_dir": None, "skip_corrupt": False, "rebuild": False}


def _check_name_split(name, split):
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r} for {name}; valid splits: {', '.join(SPLITS)}")


def _resolve_options(name, options):
    defaults = SHAPES_DEFAULTS if name == "shapes" else MANUAL_DEFAULTS
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise TypeError(f"Unknown option(s) {unknown} for dataset {name!r}; its options are "
                        f"{sorted(defaults)}")
    return {**defaults, **options}


def _manual_dir(name, data_dir) -> Path:
    if data_dir is None:
        raise ValueError(f"Dataset {name!r} is read from your copy on disk: pass data_dir= "
                         "(--data-dir) pointing at it. See the README, 'Datasets on disk'.")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data_dir {path} for dataset {name!r} is not a directory.")
    return path


def _builder(name, data_dir, prepared_dir, skip_corrupt, rebuild):
    from keras_t2i.data import coco, cub, manual

    root = _manual_dir(name, data_dir)
    prepared = Path(prepared_dir) if prepared_dir else root / "tfds"
    cls = cub.CubCaptions if name == "cub" else coco.CocoCaptions2014
    builder = cls(data_dir=os.fspath(prepared), skip_corrupt=skip_corrupt)
    return manual.prepare(builder, root, rebuild=rebuild)


def check(name: str, *, data_dir=None, image_size: int = 64, batch_size: int = 32,
          **options) -> None:
    """Raises an error naming the problem if ``load(name, …)`` with these arguments would
    fail on its options or, for CUB and COCO, on the folder's layout: cheap (the index files
    are read, no image is), so that a run can refuse bad flags before doing any work."""
    _check_name_split(name, "train")
    options = _resolve_options(name, options)
    if int(image_size) < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if name == "shapes":
        _shapes_generator(options)  # checks min/max_objects, num_captions, holdout
        return
    from keras_t2i.data import coco, cub

    root = _manual_dir(name, data_dir)
    (cub if name == "cub" else coco).check_layout(root)


@functools.lru_cache(maxsize=16)
def _vocabulary(name, data_dir, frozen_options):
    from keras_t2i.text.tokenizer import build_vocabulary

    options = dict(frozen_options)
    if name == "shapes":
        gen = _shapes_generator(options)
        captions = (c for i in range(SHAPES_VOCABULARY_SCENES)
                    for c in gen.scene("train", i).captions)
    elif name == "cub":
        from keras_t2i.data import cub, manual

        root = _manual_dir(name, data_dir)
        meta = cub.CubMetadata(root)
        keys = manual.read_split_list(root / "train")
        captions = (c for k in keys for c in meta.captions(k))
    else:
        from keras_t2i.data import coco

        records = coco.read_captions(
            coco.captions_file(_manual_dir(name, data_dir), coco.SPLIT_FOLDERS["train"]))
        captions = (c for r in records for c in r["captions"])
    return tuple(build_vocabulary(captions))


def _shapes_generator(options):
    return ShapesGenerator(min_objects=options["min_objects"],
                           max_objects=options["max_objects"],
                           num_captions=options["num_captions"], seed=options["seed"],
                           holdout=options["holdout"])


def _freeze(options):
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()
                        if k in ("min_objects", "max_objects", "num_captions", "seed", "holdout")))


def caption_tokenizer(name: str, *, data_dir=None, max_words: int | None = None,
                      **options) -> CaptionTokenizer:
    """The tokenizer whose vocabulary is built from the training captions of a dataset.

    Args:
        name: str. One of ``"shapes"``, ``"cub"``, ``"coco"``.
        data_dir: str. The dataset's folder on disk (CUB and COCO).
        max_words: int. Padded caption length. Defaults to 18 for CUB and COCO (AttnGAN's
            ``WORDS_NUM``) and, for Shapes, to the grammar's longest caption for the chosen
            ``max_objects``, so no attribute word is ever dropped.
        **options: the dataset's options (see :func:`load`); for Shapes they choose the grammar
            sample the vocabulary is read from.
    """
    _check_name_split(name, "train")
    options = _resolve_options(name, options)
    vocab = _vocabulary(name, None if data_dir is None else os.fspath(data_dir),
                        _freeze(options))
    if max_words is None:
        max_words = (max_caption_words(options["max_objects"]) if name == "shapes"
                     else DEFAULT_MAX_WORDS)
    return CaptionTokenizer(list(vocab), max_words=max_words)


def load(
    name: str,
    split: str,
    *,
    data_dir=None,
    image_size: int = 64,
    batch_size: int = 32,
    tokenizer: CaptionTokenizer | None = None,
    max_words: int | None = None,
    shuffle: bool | None = None,
    caption_seed: int = pipeline.DEFAULT_CAPTION_SEED,
    sampling_seed: int | None = None,
    drop_remainder: bool | None = None,
    **options,
) -> tf.data.Dataset:
    """Loads a dataset split as batches of images, tokens and captions.

    One pass over the returned dataset is one epoch: every image of the split once, with one of
    its captions. ``"train"`` shuffles, picks a random caption per image per epoch and (CUB,
    COCO) augments as AttnGAN/DF-GAN do: resize to S·76/64, random crop S, random flip.
    ``"test"`` is deterministic: no shuffle, a centre crop, and the caption chosen by
    ``caption_seed``. Shapes is rendered at the requested size and never flipped.

    Args:
        name: str. ``"shapes"``, ``"cub"`` or ``"coco"``.
        split: str. ``"train"`` or ``"test"``.
        data_dir: str. The dataset's folder on disk, in the layout of the README (CUB, COCO).
        image_size: int. Side S of the square images. Defaults to 64.
        batch_size: int. Defaults to 32.
        tokenizer: CaptionTokenizer. Defaults to :func:`caption_tokenizer` of this dataset.
        max_words: int. Caption length when no tokenizer is given; defaults as in
            :func:`caption_tokenizer`.
        shuffle: bool. Defaults to True for ``"train"``.
        caption_seed: int. Seed of the caption choice on ``"test"``.
        sampling_seed: int. Seeds the training order, caption choice and augmentation (each
            epoch still draws anew). Defaults to None: from the global seed if one is set
            (``keras.utils.set_random_seed``), else random.
        drop_remainder: bool. Drop the last partial batch. Defaults to True for ``"train"``.
        **options: Shapes: ``num_scenes`` (10,000 train / 1,000 test), ``min_objects`` (1),
            ``max_objects`` (2), ``num_captions`` (5), ``seed`` (0), ``holdout`` (e.g.
            ``["red circle"]``).
            CUB/COCO: ``prepared_dir`` (where the TFRecords are written; defaults to
            ``<data_dir>/tfds``), ``skip_corrupt`` (skip and count undecodable images instead
            of failing), ``rebuild`` (re-read the folder).

    Returns:
        A tf.data.Dataset of dicts: ``image`` float32 (B, S, S, 3) in [-1, 1], ``tokens``
        int32 (B, max_words), ``caption`` string (B,), ``key`` string (B,), ``class_id`` int32
        (B,), and the dataset's extras: Shapes ``num_objects`` (B,), ``shape``, ``color``,
        ``size``, ``row``, ``col`` int32 (B, max_objects) with -1 for absent objects,
        ``center`` float32 (B, max_objects, 2) and ``masks`` uint8 (B, S, S, max_objects);
        CUB ``bbox`` float32 (B, 4); COCO ``image_id`` int64 (B,).
    """
    _check_name_split(name, split)
    options = _resolve_options(name, options)
    if int(image_size) < 8:
        raise ValueError(f"image_size must be at least 8, got {image_size}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    training = split == "train"
    shuffle = training if shuffle is None else shuffle
    if tokenizer is None:
        tokenizer = caption_tokenizer(name, data_dir=data_dir, max_words=max_words, **options)
    if name == "shapes":
        num_scenes = options["num_scenes"] or SHAPES_NUM_SCENES[split]
        examples = shapes_examples(_shapes_generator(options), split, int(num_scenes),
                                   int(image_size), shuffle=shuffle, seed=sampling_seed)
        shuffle_buffer, augment = 0, False  # the scene indices are shuffled already
    else:
        builder = _builder(name, data_dir, options["prepared_dir"], options["skip_corrupt"],
                           options["rebuild"])
        examples = builder.as_dataset(split=split, shuffle_files=shuffle)
        shuffle_buffer, augment = (10_000 if shuffle else 0), True
    return pipeline.build_pipeline(
        examples, tokenizer=tokenizer, image_size=int(image_size), batch_size=int(batch_size),
        training=training, augment=augment, shuffle_buffer=shuffle_buffer,
        caption_seed=caption_seed, sampling_seed=sampling_seed, drop_remainder=drop_remainder)


__all__ = ["DATASETS", "SPLITS", "ShapesGenerator", "caption_tokenizer", "check", "load"]
