"""The AttnGAN cascade as a model of the base (seeds.md §1.5–1.8): a generator with
Conditioning Augmentation and one image per stage, one discriminator per stage, AttnGAN's BCE
losses with mismatched pairs, CA's KL term and the EMA generator. DM-GAN and MirrorGAN are
this model with their own generator (and discriminator normalisation)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_t2i import (
    _backend,  # noqa: F401
    losses,
)
from keras_t2i.models.base import TextToImageGAN, _frozen
from keras_t2i.models.cascade.cascade_discriminator import (
    NORMALIZATIONS,
    StageDiscriminator,
    stage_sizes,
)
from keras_t2i.models.loss_terms import ConditioningKLTerm


def default_stages(image_size: int) -> int:
    """The codes' cascade: a first stage of 64 (the papers' 64 → 128 → 256), or one stage
    below 64."""
    image_size = int(image_size)
    return max(1, image_size.bit_length() - 6) if image_size >= 64 else 1


class CascadeGAN(TextToImageGAN):
    """One training step of the AttnGAN cascade (``trainer.py`` of AttnGAN, DM-GAN and
    MirrorGAN): encode the captions with the frozen text encoder; draw z and CA's ε; generate
    every stage; one step of all the stage discriminators on
    Σ_k [(BCE(D_k^u(x_k), 1) + BCE(D_k^c(x_k, s), 1)) / 2 + (BCE(D_k^u(x̂_k), 0) +
    BCE(D_k^c(x̂_k, s), 0) + BCE(D_k^c(x_k, s_next), 0)) / 3] (x_k the real image resized to
    stage k, s the raw sentence vector, s_next the next caption of the batch); then a G step on
    Σ_k [BCE(D_k^u(x̂_k), 1) + BCE(D_k^c(x̂_k, s), 1)] + λ_KL·KL(CA) + the family's terms, with
    the updated discriminators, and the EMA of G's parameters, which generates.

    A family subclasses it with ``make_generator`` (called once the shared attributes are
    set) and ``DISCRIMINATOR_NORMALIZATION``; its generator takes (noise, ε, sentence, words,
    word_mask) and returns ``{"images": [...], "mu": ..., "logvar": ...}``.

    Args:
        text_encoder: DAMSMTextEncoder, pretrained.
        image_size: int. The last stage's side. Defaults to 256.
        stages: int or None. None: the papers' cascade from 64 (3 stages at 256, 1 at 64).
        gf_dim, df_dim: int. GF_DIM and DF_DIM.
        r_num: int. Residual blocks per refinement stage.
        noise_dim: int. z. Defaults to 100.
        condition_dim: int. ĉ (CONDITION_DIM). Defaults to 100.
        kl_weight: float. λ of CA's KL term (tracked as ``kl``). Defaults to 1.
        ema_decay: float. Defaults to 0.999 (the codes').
        **kwargs: the base's and Keras'.
    """

    DISCRIMINATOR_NORMALIZATION = "spectral"

    def __init__(self, text_encoder, image_size=256, stages=None, gf_dim=64, df_dim=32,
                 r_num=2, noise_dim=100, condition_dim=100, kl_weight=1.0, ema_decay=0.999,
                 **kwargs):
        text_encoder = _frozen(text_encoder)
        self.cond_dim = text_encoder.feature_dim
        self.image_size = int(image_size)
        self.stages = default_stages(self.image_size) if stages is None else int(stages)
        CascadeGAN.check_options(image_size=self.image_size, stages=self.stages, gf_dim=gf_dim,
                                 df_dim=df_dim, r_num=r_num, condition_dim=condition_dim,
                                 kl_weight=kl_weight)
        self.sizes = stage_sizes(self.image_size, self.stages)
        self.gf_dim, self.df_dim, self.r_num = int(gf_dim), int(df_dim), int(r_num)
        self.condition_dim = int(condition_dim)
        self.kl_weight = float(kl_weight)
        if self.DISCRIMINATOR_NORMALIZATION not in NORMALIZATIONS:
            raise TypeError(f"{type(self).__name__}.DISCRIMINATOR_NORMALIZATION must be one of "
                            f"{NORMALIZATIONS}")
        generator = self.make_generator(int(noise_dim))
        discriminators = [StageDiscriminator(size, self.df_dim, self.cond_dim,
                                             self.DISCRIMINATOR_NORMALIZATION,
                                             name=f"discriminator_{size}")
                          for size in self.sizes]
        super().__init__(text_encoder, generator, discriminators, noise_dim=noise_dim,
                         ema_decay=ema_decay, **kwargs)

    def make_generator(self, noise_dim: int) -> keras.Model:
        """The family's generator, named ``"generator"``, from the attributes set so far."""
        raise NotImplementedError

    @classmethod
    def check_options(cls, **options):
        super().check_options(**options)
        image_size = int(options.get("image_size", 256))
        stages = options.get("stages")
        stage_sizes(image_size, default_stages(image_size) if stages is None else int(stages))
        for name in ("gf_dim", "df_dim", "r_num", "condition_dim"):
            if name in options and int(options[name]) < 1:
                raise ValueError(f"{name} must be >= 1, got {options[name]}")
        if float(options.get("kl_weight", 0.0)) < 0:
            raise ValueError(f"kl_weight must be >= 0, got {options['kl_weight']}")

    @classmethod
    def default_optimizers(cls):
        # The codes: Adam lr 2e-4, betas (0.5, 0.999) for G and for each D (one Adam over all
        # the discriminators is the same update: Adam's state is per parameter).
        return (keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8),
                keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8))

    def latent_dims(self):
        # ε of Conditioning Augmentation is a latent, so a seed fixes the image.
        return {"noise": self.noise_dim, "condition": self.condition_dim}

    def build_loss_terms(self):
        terms = super().build_loss_terms()
        if self.kl_weight:
            terms.append(ConditioningKLTerm(self.kl_weight))
        return terms

    def tracked_losses(self):
        return ("d_loss", "g_loss", *(f"d_loss_{s}" for s in self.sizes),
                *(f"g_adv_{s}" for s in self.sizes))

    def generate_images(self, latents, text, training=None, generator=None):
        generator = self.generator if generator is None else generator
        return generator(latents["noise"], latents["condition"], text["condition"],
                         text["words"], text["word_mask"], training=training)

    def stage_real_images(self, images):
        """The real batch at every stage's size, lowest first (bilinear with antialiasing, as
        the codes' PIL resize of the 256 crop)."""
        return [images if size == self.image_size else
                tf.image.resize(images, (size, size), method="bilinear", antialias=True)
                for size in self.sizes]

    def discriminator_losses(self, batch, text, generated, fake_text, training=True):
        sentence, values, total = text["condition"], {}, 0.0
        for size, discriminator, real, fake in zip(self.sizes, self.discriminators,
                                                   self.stage_real_images(batch["image"]),
                                                   generated["images"]):
            features = discriminator.features(real, training=training)
            real_uncond = discriminator.unconditional_logits(features)
            real_cond = discriminator.conditional_logits(features, sentence, training=training)
            # Real image i with the sentence of image i + 1 (real[:N−1], sentences[1:N]).
            wrong_cond = discriminator.conditional_logits(features[:-1], sentence[1:],
                                                          training=training)
            fake_uncond, fake_cond = discriminator(fake, fake_text["condition"],
                                                   training=training)
            loss = losses.cascade_discriminator_loss(real_uncond, real_cond, fake_uncond,
                                                     fake_cond, wrong_cond)
            values[f"d_loss_{size}"] = loss
            total = total + loss
        values["d_loss"] = total
        return values

    def generator_losses(self, batch, text, generated, fake_text, latents, training=True):
        values, total = {}, 0.0
        for size, discriminator, fake in zip(self.sizes, self.discriminators,
                                             generated["images"]):
            loss = losses.cascade_generator_loss(
                *discriminator(fake, fake_text["condition"], training=training))
            values[f"g_adv_{size}"] = loss
            total = total + loss
        values["g_loss"] = total
        return values

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "stages": self.stages,
                "gf_dim": self.gf_dim, "df_dim": self.df_dim, "r_num": self.r_num,
                "condition_dim": self.condition_dim, "kl_weight": self.kl_weight}
