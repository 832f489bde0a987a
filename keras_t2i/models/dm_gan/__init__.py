"""DM-GAN (Zhu et al., CVPR 2019): the model, its networks, its layers, presets and recipes."""

from keras_t2i.models.dm_gan.dm_gan import DMGAN
from keras_t2i.models.dm_gan.dm_gan_generator import DMGANGenerator
from keras_t2i.models.dm_gan.dm_gan_presets import RECIPES
from keras_t2i.models.dm_gan.dynamic_memory import DynamicMemory, MemoryRefinementStage
from keras_t2i.models.family import Family

FAMILY = Family(
    name="dmgan",
    model_class=DMGAN,
    recipes=RECIPES,
    options={
        "gf_dim": (int, "generator width GF_DIM"),
        "df_dim": (int, "discriminator width DF_DIM"),
        "r_num": (int, "residual blocks per refinement stage"),
        "stages": (int, "cascade stages (3: 64 → 128 → 256)"),
        "memory": (bool, "dynamic memory in the refinement stages (--no-memory: off)"),
        "write_gate": (bool, "the memory writing gate (--no-write-gate: words and image "
                             "weighed equally)"),
        "response_gate": (bool, "the response gate (--no-response-gate: r + o)"),
        "kl_weight": (float, "weight of Conditioning Augmentation's KL term"),
    },
    fixed=("gf_dim", "df_dim", "r_num", "stages", "memory", "write_gate", "response_gate"),
    title="DM-GAN",
    description="DM-GAN: the AttnGAN cascade with dynamic memory refinement (writing and "
                "response gates), CA and DAMSM losses (Zhu et al., CVPR 2019)",
)

__all__ = ["DMGAN", "DMGANGenerator", "DynamicMemory", "FAMILY", "MemoryRefinementStage"]
