"""COCO-2014 captions as a tensorflow-datasets builder over a manual dir.

Layout of ``data_dir`` (the official COCO 2014 downloads, unzipped)::

    annotations/captions_train2014.json
    annotations/captions_val2014.json
    train2014/COCO_train2014_<id>.jpg
    val2014/COCO_val2014_<id>.jpg

Split ``train`` is train2014 (82,783 images), split ``test`` is val2014 (40,504 images), as in
AttnGAN, DM-GAN and DF-GAN. Keys are file names without ``.jpg`` (AttnGAN's keys). COCO images
are not cropped (seeds.md §1.1).
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from keras_t2i.data import manual

SPLIT_FOLDERS = {"train": "train2014", "test": "val2014"}


def read_captions(path: Path) -> list[dict]:
    """Parses a ``captions_*.json``: one record per image with its captions, by image id.

    Raises:
        ValueError: naming the file, and the entry (``images[i]``, ``annotations[i]`` with
            its id) when one is malformed. Blank captions, and captions of image ids the
            file does not list, are skipped with a warning that names and counts them.
    """
    manual.require_file(path, f"COCO caption file {path.name}")
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ValueError(f"{path} is not UTF-8: byte {err.start} (line {line}) is "
                         f"{raw[err.start:err.end]!r} ({err.reason}).") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    if not (isinstance(data, dict) and isinstance(data.get("images"), list)
            and isinstance(data.get("annotations"), list)):
        raise ValueError(f"{path} is not a COCO caption file (needs 'images' with id/file_name "
                         "and 'annotations' with image_id/caption).")
    images = {}
    for index, image in enumerate(data["images"]):
        if not (isinstance(image, dict) and isinstance(image.get("id"), int)
                and isinstance(image.get("file_name"), str)):
            raise ValueError(f"{path}: images[{index}] needs an integer 'id' and a string "
                             f"'file_name', got {_short(image)}")
        images[image["id"]] = image["file_name"]
    captions = collections.defaultdict(list)
    blank = manual.SkipCounter(path.name, "blank caption(s)")
    orphans = manual.SkipCounter(path.name, "caption(s) of images the file does not list")
    for index, ann in enumerate(data["annotations"]):
        if not (isinstance(ann, dict) and "image_id" in ann and "caption" in ann):
            raise ValueError(f"{path}: annotations[{index}] needs 'image_id' and 'caption', "
                             f"got {_short(ann)}")
        entry = f"annotations[{index}] (id {ann.get('id')}, image_id {ann['image_id']})"
        if not isinstance(ann["caption"], str):
            raise ValueError(f"{path}: {entry} has caption {_short(ann['caption'])}, not a "
                             "string.")
        if ann["image_id"] not in images:
            orphans.skip(entry, "its image_id is not in 'images'")
        elif not ann["caption"].strip():
            blank.skip(entry, "blank caption")
        else:
            captions[ann["image_id"]].append(ann["caption"].strip())
    blank.report()
    orphans.report()
    records = []
    for image_id in sorted(images):
        if not captions.get(image_id):
            raise ValueError(f"{path}: image {images[image_id]} (id {image_id}) has no caption")
        records.append({"id": image_id, "file_name": images[image_id],
                        "captions": captions[image_id]})
    return records


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_layout(root: Path) -> None:
    """Raises an error naming the first missing part of the COCO layout under ``root`` (the
    two caption files and the two image folders); nothing is read."""
    for folder in SPLIT_FOLDERS.values():
        manual.require_file(captions_file(root, folder), f"COCO {folder} captions")
        manual.require_dir(root / folder, f"COCO {folder} images")


def captions_file(root: Path, folder: str) -> Path:
    return root / "annotations" / f"captions_{folder}.json"


class CocoCaptions2014(manual.ManualCaptionBuilder):
    """COCO-2014 images with their 5 (sometimes more) captions; test is val2014."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = __doc__
    DESCRIPTION = "MS-COCO 2014 with its human captions."
    HOMEPAGE = "https://cocodataset.org/"
    EXTRA_FEATURES = {"image_id": tfds.features.Tensor(shape=(), dtype=np.int64)}

    def _split_generators(self, dl_manager):
        root = Path(dl_manager.manual_dir)
        splits = {}
        for split, folder in SPLIT_FOLDERS.items():
            records = read_captions(captions_file(root, folder))
            image_dir = manual.require_dir(root / folder, f"COCO {folder} images")
            splits[split] = self._generate_examples(records, image_dir)
        return splits

    def _generate_examples(self, records, image_dir: Path):
        items = ((image_dir / r["file_name"], "COCO image", (i, r)) for i, r in enumerate(records))
        for (index, record), data, _, _ in self._read_images(items):
            key = Path(record["file_name"]).stem
            yield key, {
                "image_bytes": data,
                "captions": record["captions"],
                "key": key,
                # COCO has no classes: every image is its own class (AttnGAN: arange(N)).
                "class_id": np.int32(index),
                "image_id": np.int64(record["id"]),
            }
