import numpy as np
import pytest

from keras_t2i.metrics import r_precision as rp


def test_perfect_and_collapsed_encoders():
    n = 200
    codes = np.eye(n)
    classes = np.arange(n)
    assert rp.r_precision(codes, codes, classes)["r_precision"] == 1.0
    same = np.ones((n, 8))
    result = rp.r_precision(same, same, classes)
    assert result["r_precision"] == 0.0  # ties count as misses


def test_hits_match_a_direct_ranking():
    rng = np.random.default_rng(0)
    image, text = rng.normal(size=(150, 6)), rng.normal(size=(150, 6))
    text[:75] = image[:75] + 0.1 * rng.normal(size=(75, 6))  # half the captions fit
    classes = np.arange(150) % 30
    mismatched = rp.sample_mismatched(classes, 99, seed=1)
    hits = rp.r_precision_hits(image, text, mismatched)
    for i in range(150):
        candidates = np.concatenate([[i], mismatched[i]])
        cos = [image[i] @ text[j] / np.linalg.norm(image[i]) / np.linalg.norm(text[j])
               for j in candidates]
        assert hits[i] == (np.argmax(cos) == 0 and cos[0] > max(cos[1:]))
    assert hits[:75].mean() > 0.9 and hits[75:].mean() < 0.1


def test_mismatched_captions_come_from_other_classes_without_repeats():
    classes = np.repeat(np.arange(20), 6)
    mismatched = rp.sample_mismatched(classes, 99, seed=3)
    assert mismatched.shape == (120, 99)
    for i, row in enumerate(mismatched):
        assert len(set(row)) == 99
        assert (classes[row] != classes[i]).all()
    with pytest.raises(ValueError, match="needs 99 captions of other classes"):
        rp.sample_mismatched(np.arange(50), 99)


def test_fold_statistics():
    hits = np.array([1, 0] * 50, bool)
    mean, std = rp.fold_statistics(hits, folds=10, seed=0)
    assert mean == pytest.approx(0.5)
    # One result per fold: the folds' rates are the hits themselves, std 0.5.
    assert rp.fold_statistics(hits, folds=100) == (pytest.approx(0.5), pytest.approx(0.5))
    mean, std = rp.fold_statistics(np.array([1] * 5 + [0] * 5, bool), folds=10)
    assert (mean, std) == (pytest.approx(0.5), pytest.approx(0.5))
    mean, std = rp.fold_statistics(np.ones(100, bool), folds=10)
    assert (mean, std) == (1.0, 0.0)
    with pytest.raises(ValueError, match="folds"):
        rp.fold_statistics(np.ones(5, bool), folds=10)
