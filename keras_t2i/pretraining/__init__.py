"""Pretraining the modules a GAN uses frozen: the DAMSM text and image encoders (``damsm``)
and MirrorGAN's STREAM captioner (``captioner``). ``kt.pretrain`` is this package."""

from keras_t2i import _backend  # noqa: F401
from keras_t2i.pretraining.captioner import (
    load_captioner,
    pretrain_captioner,
    resolve_captioner_config,
)
from keras_t2i.pretraining.damsm import pretrain_damsm, resolve_damsm_config
from keras_t2i.text.damsm import load_encoders

__all__ = ["load_captioner", "load_encoders", "pretrain_captioner", "pretrain_damsm",
           "resolve_captioner_config", "resolve_damsm_config"]
