"""The AttnGAN cascade that DM-GAN and MirrorGAN share: the model (``CascadeGAN``: the step,
the per-stage BCE losses, CA's KL term), the generator (``CascadeGenerator``: CA, the initial
stage, refinement stages, image heads) and the per-stage discriminators. They are networks of
a family's model rather than layers, so they live here, beside the families, and not in
``keras_t2i.layers`` (which holds their layers: Conditioning Augmentation, the GLU blocks,
word attention)."""

from keras_t2i.models.cascade.cascade_discriminator import StageDiscriminator, stage_sizes
from keras_t2i.models.cascade.cascade_gan import CascadeGAN
from keras_t2i.models.cascade.cascade_generator import CascadeGenerator
from keras_t2i.models.cascade.cascade_layers import ImageHead, InitialStage

__all__ = ["CascadeGAN", "CascadeGenerator", "ImageHead", "InitialStage", "StageDiscriminator",
           "stage_sizes"]
