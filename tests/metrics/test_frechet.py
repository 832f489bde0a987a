import numpy as np
import pytest
import scipy.linalg

from keras_t2i.metrics import frechet, inception_score

RNG = np.random.default_rng(0)


def reference_fid(x, y):
    """The usual SciPy formula (pytorch-fid style)."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_matches_scipy_and_is_zero_for_the_same_set():
    x = RNG.normal(size=(500, 16))
    y = RNG.normal(size=(400, 16)) @ RNG.normal(size=(16, 16)) * 0.5 + 1.0
    assert frechet.fid_from_features(x, y) == pytest.approx(reference_fid(x, y), rel=1e-6)
    assert frechet.fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_two_gaussians_in_closed_form():
    # Diagonal covariances: FID = |μ1 − μ2|² + Σ (σ1 − σ2)².
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    value = frechet.frechet_distance(np.zeros(3), np.diag(s1), np.ones(3), np.diag(s2))
    assert value == pytest.approx(3 + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum())
    with pytest.raises(ValueError, match="Mismatched"):
        frechet.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def reference_kid_subset(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m, n = len(x), len(y)
    kxx = sum(k(x[i:i + 1], x[j:j + 1])[0, 0] for i in range(m) for j in range(m) if i != j)
    kyy = sum(k(y[i:i + 1], y[j:j + 1])[0, 0] for i in range(n) for j in range(n) if i != j)
    kxy = sum(k(x[i:i + 1], y[j:j + 1])[0, 0] for i in range(m) for j in range(n))
    return kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2 * kxy / (m * n)


def test_kid_is_the_unbiased_polynomial_mmd():
    x, y = RNG.normal(size=(12, 5)), RNG.normal(size=(12, 5)) + 0.5
    mean, std = frechet.kernel_inception_distance(x, y, subsets=1, subset_size=12)
    assert mean == pytest.approx(reference_kid_subset(x, y), rel=1e-9) and std == 0.0
    same = frechet.kernel_inception_distance(RNG.normal(size=(400, 5)),
                                             RNG.normal(size=(400, 5)), subsets=20,
                                             subset_size=200)
    apart = frechet.kernel_inception_distance(RNG.normal(size=(400, 5)),
                                              RNG.normal(size=(400, 5)) + 1.0, subsets=20,
                                              subset_size=200)
    assert abs(same[0]) < 3 * same[1] + 1e-3 and apart[0] > 10 * same[1]


def test_inception_score_bounds_and_splits():
    classes = 10
    confident_uniform = np.eye(classes)[np.arange(1000) % classes]
    assert inception_score.inception_score(confident_uniform)[0] == pytest.approx(classes)
    collapsed = np.tile(np.eye(classes)[:1], (1000, 1))
    assert inception_score.inception_score(collapsed)[0] == pytest.approx(1.0)
    p = RNG.dirichlet(np.ones(classes) * 0.3, size=1000)
    split = p[:100]
    marginal = split.mean(0)
    expected = np.exp(np.mean(np.sum(split * np.log(split / marginal), axis=1)))
    scores = [np.exp(np.mean(np.sum(s * np.log(s / s.mean(0)), axis=1)))
              for s in np.array_split(p, 10)]
    assert scores[0] == pytest.approx(expected)
    mean, std = inception_score.inception_score(p)
    assert mean == pytest.approx(np.mean(scores)) and std == pytest.approx(np.std(scores))
    with pytest.raises(ValueError, match="probabilities"):
        inception_score.inception_score(np.log(p))
