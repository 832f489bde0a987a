"""Text-to-image GANs: the shared base and the model families."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.models.base import TextToImageGAN
from keras_t2i.models.df_gan import DFGAN
from keras_t2i.models.df_gan_networks import DFGANDiscriminator, DFGANGenerator
from keras_t2i.models.presets import PRESETS, get_preset

__all__ = [
    "DFGAN", "DFGANDiscriminator", "DFGANGenerator", "PRESETS", "TextToImageGAN", "get_preset",
]
