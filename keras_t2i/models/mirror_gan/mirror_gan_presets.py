"""MirrorGAN's model presets (constructor kwargs) and training recipes (data, budget,
optimisation, DAMSM and captioner pretraining). CONVENTIONS.md #12: presets are not recipes."""

from __future__ import annotations

from keras_t2i.models.shapes_presets import FAST_CONVERGENCE

# The released config (``cfg/train_bird.yml``; seeds.md §4, §4.1): GF_DIM 32, DF_DIM 64,
# R_NUM 2, 64 → 128 → 256, LAMBDA1 (STREAM) 10, no DAMSM term, EMA 0.999. No COCO config ships.
PRESETS = {
    "mirrorgan_shapes_64": {
        "description": "MirrorGAN at 64×64 for single-object Shapes on a CPU: a 32 → 64 cascade "
                       "(one GLAM stage), GF 16, DF 16, STREAM λ 10, the DAMSM loss λ 1 and the "
                       "paired DAMSM-feature term.",
        # The DAMSM loss and the paired term: what every Shapes preset uses (issue 17), so that
        # the Shapes table compares the families' own parts at one budget.
        "config": {"image_size": 64, "stages": 2, "gf_dim": 16, "df_dim": 16, "r_num": 1,
                   "stream_weight": 10.0, "damsm_weight": 1.0, "ema_decay": 0.999,
                   **FAST_CONVERGENCE},
    },
    "mirrorgan_cub_256": {
        "description": "MirrorGAN at 256×256 with the released CUB-200-2011 config.",
        "config": {"image_size": 256, "stages": 3, "gf_dim": 32, "df_dim": 64, "r_num": 2,
                   "stream_weight": 10.0, "ema_decay": 0.999},
    },
    "mirrorgan_coco_256": {
        "description": "MirrorGAN at 256×256 for COCO-2014: the package's own choice (no COCO "
                       "config ships): the CUB config with AttnGAN's COCO widths (GF 48, DF 96, "
                       "R_NUM 3).",
        "config": {"image_size": 256, "stages": 3, "gf_dim": 48, "df_dim": 96, "r_num": 3,
                   "stream_weight": 10.0, "ema_decay": 0.999},
    },
}

# Adam 2e-4 for G and D, betas (0.5, 0.999).
_PAPER_TRAIN = {"g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "beta_1": 0.5,
                "beta_2": 0.999}

RECIPES = {
    "mirrorgan_shapes_64": {
        "description": "MirrorGAN on single-object Shapes at 64×64 (32 → 64), batch 8, 3,000 "
                       "steps after an 800-step DAMSM and a captioner pretraining.",
        "preset": "mirrorgan_shapes_64",
        "data": {"name": "shapes", "options": {"max_objects": 1}},
        "train": {**_PAPER_TRAIN, "batch_size": 8, "steps": 3000, "checkpoint_every": 500,
                  "sample_every": 500},
        "damsm": {"steps": 800},
        "captioner": {"steps": 1000},
    },
    "mirrorgan_cub_256": {
        "description": "MirrorGAN on CUB-200-2011 at 256×256 with the released config (batch 12, "
                       "650 epochs).",
        "preset": "mirrorgan_cub_256",
        "data": {"name": "cub", "options": {}},
        "train": {**_PAPER_TRAIN, "batch_size": 12, "epochs": 650, "checkpoint_every": 2000,
                  "sample_every": 1000},
        "damsm": {"epochs": 200, "max_words": 18},
        # yunjey's tutorial, which the README points to: 5 epochs, batch 128, Adam 1e-3; what
        # `pretrain captioner` is told (runs on CUB/COCO take --captioner, see the README).
        "captioner": {"epochs": 5, "batch_size": 128, "image_size": 256,
                      "backbone": "resnet152"},
    },
    "mirrorgan_coco_256": {
        "description": "MirrorGAN on COCO-2014 at 256×256 (the package's choice: batch 14 and "
                       "120 epochs, AttnGAN's COCO budget).",
        "preset": "mirrorgan_coco_256",
        "data": {"name": "coco", "options": {}},
        "train": {**_PAPER_TRAIN, "batch_size": 14, "epochs": 120, "checkpoint_every": 5000,
                  "sample_every": 2000},
        "damsm": {"epochs": 100, "max_words": 12},
        "captioner": {"epochs": 5, "batch_size": 128, "image_size": 256,
                      "backbone": "resnet152"},
    },
}
