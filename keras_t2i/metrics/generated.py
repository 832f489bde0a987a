"""Images of an injected ``generate`` callable, in batches (every metric that generates)."""

from __future__ import annotations

import numpy as np


def generate_images(generate, captions, seed=0, batch_size=50, progress=None):
    """All images of ``generate`` (captions, seeds) → uint8 (B, S, S, 3) for ``captions``, in
    batches, caption i with seed ``seed + i``; a wrong output type or count is an error.
    ``progress(n)``, when given, is called after each batch of n images."""
    parts = []
    for start in range(0, len(captions), batch_size):
        stop = min(len(captions), start + batch_size)
        images = np.asarray(generate(list(captions[start:stop]),
                                     list(range(seed + start, seed + stop))))
        if images.dtype != np.uint8 or images.ndim != 4 or len(images) != stop - start:
            raise ValueError(f"generate must return uint8 (batch, S, S, 3) images, one per "
                             f"caption; got {images.dtype} {images.shape} for "
                             f"{stop - start} captions")
        parts.append(images)
        if progress is not None:
            progress(len(images))
    return np.concatenate(parts)
