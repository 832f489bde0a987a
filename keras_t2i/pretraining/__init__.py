"""Pretraining the modules a GAN uses frozen: the DAMSM text and image encoders
(``damsm``; the STREAM captioner comes with MirrorGAN). ``kt.pretrain`` is this package."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.pretraining.damsm import pretrain_damsm, resolve_damsm_config
from keras_t2i.text.damsm import load_encoders

__all__ = ["load_encoders", "pretrain_damsm", "resolve_damsm_config"]
