"""FID and KID as pure statistics of two feature sets (the extractor is injected elsewhere).

FID (Heusel et al., 2017): ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½). The trace of the matrix
square root is computed from the eigenvalues of Σ₁^½ Σ₂ Σ₁^½ (symmetric positive
semi-definite, with the same eigenvalues as Σ₁Σ₂), which needs no general ``sqrtm`` and never
turns complex.

KID (Bińkowski et al., 2018): the unbiased MMD² with the cubic polynomial kernel
k(x, y) = (xᵀy / d + 1)³, averaged over random subsets; reported as mean and std.
"""

from __future__ import annotations

import numpy as np


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) (unbiased, float64) of features (N, d), N ≥ 2."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"Feature statistics need a (N >= 2, d) array, got shape "
                         f"{features.shape}")
    return features.mean(0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet distance between two Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or \
            sigma1.shape != mu1.shape * 2:
        raise ValueError(f"Mismatched statistics: means {mu1.shape} and {mu2.shape}, "
                         f"covariances {sigma1.shape} and {sigma2.shape}")
    root = _psd_sqrt(sigma1)
    middle = np.linalg.eigvalsh(root @ sigma2 @ root)
    trace_sqrt = np.sqrt(np.clip(middle, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid_from_features(features1, features2) -> float:
    """FID between two feature sets (N₁, d) and (N₂, d)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def _polynomial_mmd2(x, y):
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())


def kernel_inception_distance(features1, features2, subsets=100, subset_size=1000,
                              seed=0) -> tuple[float, float]:
    """KID: mean and std of the unbiased polynomial-kernel MMD² over random subsets.

    Args:
        features1, features2: (N₁, d), (N₂, d).
        subsets: int. Defaults to 100.
        subset_size: int. Capped at the smaller set's size. Defaults to 1000.
        seed: int. Subset sampling seed. Defaults to 0.
    """
    x = np.asarray(features1, np.float64)
    y = np.asarray(features2, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"KID needs two (N, d) feature arrays of the same d, got {x.shape} "
                         f"and {y.shape}")
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"KID needs at least 2 features per set, got {len(x)} and {len(y)}")
    rng = np.random.default_rng(seed)
    values = [_polynomial_mmd2(x[rng.choice(len(x), size, replace=False)],
                               y[rng.choice(len(y), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
