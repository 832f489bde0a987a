"""MirrorGAN (Qiao, Zhang, Xu, Tao, CVPR 2019): text-to-image-to-text. STEM (the DAMSM text
encoder and CA), the GLAM cascade, AttnGAN's BatchNorm discriminators and the STREAM
captioner's re-description loss (seeds.md §4, §4.1)."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.base import _frozen
from keras_t2i.models.cascade.cascade_gan import CascadeGAN
from keras_t2i.models.loss_terms import CaptionTerm
from keras_t2i.models.mirror_gan.mirror_gan_generator import MirrorGANGenerator
from keras_t2i.models.mirror_gan.mirror_gan_presets import PRESETS


@keras.saving.register_keras_serializable(package="keras_t2i")
class MirrorGAN(CascadeGAN):
    """MirrorGAN: CA, AttnGAN's initial stage and GLAM refinement stages, one AttnGAN
    discriminator (BatchNorm) per stage, and the frozen STREAM captioner.

    The step is the cascade's (``CascadeGAN``, as ``trainer.py``): the stage discriminators'
    BCE with mismatched pairs, then G on Σ_k [BCE(D_k^u(x̂_k), 1) + BCE(D_k^c(x̂_k, s), 1)] +
    λ_KL·KL(CA) + λ_stream·L_stream, where L_stream is the cross-entropy of the captions'
    tokens as the frozen captioner re-describes the last stage's images (``stream_weight``; 10
    in the released config), and the EMA of G's parameters (0.999), which generates. The DAMSM
    term is available (``damsm_weight``) but off by default: the released code never applies
    it.

    Args:
        text_encoder: DAMSMTextEncoder, pretrained (STEM's encoder, ``keras-t2i pretrain
            damsm``).
        captioner: STREAMCaptioner pretrained with the text encoder's vocabulary (``keras-t2i
            pretrain captioner``); required when ``stream_weight`` > 0.
        image_size: int. The last stage's side. Defaults to 256.
        stages: int or None. None: the paper's cascade from 64 (3 stages at 256, 1 at 64).
        gf_dim: int. GF_DIM. Defaults to 32.
        df_dim: int. DF_DIM. Defaults to 64.
        r_num: int. Residual blocks per GLAM stage. Defaults to 2.
        noise_dim, condition_dim, kl_weight, ema_decay: ``CascadeGAN``'s.
        stream_weight: float. λ of the re-description loss (tracked as ``stream``); 0 is the
            ablation. Defaults to 10.
        **kwargs: the base's (``mode_seeking``, ``damsm_weight``, ``image_encoder``, the
            fast-convergence options, ``max_batch``) and Keras' (``name``).

    Example:
    >>> gan = kt.models.MirrorGAN.from_preset("mirrorgan_cub_256", text_encoder,
    ...                                       captioner=kt.pretrain.load_captioner(DIR))
    >>> gan.compile()   # Adam 2e-4, betas (0.5, 0.999), for G and every D, as the code

    Reference: Qiao et al., MirrorGAN: Learning Text-to-image Generation by Redescription,
    CVPR 2019 (eq. 1-9).
    """

    PRESETS = PRESETS
    DISCRIMINATOR_NORMALIZATION = "batch"
    FROZEN = CascadeGAN.FROZEN + ("captioner",)

    def __init__(self, text_encoder, captioner=None, image_size=256, stages=None, gf_dim=32,
                 df_dim=64, r_num=2, noise_dim=100, condition_dim=100, kl_weight=1.0,
                 stream_weight=10.0, ema_decay=0.999, **kwargs):
        MirrorGAN.check_options(stream_weight=stream_weight)
        self.stream_weight = float(stream_weight)
        self.captioner = _frozen(captioner)
        # Deserialised once (a config dict read twice breaks Keras' Bidirectional).
        text_encoder = _frozen(text_encoder)
        if self.captioner is not None:
            words = text_encoder.tokenizer.vocabulary
            if list(self.captioner.tokenizer.vocabulary) != list(words):
                raise ValueError(
                    "The captioner's vocabulary is not the text encoder's: STREAM must be "
                    "pretrained with the text encoder's tokenizer (`keras-t2i pretrain "
                    "captioner --text-encoder DIR`), or its word ids would not be the "
                    f"captions' ({len(self.captioner.tokenizer.vocabulary)} words against "
                    f"{len(words)}).")
        super().__init__(text_encoder, image_size=image_size, stages=stages, gf_dim=gf_dim,
                         df_dim=df_dim, r_num=r_num, noise_dim=noise_dim,
                         condition_dim=condition_dim, kl_weight=kl_weight,
                         ema_decay=ema_decay, **kwargs)

    def make_generator(self, noise_dim):
        return MirrorGANGenerator(self.image_size, self.stages, self.gf_dim, self.r_num,
                                  noise_dim, self.condition_dim, self.cond_dim, name="generator")

    @classmethod
    def check_options(cls, **options):
        super().check_options(**options)
        if float(options.get("stream_weight", 0.0)) < 0:
            raise ValueError(f"stream_weight must be >= 0, got {options['stream_weight']}")

    @staticmethod
    def needs_captioner(**options) -> bool:
        """Whether constructor ``options`` use the STREAM captioner (a run must load or
        pretrain one)."""
        return bool(float(options.get("stream_weight", 10.0)))

    def build_loss_terms(self):
        terms = super().build_loss_terms()
        if self.stream_weight:
            terms.append(CaptionTerm(self.stream_weight))
        return terms

    def get_config(self):
        return {**super().get_config(), "stream_weight": self.stream_weight}
