"""The AttnGAN cascade's pieces that DM-GAN and MirrorGAN share: Conditioning Augmentation,
the GLU blocks, the initial stage, the image heads and the per-stage discriminators."""

from keras_t2i.models.cascade.cascade_discriminator import StageDiscriminator, stage_sizes
from keras_t2i.models.cascade.cascade_layers import (
    ConditioningAugmentation,
    GLUResBlock,
    GLUUpBlock,
    ImageHead,
    InitialStage,
    glu,
)

__all__ = ["ConditioningAugmentation", "GLUResBlock", "GLUUpBlock", "ImageHead", "InitialStage",
           "StageDiscriminator", "glu", "stage_sizes"]
