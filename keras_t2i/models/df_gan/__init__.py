"""DF-GAN (Tao et al., CVPR 2022): the model, its networks, its layers, presets and recipes."""

from keras_t2i.models.df_gan.df_gan import DFGAN
from keras_t2i.models.df_gan.df_gan_discriminator import DFGANDiscriminator
from keras_t2i.models.df_gan.df_gan_generator import DFGANGenerator
from keras_t2i.models.df_gan.df_gan_layers import DFBlock, DownBlock, UpBlock
from keras_t2i.models.df_gan.df_gan_presets import RECIPES
from keras_t2i.models.family import Family

FAMILY = Family(
    name="dfgan",
    model_class=DFGAN,
    recipes=RECIPES,
    options={"nf": (int, "base width of G and D")},
    fixed=("nf",),
    title="DF-GAN",
    description="DF-GAN: one-stage generator with deep fusion, hinge loss with mismatched "
                "pairs, MA-GP (Tao et al., CVPR 2022)",
)

__all__ = ["DFBlock", "DFGAN", "DFGANDiscriminator", "DFGANGenerator", "DownBlock", "FAMILY",
           "UpBlock"]
