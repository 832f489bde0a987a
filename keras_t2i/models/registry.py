"""The model families: name → model class, model presets, training recipes and CLI options.

Training, export, evaluation and the CLI reach a family only through this registry and the
base model's roles (CONVENTIONS.md #11), so a new family is its folder, the one line in
``FAMILY_MODULES`` below and its tests. A family's module defines ``FAMILY``, a
``keras_t2i.models.family.Family``; the registry imports it when it is first asked for.
"""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path

from keras_t2i.models.base import PRESET_CONFIG_FILE
from keras_t2i.models.family import Family

# One line per family: the ``--model`` name and the module that defines its ``FAMILY`` (or
# ``module:NAME`` for a module that defines two, as MemoryGAN's with its baseline).
FAMILY_MODULES = {
    "dfgan": "keras_t2i.models.df_gan",
    "dmgan": "keras_t2i.models.dm_gan",
    "mirrorgan": "keras_t2i.models.mirror_gan",
    "memorygan": "keras_t2i.models.memory_gan",
    "multipart": "keras_t2i.models.memory_gan:MULTI_PART_FAMILY",
}

def family_names() -> tuple[str, ...]:
    return tuple(FAMILY_MODULES)


def get_family(name: str) -> Family:
    """The family registered as ``name`` (``--model``)."""
    if name not in FAMILY_MODULES:
        raise ValueError(f"Unknown model {name!r}; built so far: {', '.join(FAMILY_MODULES)}")
    module, _, attribute = FAMILY_MODULES[name].partition(":")
    return getattr(importlib.import_module(module), attribute or "FAMILY")


def families() -> dict[str, Family]:
    return {name: get_family(name) for name in FAMILY_MODULES}


def family_of(model) -> Family:
    """The family of a model instance or class: the registered class nearest to it in its
    method resolution order (MemoryGAN subclasses DFGAN, and is its own family)."""
    cls = model if isinstance(model, type) else type(model)
    by_class = {family.model_class: family for family in families().values()}
    for base in cls.__mro__:
        if base in by_class:
            return by_class[base]
    raise ValueError(f"{cls.__name__} is not a registered model family")


def _find(table: str, name: str) -> tuple[Family, dict]:
    for family in families().values():
        entries = getattr(family, table)
        if name in entries:
            return family, copy.deepcopy(entries[name])
    known = [n for f in families().values() for n in getattr(f, table)]
    raise ValueError(f"Unknown {table[:-1]} {name!r}; valid {table}: {', '.join(known)}")


def get_preset(name: str) -> tuple[Family, dict]:
    """(family, a deep copy of the model preset ``{"description", "config"}``)."""
    return _find("presets", name)


def get_recipe(name: str) -> tuple[Family, dict]:
    """(family, a deep copy of the training recipe)."""
    return _find("recipes", name)


def recipe_for(family: str, data: str) -> str:
    """The default recipe of a family on a dataset (``dfgan`` + ``shapes`` → …_64)."""
    recipes = get_family(family).recipes
    matches = [n for n, r in recipes.items() if r["data"]["name"] == data]
    if not matches:
        raise ValueError(f"No recipe for model {family!r} on {data!r}; recipes: "
                         f"{', '.join(recipes)}")
    return matches[0]


def is_preset_dir(path) -> bool:
    return (Path(path) / PRESET_CONFIG_FILE).is_file()


def from_preset(preset, text_encoder=None, image_encoder=None, **overrides):
    """A model from a named preset (with its pretrained ``text_encoder``) or from a
    directory written by ``save_to_preset`` (nothing else needed), of whichever family.

    Example:
    >>> gan = kt.models.from_preset("presets/my-shapes-gan")
    >>> gan = kt.models.from_preset("dfgan_shapes_64", text_encoder, image_encoder=image_encoder)
    """
    if is_preset_dir(preset):
        config = json.loads((Path(preset) / PRESET_CONFIG_FILE).read_text())
        family = next((f for f in families().values()
                       if f.model_class.__name__ == config.get("class_name")), None)
        if family is None:
            raise ValueError(f"{preset} holds a {config.get('class_name')!r}, not a model of a "
                             f"registered family ({', '.join(FAMILY_MODULES)}).")
    else:
        family, _ = get_preset(str(preset))
    return family.model_class.from_preset(preset, text_encoder, image_encoder=image_encoder,
                                          **overrides)
