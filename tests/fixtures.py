"""Tiny CUB-200-2011 and COCO-2014 folders in the layouts users have on disk, and the inputs
of the `exported` model fixture (conftest.py).

Every image is a small JPEG: blue background with a red rectangle where the CUB bounding box
is, so tests can check the crop by colour.
"""

from __future__ import annotations

import contextlib
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

# The captions and seeds of the `exported` fixture's reference images.
CAPTIONS = ["a big red circle in the center", "a small blue square on the left",
            "a green star at the top"]
SEEDS = [3, 4, 5]

# (class_dir, [(name, width, height, bbox x, y, w, h)]); classes 1-2 train, class 3 test.
CUB_CLASSES = [
    ("001.Black_footed_Albatross", [("Black_footed_Albatross_0001_1", 60, 40, 20, 10, 16, 12),
                                    ("Black_footed_Albatross_0002_2", 48, 48, 4, 4, 30, 40)]),
    ("002.Laysan_Albatross", [("Laysan_Albatross_0001_3", 50, 36, 10, 8, 12, 10),
                              ("Laysan_Albatross_0002_4", 40, 60, 12, 20, 10, 20)]),
    ("003.Sooty_Albatross", [("Sooty_Albatross_0001_5", 64, 40, 30, 12, 20, 16),
                             ("Sooty_Albatross_0002_6", 44, 44, 0, 0, 44, 44)]),
]
CUB_TRAIN_CLASSES = 2


def python2_pickle(strings: list[str]) -> bytes:
    """A list of str pickled the way Python 2 wrote AttnGAN's filenames.pickle (protocol 2:
    SHORT_BINSTRING/BINSTRING items, no globals)."""
    out = bytearray(b"\x80\x02]q\x00(")
    for s in strings:
        data = s.encode("latin1")
        if len(data) < 256:
            out += b"U" + bytes([len(data)]) + data
        else:
            out += b"T" + len(data).to_bytes(4, "little") + data
    out += b"e."
    assert pickle.loads(bytes(out), encoding="latin1") == strings
    return bytes(out)


def write_jpeg(path: Path, width: int, height: int, box=None):
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:] = (0, 0, 255)
    if box is not None:
        x, y, w, h = box
        pixels[y : y + h, x : x + w] = (255, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=95)


def cub_captions(key: str) -> list[str]:
    return [f"caption {i} of {key.split('/')[1].lower()} this bird is blue" for i in range(10)]


def write_cub(root: Path, *, caption_dir="text", pickled_train=True) -> dict:
    """Writes the CUB layout; returns {"train": keys, "test": keys}."""
    cub = root / "CUB_200_2011"
    images, boxes, labels, classes = [], [], [], []
    splits = {"train": [], "test": []}
    image_id = 0
    for class_index, (class_dir, items) in enumerate(CUB_CLASSES, 1):
        classes.append(f"{class_index} {class_dir}")
        for name, width, height, x, y, w, h in items:
            image_id += 1
            key = f"{class_dir}/{name}"
            write_jpeg(cub / "images" / f"{key}.jpg", width, height, (x, y, w, h))
            images.append(f"{image_id} {key}.jpg")
            boxes.append(f"{image_id} {float(x)} {float(y)} {float(w)} {float(h)}")
            labels.append(f"{image_id} {class_index}")
            text = root / caption_dir / f"{key}.txt"
            text.parent.mkdir(parents=True, exist_ok=True)
            text.write_text("\n".join(cub_captions(key)) + "\n")
            splits["train" if class_index <= CUB_TRAIN_CLASSES else "test"].append(key)
    for name, lines in (("images.txt", images), ("bounding_boxes.txt", boxes),
                        ("image_class_labels.txt", labels), ("classes.txt", classes)):
        (cub / name).write_text("\n".join(lines) + "\n")
    for split, keys in splits.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        if split == "train" and pickled_train:
            (root / split / "filenames.pickle").write_bytes(python2_pickle(keys))
        else:
            (root / split / "filenames.txt").write_text("\n".join(keys) + "\n")
    return splits


COCO_IMAGES = {
    "train2014": [(9, 5), (25, 6), (30, 5)],  # (image id, number of captions)
    "val2014": [(42, 5), (73, 7)],
}


def coco_caption(folder: str, image_id: int, i: int) -> str:
    return f"a photo number {i} of {folder} image {image_id}"


def write_coco(root: Path) -> dict:
    """Writes the COCO-2014 layout; returns {folder: [file names]}."""
    files = {}
    ann_id = 0
    for folder, items in COCO_IMAGES.items():
        images, annotations = [], []
        for image_id, count in items:
            file_name = f"COCO_{folder}_{image_id:012d}.jpg"
            write_jpeg(root / folder / file_name, 40 + image_id % 7, 30)
            images.append({"id": image_id, "file_name": file_name, "width": 40, "height": 30})
            for i in range(count):
                ann_id += 1
                annotations.append({"id": ann_id, "image_id": image_id,
                                    "caption": coco_caption(folder, image_id, i)})
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"captions_{folder}.json").write_text(
            json.dumps({"images": images, "annotations": annotations}))
        files[folder] = [img["file_name"] for img in images]
    return files


def decompression_bomb_png(path: Path, side: int = 20000):
    """A PNG of a few hundred bytes whose header declares ``side`` × ``side`` pixels (PIL
    refuses to decode more than 2 × 89.5 M pixels)."""
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    # IHDR: 8-byte signature, length, b"IHDR", width, height, … then its CRC.
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@contextlib.contextmanager
def serve_process(base: Path, log_path: Path, *, rest: bool = True, preexec_fn=None):
    """`keras-t2i serve` of ``base`` as model "tiny", in its own process on free ports.

    Yields ``(process, grpc_target, rest_port or None)`` once the server answers; kills it
    on exit if it is still running. The server's output goes to ``log_path``.
    """
    import subprocess
    import sys
    import time

    from keras_t2i.serving.client import Client, ServingError

    grpc_port, rest_port = free_ports(2)
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_t2i.cli", "serve", "--model-base-path", str(base),
         "--model-name", "tiny", "--port", str(grpc_port),
         "--rest-port", str(rest_port if rest else 0)],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
    target = f"127.0.0.1:{grpc_port}"
    try:
        client = Client(target, "tiny", retries=0)
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log_path.read_text()[-2000:]
            try:
                client.status()
                break
            except ServingError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.5)
        yield process, target, rest_port if rest else None
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


# Flags of a tiny `keras-t2i train` run (with --text-encoder and --out).
TINY = ["--image-size", "16", "--nf", "4", "--batch-size", "4", "--max-objects", "1",
        "--no-export"]


def raw_predict(target, inputs, name="tiny", signature=""):
    """One PredictRequest of these TensorProtos, with the real gRPC stub (60 s deadline)."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    for key, proto in inputs.items():
        request.inputs[key].CopyFrom(proto)
    with grpc.insecure_channel(target) as channel:
        return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request,
                                                                                  timeout=60)


def concurrent_generate(target, expected, clients, requests) -> tuple[int, list[str]]:
    """``clients`` threads, each with its own ``Client`` of model "tiny" at ``target``, send
    ``requests`` one-caption requests (CAPTIONS[i] with SEEDS[i]) and compare each image with
    ``expected[i]``. Returns (images that matched, failures as text)."""
    import threading

    import numpy as np

    from keras_t2i.serving.client import Client

    failures, done = [], []

    def worker(k):
        with Client(target, "tiny") as client:
            for r in range(requests):
                i = (k + r) % len(CAPTIONS)
                try:
                    image = client.generate([CAPTIONS[i]], [SEEDS[i]])[0]
                    np.testing.assert_array_equal(image, expected[i])
                    done.append(1)
                except Exception as err:  # collected, so every thread finishes
                    failures.append(repr(err))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(done), failures


def tiny_train(out, encoder_dir, **kwargs):
    """A tiny training run (16×16, nf 4, batch 4) with the test DAMSM pair, no export."""
    from keras_t2i.training import train

    options = dict(out=str(out), text_encoder=str(encoder_dir), image_size=16, nf=4,
                   batch_size=4, data_options={"max_objects": 1}, checkpoint_every=2,
                   sample_every=3, export_dir="")
    options.update(kwargs)
    return train(**options)


def event_tags(directory):
    """{tag: {plugin names}} of every TensorBoard event file under ``directory``."""
    import tensorflow as tf

    tags = {}
    for path in Path(directory).rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, set()).add(
                    value.metadata.plugin_data.plugin_name or "scalar")
    return tags
