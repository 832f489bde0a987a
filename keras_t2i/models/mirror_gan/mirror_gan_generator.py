"""MirrorGAN's generator: STEM's Conditioning Augmentation and the GLAM cascade (``model.py``
``G_NET``; seeds.md §4, §4.1)."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.cascade.cascade_generator import CascadeGenerator
from keras_t2i.models.mirror_gan.glam import GLAMStage


@keras.saving.register_keras_serializable(package="keras_t2i")
class MirrorGANGenerator(CascadeGenerator):
    """The cascade's generator (``CascadeGenerator``) with GLAM refinement stages: CA on the
    sentence, AttnGAN's initial stage, ``stages − 1`` ``GLAMStage`` (local word and global
    sentence attention) and an image head after every stage. At the CUB config (gf 32, R_NUM 2,
    3 stages) it has 7,105,392 parameters, as the code's.

    Args and call: ``CascadeGenerator``'s (gf_dim defaults to 32, MirrorGAN's GF_DIM);
    ``attention`` holds each GLAM stage's word attention.
    """

    def __init__(self, image_size=256, stages=3, gf_dim=32, r_num=2, noise_dim=100,
                 condition_dim=100, cond_dim=256, **kwargs):
        super().__init__(image_size, stages, gf_dim, r_num, noise_dim, condition_dim, cond_dim,
                         **kwargs)

    def make_refinement(self, k):
        return GLAMStage(self.gf_dim, self.r_num, self.cond_dim, self.condition_dim,
                         name=f"refinement_{k}")
