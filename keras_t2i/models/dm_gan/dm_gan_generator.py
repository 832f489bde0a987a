"""DM-GAN's generator ``G_NET`` (``code/model.py``; seeds.md §3.1, §3.5)."""

from __future__ import annotations

import keras

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.cascade.cascade_generator import CascadeGenerator
from keras_t2i.models.dm_gan.dynamic_memory import MemoryRefinementStage


@keras.saving.register_keras_serializable(package="keras_t2i")
class DMGANGenerator(CascadeGenerator):
    """The cascade's generator (``CascadeGenerator``) with memory refinement stages:
    Conditioning Augmentation, the initial stage, ``stages − 1`` ``MemoryRefinementStage`` and
    an image head after every stage. At the CUB config (gf 64, R_NUM 2, 3 stages) it has
    21,449,042 parameters, as the code's.

    Args:
        image_size, stages, gf_dim, r_num, noise_dim, condition_dim, cond_dim:
            ``CascadeGenerator``'s (gf_dim defaults to 64, DM-GAN's GF_DIM).
        memory, write_gate, response_gate: bool. ``MemoryRefinementStage``'s. Default True.

    Call arguments and returns: ``CascadeGenerator``'s (``attention`` holds each refinement
    stage's key addressing, when it has memory).
    """

    def __init__(self, image_size=256, stages=3, gf_dim=64, r_num=2, noise_dim=100,
                 condition_dim=100, cond_dim=256, memory=True, write_gate=True,
                 response_gate=True, **kwargs):
        self.memory = bool(memory)
        self.write_gate = bool(write_gate)
        self.response_gate = bool(response_gate)
        super().__init__(image_size, stages, gf_dim, r_num, noise_dim, condition_dim, cond_dim,
                         **kwargs)

    def make_refinement(self, k):
        return MemoryRefinementStage(self.gf_dim, self.r_num, self.cond_dim, self.condition_dim,
                                     memory=self.memory, write_gate=self.write_gate,
                                     response_gate=self.response_gate, name=f"refinement_{k}")

    def get_config(self):
        return {**super().get_config(), "memory": self.memory, "write_gate": self.write_gate,
                "response_gate": self.response_gate}
