"""R-precision: does an image's global code pick its own caption out of 1 true + 99 mismatched?

Protocol of DM-GAN's ``trainer.sampling`` (seeds.md §3.4, §8): cosine between the DAMSM global
image code and the sentence codes of the true caption and 99 captions of images from other
classes; R@1 over the images, in folds, reported as mean ± std. One deliberate difference:
a tie with a mismatched caption counts as a miss (``argmax`` would award it to the true
caption), so a collapsed encoder that gives every caption the same code scores 0, not 100%.
"""

from __future__ import annotations

import numpy as np

NUM_MISMATCHED = 99


def sample_mismatched(class_ids, num_mismatched: int = NUM_MISMATCHED, seed: int = 0):
    """For each item, ``num_mismatched`` indices of items from other classes, without repeats.

    Args:
        class_ids: (N,) int.
        num_mismatched: int. Defaults to 99.
        seed: int.

    Returns:
        int64 (N, num_mismatched).
    """
    class_ids = np.asarray(class_ids)
    rng = np.random.default_rng(seed)
    out = np.empty((len(class_ids), num_mismatched), np.int64)
    for i, c in enumerate(class_ids):
        others = np.flatnonzero(class_ids != c)
        if len(others) < num_mismatched:
            raise ValueError(f"R-precision needs {num_mismatched} captions of other classes per "
                             f"image; item {i} has only {len(others)}. Use more images.")
        out[i] = rng.choice(others, num_mismatched, replace=False)
    return out


def _normalize(x):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-8)


def r_precision_hits(image_codes, text_codes, mismatched):
    """Whether each image ranks its true caption strictly first.

    Args:
        image_codes: (N, D) global image codes.
        text_codes: (N, D) sentence codes of the true captions.
        mismatched: (N, M) int indices into ``text_codes`` of the mismatched captions.

    Returns:
        bool (N,).
    """
    image = _normalize(image_codes)
    text = _normalize(text_codes)
    true = np.sum(image * text, axis=-1)
    wrong = np.einsum("nd,nmd->nm", image, text[np.asarray(mismatched)])
    return true > wrong.max(axis=1)


def fold_statistics(hits, folds: int = 10, seed: int = 0):
    """Mean and standard deviation of the hit rate over ``folds`` random equal folds."""
    hits = np.asarray(hits, np.float64)
    if len(hits) < folds:
        raise ValueError(f"{len(hits)} results cannot fill {folds} folds.")
    order = np.random.default_rng(seed).permutation(len(hits))
    rates = [hits[part].mean() for part in np.array_split(order, folds)]
    return float(np.mean(rates)), float(np.std(rates))


def r_precision(image_codes, text_codes, class_ids, folds: int = 10, seed: int = 0,
                num_mismatched: int = NUM_MISMATCHED) -> dict:
    """R@1 with 1 true and ``num_mismatched`` mismatched captions per image.

    Returns:
        dict with ``r_precision`` (mean over folds), ``r_precision_std``, ``num_images``,
        ``folds`` and ``num_mismatched``.
    """
    mismatched = sample_mismatched(class_ids, num_mismatched, seed)
    hits = r_precision_hits(image_codes, text_codes, mismatched)
    mean, std = fold_statistics(hits, folds, seed)
    return {"r_precision": mean, "r_precision_std": std, "num_images": int(len(hits)),
            "folds": folds, "num_mismatched": num_mismatched}
