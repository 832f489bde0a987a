"""What the rest of the package knows of a model family (``Family``), and the constructor
options every family shares. A family's module defines its ``FAMILY``; the registry
(``keras_t2i.models.registry``) finds it by name."""

from __future__ import annotations

import dataclasses

# Constructor options every family takes, as CLI flags: kwarg → (type, help).
COMMON_OPTIONS = {
    "image_size": (int, "output side (64, 128, 256)"),
    "ema_decay": (float, "keep an EMA generator for sampling, e.g. 0.999 (0: none)"),
    "mode_seeking": (float, "MSGAN mode-seeking weight, e.g. 1.0 (0: off)"),
    "damsm_weight": (float, "weight of the DAMSM loss on the generator (0: off)"),
    "paired_weight": (float, "weight of the paired image term, a distance from each "
                             "generated image to its caption's real image (0: off)"),
    "paired_schedule": (str, "the paired term's weight over G steps: constant, "
                             "linear:HOLD:DECAY or cosine:HOLD:DECAY"),
    "paired_distance": (str, "the paired term's distance: pixel (L1), pixel_mse (squared "
                             "error) or features (the DAMSM image encoder's)"),
    "diffaugment": (str, "DiffAugment on D's inputs: off, or translation,cutout with "
                         "optional ratios (translation=0.0625,cutout=0.25)"),
    "projected_weight": (float, "weight of a projected discriminator on the DAMSM image "
                                "encoder's maps, added to the family's (0: none)"),
    "condition": (str, "the text vector G and D are conditioned on: sentence (the papers') or "
                       "words_mean (the word features averaged over the caption)"),
    "condition_whitening": (float, "ZCA-whiten the condition with statistics of training "
                                   "captions, eigenvalue floor EPS x the largest, e.g. 1e-4 "
                                   "(0: off)"),
    "condition_rank": (int, "keep only the whitened condition's K directions most correlated "
                            "with the captions' real images (CCA, fitted before training; "
                            "0: keep all)"),
}
# Options that shape the trained variables: a resumed run cannot change them (a projected
# discriminator is there or not, so its weight is fixed too; the whitening statistics in a
# checkpoint belong to one condition).
COMMON_FIXED = ("image_size", "noise_dim", "ema_decay", "projected_weight", "condition",
                "condition_whitening", "condition_rank")


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family as the rest of the package sees it.

    Attributes:
        name: str. The ``--model`` value (``"dfgan"``).
        model_class: type. Its ``TextToImageGAN`` subclass, with ``PRESETS``.
        recipes: dict. Training recipes: name → ``{"description", "preset", "data",
            "train", "damsm"}``.
        options: dict. Family-specific constructor options offered as CLI flags: kwarg →
            (type, help).
        fixed: tuple. Family-specific options that shape the variables (see COMMON_FIXED).
        description: str.
        title: str. The family's name in text ("DF-GAN"). Defaults to ``name``.
    """

    name: str
    model_class: type
    recipes: dict
    options: dict
    fixed: tuple = ()
    description: str = ""
    title: str = ""

    @property
    def presets(self) -> dict:
        return self.model_class.PRESETS

    @property
    def all_options(self) -> dict:
        return {**COMMON_OPTIONS, **self.options}

    @property
    def all_fixed(self) -> tuple:
        return COMMON_FIXED + tuple(self.fixed)
