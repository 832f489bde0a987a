"""What the CPU Shapes presets share: the fast-convergence options the quickstarts adopted
(issue 17; the options themselves are the base model's, ``models/base.py``)."""

from __future__ import annotations

# The paired image term in the frozen DAMSM image encoder's feature space: λ 10 for 2,000
# steps, then linearly down to 0 by step 3,000 (the Shapes recipes' budget), so training
# starts like a regression to each caption's real image and ends as the pure GAN. At the DF-GAN
# quickstart's budget it was the best option of the first ablation (2026-12-02, seed 0:
# attributes 72.5 → 75.1 %, shape 25.7 → 31.2 %, FID 37.2 → 25.2, R-precision 80.7 → 86.4 %)
# for 7 % more time per step, and it halves the diversity over seeds (0.0154 → 0.0075); the
# projected discriminator kept diversity (0.0133) at about the same quality (74.4 %, FID 26.5)
# but costs 19-26 % per step. benchmarks/RESULTS.md, "Fast convergence on small compute".
# DM-GAN's, MirrorGAN's and MemoryGAN's Shapes presets use it (their tables were measured with
# it); DF-GAN's quickstart moved on to SHAPE_FROM_WORDS.
FAST_CONVERGENCE = {"paired_weight": 10.0, "paired_schedule": "linear:2000:1000",
                    "paired_distance": "features"}

# G and D conditioned on the text encoder's word features averaged over the caption and
# ZCA-whitened (ε 1e-4), with the squared pixel error at regression strength (λ 1,000: λ·MSE is
# about 700 at step 1), first for 2,000 steps, then down to 0 by step 3,000 (now held, below).
# On the DF-GAN quickstart from an 800-step DAMSM pair pretrained on one- and two-object scenes
# (2026-12-07, same sitting): shape 26.4 → 41.2 % and 39.8 % (seeds 0, 1), attributes 73.7 →
# 78.2 %, FID 53.8 → 16.7, diversity 0.0079 → 0.0043; either change alone left shape where it
# was. From the quickstart's own single-object pair (a fresh clone, one run): shape 27.8 %,
# attributes 75.5 %, FID 21.1. benchmarks/RESULTS.md, "The condition as an option" and the
# next section.
# Then only the whitened condition's 32 canonical directions most correlated with the
# captions' 16×16 real images (condition_rank): from the same two pairs of one- and
# two-object scenes, shape 41.2 → 57.3 % and 37.0 → 55.2 %, attributes 78.2 → 84.6 % and
# 76.0 → 84.7 %, FID 16.7 → 12.7 and 26.1 → 16.4 (2026-12-07, night; 16 directions gave 34 %
# and 64 gave 57 % in the regression probe, against 65 % for 32; a fresh clone 62.1 % and
# 85.2 %: benchmarks/RESULTS.md, "The DAMSM pair's scenes, and the condition's canonical
# directions").
# Then the pixel term held for the whole run ("constant") instead of decaying to 0 after step
# 2,000, so training stays a regression with the adversarial term beside it: from the same
# two pairs, shape 57.3 → 67.9 % and 55.2 → 65.3 %, attributes 84.6 → 89.8 % and 84.7 →
# 89.1 %, FID 12.7 → 5.0 and 16.4 → 5.8, diversity 0.0042 → 0.0027 and 0.0034 → 0.0028
# (2026-12-08; shape grows for as long as the term is on: the decaying run read 40.6 % at
# step 2,000 and 52.0 % at 2,500, decaying from step 1,500 gave 33.7 % and from 2,500 60.2 %;
# benchmarks/RESULTS.md, "The pixel term's schedule").
SHAPE_FROM_WORDS = {"paired_weight": 1000.0, "paired_schedule": "constant",
                    "paired_distance": "pixel_mse", "condition": "words_mean",
                    "condition_whitening": 1e-4, "condition_rank": 32}
