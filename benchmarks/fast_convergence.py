"""The fast-convergence ablation at the quickstart's budget (issue 17): the quickstart's preset,
each option alone and their combination, every run from the same DAMSM encoders and seeds.

Pretrains one DAMSM pair with the quickstart recipe's budget unless --damsm is given, trains
each variant with the quickstart recipe (its steps unless --steps), evaluates it with
`keras-t2i evaluate`'s protocol and prints a Markdown table per seed. A run directory that
already holds metrics is read, not retrained (so a table can be completed across sittings;
the train minutes are then those recorded with it).

Usage: python benchmarks/fast_convergence.py [--variants old paired ...] [--seeds 0 1 2]
           [--steps N] [--num-images 1000] [--damsm DIR] [--work /tmp/fast_convergence]
"""

import argparse
from pathlib import Path

from common import header, quality_table, shapes_damsm, train_and_evaluate

from keras_t2i.models.registry import get_recipe

RECIPE = "dfgan_shapes_64"
# Every option of issue 17 off: each variant states its own on top of these, so that a variant
# means the same whatever the recipe's preset adopts.
OFF = {"paired_weight": 0.0, "paired_schedule": "constant", "paired_distance": "pixel",
       "diffaugment": "off", "projected_weight": 0.0, "condition": "sentence",
       "condition_whitening": 0.0, "condition_rank": 0}
FEATURES = {"paired_weight": 10.0, "paired_schedule": "linear:2000:1000",
            "paired_distance": "features"}
PIXEL_MSE = {"paired_weight": 1000.0, "paired_schedule": "linear:2000:1000",
             "paired_distance": "pixel_mse"}
WORDS_MEAN = {"condition": "words_mean", "condition_whitening": 1e-4}
WORDS_CCA = {**WORDS_MEAN, "condition_rank": 32}
# Variant → (label, model options).
VARIANTS = {name: (label, {**OFF, **options}) for name, (label, options) in {
    "old": ("the quickstart preset before issue 17", {}),
    "paired": ("+ paired L1 term, λ 10, linear:2000:1000",
               {"paired_weight": 10.0, "paired_schedule": "linear:2000:1000"}),
    "paired-constant": ("+ paired L1 term, λ 20, constant", {"paired_weight": 20.0}),
    "paired-features": ("+ paired DAMSM-feature term, λ 10, linear:2000:1000", FEATURES),
    "diffaugment": ("+ DiffAugment translation 1/16, cutout 1/4",
                    {"diffaugment": "translation,cutout"}),
    "paired+diffaugment": ("+ paired L1 (λ 10, linear:2000:1000) + DiffAugment",
                           {"paired_weight": 10.0, "paired_schedule": "linear:2000:1000",
                            "diffaugment": "translation,cutout"}),
    "projected": ("+ projected discriminator on the DAMSM image encoder, λ 1",
                  {"projected_weight": 1.0}),
    "projected+diffaugment": ("+ projected discriminator (λ 1) + DiffAugment",
                              {"projected_weight": 1.0, "diffaugment": "translation,cutout"}),
    "projected+paired-features": ("+ projected discriminator (λ 1) + paired DAMSM-feature "
                                  "term (λ 10, linear:2000:1000)",
                                  {"projected_weight": 1.0, **FEATURES}),
    "paired-mse": ("+ paired pixel MSE term, λ 1000, linear:2000:1000", PIXEL_MSE),
    "words-mean": ("+ whitened word-mean condition (ε 1e-4)", WORDS_MEAN),
    "words-mean+paired-features": ("+ whitened word-mean condition (ε 1e-4) + paired "
                                   "DAMSM-feature term", {**WORDS_MEAN, **FEATURES}),
    "words-mean+paired-mse": ("+ whitened word-mean condition (ε 1e-4) + paired pixel MSE "
                              "term (λ 1000)", {**WORDS_MEAN, **PIXEL_MSE}),
    "words-cca": ("+ whitened word mean, its 32 directions most correlated with the images",
                  WORDS_CCA),
    "words-cca+paired-mse": ("+ whitened word mean, its 32 directions most correlated with "
                             "the images + paired pixel MSE term (λ 1000)",
                             {**WORDS_CCA, **PIXEL_MSE}),
    "words-cca+paired-mse-constant": ("+ whitened word mean, its 32 directions most "
                                      "correlated with the images + paired pixel MSE term "
                                      "(λ 1000, constant)",
                                      {**WORDS_CCA, **PIXEL_MSE,
                                       "paired_schedule": "constant"}),
}.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=get_recipe(RECIPE)[1]["train"]["steps"])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--damsm", help="reuse these DAMSM encoders (default: pretrain them)")
    parser.add_argument("--work", default="/tmp/fast_convergence")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    damsm = shapes_damsm(work, RECIPE, args.damsm)

    print(header(f"Fast convergence on Shapes: the ablation ({args.steps} GAN steps)"))
    print(f"Recipe `{RECIPE}` (single-object Shapes, 64×64, nf 16, batch 8, DAMSM loss λ 1), "
          f"every run from the DAMSM encoders in {damsm}; `keras-t2i evaluate` protocol, "
          f"{args.num_images} test captions; diversity over 50 captions × 10 seeds.\n")
    for seed in args.seeds:
        rows = []
        for name in args.variants:
            label, options = VARIANTS[name]
            report, minutes = train_and_evaluate(
                work / f"{name}-seed{seed}", args.num_images, text_encoder=damsm,
                steps=args.steps, seed=seed, **options)
            rows.append((label, report, minutes))
        print(f"Seed {seed}:\n")
        print(quality_table(rows) + "\n")


if __name__ == "__main__":
    main()
