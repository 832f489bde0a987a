"""keras_t2i: text-to-image GANs as Keras 3 models on TensorFlow.

Use as ``import keras_t2i as kt``; see the README for the Python API and the CLI.

Submodules load on first use (``kt.data``, ``kt.models``, …), so the serving client and server
run without the model code. Every class the package registers with Keras is known as soon as
``keras_t2i`` is imported, though: ``keras.saving.load_model("runs/NAME/model.keras")`` works
after ``import keras_t2i`` alone. Each is registered under its name with a stand-in whose
``from_config`` imports the class's module (which registers the class itself) and builds it.
"""

import importlib
import os
import sys

from keras_t2i import _quiet

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if _quiet.launched_as_cli():  # before anything imports TensorFlow
    _quiet.install(sys.argv[1:])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_t2i.version import __version__  # noqa: E402

# Public namespaces: attribute → module. ``kt.callbacks`` gathers the callbacks of fit;
# ``kt.train``, ``kt.pretrain`` and ``kt.evaluate`` are the training, pretraining and
# evaluation packages.
_SUBMODULES = {name: f"keras_t2i.{name}" for name in (
    "callbacks", "data", "evaluation", "export", "layers", "losses", "metrics", "models",
    "pretraining", "serving", "text", "training")}
_SUBMODULES.update(train="keras_t2i.training", pretrain="keras_t2i.pretraining",
                   evaluate="keras_t2i.evaluation")
__all__ = ["__version__", *_SUBMODULES]

# Every Keras-serialisable class of the package (registered as "keras_t2i>NAME") and the
# module that defines it; tests/test_package.py checks this table against the registry.
SERIALIZABLE = {
    "Affine": "keras_t2i.layers.affine",
    "ConditioningAugmentation": "keras_t2i.layers.conditioning",
    "DMGAN": "keras_t2i.models.dm_gan.dm_gan",
    "DMGANGenerator": "keras_t2i.models.dm_gan.dm_gan_generator",
    "DynamicMemory": "keras_t2i.models.dm_gan.dynamic_memory",
    "GLUResBlock": "keras_t2i.layers.glu_blocks",
    "GLUUpBlock": "keras_t2i.layers.glu_blocks",
    "ImageHead": "keras_t2i.models.cascade.cascade_layers",
    "InitialStage": "keras_t2i.models.cascade.cascade_layers",
    "MemoryRefinementStage": "keras_t2i.models.dm_gan.dynamic_memory",
    "SpectralConv2D": "keras_t2i.layers.spectral",
    "WordAttention": "keras_t2i.layers.attention",
    "GLAMStage": "keras_t2i.models.mirror_gan.glam",
    "SentenceAttention": "keras_t2i.models.mirror_gan.glam",
    "MirrorGAN": "keras_t2i.models.mirror_gan.mirror_gan",
    "MirrorGANGenerator": "keras_t2i.models.mirror_gan.mirror_gan_generator",
    "STREAMCaptioner": "keras_t2i.models.mirror_gan.stream_captioner",
    "TorchLSTMCell": "keras_t2i.models.mirror_gan.stream_captioner",
    "StageDiscriminator": "keras_t2i.models.cascade.cascade_discriminator",
    "MemoryGAN": "keras_t2i.models.memory_gan.memory_gan",
    "MemoryGANGenerator": "keras_t2i.models.memory_gan.memory_gan_generator",
    "MultiPartGAN": "keras_t2i.models.memory_gan.multi_part_gan",
    "MultiPartGenerator": "keras_t2i.models.memory_gan.multi_part_gan",
    "StaticPartQuery": "keras_t2i.models.memory_gan.multi_part_gan",
    "PartQueryRNN": "keras_t2i.models.memory_gan.part_query_rnn",
    "PartRenderer": "keras_t2i.models.memory_gan.compositor",
    "SharedPartGenerator": "keras_t2i.models.memory_gan.shared_part_generator",
    "DiffAugment": "keras_t2i.layers.diff_augment",
    "ZCAWhitening": "keras_t2i.layers.whitening",
    "CaptionTokenizer": "keras_t2i.text.tokenizer",
    "DAMSM": "keras_t2i.text.damsm",
    "DAMSMImageEncoder": "keras_t2i.text.damsm",
    "DAMSMTextEncoder": "keras_t2i.text.damsm",
    "DFBlock": "keras_t2i.models.df_gan.df_gan_layers",
    "DFGAN": "keras_t2i.models.df_gan.df_gan",
    "DFGANDiscriminator": "keras_t2i.models.df_gan.df_gan_discriminator",
    "DFGANGenerator": "keras_t2i.models.df_gan.df_gan_generator",
    "DownBlock": "keras_t2i.models.df_gan.df_gan_layers",
    "ProjectedDiscriminator": "keras_t2i.models.projected_discriminator",
    "ShapesOracle": "keras_t2i.metrics.shapes_oracle.network",
    "UpBlock": "keras_t2i.models.df_gan.df_gan_layers",
}


def __getattr__(name):
    if name in _SUBMODULES:
        importlib.import_module("keras_t2i._backend")
        return importlib.import_module(_SUBMODULES[name])
    raise AttributeError(f"module 'keras_t2i' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


def _register_stand_ins():
    """Registers a stand-in for every class of ``SERIALIZABLE`` not registered yet (none
    when Keras cannot be imported: then nothing can be deserialised anyway)."""
    try:
        importlib.import_module("keras_t2i._backend")
        from keras.saving import get_custom_objects
    except ImportError:
        return
    registered = get_custom_objects()
    for name, module in SERIALIZABLE.items():
        key = f"keras_t2i>{name}"
        if key not in registered:
            registered[key] = _stand_in(name, module)


def _stand_in(name, module):
    def from_config(cls, config):
        # Importing the module registers the real class in place of this stand-in.
        return getattr(importlib.import_module(module), name).from_config(config)

    return type(name, (), {"from_config": classmethod(from_config), "__module__": module,
                           "__doc__": f"Stand-in for {module}.{name}."})


_register_stand_ins()
