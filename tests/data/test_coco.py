import json
import os

import pytest
from fixtures import COCO_IMAGES, coco_caption, write_coco

import keras_t2i as kt


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    write_coco(root)
    return root


def load(root, split, tmp_path, **kwargs):
    return kt.data.load("coco", split, data_dir=root, image_size=16, batch_size=2,
                        prepared_dir=tmp_path / "prepared", drop_remainder=False, **kwargs)


def examples(ds):
    return [dict(zip(b, values)) for b in ds for values in zip(*(b[k].numpy() for k in b))]


@pytest.mark.parametrize("split,folder", [("train", "train2014"), ("test", "val2014")])
def test_splits_keys_and_captions(coco_root, tmp_path, split, folder):
    items = examples(load(coco_root, split, tmp_path))
    expected = {f"COCO_{folder}_{i:012d}": (i, n) for i, n in COCO_IMAGES[folder]}
    assert sorted(e["key"].decode() for e in items) == sorted(expected)
    for e in items:
        image_id, count = expected[e["key"].decode()]
        assert e["image_id"] == image_id
        assert e["caption"].decode() in {coco_caption(folder, image_id, i) for i in range(count)}
        assert e["image"].shape == (16, 16, 3)
        assert -1 <= e["image"].min() and e["image"].max() <= 1


def test_every_caption_of_an_image_is_drawn(coco_root, tmp_path):
    seen = set()
    ds = load(coco_root, "train", tmp_path)
    for _ in range(40):
        seen |= {(e["key"], e["caption"]) for e in examples(ds)}
    assert len(seen) == sum(n for _, n in COCO_IMAGES["train2014"])


def test_missing_annotation_file_is_named(tmp_path):
    root = tmp_path / "coco"
    write_coco(root)
    os.remove(root / "annotations" / "captions_val2014.json")
    with pytest.raises(FileNotFoundError, match="captions_val2014.json"):
        load(root, "train", tmp_path)


def test_missing_image_is_named(tmp_path):
    root = tmp_path / "coco"
    files = write_coco(root)
    os.remove(root / "val2014" / files["val2014"][1])
    with pytest.raises(FileNotFoundError, match=files["val2014"][1]):
        load(root, "test", tmp_path)


def test_malformed_annotations_are_reported(tmp_path):
    root = tmp_path / "coco"
    write_coco(root)
    (root / "annotations" / "captions_train2014.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="captions_train2014.json is not a COCO caption file"):
        load(root, "train", tmp_path)
