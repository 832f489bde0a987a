"""Differentiable augmentation of a discriminator's inputs (DiffAugment; Zhao et al.,
"Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020), with the two
transforms that keep a caption true: translation and cutout. Colour transforms are left out
on purpose: they would change the colour a caption names.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_t2i import _backend  # noqa: F401

# The package's defaults, as fractions of the image side. DiffAugment uses 1/8 and 1/2; here
# smaller, because a caption names a cell of a 3×3 grid and an object that a half-side cutout
# would erase whole (the image would then no longer show its caption).
DEFAULT_RATIOS = {"translation": 1 / 16, "cutout": 1 / 4}
# Uniform draws per image: translation (dy, dx), cutout (cy, cx).
DRAWS = 4


@keras.saving.register_keras_serializable(package="keras_t2i")
class DiffAugment(keras.layers.Layer):
    """Random translation (zero-padded) and cutout (a zeroed square), differentiable in the
    images, the same transform for the images of one call whoever draws the randoms.

    Args:
        translation: float in [0, 1). The largest shift, as a fraction of the side: each image
            moves by an integer in [−m, m] pixels per axis, m = round(translation · side);
            uncovered pixels become 0 (mid-grey in [−1, 1]). 0 turns it off.
        cutout: float in [0, 1). The side of the zeroed square, as a fraction of the image
            side (round(cutout · side) pixels), centred on a uniformly drawn pixel and clipped
            at the borders. 0 turns it off.

    Call arguments:
        images: float (B, H, W, C).
        draws: float (B, 4), uniform in [0, 1): the translation's (dy, dx) and the cutout's
            (cy, cx). The caller draws them (the model, from its seed generator), so a fixed
            draw gives a fixed result.

    Returns:
        float (B, H, W, C), the images' dtype.
    """

    def __init__(self, translation=DEFAULT_RATIOS["translation"],
                 cutout=DEFAULT_RATIOS["cutout"], **kwargs):
        super().__init__(**kwargs)
        for name, value in (("translation", translation), ("cutout", cutout)):
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"DiffAugment {name} must be in [0, 1), got {value}")
        self.translation = float(translation)
        self.cutout = float(cutout)

    @classmethod
    def parse(cls, spec: str) -> dict:
        """``{"translation": r, "cutout": r}`` from a spec such as ``"translation,cutout"``,
        ``"translation=0.1"`` or ``"off"`` (both 0). A name without ``=r`` takes its
        default (``DEFAULT_RATIOS``). Raises ValueError naming a bad part."""
        ratios = {name: 0.0 for name in DEFAULT_RATIOS}
        spec = (spec or "off").strip()
        if spec == "off":
            return ratios
        for part in spec.split(","):
            name, _, value = part.strip().partition("=")
            if name not in DEFAULT_RATIOS:
                raise ValueError(f"Unknown DiffAugment transform {name!r} in {spec!r}; valid: "
                                 f"{', '.join(DEFAULT_RATIOS)} (e.g. 'translation,cutout' or "
                                 "'translation=0.0625,cutout=0.25'), or 'off'.")
            try:
                ratio = float(value) if value else DEFAULT_RATIOS[name]
            except ValueError:
                raise ValueError(f"DiffAugment {name} needs a number after '=', got "
                                 f"{value!r} in {spec!r}") from None
            if not 0.0 < ratio < 1.0:
                raise ValueError(f"DiffAugment {name}={value} must be in (0, 1) in {spec!r}")
            ratios[name] = ratio
        return ratios

    @staticmethod
    def spec(translation, cutout) -> str:
        """The canonical spec of two ratios (what a model's config stores)."""
        parts = [f"{name}={ratio:g}" for name, ratio in
                 (("translation", translation), ("cutout", cutout)) if ratio]
        return ",".join(parts) or "off"

    def call(self, images, draws):
        draws = tf.cast(draws, tf.float32)
        if self.translation:
            images = self._translate(images, draws[:, 0], draws[:, 1])
        if self.cutout:
            images = self._cut_out(images, draws[:, 2], draws[:, 3])
        return images

    def _translate(self, images, u_y, u_x):
        height, width = images.shape[1], images.shape[2]
        out = images
        for axis, size, u in ((1, height, u_y), (2, width, u_x)):
            m = int(round(self.translation * size))
            if not m:
                continue
            shift = tf.cast(tf.floor(u * (2 * m + 1)), tf.int32) - m  # in [-m, m]
            paddings = [[0, 0]] * 4
            paddings[axis] = [m, m]
            padded = tf.pad(out, paddings)
            # Output pixel p reads padded pixel p + m − shift, i.e. input pixel p − shift.
            index = tf.range(size)[None, :] + m - shift[:, None]
            out = tf.gather(padded, index, axis=axis, batch_dims=1)
        return out

    def _cut_out(self, images, u_y, u_x):
        height, width = images.shape[1], images.shape[2]
        masks = []
        for size, u in ((height, u_y), (width, u_x)):
            side = int(round(self.cutout * size))
            start = tf.cast(tf.floor(u * size), tf.int32) - side // 2
            position = tf.range(size)[None, :]
            masks.append((position >= start[:, None]) & (position < start[:, None] + side))
        inside = masks[0][:, :, None] & masks[1][:, None, :]
        keep = tf.cast(tf.logical_not(inside), images.dtype)[..., None]
        return images * keep

    def compute_output_shape(self, images_shape, draws_shape=None):
        return images_shape

    def get_config(self):
        return {**super().get_config(), "translation": self.translation, "cutout": self.cutout}
