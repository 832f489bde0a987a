"""MemoryGAN (Wang, Peng, Liu, Electronics 2023) and its multi-generator baseline: the models,
their networks, layers, presets and recipes (two families: ``memorygan`` and ``multipart``)."""

from keras_t2i.models.family import Family
from keras_t2i.models.memory_gan.compositor import PartRenderer, compose
from keras_t2i.models.memory_gan.memory_gan import MemoryGAN, PartGAN
from keras_t2i.models.memory_gan.memory_gan_generator import (
    MemoryGANGenerator,
    PartSceneGenerator,
)
from keras_t2i.models.memory_gan.memory_gan_presets import MULTI_PART_RECIPES, RECIPES
from keras_t2i.models.memory_gan.multi_part_gan import (
    MultiPartGAN,
    MultiPartGenerator,
    StaticPartQuery,
)
from keras_t2i.models.memory_gan.part_query_rnn import PartQueryRNN
from keras_t2i.models.memory_gan.shared_part_generator import SharedPartGenerator

# Options of both families (kwarg → (type, help)); those that shape the variables.
_PART_OPTIONS = {
    "nf": (int, "width of D, the part generator(s) and the renderer"),
    "num_parts": (int, "part slots K"),
    "part_dim": (int, "width of each part's latent code"),
    "query_dim": (int, "width of a part's query code"),
    "feature_channels": (int, "channels of the part feature maps"),
    "mask_entropy_weight": (float, "weight of the part masks' entropy (0: off)"),
    "part_area_weight": (float, "weight of the coverage prior per part (0: off)"),
    "max_part_area": (float, "the share of the image a part holds before it pays"),
    "text_background": (bool, "the background's features read the sentence "
                              "(--no-text-background: only the scene code)"),
    "background_logit": (float, "the background's constant mask logit (the parts start "
                                "near 0)"),
    "gp_weight": (float, "MA-GP weight k"),
}
_PART_FIXED = ("nf", "part_dim", "query_dim", "feature_channels", "text_background")

FAMILY = Family(
    name="memorygan",
    model_class=MemoryGAN,
    recipes=RECIPES,
    options={**_PART_OPTIONS,
             "rnn_units": (int, "the query RNN's state width"),
             "feedback": (bool, "feed each part's output back into the RNN (--no-feedback: "
                                "off)")},
    fixed=_PART_FIXED + ("rnn_units", "feedback"),
    title="MemoryGAN",
    description="MemoryGAN: one shared part generator as the memory of every part, queried by "
                "an RNN with feedback (Wang et al., Electronics 2023; this package's design)",
)

MULTI_PART_FAMILY = Family(
    name="multipart",
    model_class=MultiPartGAN,
    recipes=MULTI_PART_RECIPES,
    options={**_PART_OPTIONS,
             "query_units": (int, "width of each part's static word query")},
    fixed=_PART_FIXED + ("num_parts", "query_units"),
    title="MultiPartGAN",
    description="The multi-generator baseline of MemoryGAN: one part generator per part, "
                "independent part codes, no RNN",
)

__all__ = ["FAMILY", "MULTI_PART_FAMILY", "MemoryGAN", "MemoryGANGenerator", "MultiPartGAN",
           "MultiPartGenerator", "PartGAN", "PartQueryRNN", "PartRenderer",
           "PartSceneGenerator", "SharedPartGenerator", "StaticPartQuery", "compose"]
