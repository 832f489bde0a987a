"""The tf.data pipeline shared by every dataset: caption choice, crop/resize/augment, tokenise,
batch.

Sources (``shapes.py``, ``cub.py``, ``coco.py``) yield unbatched examples holding at least
``image`` (decoded uint8 (H, W, 3), or ``image_bytes`` + ``crop`` for JPEG/PNG sources),
``captions`` (string (n,)) and ``key``; everything else passes through as dataset extras.
"""

from __future__ import annotations

import tensorflow as tf

from keras_t2i.text.tokenizer import CaptionTokenizer

# AttnGAN/DF-GAN train-time augmentation (seeds.md §1.1): resize to S*76/64, random crop S, flip.
RESIZE_RATIO = 76 / 64
DEFAULT_CAPTION_SEED = 1234


def decode_image(example) -> tf.Tensor:
    """uint8 (H, W, 3) from an example's ``image`` or ``image_bytes`` (+ optional ``crop``)."""
    if "image" in example:
        return example["image"]
    image = tf.io.decode_image(example["image_bytes"], channels=3, expand_animations=False)
    if "crop" in example:
        top, left, height, width = tf.unstack(example["crop"])
        image = tf.image.crop_to_bounding_box(image, top, left, height, width)
    return image


def _resize(image, size):
    image = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0)


def transform_image(image, image_size: int, augment: bool, seed=None) -> tf.Tensor:
    """uint8 (H, W, 3) → float32 (S, S, 3) in [-1, 1].

    With ``augment``: resize to S·76/64 then a crop of S, random and flipped at random when a
    ``seed`` (int (2,), for stateless ops) is given, centred otherwise. Without: resize to S.
    """
    if augment:
        big = int(image_size * RESIZE_RATIO)
        image = _resize(image, (big, big))
        if seed is not None:
            image = tf.image.stateless_random_crop(image, (image_size, image_size, 3), seed=seed)
            image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
        else:
            offset = (big - image_size) // 2
            image = image[offset : offset + image_size, offset : offset + image_size]
    elif image.shape[0] != image_size or image.shape[1] != image_size:
        image = _resize(image, (image_size, image_size))
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def choose_caption(captions, seed):
    """One caption of the example, uniformly, drawn by a stateless seed (int (2,))."""
    count = tf.shape(captions, out_type=tf.int64)[0]
    # The draw fails on its own (maxval 0) when there is no caption: order it after the check.
    with tf.control_dependencies([tf.debugging.assert_positive(
            count, message="An example has no captions.")]):
        index = tf.random.stateless_uniform([], seed=seed, maxval=count, dtype=tf.int64)
    return captions[index]


def build_pipeline(
    examples: tf.data.Dataset,
    *,
    tokenizer: CaptionTokenizer,
    image_size: int,
    batch_size: int,
    training: bool,
    augment: bool,
    shuffle_buffer: int = 0,
    caption_seed: int = DEFAULT_CAPTION_SEED,
    sampling_seed: int | None = None,
    drop_remainder: bool | None = None,
) -> tf.data.Dataset:
    """Turns unbatched source examples into batches of model inputs.

    In training, every random choice (caption, crop, flip, the words kept of a long caption)
    uses stateless ops seeded from ``tf.data.Dataset.random`` with re-randomisation on each
    iteration: stateful random ops in a dataset function restart their sequence with every new
    iterator once a global seed is set, which would repeat one caption per image every epoch.
    Outside training, the caption is drawn from ``(caption_seed, position)``.

    Each batch is a dict with ``image`` float32 (B, S, S, 3) in [-1, 1], ``tokens`` int32
    (B, max_words), ``caption`` string (B,), ``key`` string (B,), and the source's extras.
    """
    if drop_remainder is None:
        drop_remainder = training
    if shuffle_buffer:
        examples = examples.shuffle(shuffle_buffer, seed=sampling_seed,
                                    reshuffle_each_iteration=True)
    randoms = tf.data.Dataset.random(seed=sampling_seed, rerandomize_each_iteration=True)

    def prepare(index_and_example, random):
        index, example = index_and_example
        example = dict(example)
        captions = example.pop("captions")
        image = decode_image(example)
        example.pop("image_bytes", None)
        example.pop("crop", None)
        if training:
            seed = tf.stack([random, index])
            example["_seed"] = random
        else:
            seed = tf.stack([tf.constant(caption_seed, tf.int64), index])
        example["image"] = transform_image(image, image_size, augment,
                                           seed=seed if training else None)
        example["caption"] = choose_caption(captions, seed)
        return example

    def tokenize(batch):
        if training:
            seed = tf.stack([batch.pop("_seed")[0], tf.constant(0, tf.int64)])
            batch["tokens"] = tokenizer(batch["caption"], training=True, seed=seed)
        else:
            batch["tokens"] = tokenizer(batch["caption"])
        return batch

    ds = tf.data.Dataset.zip((examples.enumerate(), randoms)).map(
        prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    return ds.prefetch(tf.data.AUTOTUNE)
