"""MemoryGAN's and the multi-generator baseline's model presets (constructor kwargs) and
training recipes (data, budget, optimisation, DAMSM pretraining). CONVENTIONS.md #12: presets
are not recipes. The paper publishes no settings (seeds.md §6): every number here is this
package's."""

from __future__ import annotations

from keras_t2i.models.shapes_presets import FAST_CONVERGENCE

# The CPU preset: 64×64 scenes of 2–4 Shapes objects, four part slots, DF-GAN's quickstart
# widths (nf 16) for D, the part generator and the renderer, parts at 32×32; the background
# from the scene code alone, in front of the parts' start (b = 2): measured on multi-object
# Shapes, together they lower FID and raise R-precision and the held-out pairs of both part
# models, and make the baseline's masks objects (RESULTS, "MemoryGAN … a second sitting").
_SHAPES = {"image_size": 64, "nf": 16, "num_parts": 4, "part_dim": 32, "query_dim": 64,
           "feature_channels": 32, "damsm_weight": 1.0, "text_background": False,
           "background_logit": 2.0, **FAST_CONVERGENCE}
# The GPU preset: 128×128 COCO scenes, eight part slots, DF-GAN's widths (nf 32), parts at 64.
_COCO = {"image_size": 128, "nf": 32, "num_parts": 8, "part_dim": 64, "query_dim": 128,
         "feature_channels": 64, "damsm_weight": 1.0}

PRESETS = {
    "memorygan_shapes_64": {
        "description": "MemoryGAN at 64×64 for Shapes scenes of 2–4 objects on a CPU: four "
                       "part slots, one shared part generator (nf 16), the DAMSM loss λ 1 and "
                       "the paired DAMSM-feature term.",
        "config": {**_SHAPES, "rnn_units": 128},
    },
    "memorygan_coco_128": {
        "description": "MemoryGAN at 128×128 for COCO-2014 on a GPU: eight part slots, nf 32.",
        "config": {**_COCO, "rnn_units": 256},
    },
}

MULTI_PART_PRESETS = {
    "multipart_shapes_64": {
        "description": "The multi-generator baseline of memorygan_shapes_64: four part "
                       "generators with static queries, the rest the same.",
        "config": {**_SHAPES, "query_units": 128},
    },
    "multipart_coco_128": {
        "description": "The multi-generator baseline of memorygan_coco_128: eight part "
                       "generators.",
        "config": {**_COCO, "query_units": 256},
    },
}

# DF-GAN's optimisation (the discriminator and losses are DF-GAN's), with the quickstart's
# batch 8 and G 4e-4 on the CPU (df_gan_presets.py says why).
_TRAIN = {"batch_size": 32, "g_learning_rate": 1e-4, "d_learning_rate": 4e-4, "beta_1": 0.0,
          "beta_2": 0.9}
_SHAPES_DATA = {"name": "shapes", "options": {"min_objects": 2, "max_objects": 4}}
_SHAPES_TRAIN = {**_TRAIN, "batch_size": 8, "g_learning_rate": 4e-4, "steps": 3000,
                 "checkpoint_every": 500, "sample_every": 500}
_COCO_TRAIN = {**_TRAIN, "epochs": 120, "checkpoint_every": 5000, "sample_every": 2000}


def _recipes(family, title):
    return {
        f"{family}_shapes_64": {
            "description": f"{title} on Shapes scenes of 2–4 objects at 64×64, batch 8, 3,000 "
                           "steps after an 800-step DAMSM.",
            "preset": f"{family}_shapes_64",
            "data": _SHAPES_DATA,
            "train": _SHAPES_TRAIN,
            "damsm": {"steps": 800},
        },
        f"{family}_coco_128": {
            "description": f"{title} on COCO-2014 at 128×128 (a GPU run).",
            "preset": f"{family}_coco_128",
            "data": {"name": "coco", "options": {}},
            "train": _COCO_TRAIN,
            "damsm": {"epochs": 100},
        },
    }


RECIPES = _recipes("memorygan", "MemoryGAN")
MULTI_PART_RECIPES = _recipes("multipart", "The multi-generator baseline")
