"""The AttnGAN cascade's networks that DM-GAN and MirrorGAN share: the initial stage, the image
heads and the per-stage discriminators. They are networks of a family's model rather than
layers, so they live here, beside the families, and not in ``keras_t2i.layers`` (which holds
their layers: Conditioning Augmentation and the GLU blocks)."""

from keras_t2i.models.cascade.cascade_discriminator import StageDiscriminator, stage_sizes
from keras_t2i.models.cascade.cascade_layers import ImageHead, InitialStage

__all__ = ["ImageHead", "InitialStage", "StageDiscriminator", "stage_sizes"]
