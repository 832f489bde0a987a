"""DF-GAN's model presets (constructor keyword arguments, what ``DFGAN.from_preset`` builds)
and the training recipes that use them (data, budget, optimisation, DAMSM pretraining; what
``keras-t2i train --preset`` runs). CONVENTIONS.md #12: presets are not recipes."""

from __future__ import annotations

from keras_t2i.models.shapes_presets import SHAPE_FROM_WORDS

# Model presets: name → description and the constructor's kwargs (the text encoder aside).
PRESETS = {
    "dfgan_shapes_64": {
        "description": "DF-GAN at 64×64, nf 16, with the DAMSM loss on the generator (λ 1), "
                       "conditioned on the whitened word mean, with a paired pixel-MSE term: "
                       "the CPU quickstart's model, for single-object Shapes.",
        # damsm_weight 1 (the paper's DF-GAN has none): the DAMSM loss on the generator, with
        # the image encoder pretrained beside the text encoder, brings colour much sooner
        # (2026-11-24, 3,000 steps, seed 0: colour 90 % against 52 %, attributes 70 % against
        # 60 %; by 6,000 steps both reach about 75 %; benchmarks/RESULTS.md).
        # + the whitened word-mean condition and the paired pixel-MSE term (issue 17;
        # shapes_presets.py).
        "config": {"image_size": 64, "nf": 16, "noise_dim": 100, "damsm_weight": 1.0,
                   **SHAPE_FROM_WORDS},
    },
    "dfgan_cub_256": {
        "description": "DF-GAN at 256×256 with the paper's widths (nf 32), for CUB-200-2011.",
        "config": {"image_size": 256, "nf": 32, "noise_dim": 100},
    },
    "dfgan_coco_256": {
        "description": "DF-GAN at 256×256 with the paper's widths (nf 32), for COCO-2014.",
        "config": {"image_size": 256, "nf": 32, "noise_dim": 100},
    },
}

# DF-GAN CVPR'22 (seeds.md §2.1): Adam G 1e-4, D 4e-4, betas (0, 0.9), batch 32, nf 32,
# 256×256; CUB 1301 epochs, COCO 301.
_PAPER_TRAIN = {"batch_size": 32, "g_learning_rate": 1e-4, "d_learning_rate": 4e-4,
                "beta_1": 0.0, "beta_2": 0.9}

# Training recipes: name → the model preset, the data, the optimisation (each a CLI flag
# overrides) and the DAMSM pretraining a run does when it is given no text encoder.
RECIPES = {
    "dfgan_shapes_64": {
        "description": "The CPU quickstart: DF-GAN on single-object Shapes at 64×64, batch 8, "
                       "3,000 steps after an 800-step DAMSM; about ten minutes on two cores.",
        "preset": "dfgan_shapes_64",
        "data": {"name": "shapes", "options": {"max_objects": 1}},
        # Batch 8 and a G learning rate of 4e-4 (the paper: 32 and 1e-4): on a CPU budget, more
        # and larger G updates place objects by their captions sooner (2026-11-23: nf 8 and 16
        # at batch 32 and G 1e-4 showed background or blurred blobs after 250-350 steps; G 4e-4
        # put objects in their cells by step 1,500, G 2e-4 by 2,500). DAMSM 800 steps (with
        # BatchNorm recalibrated, 400 score about as well, 84 % vs 87 % R-precision, and a
        # 400 + 3,500-step quickstart measured the same as this one: benchmarks/RESULTS.md),
        # on scenes of one or two objects although the GAN draws one: with this preset's
        # word-mean condition, two such pairs gave shape 41.2 and 37.0 %, two single-object
        # pairs 27.8 and 28.8 % (2026-12-07, benchmarks/RESULTS.md).
        "train": {**_PAPER_TRAIN, "batch_size": 8, "g_learning_rate": 4e-4,
                  "steps": 3000, "checkpoint_every": 500, "sample_every": 500},
        "damsm": {"steps": 800, "data_options": {"max_objects": 2}},
    },
    "dfgan_cub_256": {
        "description": "DF-GAN on CUB-200-2011 at 256×256 with the paper's hyper-parameters.",
        "preset": "dfgan_cub_256",
        "data": {"name": "cub", "options": {}},
        "train": {**_PAPER_TRAIN, "epochs": 1301, "checkpoint_every": 2000,
                  "sample_every": 1000},
        "damsm": {"epochs": 200},
    },
    "dfgan_coco_256": {
        "description": "DF-GAN on COCO-2014 at 256×256 with the paper's hyper-parameters.",
        "preset": "dfgan_coco_256",
        "data": {"name": "coco", "options": {}},
        "train": {**_PAPER_TRAIN, "epochs": 301, "checkpoint_every": 5000,
                  "sample_every": 2000},
        "damsm": {"epochs": 100},
    },
}
