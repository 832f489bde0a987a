"""Composing parts into a scene: masks from the parts' pseudo-depths, the fused feature map,
and the renderer that turns it into the image.

The operator is SemanticStyleGAN's (Shi et al., CVPR 2022; seeds.md §6): per pixel,
m = softmax over parts of their mask logits d_k, F = Σ_k m_k F_k, then a render network. It is
this package's choice over Composite GAN's sequential alpha-over because (1) the softmax is
symmetric in the parts, so no drawing order is baked into occlusion and a run with more parts
than trained only adds a channel to it; (2) every part gets gradient at every pixel it
competes for; (3) the masks sum to 1 by construction, so no mask-coverage regulariser is
needed to keep the image covered. The background is one more part with a constant logit b
(``background_logit``, 0 by default) and spatially constant features, so a part shows only
where its logit beats b and the others'.

Left alone, that freedom is used against the parts (measured on multi-object Shapes, RESULTS
"MemoryGAN against the multi-generator baseline"): when the background's features depend on
the sentence, the parts learn to cover the empty canvas and leave holes where the objects go,
and the background, coloured by the sentence, fills the holes; the masks are then the
negatives of the objects, and no part holds an object. Two options close that door (the
package's own, not the paper's): a background from the scene code alone
(``text_background=False``), so a captioned object can only come from a part, and a
background logit above the parts' start (``background_logit`` > 0), so a part must win the
pixels it draws instead of starting with a 1/(K + 1) share of all of them. The Shapes presets
use both. A third, off by default (``PartGAN``'s ``part_area_weight``), charges a part for
what it holds beyond a share of the image, so the canvas goes to the background: it gives
object-shaped masks at a cost in R-precision (measured in the same RESULTS section).
"""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.torch_init import build_torch_layer
from keras_t2i.models.df_gan.df_gan_layers import conv


def compose(features, mask_logits, background, background_logit=0.0):
    """Fuses parts by the softmax of their pseudo-depths.

    Args:
        features: float (batch, K, h, w, C), the parts' feature maps.
        mask_logits: float32 (batch, K, h, w, 1), their pseudo-depths.
        background: float (batch, C), the background's features.
        background_logit: float. The background's pseudo-depth, the same everywhere.

    Returns:
        (fused (batch, h, w, C), masks float32 (batch, h, w, K + 1): channel 0 the background,
        channel k the k-th part; they sum to 1 at every pixel).
    """
    logits = ops.concatenate([ops.full_like(mask_logits[:, :1], background_logit),
                              mask_logits], axis=1)
    masks = ops.softmax(logits, axis=1)                                    # (B, K+1, h, w, 1)
    shape = ops.shape(features)
    parts = ops.concatenate([
        ops.broadcast_to(background[:, None, None, None, :],
                         (shape[0], 1, shape[2], shape[3], shape[4])), features], axis=1)
    fused = ops.sum(ops.cast(masks, parts.dtype) * parts, axis=1)
    return fused, ops.transpose(masks[..., 0], (0, 2, 3, 1))


@keras.saving.register_keras_serializable(package="keras_t2i")
class PartRenderer(keras.layers.Layer):
    """The fused features (part_size) → the RGB image (image_size): nearest upsampling to the
    image size, conv3×3(C → nf) → LeakyReLU(0.2) → conv3×3(nf → nf) → LeakyReLU(0.2) →
    conv3×3(nf → 3) → tanh. Unconditioned and local (a 7×7-pixel receptive field at the
    image size), so a pixel depends only on the parts that cover its neighbourhood.

    Args:
        image_size: int. Defaults to 64.
        part_size: int. The fused map's side; divides image_size. Defaults to 32.
        nf: int. Defaults to 16.
        feature_channels: int. C. Defaults to 32.

    Call arguments:
        fused: float (batch, part_size, part_size, C).

    Returns:
        float32 (batch, image_size, image_size, 3) in [-1, 1].
    """

    def __init__(self, image_size=64, part_size=32, nf=16, feature_channels=32, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.part_size = int(image_size), int(part_size)
        self.nf, self.feature_channels = int(nf), int(feature_channels)
        if self.image_size % self.part_size:
            raise ValueError(f"part_size {self.part_size} must divide image_size "
                             f"{self.image_size}")
        self.upsample = keras.layers.UpSampling2D(self.image_size // self.part_size,
                                                  interpolation="nearest", name="upsample")
        self.conv_0 = conv(self.nf, 3, name="conv_0")
        self.conv_1 = conv(self.nf, 3, name="conv_1")
        # Kept in float32 under mixed precision: the image leaves the network here.
        self.to_rgb = conv(3, 3, name="to_rgb")
        self.to_rgb.dtype_policy = keras.DTypePolicy("float32")

    def build(self, fused_shape=None):
        s = self.image_size
        build_torch_layer(self.conv_0, (None, s, s, self.feature_channels))
        build_torch_layer(self.conv_1, (None, s, s, self.nf))
        build_torch_layer(self.to_rgb, (None, s, s, self.nf))
        self.built = True

    def call(self, fused):
        x = self.conv_0(self.upsample(fused))
        x = self.conv_1(ops.maximum(x, 0.2 * x))
        return ops.tanh(self.to_rgb(ops.maximum(x, 0.2 * x)))

    def compute_output_shape(self, fused_shape):
        return (fused_shape[0], self.image_size, self.image_size, 3)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size,
                "part_size": self.part_size, "nf": self.nf,
                "feature_channels": self.feature_channels}
