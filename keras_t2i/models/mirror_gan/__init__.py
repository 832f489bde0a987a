"""MirrorGAN (Qiao et al., CVPR 2019): the model, its networks, its layers, presets and
recipes."""

from keras_t2i.models.family import Family
from keras_t2i.models.mirror_gan.glam import GLAMStage, SentenceAttention
from keras_t2i.models.mirror_gan.mirror_gan import MirrorGAN
from keras_t2i.models.mirror_gan.mirror_gan_generator import MirrorGANGenerator
from keras_t2i.models.mirror_gan.mirror_gan_presets import RECIPES
from keras_t2i.models.mirror_gan.stream_captioner import STREAMCaptioner, TorchLSTMCell

FAMILY = Family(
    name="mirrorgan",
    model_class=MirrorGAN,
    recipes=RECIPES,
    options={
        "gf_dim": (int, "generator width GF_DIM"),
        "df_dim": (int, "discriminator width DF_DIM"),
        "r_num": (int, "residual blocks per GLAM stage"),
        "stages": (int, "cascade stages (3: 64 → 128 → 256)"),
        "stream_weight": (float, "weight of STREAM's re-description loss (0: the ablation)"),
        "kl_weight": (float, "weight of Conditioning Augmentation's KL term"),
    },
    fixed=("gf_dim", "df_dim", "r_num", "stages"),
    title="MirrorGAN",
    description="MirrorGAN: STEM, the GLAM cascade (global sentence and local word attention) "
                "and the STREAM captioner's re-description loss (Qiao et al., CVPR 2019)",
)

__all__ = ["FAMILY", "GLAMStage", "MirrorGAN", "MirrorGANGenerator", "STREAMCaptioner",
           "SentenceAttention", "TorchLSTMCell"]
