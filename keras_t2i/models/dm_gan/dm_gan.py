"""DM-GAN (Zhu, Pan, Chen, Yang, CVPR 2019): the AttnGAN cascade with dynamic memory
refinement, per-stage discriminators with spectral normalisation, the CA and DAMSM losses
(seeds.md §3)."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.cascade.cascade_gan import CascadeGAN
from keras_t2i.models.dm_gan.dm_gan_generator import DMGANGenerator
from keras_t2i.models.dm_gan.dm_gan_presets import PRESETS


@keras.saving.register_keras_serializable(package="keras_t2i")
class DMGAN(CascadeGAN):
    """DM-GAN: CA, the initial stage and memory refinement stages, one discriminator per stage
    with spectral normalisation.

    The step is the cascade's (``CascadeGAN``, as ``code/trainer.py``): the stage
    discriminators' BCE with mismatched pairs, then G on Σ_k [BCE(D_k^u(x̂_k), 1) +
    BCE(D_k^c(x̂_k, s), 1)] + λ_KL·KL(CA) + λ·L_DAMSM (last stage, with ``damsm_weight``; 5 on
    CUB, 50 on COCO), and the EMA of G's parameters (0.999), which generates.

    Args:
        text_encoder: DAMSMTextEncoder, pretrained (``keras-t2i pretrain damsm``).
        image_size: int. The last stage's side. Defaults to 256.
        stages: int or None. None: the paper's cascade from 64 (3 stages at 256, 1 at 64).
        gf_dim: int. GF_DIM. Defaults to 64.
        df_dim: int. DF_DIM. Defaults to 32.
        r_num: int. Residual blocks per refinement stage (2 on CUB, 3 on COCO). Defaults to 2.
        noise_dim: int. z. Defaults to 100.
        condition_dim: int. ĉ (CONDITION_DIM). Defaults to 100.
        memory: bool. False: the refinement stages read no words (the ablation's baseline,
            ``MemoryRefinementStage``). Defaults to True.
        write_gate, response_gate: bool. The gates of ``DynamicMemory``; False is the paper's
            ablation of each. Default True.
        kl_weight: float. λ of CA's KL term (tracked as ``kl``). Defaults to 1.
        ema_decay: float. Defaults to 0.999 (the code's).
        **kwargs: the base's (``mode_seeking``, ``damsm_weight``, ``image_encoder``, the
            fast-convergence options, ``max_batch``) and Keras' (``name``).

    Example:
    >>> gan = kt.models.DMGAN.from_preset("dmgan_cub_256", text_encoder,
    ...                                   image_encoder=image_encoder)
    >>> gan.compile()   # Adam 2e-4, betas (0.5, 0.999), for G and every D, as the code
    >>> gan.generate_stages(["a small red bird with black wings"], seed=0)  # 64, 128, 256

    Reference: Zhu et al., DM-GAN: Dynamic Memory Generative Adversarial Networks for
    Text-to-Image Synthesis, CVPR 2019 (eq. 1-11).
    """

    PRESETS = PRESETS
    DISCRIMINATOR_NORMALIZATION = "spectral"

    def __init__(self, text_encoder, image_size=256, stages=None, gf_dim=64, df_dim=32,
                 r_num=2, noise_dim=100, condition_dim=100, memory=True, write_gate=True,
                 response_gate=True, kl_weight=1.0, ema_decay=0.999, **kwargs):
        self.memory = bool(memory)
        self.write_gate, self.response_gate = bool(write_gate), bool(response_gate)
        super().__init__(text_encoder, image_size=image_size, stages=stages, gf_dim=gf_dim,
                         df_dim=df_dim, r_num=r_num, noise_dim=noise_dim,
                         condition_dim=condition_dim, kl_weight=kl_weight,
                         ema_decay=ema_decay, **kwargs)

    def make_generator(self, noise_dim):
        return DMGANGenerator(self.image_size, self.stages, self.gf_dim, self.r_num, noise_dim,
                              self.condition_dim, self.cond_dim, memory=self.memory,
                              write_gate=self.write_gate, response_gate=self.response_gate,
                              name="generator")

    def get_config(self):
        return {**super().get_config(), "memory": self.memory, "write_gate": self.write_gate,
                "response_gate": self.response_gate}
