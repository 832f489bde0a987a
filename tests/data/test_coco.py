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


def _rewrite_annotations(root, folder, edit):
    path = root / "annotations" / f"captions_{folder}.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["annotations"][2].update(caption=None),
     r"annotations\[2\] \(id 3, image_id 9\) has caption None, not a string"),
    (lambda d: d["annotations"][4].pop("caption"),
     r"annotations\[4\] needs 'image_id' and 'caption'"),
    (lambda d: d["images"][1].pop("file_name"),
     r"images\[1\] needs an integer 'id' and a string 'file_name'"),
])
def test_malformed_entries_name_the_file_and_the_entry(tmp_path, edit, message):
    root = tmp_path / "coco"
    write_coco(root)
    path = _rewrite_annotations(root, "train2014", edit)
    with pytest.raises(ValueError, match=f"{path}: {message}"):
        load(root, "train", tmp_path)


def test_captions_that_are_not_utf8_name_the_file_and_byte(tmp_path):
    root = tmp_path / "coco"
    write_coco(root)
    path = root / "annotations" / "captions_val2014.json"
    text = path.read_bytes()
    at = text.index(b"a photo number 3")
    path.write_bytes(text[:at] + b"\xff\xfe" + text[at:])
    with pytest.raises(ValueError, match=f"{path} is not UTF-8: byte {at} \\(line 1\\)"):
        load(root, "test", tmp_path)


def test_blank_captions_are_skipped_with_a_warning_that_counts_them(tmp_path, caplog):
    root = tmp_path / "coco"
    write_coco(root)

    def blank(data):
        data["annotations"][0]["caption"] = "   "
        data["annotations"][6]["caption"] = ""

    _rewrite_annotations(root, "train2014", blank)
    items = []
    ds = load(root, "train", tmp_path)
    for _ in range(30):
        items += examples(ds)
    captions = {e["caption"].decode() for e in items}
    assert "" not in captions and not any(not c.strip() for c in captions)
    assert len(captions) == sum(n for _, n in COCO_IMAGES["train2014"]) - 2
    assert "captions_train2014.json: skipped 2 blank caption(s)" in caplog.text
    assert "annotations[0] (id 1, image_id 9)" in caplog.text


def test_a_decompression_bomb_is_named_or_skipped_and_counted(tmp_path, caplog):
    from fixtures import decompression_bomb_png

    from keras_t2i.data import manual

    root = tmp_path / "coco"
    files = write_coco(root)
    bomb = root / "val2014" / files["val2014"][0]
    decompression_bomb_png(bomb)
    with pytest.raises(manual.CorruptImageError, match=f"Cannot decode image {bomb}: too many "
                                                       "pixels"):
        load(root, "test", tmp_path)
    items = examples(load(root, "test", tmp_path, skip_corrupt=True, rebuild=True))
    assert len(items) == len(COCO_IMAGES["val2014"]) - 1
    assert "skipped 1 corrupt image(s)" in caplog.text and str(bomb) in caplog.text
