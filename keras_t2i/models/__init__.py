"""Text-to-image GANs: the shared base, the registry and the model families."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.base import TextToImageGAN
from keras_t2i.models.df_gan import DFGAN, DFGANDiscriminator, DFGANGenerator
from keras_t2i.models.dm_gan import DMGAN, DMGANGenerator
from keras_t2i.models.family import Family
from keras_t2i.models.memory_gan import MemoryGAN, MemoryGANGenerator, MultiPartGAN
from keras_t2i.models.mirror_gan import MirrorGAN, MirrorGANGenerator, STREAMCaptioner
from keras_t2i.models.projected_discriminator import ProjectedDiscriminator
from keras_t2i.models.registry import (
    families,
    family_names,
    from_preset,
    get_family,
    get_preset,
    get_recipe,
)

__all__ = [
    "DFGAN", "DFGANDiscriminator", "DFGANGenerator", "DMGAN", "DMGANGenerator", "Family",
    "MemoryGAN", "MemoryGANGenerator", "MirrorGAN", "MirrorGANGenerator", "MultiPartGAN",
    "ProjectedDiscriminator", "STREAMCaptioner",
    "TextToImageGAN", "families", "family_names", "from_preset", "get_family", "get_preset",
    "get_recipe",
]
