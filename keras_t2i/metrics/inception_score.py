"""Inception Score from any classifier's softmax outputs (the classifier is injected)."""

from __future__ import annotations

import numpy as np


def inception_score(probabilities, splits=10) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) ‖ p(y))) of class probabilities (N, classes): mean and
    std over ``splits`` equal splits (Salimans et al., 2016; 10 splits as usual)."""
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"Inception Score needs (N >= splits, classes) probabilities, got "
                         f"shape {p.shape} for {splits} splits")
    if np.any(p < 0) or not np.allclose(p.sum(1), 1.0, atol=1e-3):
        raise ValueError("Inception Score needs probabilities (rows of softmax outputs that "
                         "sum to 1), not logits")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
