import numpy as np
import pytest

from keras_t2i.metrics import diversity as dv
from keras_t2i.metrics import shapes_oracle as so

RNG = np.random.default_rng(0)


def identity_maps(images):
    return [np.asarray(images)]


def test_perceptual_distance_against_a_loop():
    a = [RNG.normal(size=(2, 4, 4, 3)), RNG.normal(size=(2, 2, 2, 5))]
    b = [RNG.normal(size=(2, 4, 4, 3)), RNG.normal(size=(2, 2, 2, 5))]
    expected = np.zeros(2)
    for x, y in zip(a, b):
        for i in range(2):
            d = []
            for h in range(x.shape[1]):
                for w in range(x.shape[2]):
                    u = x[i, h, w] / np.linalg.norm(x[i, h, w])
                    v = y[i, h, w] / np.linalg.norm(y[i, h, w])
                    d.append(((u - v) ** 2).sum())
            expected[i] += np.mean(d) / 2
    np.testing.assert_allclose(dv.perceptual_distance(a, b), expected, rtol=1e-9)
    np.testing.assert_allclose(dv.perceptual_distance(a, a), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="same non-empty list"):
        dv.perceptual_distance(a, b[:1])


def test_diversity_is_zero_for_a_collapsed_generator_and_positive_otherwise():
    def collapsed(captions, seeds):
        return np.zeros((len(captions), 8, 8, 3), np.uint8) + 100

    def noisy(captions, seeds):
        return np.stack([np.random.default_rng(s).integers(0, 255, (8, 8, 3), np.uint8)
                         for s in seeds])

    assert dv.diversity(collapsed, ["a", "b"], identity_maps, samples=4)["diversity"] == 0.0
    result = dv.diversity(noisy, ["a", "b"], identity_maps, samples=4)
    assert result["diversity"] > 0.1 and result["num_captions"] == 2 and result["samples"] == 4
    # One value per caption: the mean over the 6 pairs of 4 images.
    images = noisy(["a"] * 4, [0, 1, 2, 3]).astype(np.float32) / 127.5 - 1
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    by_pair = [dv.perceptual_distance([images[i:i + 1]], [images[j:j + 1]])[0] for i, j in pairs]
    assert dv.pairwise_diversity(identity_maps, images) == pytest.approx(np.mean(by_pair))
    with pytest.raises(ValueError, match="at least 2"):
        dv.pairwise_diversity(identity_maps, images[:1])


def test_oracle_feature_maps_feed_the_distance():
    oracle = so.ShapesOracle(width=4)
    maps = oracle.feature_maps(np.zeros((2, 64, 64, 3), np.float32))
    assert [m.shape[1] for m in maps] == [72, 36, 18, 9]
