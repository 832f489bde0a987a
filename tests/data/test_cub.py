import os
import pickle

import numpy as np
import pytest
from fixtures import CUB_CLASSES, cub_captions, python2_pickle, write_cub

import keras_t2i as kt
from keras_t2i.data import cub, manual

BOXES = {f"{c}/{name}": (w, h, x, y, bw, bh) for c, items in CUB_CLASSES
         for name, w, h, x, y, bw, bh in items}


def load(root, split, tmp_path, **kwargs):
    kwargs.setdefault("prepared_dir", tmp_path / "prepared")
    return kt.data.load("cub", split, data_dir=root, image_size=16, batch_size=2, **kwargs)


def examples(ds):
    return [dict(zip(b, values)) for b in ds for values in zip(*(b[k].numpy() for k in b))]


@pytest.fixture(scope="module")
def cub_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("birds")
    write_cub(root)
    return root


def test_crop_box_matches_attngan():
    # Box (x=20, y=10, w=16, h=12) in a 60x40 image: r = int(0.75*16) = 12, centre (28, 16),
    # rows [4, 28), columns [16, 40).
    assert cub.crop_box((20, 10, 16, 12), height=40, width=60) == (4, 16, 24, 24)
    # Clipped at the borders: r = 30, centre (19, 24) -> rows [0, 48), columns [0, 48).
    assert cub.crop_box((4, 4, 30, 40), height=48, width=48) == (0, 0, 48, 48)


def test_splits_keys_classes_and_captions(cub_root, tmp_path):
    for split, classes in (("train", {0, 1}), ("test", {2})):
        items = examples(load(cub_root, split, tmp_path, drop_remainder=False))
        expected = [f"{c}/{n[0]}" for i, (c, names) in enumerate(CUB_CLASSES)
                    for n in names if i in classes]
        assert sorted(e["key"].decode() for e in items) == sorted(expected)
        for e in items:
            key = e["key"].decode()
            assert e["caption"].decode() in cub_captions(key)
            assert e["class_id"] == [c for c, _ in CUB_CLASSES].index(key.split("/")[0])
            assert e["image"].shape == (16, 16, 3) and e["tokens"].shape == (18,)
            np.testing.assert_allclose(e["bbox"], BOXES[key][2:])


def test_images_are_cropped_around_the_bird(cub_root, tmp_path):
    builder = kt.data._builder("cub", cub_root, tmp_path / "prepared", False, False)
    import tensorflow as tf

    for record in builder.as_dataset(split="train"):
        key = record["key"].numpy().decode()
        width, height, x, y, w, h = BOXES[key]
        top, left, ch, cw = record["crop"].numpy()
        assert (top, left, ch, cw) == cub.crop_box((x, y, w, h), height, width)
        image = tf.image.crop_to_bounding_box(
            tf.io.decode_image(record["image_bytes"], channels=3), top, left, ch, cw).numpy()
        # The red bird box lies in the middle of the crop.
        centre = image[ch // 2, cw // 2]
        assert centre[0] > 200 and centre[2] < 60, (key, centre)


def test_test_split_is_deterministic_and_uncropped_randomly(cub_root, tmp_path):
    a = examples(load(cub_root, "test", tmp_path))
    b = examples(load(cub_root, "test", tmp_path))
    for x, y in zip(a, b):
        assert x["caption"] == y["caption"]
        np.testing.assert_array_equal(x["image"], y["image"])


def test_text_c10_and_plain_text_split_lists(tmp_path):
    root = tmp_path / "birds"
    write_cub(root, caption_dir="text_c10", pickled_train=False)
    assert (root / "train" / "filenames.txt").exists()
    items = examples(load(root, "train", tmp_path, drop_remainder=False))
    assert len(items) == 4


@pytest.mark.parametrize("missing", ["CUB_200_2011/bounding_boxes.txt",
                                     "CUB_200_2011/images.txt", "test/filenames.pickle"])
def test_missing_files_are_named(tmp_path, missing):
    root = tmp_path / "birds"
    write_cub(root)
    if missing.startswith("test/"):
        os.remove(root / "test" / "filenames.txt")
    else:
        os.remove(root / missing)
    with pytest.raises(FileNotFoundError, match=missing.split("/")[-1].replace(".", r"\.")):
        load(root, "train", tmp_path)


def test_missing_caption_file_is_named(tmp_path):
    root = tmp_path / "birds"
    splits = write_cub(root)
    os.remove(root / "text" / f"{splits['test'][0]}.txt")
    with pytest.raises(FileNotFoundError, match=splits["test"][0].split("/")[1]):
        load(root, "test", tmp_path)


def test_malformed_table_names_file_and_line(tmp_path):
    root = tmp_path / "birds"
    write_cub(root)
    path = root / "CUB_200_2011" / "bounding_boxes.txt"
    lines = path.read_text().splitlines()
    lines[2] = "3 1.0 2.0"
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"bounding_boxes\.txt, line 3"):
        load(root, "train", tmp_path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/keras_t2i_pickle_exploit",))


def test_restricted_unpickler_rejects_code(tmp_path):
    marker = "/tmp/keras_t2i_pickle_exploit"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "filenames.pickle"
    path.write_bytes(pickle.dumps(["a/b", _Exploit()]))
    with pytest.raises(ValueError, match="refusing to load"):
        manual.read_string_list_pickle(path)
    assert not os.path.exists(marker)
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="list of strings"):
        manual.read_string_list_pickle(path)
    path.write_bytes(python2_pickle(["a/b", "c/d"]))
    assert manual.read_string_list_pickle(path) == ["a/b", "c/d"]
    path.write_bytes(pickle.dumps(["a/b", b"c/d"], protocol=2))  # Python 3 bytes: _codecs
    assert manual.read_string_list_pickle(path) == ["a/b", "c/d"]


def test_corrupt_image_fails_with_its_path_or_is_skipped(tmp_path, caplog):
    root = tmp_path / "birds"
    splits = write_cub(root)
    bad = root / "CUB_200_2011" / "images" / f"{splits['train'][1]}.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(manual.CorruptImageError, match=str(bad)):
        load(root, "train", tmp_path)
    items = examples(load(root, "train", tmp_path, skip_corrupt=True, rebuild=True,
                          drop_remainder=False))
    assert len(items) == 3
    assert "skipped 1 corrupt image" in caplog.text


def test_vocabulary_comes_from_training_captions(cub_root):
    tok = kt.data.caption_tokenizer("cub", data_dir=cub_root)
    assert "black_footed_albatross_0001_1" in tok.vocabulary
    assert "sooty_albatross_0001_5" not in tok.vocabulary  # a test-split word


def test_caption_lines_that_are_not_utf8_are_skipped_and_named(tmp_path, caplog):
    root = tmp_path / "birds"
    splits = write_cub(root)
    key = splits["test"][0]
    path = root / "text" / f"{key}.txt"
    lines = path.read_bytes().splitlines()
    lines[3] = b"caption \xff\xfe three"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = []
    ds = load(root, "test", tmp_path, drop_remainder=False)
    items = [e for e in examples(ds) if e["key"].decode() == key]
    assert items and b"\xff" not in items[0]["caption"]
    assert f"{path}, line 4" in caplog.text and "not UTF-8" in caplog.text
    assert "skipped 1 caption line(s) that are not UTF-8" in caplog.text
    path.write_bytes(b"\xff\n\xfe\n")
    with pytest.raises(ValueError, match=f"{path} holds no usable captions"):
        load(root, "test", tmp_path, rebuild=True)
