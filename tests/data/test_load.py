import numpy as np
import pytest
import tensorflow as tf

import keras_t2i as kt
from keras_t2i.data.shapes import SHAPES, max_caption_words


def small_shapes(split, **kwargs):
    kwargs.setdefault("num_scenes", 40)
    return kt.data.load("shapes", split, image_size=32, batch_size=8, **kwargs)


def test_shapes_batch_structure():
    batch = next(iter(small_shapes("train")))
    k = 2
    expected = {
        "image": ((8, 32, 32, 3), tf.float32), "tokens": ((8, max_caption_words(k)), tf.int32),
        "caption": ((8,), tf.string), "key": ((8,), tf.string), "class_id": ((8,), tf.int32),
        "num_objects": ((8,), tf.int32), "shape": ((8, k), tf.int32),
        "color": ((8, k), tf.int32), "size": ((8, k), tf.int32), "row": ((8, k), tf.int32),
        "col": ((8, k), tf.int32), "center": ((8, k, 2), tf.float32),
        "masks": ((8, 32, 32, k), tf.uint8),
    }
    assert set(batch) == set(expected)
    for name, (shape, dtype) in expected.items():
        assert tuple(batch[name].shape) == shape and batch[name].dtype == dtype, name
    image = batch["image"].numpy()
    assert image.min() >= -1.0 and image.max() <= 1.0 and image.std() > 0.05
    assert (batch["tokens"].numpy()[:, 0] > 0).all()
    count = batch["num_objects"].numpy()
    assert ((batch["shape"].numpy() >= 0).sum(axis=1) == count).all()
    assert set(batch["shape"].numpy().ravel()) <= set(range(-1, len(SHAPES)))


def test_caption_belongs_to_its_scene():
    gen = kt.data.ShapesGenerator()
    for batch in small_shapes("train").take(2):
        for key, caption in zip(batch["key"].numpy(), batch["caption"].numpy()):
            split, index = key.decode().split("/")[1:]
            assert caption.decode() in gen.scene(split, int(index)).captions


def test_test_split_is_identical_across_loads():
    def collect():
        return [(b["key"].numpy().tolist(), b["caption"].numpy().tolist(), b["image"].numpy())
                for b in small_shapes("test")]

    first, second = collect(), collect()
    assert len(first) == 5
    for a, b in zip(first, second):
        assert a[0] == b[0] and a[1] == b[1]
        np.testing.assert_array_equal(a[2], b[2])


def test_one_epoch_is_one_pass_over_the_images():
    keys = [k for b in small_shapes("test") for k in b["key"].numpy()]
    assert len(keys) == 40 and len(set(keys)) == 40
    train_keys = [k for b in small_shapes("train", num_scenes=44) for k in b["key"].numpy()]
    assert len(train_keys) == 40 and len(set(train_keys)) == 40  # last partial batch dropped


def test_train_draws_new_captions_and_order_each_epoch():
    ds = small_shapes("train")
    epochs = [{k: c for b in ds for k, c in zip(b["key"].numpy(), b["caption"].numpy())}
              for _ in range(3)]
    shared = set(epochs[0]) & set(epochs[1]) & set(epochs[2])
    changed = [k for k in shared if len({e[k] for e in epochs}) > 1]
    assert len(changed) > len(shared) // 2


def test_tokens_decode_to_the_caption():
    tok = kt.data.caption_tokenizer("shapes")
    batch = next(iter(kt.data.load("shapes", "test", batch_size=4, num_scenes=4,
                                   tokenizer=tok)))
    decoded = tok.detokenize(batch["tokens"]).numpy()
    for caption, text in zip(batch["caption"].numpy(), decoded):
        assert text.decode() == " ".join(caption.decode().replace(",", " ")
                                         .replace(":", " ").split())


def test_vocabulary_covers_the_grammar():
    tok = kt.data.caption_tokenizer("shapes", max_objects=4)
    gen = kt.data.ShapesGenerator(max_objects=4, seed=7)
    words = {w for i in range(300) for c in gen.scene("test", i).captions
             for w in c.replace(",", " ").replace(":", " ").split()}
    assert words <= set(tok.vocabulary)


def test_unknown_names_splits_and_options_are_listed():
    with pytest.raises(ValueError, match="valid datasets: shapes, cub, coco"):
        kt.data.load("mnist", "train")
    with pytest.raises(ValueError, match="valid splits: train, test"):
        kt.data.load("shapes", "validation")
    with pytest.raises(TypeError, match="max_objects"):
        kt.data.load("shapes", "train", max_object=3)
    with pytest.raises(ValueError, match="data_dir"):
        kt.data.load("cub", "train")
    with pytest.raises(ValueError, match="batch_size"):
        kt.data.load("shapes", "train", batch_size=0)


def test_an_example_without_captions_fails_with_that_message():
    from keras_t2i.data.pipeline import choose_caption
    choose = tf.function(choose_caption)
    assert choose(tf.constant(["a", "b"]), tf.constant([1, 2], tf.int64)).numpy() in (b"a", b"b")
    # Repeated: without the ordering, the random draw's own error won now and then.
    for i in range(100):
        with pytest.raises(tf.errors.InvalidArgumentError, match="An example has no captions"):
            choose(tf.constant([], tf.string), tf.constant([1, i], tf.int64))
