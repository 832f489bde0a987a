"""The AttnGAN cascade's per-stage discriminators D64 / D128 / D256 (seeds.md §1.7, §3.5), in
DM-GAN's variant (spectral normalisation, biases, no BatchNorm) or AttnGAN's (BatchNorm after
all but the first convolution, no biases)."""

from __future__ import annotations

import keras
from keras import ops

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.glu_blocks import batch_norm, orthogonal
from keras_t2i.layers.spectral import SpectralConv2D

NORMALIZATIONS = ("spectral", "batch")


def stage_sizes(image_size: int, stages: int) -> list[int]:
    """Each stage's image side, lowest first: (256, 3) → [64, 128, 256]; (64, 2) → [32, 64]."""
    image_size, stages = int(image_size), int(stages)
    if stages < 1:
        raise ValueError(f"stages must be >= 1, got {stages}")
    sizes = [image_size // 2 ** (stages - 1 - k) for k in range(stages)]
    if sizes[0] < 32 or any(s & (s - 1) for s in sizes) or sizes[-1] != image_size:
        raise ValueError(f"A cascade of {stages} stages ending at {image_size} needs a power of "
                         f"two with a first stage of at least 32 (got stages {sizes}).")
    return sizes


class _ConvUnit(keras.layers.Layer):
    """conv (k, stride, 'same' padding as PyTorch's padding 1 / (k−1)/2) [→ BN] → LReLU 0.2, in
    the discriminator's normalisation."""

    def __init__(self, filters, kernel, strides, normalization, norm=True, **kwargs):
        super().__init__(**kwargs)
        spectral = normalization == "spectral"
        conv_class = SpectralConv2D if spectral else keras.layers.Conv2D
        self.conv = conv_class(filters, kernel, strides=strides, padding="same",
                               use_bias=spectral, kernel_initializer=orthogonal(), name="conv")
        self.norm = batch_norm("bn") if (norm and not spectral) else None

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.norm is not None:
            self.norm.build(self.conv.compute_output_shape(input_shape))
        self.built = True

    def call(self, x, training=None):
        x = self.conv(x, training=training)  # only SpectralConv2D reads it
        if self.norm is not None:
            x = self.norm(x, training=training)
        return ops.leaky_relu(x, 0.2)

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)


@keras.saving.register_keras_serializable(package="keras_t2i")
class StageDiscriminator(keras.Model):
    """One stage's discriminator: the image to a 4×4×8ndf map, then an unconditional logit and
    a sentence-conditioned one.

    - trunk (``encode_image_by_16times``): four conv4×4 stride 2 (3 → ndf → 2 → 4 → 8ndf),
      LeakyReLU 0.2; D128 adds a down-block (→ 16ndf) and a conv3×3 (→ 8ndf); D256 two
      down-blocks (→ 16, 32ndf) and conv3×3s (→ 16, 8ndf): every stage ends at 4×4×8ndf.
      For a 32×32 stage (small cascades such as the Shapes preset's 32 → 64; the package's
      extension, no code has one) three stride-2 convs (→ ndf, 2, 4ndf) and a conv3×3 (→ 8ndf).
    - unconditional logit: conv4×4 stride 4 (8ndf → 1) on the map;
    - conditional logit: concat(map, sentence tiled 4×4) → conv3×3 (→ 8ndf) [BN] → LReLU →
      conv4×4 stride 4 (→ 1). The sentence is the raw text-encoder vector, not ĉ.

    The logit convolutions are plain (with bias) in both variants, as both codes have them; the
    sigmoid of the codes is left to the loss (BCE from logits).

    Args:
        image_size: int. 32, 64, 128 or 256: which stage.
        ndf: int. DF_DIM (32 in DM-GAN, 64 in AttnGAN / MirrorGAN). Defaults to 32.
        cond_dim: int. The sentence's width. Defaults to 256.
        normalization: str. ``"spectral"`` (DM-GAN: SN on every conv but the logits, biases,
            no BN) or ``"batch"`` (AttnGAN: BN after every conv but the first and the logits,
            no biases). Defaults to ``"spectral"``.

    Call arguments:
        images: float (batch, S, S, 3) in [-1, 1].
        sentence: float (batch, cond_dim).

    Returns:
        (unconditional, conditional) float32 (batch,) logits. ``features``,
        ``unconditional_logits`` and ``conditional_logits`` expose the parts, so the real
        map can be scored against other sentences (the mismatched pairs) without a second pass.
    """

    def __init__(self, image_size=64, ndf=32, cond_dim=256, normalization="spectral",
                 **kwargs):
        super().__init__(**kwargs)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"Unknown normalization {normalization!r}; valid: {NORMALIZATIONS}")
        self.image_size = int(image_size)
        self.ndf = int(ndf)
        self.cond_dim = int(cond_dim)
        self.normalization = normalization
        if self.image_size not in (32, 64, 128, 256):
            raise ValueError(f"A stage discriminator is for 32, 64, 128 or 256 pixels, got "
                             f"{self.image_size}")
        n = self.ndf

        def unit(filters, kernel, strides, name, norm=True):
            return _ConvUnit(filters, kernel, strides, normalization, norm=norm, name=name)

        self.trunk = [unit(n, 4, 2, "s2", norm=False), unit(2 * n, 4, 2, "s4"),
                      unit(4 * n, 4, 2, "s8")]
        if self.image_size == 32:
            self.trunk.append(unit(8 * n, 3, 1, "s8_1"))
        else:
            self.trunk.append(unit(8 * n, 4, 2, "s16"))
        if self.image_size >= 128:
            self.trunk.append(unit(16 * n, 4, 2, "s32"))
        if self.image_size == 256:
            self.trunk += [unit(32 * n, 4, 2, "s64"), unit(16 * n, 3, 1, "s64_1"),
                           unit(8 * n, 3, 1, "s64_2")]
        elif self.image_size == 128:
            self.trunk.append(unit(8 * n, 3, 1, "s32_1"))
        self.joint = unit(8 * n, 3, 1, "joint")
        self.uncond_out = self._logit_conv("uncond_out")
        self.cond_out = self._logit_conv("cond_out")
        self.build((None, self.image_size, self.image_size, 3), (None, self.cond_dim))

    @staticmethod
    def _logit_conv(name):
        layer = keras.layers.Conv2D(1, 4, strides=4, padding="valid",
                                    kernel_initializer=orthogonal(), name=name)
        layer.dtype_policy = keras.DTypePolicy("float32")
        return layer

    def build(self, images_shape, sentence_shape):
        shape = (None, self.image_size, self.image_size, 3)
        for layer in self.trunk:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.joint.build((None, 4, 4, 8 * self.ndf + self.cond_dim))
        self.uncond_out.build((None, 4, 4, 8 * self.ndf))
        self.cond_out.build((None, 4, 4, 8 * self.ndf))
        self.built = True

    def features(self, images, training=None):
        """(batch, S, S, 3) → (batch, 4, 4, 8·ndf)."""
        x = images
        for layer in self.trunk:
            x = layer(x, training=training)
        return x

    def unconditional_logits(self, features):
        return ops.reshape(self.uncond_out(ops.cast(features, "float32")), (-1,))

    def conditional_logits(self, features, sentence, training=None):
        tiled = ops.tile(ops.cast(sentence, features.dtype)[:, None, None, :], (1, 4, 4, 1))
        x = self.joint(ops.concatenate([features, tiled], axis=-1), training=training)
        return ops.reshape(self.cond_out(ops.cast(x, "float32")), (-1,))

    def call(self, images, sentence, training=None):
        features = self.features(images, training=training)
        return (self.unconditional_logits(features),
                self.conditional_logits(features, sentence, training=training))

    def compute_output_shape(self, images_shape, sentence_shape):
        return (images_shape[0],), (images_shape[0],)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "ndf": self.ndf,
                "cond_dim": self.cond_dim, "normalization": self.normalization}
