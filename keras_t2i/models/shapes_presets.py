"""What every family's CPU Shapes preset shares: the fast-convergence options the quickstart
adopted (issue 17; the options themselves are the base model's, ``models/base.py``)."""

from __future__ import annotations

# The paired image term in the frozen DAMSM image encoder's feature space: λ 10 for 2,000
# steps, then linearly down to 0 by step 3,000 (the Shapes recipes' budget), so training
# starts like a regression to each caption's real image and ends as the pure GAN. At the DF-GAN
# quickstart's budget it was the best option of the ablation (2026-12-02, seed 0: attributes
# 72.5 → 75.1 %, shape 25.7 → 31.2 %, FID 37.2 → 25.2, R-precision 80.7 → 86.4 %) for 7 % more
# time per step, and it halves the diversity over seeds (0.0154 → 0.0075); the projected
# discriminator kept diversity (0.0133) at about the same quality (74.4 %, FID 26.5) but costs
# 19-26 % per step. benchmarks/RESULTS.md, "Fast convergence on small compute".
FAST_CONVERGENCE = {"paired_weight": 10.0, "paired_schedule": "linear:2000:1000",
                    "paired_distance": "features"}
