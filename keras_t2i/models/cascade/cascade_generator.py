"""The AttnGAN cascade's generator ``G_NET`` (seeds.md §1.6): Conditioning Augmentation, the
initial stage, refinement stages and an image head after every stage. DM-GAN and MirrorGAN
differ only in their refinement stage (``make_refinement``)."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.layers.conditioning import ConditioningAugmentation
from keras_t2i.models.cascade.cascade_discriminator import stage_sizes
from keras_t2i.models.cascade.cascade_layers import ImageHead, InitialStage


class CascadeGenerator(keras.Model):
    """ĉ = CA(sentence, ε); h₀ = InitialStage(ĉ, z); h_k, attention_k = Refine_k(h_{k−1},
    words, word_mask, ĉ); image_k = Head_k(h_k). At the papers' settings (256×256, 3 stages)
    the images are 64, 128 and 256.

    A subclass gives ``make_refinement(k)``: a layer called as
    ``stage(h, words, word_mask, condition, training=...)`` that returns (features at twice
    the side, word attention (batch, H·W, T) or None).

    Args:
        image_size: int. The last stage's side. Defaults to 256.
        stages: int. Defaults to 3 (64 → 128 → 256); the first stage is image_size /
            2^(stages − 1), at least 32.
        gf_dim: int. GF_DIM.
        r_num: int. Residual blocks per refinement stage. Defaults to 2.
        noise_dim: int. z. Defaults to 100.
        condition_dim: int. ĉ. Defaults to 100.
        cond_dim: int. The text encoder's width (words and sentence). Defaults to 256.

    Call arguments:
        noise: float (batch, noise_dim).
        epsilon: float (batch, condition_dim), CA's ε.
        sentence: float (batch, cond_dim).
        words: float (batch, T, cond_dim).
        word_mask: bool (batch, T).

    Returns:
        dict: ``images`` (a list, lowest resolution first, float32 in [-1, 1]), ``mu`` and
        ``logvar`` (CA's, for the KL term) and ``attention`` (each refinement stage's
        (batch, H·W, T) word attention, where it has one).
    """

    def __init__(self, image_size=256, stages=3, gf_dim=64, r_num=2, noise_dim=100,
                 condition_dim=100, cond_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.image_size = int(image_size)
        self.stages = int(stages)
        self.sizes = stage_sizes(self.image_size, self.stages)
        self.gf_dim = int(gf_dim)
        self.r_num = int(r_num)
        self.noise_dim = int(noise_dim)
        self.condition_dim = int(condition_dim)
        self.cond_dim = int(cond_dim)
        self.ca = ConditioningAugmentation(self.condition_dim, name="ca")
        self.initial = InitialStage(self.gf_dim, self.sizes[0], name="initial_stage")
        self.refinements = [self.make_refinement(k) for k in range(1, self.stages)]
        self.heads = [ImageHead(name=f"image_head_{k}") for k in range(self.stages)]
        self.build()

    def make_refinement(self, k: int) -> keras.layers.Layer:
        """Refinement stage ``k`` (1 … stages − 1), named ``refinement_{k}``."""
        raise NotImplementedError

    def build(self, *shapes):
        self.ca.build((None, self.cond_dim))
        condition = (None, self.condition_dim)
        self.initial.build(condition, (None, self.noise_dim))
        for size, head in zip(self.sizes, self.heads):
            head.build((None, size, size, self.gf_dim))
        for size, stage in zip(self.sizes, self.refinements):
            stage.build((None, size, size, self.gf_dim), (None, None, self.cond_dim), None,
                        condition)
        self.built = True

    def call(self, noise, epsilon, sentence, words, word_mask, training=None):
        condition, mu, logvar = self.ca(sentence, epsilon)
        h = self.initial(condition, noise, training=training)
        images, attention = [self.heads[0](h)], []
        for stage, head in zip(self.refinements, self.heads[1:]):
            h, attended = stage(h, words, word_mask, condition, training=training)
            images.append(head(h))
            if attended is not None:
                attention.append(attended)
        return {"images": images, "mu": mu, "logvar": logvar, "attention": attention}

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "stages": self.stages,
                "gf_dim": self.gf_dim, "r_num": self.r_num, "noise_dim": self.noise_dim,
                "condition_dim": self.condition_dim, "cond_dim": self.cond_dim}
