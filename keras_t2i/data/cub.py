"""CUB-200-2011 with the Reed et al. captions, as a tensorflow-datasets builder over a manual dir.

Layout of ``data_dir`` (what Caltech and the AttnGAN/DF-GAN metadata zip give you)::

    CUB_200_2011/images/<class_dir>/<name>.jpg
    CUB_200_2011/{images.txt, bounding_boxes.txt, image_class_labels.txt, classes.txt}
    text/<class_dir>/<name>.txt        (or text_c10/), 10 captions per image, one per line
    train/filenames.pickle             (or filenames.txt), keys "<class_dir>/<name>"
    test/filenames.pickle              class-disjoint: 150 train classes, 50 test classes

Each image is stored with its original bytes and the AttnGAN crop box (a square of side
1.5× the bounding box's longer side around its centre, clipped to the image; seeds.md §1.1),
which the pipeline applies when decoding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from keras_t2i.data import manual

CAPTION_DIRS = ("text", "text_c10")


def crop_box(bbox, height: int, width: int) -> tuple[int, int, int, int]:
    """AttnGAN's ``get_imgs`` crop as (top, left, height, width).

    Args:
        bbox: (x, y, w, h) of the bird, as in ``bounding_boxes.txt``.
    """
    x, y, w, h = bbox
    r = int(max(w, h) * 0.75)
    cx, cy = int((2 * x + w) / 2), int((2 * y + h) / 2)
    y1, y2 = max(0, cy - r), min(height, cy + r)
    x1, x2 = max(0, cx - r), min(width, cx + r)
    if y2 <= y1 or x2 <= x1:
        raise ValueError(f"Bounding box {bbox} lies outside the {width}x{height} image.")
    return y1, x1, y2 - y1, x2 - x1


def _read_table(path: Path, what: str, columns: int) -> dict[int, list[str]]:
    rows = {}
    for number, line in enumerate(manual.require_file(path, what).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != columns:
            raise ValueError(f"{path}, line {number}: expected {columns} fields "
                             f"(the {what} format), got {line!r}")
        try:
            rows[int(parts[0])] = parts[1:]
        except ValueError as err:
            raise ValueError(f"{path}, line {number}: bad image id in {line!r}") from err
    return rows


class CubMetadata:
    """The CUB_200_2011 tables indexed by key ``<class_dir>/<name>``."""

    def __init__(self, root: Path):
        cub = manual.require_dir(root / "CUB_200_2011", "CUB_200_2011 folder")
        images = _read_table(cub / "images.txt", "image list images.txt", 2)
        boxes = _read_table(cub / "bounding_boxes.txt", "bounding boxes bounding_boxes.txt", 5)
        labels = _read_table(cub / "image_class_labels.txt",
                             "class labels image_class_labels.txt", 2)
        classes = _read_table(cub / "classes.txt", "class names classes.txt", 2)
        self.images_dir = manual.require_dir(cub / "images", "CUB images folder")
        self.entries = {}
        for image_id, (relpath,) in images.items():
            if image_id not in boxes:
                raise ValueError(f"{cub / 'bounding_boxes.txt'} has no box for image id "
                                 f"{image_id} ({relpath})")
            if image_id not in labels:
                raise ValueError(f"{cub / 'image_class_labels.txt'} has no label for image id "
                                 f"{image_id} ({relpath})")
            label = int(labels[image_id][0])
            if label not in classes:
                raise ValueError(f"{cub / 'classes.txt'} has no class {label}")
            key = relpath[: -len(".jpg")] if relpath.endswith(".jpg") else relpath
            self.entries[key] = {
                "relpath": relpath,
                "bbox": tuple(float(v) for v in boxes[image_id]),
                "label": label - 1,
                "class_name": classes[label][0],
            }
        candidates = [root / d for d in CAPTION_DIRS]
        found = [d for d in candidates if d.is_dir()]
        if not found:
            raise manual.DatasetLayoutError(
                "Missing caption folder: neither " + " nor ".join(map(str, candidates))
                + " exists (the Reed et al. captions, one .txt per image).")
        self.text_dir = found[0]

    def captions(self, key: str, skipped: manual.SkipCounter | None = None) -> list[str]:
        """The captions of ``key``; lines that are not UTF-8 are skipped (and counted in
        ``skipped`` when given)."""
        path = manual.require_file(self.text_dir / f"{key}.txt", f"captions of {key}")
        captions = manual.read_caption_lines(path, skipped)
        if not captions:
            raise ValueError(f"{path} holds no usable captions.")
        return captions


def check_layout(root: Path) -> None:
    """Raises an error naming the first missing or malformed part of the CUB layout under
    ``root`` (the tables, the caption folder, the split lists and their keys); no image is
    read."""
    meta = CubMetadata(root)
    for split in ("train", "test"):
        _split_keys(root, split, meta)


def _split_keys(root: Path, split: str, meta: CubMetadata) -> list[str]:
    keys = manual.read_split_list(manual.require_dir(root / split, f"{split} split"))
    unknown = [k for k in keys if k not in meta.entries]
    if unknown:
        raise ValueError(f"{len(unknown)} key(s) of the {split} split are not in "
                         f"CUB_200_2011/images.txt, e.g. {unknown[:3]}")
    return keys


class CubCaptions(manual.ManualCaptionBuilder):
    """CUB-200-2011 images with the Reed et al. captions and the class-disjoint T2I split."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = __doc__
    DESCRIPTION = "CUB-200-2011 birds with 10 captions per image (Reed et al. 2016)."
    HOMEPAGE = "https://www.vision.caltech.edu/datasets/cub_200_2011/"
    EXTRA_FEATURES = {
        "crop": tfds.features.Tensor(shape=(4,), dtype=np.int32),
        "bbox": tfds.features.Tensor(shape=(4,), dtype=np.float32),
    }

    def _split_generators(self, dl_manager):
        root = Path(dl_manager.manual_dir)
        meta = CubMetadata(root)
        splits = {}
        for split in ("train", "test"):
            splits[split] = self._generate_examples(meta, _split_keys(root, split, meta))
        return splits

    def _generate_examples(self, meta: CubMetadata, keys):
        items = ((meta.images_dir / meta.entries[k]["relpath"], f"image of {k}", k) for k in keys)
        skipped = manual.SkipCounter(self.name, "caption line(s) that are not UTF-8")
        for key, data, height, width in self._read_images(items):
            entry = meta.entries[key]
            yield key, {
                "image_bytes": data,
                "crop": np.array(crop_box(entry["bbox"], height, width), np.int32),
                "captions": meta.captions(key, skipped),
                "key": key,
                "class_id": np.int32(entry["label"]),
                "bbox": np.array(entry["bbox"], np.float32),
            }
        skipped.report()
