"""InceptionV3 features from a user's weights file, and the CUB/COCO evaluation built on them.

No ImageNet weights can be downloaded here, so the files are randomly initialised InceptionV3
weights written in the formats users have: Keras 3 ``.weights.h5`` (tested end to end) and
legacy HDF5 (the released ``*_kernels[_notop].h5``; its head is detected from ``layer_names``).
"""

import h5py
import keras
import numpy as np
import pytest
from fixtures import write_cub

from keras_t2i import evaluation as ev
from keras_t2i.metrics import inception


@pytest.fixture(scope="module")
def weights_with_classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "inception_v3.weights.h5"
    keras.applications.InceptionV3(weights=None, include_top=True).save_weights(path)
    return path


@pytest.fixture(scope="module")
def features(weights_with_classifier):
    return inception.InceptionV3Features(weights_with_classifier, batch_size=4)


def test_head_detection_in_both_file_formats(tmp_path, weights_with_classifier):
    assert inception.has_classifier(weights_with_classifier)
    for names, expected in (([b"conv2d", b"mixed10", b"avg_pool", b"predictions"], True),
                            ([b"conv2d", b"mixed10"], False)):
        path = tmp_path / f"legacy_{expected}.h5"
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = names
        assert inception.has_classifier(path) is expected
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=[1])
    with pytest.raises(ValueError, match="not a Keras weights file"):
        inception.has_classifier(other)


def test_features_probabilities_and_maps(features):
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)
    pool3 = features.pool3(images)
    assert pool3.shape == (5, 2048) and np.all(pool3 >= 0)  # average of ReLU outputs
    # uint8 and the same images in [-1, 1] are the same input.
    np.testing.assert_allclose(features.pool3(images.astype(np.float32) / 127.5 - 1), pool3,
                               rtol=1e-4, atol=1e-5)
    probabilities = features.probabilities(images)
    assert probabilities.shape == (5, 1000)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    both = features.pool3_and_probabilities(images)  # one forward pass, same numbers
    np.testing.assert_allclose(both[0], pool3, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[1], probabilities, rtol=1e-5, atol=1e-7)
    maps = features.feature_maps(images.astype(np.float32) / 127.5 - 1)
    assert [tuple(m.shape[1:3]) for m in maps] == [(35, 35), (17, 17), (8, 8)]
    assert "sha256" in features.description and "299" in features.description
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        features.pool3(np.zeros((2, 32, 32), np.uint8))


def test_weights_without_classifier_give_features_only(tmp_path):
    path = tmp_path / "inception_v3_notop.weights.h5"
    keras.applications.InceptionV3(weights=None, include_top=False).save_weights(path)
    notop = inception.InceptionV3Features(path, batch_size=4)
    assert not notop.has_classifier
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    pool3, probabilities = notop.pool3_and_probabilities(images)
    assert pool3.shape == (3, 2048) and probabilities is None
    with pytest.raises(ValueError, match="no classifier"):
        notop.probabilities(images)


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        inception.InceptionV3Features(tmp_path / "nope.h5")


def test_evaluate_dataset_on_a_cub_folder(tmp_path, monkeypatch, weights_with_classifier):
    monkeypatch.setenv("KERAS_T2I_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "birds"
    write_cub(root)  # two test images
    seen = []

    def generate(captions, seeds):
        seen.extend(captions)
        rng = np.random.default_rng(seeds[0])
        return rng.integers(0, 256, (len(captions), 32, 32, 3)).astype(np.uint8)

    generator = ev.Generator(generate, 32, "random images")
    metrics = ev.evaluate_dataset(generator, "cub", root, weights_with_classifier,
                                  num_images=10, batch_size=4, diversity_captions=2,
                                  diversity_samples=2)
    names = {m["name"]: m for m in metrics}
    assert set(names) == {"fid_10", "kid_10", "is_10", "diversity_2x2"}
    assert names["fid_10"]["value"] > 0 and 1.0 <= names["is_10"]["value"] <= 1000
    assert "sha256" in names["fid_10"]["protocol"] and "cub" in names["fid_10"]["protocol"]
    # Five passes over the two test images, each pass with its own caption draw.
    assert len(seen) == 10 + 4 and all("sooty_albatross" in c for c in seen)
    assert len(set(seen[:10])) > 2
    assert len(list((tmp_path / "cache" / "reference_stats").glob("cub_*.npz"))) == 1


def test_evaluate_on_cub_asks_for_what_it_needs(tmp_path, weights_with_classifier):
    generator = ev.Generator(lambda c, s: None, 32, "unused")
    with pytest.raises(ValueError, match="--inception-weights"):
        ev.evaluate_dataset(generator, "cub", tmp_path, None)
    with pytest.raises(ValueError, match="--data-dir"):
        ev.evaluate_dataset(generator, "cub", None, weights_with_classifier)
