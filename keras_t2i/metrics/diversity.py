"""Diversity: the mean perceptual distance between images generated from one caption with
different noise, as MSGAN measures it with LPIPS (Mao et al., CVPR 2019, §4).

The distance is LPIPS-shaped with unit layer weights (Zhang et al., CVPR 2018, eq. 1 with
w = 1): for each feature map, unit-normalise every pixel's channel vector, take the squared
difference summed over channels, average over pixels; then average over the maps. The
feature maps are injected: the Shapes oracle's trunk on Shapes (``ShapesOracle.feature_maps``)
or any image network's activations on other data.
"""

from __future__ import annotations

import itertools

import numpy as np


def perceptual_distance(maps1, maps2) -> np.ndarray:
    """(B,) distances between two images' lists of feature maps [(B, H, W, C), …]."""
    if len(maps1) != len(maps2) or not maps1:
        raise ValueError(f"Need the same non-empty list of feature maps for both images, got "
                         f"{len(maps1)} and {len(maps2)}")
    total = 0.0
    for a, b in zip(maps1, maps2):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        a = a / (np.linalg.norm(a, axis=-1, keepdims=True) + 1e-10)
        b = b / (np.linalg.norm(b, axis=-1, keepdims=True) + 1e-10)
        total = total + ((a - b) ** 2).sum(-1).mean(axis=(1, 2))
    return total / len(maps1)


def pairwise_diversity(feature_maps, images) -> float:
    """Mean distance over all pairs of K ≥ 2 images of one caption (K, S, S, 3)."""
    if len(images) < 2:
        raise ValueError(f"Diversity needs at least 2 images per caption, got {len(images)}")
    maps = [np.asarray(m) for m in feature_maps(images)]
    pairs = np.array(list(itertools.combinations(range(len(images)), 2)))
    return float(perceptual_distance([m[pairs[:, 0]] for m in maps],
                                     [m[pairs[:, 1]] for m in maps]).mean())


def diversity(generate, captions, feature_maps, samples=10, seed=0, progress=None) -> dict:
    """Mean pairwise perceptual distance of ``samples`` images per caption.

    Args:
        generate: callable (captions, seeds) → images (B, S, S, 3), uint8 or in [-1, 1].
        captions: list of str.
        feature_maps: callable images in [-1, 1] → list of (B, H, W, C) maps.
        samples: int. Images per caption (seeds ``seed .. seed + samples − 1``). Defaults
            to 10.
        seed: int. Defaults to 0.
        progress: callable(n), called after each caption with 1. Defaults to None.

    Returns:
        dict: ``diversity`` (mean over captions), ``diversity_std``, ``num_captions``,
        ``samples``.
    """
    values = []
    for caption in captions:
        images = np.asarray(generate([caption] * samples, list(range(seed, seed + samples))))
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 127.5 - 1.0
        values.append(pairwise_diversity(feature_maps, images))
        if progress is not None:
            progress(1)
    return {"diversity": float(np.mean(values)), "diversity_std": float(np.std(values)),
            "num_captions": len(captions), "samples": samples}
