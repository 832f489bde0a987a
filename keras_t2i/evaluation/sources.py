"""What is evaluated: a run, a SavedModel or a model in memory, as one callable
(captions, seeds) → uint8 images, with its description, latents' truncation and the data
protocol it was trained on (so the test split it is scored on is that one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_t2i import _backend  # noqa: F401
from keras_t2i.serving.savedmodel import LocalModel
from keras_t2i.training.config import load_run_config
from keras_t2i.training.run import data_protocol, load_run


def noise_protocol(truncation) -> str:
    """How the latents were drawn, for the metrics' protocols."""
    if truncation is None:
        return "latents N(0, I)"
    return f"latents from a normal truncated to ±2σ, times {truncation:g}"


class Generator:
    """A callable (captions, seeds) → uint8 (B, S, S, 3) and what it is.

    Build it with :meth:`from_run`, :meth:`from_saved_model` or :meth:`from_model`.

    Attributes:
        data: dict or None. The data it was trained on (``{"name", "options",
            "image_size"}``), as runs and exports record it.
        truncation: float or None. Of its latents (``noise_protocol``).
    """

    def __init__(self, generate, image_size, description, step=None, damsm_dir=None,
                 data=None, log_dir=None, truncation=None, max_batch=None):
        self.generate = generate
        self.max_batch = max_batch
        self.image_size = int(image_size)
        self.description = description
        self.step = step
        self.damsm_dir = damsm_dir
        self.data = data
        self.log_dir = log_dir
        self.truncation = truncation

    def __call__(self, captions, seeds):
        """uint8 images of the captions and seeds, in calls of at most ``max_batch``."""
        captions, seeds = list(captions), list(seeds)
        size = self.max_batch or len(captions) or 1
        return np.concatenate([self.generate(captions[i:i + size], seeds[i:i + size])
                               for i in range(0, len(captions), size)])

    @property
    def max_objects(self):
        """The Shapes ``max_objects`` it was trained with (None when not known)."""
        return (self.data or {}).get("options", {}).get("max_objects")

    @property
    def min_objects(self):
        """The Shapes ``min_objects`` it was trained with (1, Shapes' default, when not
        recorded)."""
        return (self.data or {}).get("options", {}).get("min_objects", 1)

    @property
    def holdout(self) -> tuple:
        """The colour–shape pairs its Shapes training data left out (empty when none)."""
        return tuple((self.data or {}).get("options", {}).get("holdout") or ())

    @classmethod
    def from_model(cls, gan, description="in-memory model", truncation=None, **kwargs):
        return cls(lambda c, s: gan.generate(c, seeds=s, truncation=truncation),
                   gan.image_size, description, truncation=truncation,
                   max_batch=gan.max_batch, **kwargs)

    @classmethod
    def from_run(cls, run_dir, truncation=None, num_parts=None):
        """A run's model; ``num_parts`` runs a MemoryGAN with that many parts (its RNN takes
        more steps than trained: the more-objects probe)."""
        config = load_run_config(run_dir)
        gan = load_run(run_dir)
        description = f"run {run_dir}"
        if num_parts is not None:
            if not hasattr(gan, "with_num_parts"):
                raise ValueError(f"num_parts applies to models that compose parts (MemoryGAN, "
                                 f"MultiPartGAN); {run_dir} holds a {type(gan).__name__}.")
            gan = gan.with_num_parts(num_parts)
            description += f" with {num_parts} parts"
        return cls.from_model(
            gan, description=description, truncation=truncation,
            step=int(gan.g_optimizer.iterations.numpy()) if gan.g_optimizer else None,
            damsm_dir=config.get("text_encoder") or str(Path(run_dir) / "damsm"),
            data=data_protocol(config), log_dir=str(Path(run_dir) / "logs"))

    @classmethod
    def from_saved_model(cls, path, version=None, damsm_dir=None, truncation=None):
        """An export; its latents' truncation is the one it was exported with (asking for
        another is an error). Exports record the data they were trained on; older ones do
        not (``data`` None: evaluation then needs it said explicitly)."""
        model = LocalModel(path, version)
        meta = model.metadata
        exported = meta.get("truncation")
        if truncation is not None and truncation != exported:
            raise ValueError(f"{model.directory} was exported with truncation {exported}; its "
                             f"latents cannot be drawn with {truncation} (export again with "
                             "--truncation).")
        return cls(model.generate, meta["image_size"], f"SavedModel {model.directory}",
                   step=meta.get("training_step"), damsm_dir=damsm_dir, data=meta.get("data"),
                   truncation=exported, max_batch=meta.get("max_batch"))
