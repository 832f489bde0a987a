"""DM-GAN's model presets (constructor kwargs) and training recipes (data, budget,
optimisation, DAMSM pretraining). CONVENTIONS.md #12: presets are not recipes."""

from __future__ import annotations

from keras_t2i.models.shapes_presets import FAST_CONVERGENCE

# The released configs (``code/cfg/bird_DMGAN.yml``, ``coco_DMGAN.yml``; seeds.md §3.3, §3.5):
# GF_DIM 64, DF_DIM 32, 64 → 128 → 256, λ_DAMSM 5 / 50, R_NUM 2 / 3, EMA 0.999.
PRESETS = {
    "dmgan_shapes_64": {
        "description": "DM-GAN at 64×64 for single-object Shapes on a CPU: a 32 → 64 cascade "
                       "(one memory refinement stage), GF 16, DF 16, the DAMSM loss λ 1, the "
                       "paired DAMSM-feature term.",
        # + the fast-convergence options its table was measured with (issue 17; shapes_presets.py).
        "config": {"image_size": 64, "stages": 2, "gf_dim": 16, "df_dim": 16, "r_num": 1,
                   "damsm_weight": 1.0, "ema_decay": 0.999, **FAST_CONVERGENCE},
    },
    "dmgan_cub_256": {
        "description": "DM-GAN at 256×256 with the released CUB-200-2011 config.",
        "config": {"image_size": 256, "stages": 3, "gf_dim": 64, "df_dim": 32, "r_num": 2,
                   "damsm_weight": 5.0, "ema_decay": 0.999},
    },
    "dmgan_coco_256": {
        "description": "DM-GAN at 256×256 with the released COCO-2014 config.",
        "config": {"image_size": 256, "stages": 3, "gf_dim": 64, "df_dim": 32, "r_num": 3,
                   "damsm_weight": 50.0, "ema_decay": 0.999},
    },
}

# Adam 2e-4 for G and D, betas (0.5, 0.999).
_PAPER_TRAIN = {"g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "beta_1": 0.5,
                "beta_2": 0.999}

RECIPES = {
    "dmgan_shapes_64": {
        "description": "DM-GAN on single-object Shapes at 64×64 (32 → 64), batch 8, 3,000 steps "
                       "after an 800-step DAMSM; about ten minutes on two cores.",
        "preset": "dmgan_shapes_64",
        "data": {"name": "shapes", "options": {"max_objects": 1}},
        "train": {**_PAPER_TRAIN, "batch_size": 8, "steps": 3000, "checkpoint_every": 500,
                  "sample_every": 500},
        "damsm": {"steps": 800},
    },
    "dmgan_cub_256": {
        "description": "DM-GAN on CUB-200-2011 at 256×256 with the released config (batch 10, "
                       "800 epochs; the paper reports 600).",
        "preset": "dmgan_cub_256",
        "data": {"name": "cub", "options": {}},
        "train": {**_PAPER_TRAIN, "batch_size": 10, "epochs": 800, "checkpoint_every": 2000,
                  "sample_every": 1000},
        # WORDS_NUM 18: the tokenizer's length, which travels with the text encoder.
        "damsm": {"epochs": 200, "max_words": 18},
    },
    "dmgan_coco_256": {
        "description": "DM-GAN on COCO-2014 at 256×256 with the released config (batch 16, "
                       "200 epochs; the paper reports 120).",
        "preset": "dmgan_coco_256",
        "data": {"name": "coco", "options": {}},
        "train": {**_PAPER_TRAIN, "batch_size": 16, "epochs": 200, "checkpoint_every": 5000,
                  "sample_every": 2000},
        "damsm": {"epochs": 100, "max_words": 12},
    },
}
