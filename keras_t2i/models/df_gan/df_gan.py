"""DF-GAN (Tao et al., CVPR 2022): one-stage generator with deep fusion, hinge loss with
mismatched pairs and the matching-aware zero-centred gradient penalty (seeds.md §2.1)."""

from __future__ import annotations

import keras
import tensorflow as tf

from keras_t2i import (
    _backend,  # noqa: F401
    losses,
)
from keras_t2i.models.base import TextToImageGAN, _frozen
from keras_t2i.models.df_gan.df_gan_discriminator import DFGANDiscriminator
from keras_t2i.models.df_gan.df_gan_generator import DFGANGenerator
from keras_t2i.models.df_gan.df_gan_layers import channel_multipliers
from keras_t2i.models.df_gan.df_gan_presets import PRESETS


@keras.saving.register_keras_serializable(package="keras_t2i")
class DFGAN(TextToImageGAN):
    """DF-GAN, optionally with MSGAN's mode seeking and the DAMSM loss.

    Per batch (CVPR'22 ``modules.train``): encode the captions with the frozen text encoder;
    D step on L_D = hinge(real) + ½·hinge(fake) + ½·hinge(mismatched) + MA-GP, where the
    mismatched pairs score each real image's features against the next caption of the batch;
    then a G step on −E[D(G(z, e), e)] with the updated D (+ the mode-seeking term when
    ``mode_seeking > 0``, + λ·L_DAMSM when ``damsm_weight > 0``).

    Args:
        text_encoder: DAMSMTextEncoder, pretrained (``keras-t2i pretrain damsm``).
        image_size: int. 64, 128, 256, … Defaults to 64.
        nf: int. Base width of G and D. Defaults to 32.
        noise_dim: int. Defaults to 100.
        mode_seeking: float. MSGAN λ; 0 is plain DF-GAN. Defaults to 0.
        gp_weight: float. MA-GP k. Defaults to 2.
        gp_power: float. MA-GP p. Defaults to 6.
        max_batch: int. Largest batch for generation and export. Defaults to 64.
        ema_decay: float. Keep an EMA generator for inference (0: none, as in the DF-GAN
            code; 0.999 is usual). Defaults to 0.
        image_encoder: DAMSMImageEncoder, pretrained with ``text_encoder``; only needed with
            ``damsm_weight``.
        damsm_weight: float. λ of the DAMSM loss on the generator; 0, the default, is the
            paper's DF-GAN (its code has the term commented out).
        **kwargs: the base's (``damsm_class_mask``) and Keras' (``name``).

    Example:
    >>> gan = kt.models.DFGAN(text_encoder, image_size=64)
    >>> gan.compile()   # Adam G 1e-4, D 4e-4, betas (0, 0.9), as the reference code
    >>> gan.fit(kt.data.load("shapes", "train", tokenizer=text_encoder.tokenizer), epochs=1)
    >>> gan.generate(["a small red circle in the center"], seed=0)   # uint8 (1, 64, 64, 3)

    Reference: Tao et al., DF-GAN: A Simple and Effective Baseline for Text-to-Image
    Synthesis, CVPR 2022 (eq. 3-5).
    """

    PRESETS = PRESETS

    def __init__(self, text_encoder, image_size=64, nf=32, noise_dim=100, mode_seeking=0.0,
                 gp_weight=2.0, gp_power=6.0, max_batch=64, ema_decay=0.0, **kwargs):
        text_encoder = _frozen(text_encoder)
        self.cond_dim = text_encoder.feature_dim
        self.image_size = int(image_size)
        self.nf = int(nf)
        self.gp_weight = float(gp_weight)
        self.gp_power = float(gp_power)
        generator = self.make_generator(int(noise_dim))
        discriminator = DFGANDiscriminator(self.image_size, self.nf, self.cond_dim,
                                           name="discriminator")
        super().__init__(text_encoder, generator, [discriminator], noise_dim=noise_dim,
                         mode_seeking=mode_seeking, max_batch=max_batch, ema_decay=ema_decay,
                         **kwargs)

    def make_generator(self, noise_dim):
        """The generator (called once ``image_size``, ``nf`` and ``cond_dim`` are set). A
        family with DF-GAN's discriminator and losses and its own generator (MemoryGAN)
        overrides it and ``generate_images``."""
        return DFGANGenerator(self.image_size, self.nf, noise_dim, self.cond_dim,
                              name="generator")

    @classmethod
    def check_options(cls, **options):
        super().check_options(**options)
        channel_multipliers(int(options.get("image_size", 64)))  # a power of two, >= 8
        if int(options.get("nf", 1)) < 1:
            raise ValueError(f"nf must be >= 1, got {options['nf']}")
        if float(options.get("gp_weight", 0.0)) < 0:
            raise ValueError(f"gp_weight must be >= 0, got {options['gp_weight']}")

    @classmethod
    def default_optimizers(cls):
        # The CVPR'22 code: Adam G 1e-4, D (NetD + NetC) 4e-4, betas (0, 0.9), PyTorch's ε.
        return (keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9, epsilon=1e-8),
                keras.optimizers.Adam(4e-4, beta_1=0.0, beta_2=0.9, epsilon=1e-8))

    @property
    def discriminator(self):
        return self.discriminators[0]

    def tracked_losses(self):
        return ("d_loss", "g_loss", "ma_gp", "d_real", "d_fake", "d_mismatch")

    def generate_images(self, latents, text, training=None, generator=None):
        generator = self.generator if generator is None else generator
        return {"images": [generator(latents["noise"], text["condition"], training=training)]}

    def discriminator_losses(self, batch, text, generated, fake_text, training=True):
        images, condition = batch["image"], text["condition"]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch([images, condition])
            real_features = self.discriminator.features(images)
            real_logits = self.discriminator.logits(real_features, condition)
            total = tf.reduce_sum(tf.cast(real_logits, tf.float32))
        image_grads, condition_grads = tape.gradient(total, [images, condition])
        penalty = losses.matching_aware_gradient_penalty(image_grads, condition_grads,
                                                         self.gp_weight, self.gp_power)
        # Features of image i+1 with the condition of image i (torch.cat(real[1:], real[:1])).
        mismatched_logits = self.discriminator.logits(tf.roll(real_features, -1, axis=0),
                                                      condition)
        fake_logits = self.discriminator(self.final_images(generated), fake_text["condition"])
        values = losses.hinge_discriminator_loss(real_logits, fake_logits, mismatched_logits)
        values["ma_gp"] = penalty
        values["d_loss"] = values["d_adv"] + penalty
        return values

    def generator_losses(self, batch, text, generated, fake_text, latents, training=True):
        fake_logits = self.discriminator(self.final_images(generated), fake_text["condition"])
        return {"g_loss": losses.hinge_generator_loss(fake_logits)}

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "nf": self.nf,
                "gp_weight": self.gp_weight, "gp_power": self.gp_power}
