"""DM-GAN's ablation on Shapes (issue 18): DF-GAN, DM-GAN, DM-GAN without the memory writing
gate, without the response gate and without memory, every run from the same DAMSM encoders,
seeds and budget, each family with its Shapes recipe (``dfgan_shapes_64``,
``dmgan_shapes_64``: batch 8, the same steps; the DF-GAN row with the fast-convergence
options and the sentence condition of DM-GAN's preset, ``common.dfgan_as_the_other_presets``).
When the Shapes presets use fast-convergence options (issue 17), one more DM-GAN row trains
with the paper's losses only.

Pretrains one DAMSM pair with the recipes' budget unless --damsm is given, trains each row,
evaluates it with `keras-t2i evaluate`'s protocol and prints a Markdown table per seed. A run
directory that already holds its result is read, not retrained (see common.train_and_evaluate).

Usage: python benchmarks/dmgan_ablation.py [--rows dfgan dmgan ...] [--seeds 0 1]
           [--steps N] [--num-images 1000] [--damsm DIR] [--work /tmp/dmgan_ablation]
"""

import argparse
from pathlib import Path

from common import (
    dfgan_as_the_other_presets,
    header,
    quality_table,
    shapes_damsm,
    train_and_evaluate,
)

from keras_t2i.models.registry import get_preset, get_recipe
from keras_t2i.models.shapes_presets import FAST_CONVERGENCE

RECIPES = {"dfgan": "dfgan_shapes_64", "dmgan": "dmgan_shapes_64"}
# The paper's losses: every fast-convergence option (issue 17) off.
PAPER_LOSSES = {"paired_weight": 0.0, "projected_weight": 0.0, "diffaugment": "off"}
# Row → (label, family, options on top of the family's Shapes recipe).
ROWS = {
    "dfgan": ("DF-GAN", "dfgan", dfgan_as_the_other_presets()),
    "dmgan": ("DM-GAN", "dmgan", {}),
    "no-write-gate": ("DM-GAN without the memory writing gate", "dmgan", {"write_gate": False}),
    "no-response-gate": ("DM-GAN without the response gate", "dmgan", {"response_gate": False}),
    "no-memory": ("DM-GAN without memory", "dmgan", {"memory": False}),
    "paper-losses": ("DM-GAN with the paper's losses only", "dmgan", PAPER_LOSSES),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int,
                        default=get_recipe(RECIPES["dmgan"])[1]["train"]["steps"])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--damsm", help="reuse these DAMSM encoders (default: pretrain them)")
    parser.add_argument("--work", default="/tmp/dmgan_ablation")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    recipes = {family: get_recipe(name)[1] for family, name in RECIPES.items()}
    if recipes["dfgan"]["data"] != recipes["dmgan"]["data"]:
        raise SystemExit("The two Shapes recipes load data differently; the rows would not "
                         "compare.")
    config = get_preset(recipes["dmgan"]["preset"])[1]["config"]
    if any(config.get(k) != v for k, v in FAST_CONVERGENCE.items()):
        raise SystemExit(f"Preset {RECIPES['dmgan']} does not use the Shapes presets' "
                         f"fast-convergence options {FAST_CONVERGENCE}, which the DF-GAN row "
                         "trains with; every row must use the same ones.")
    rows = [r for r in args.rows if r != "paper-losses" or FAST_CONVERGENCE]
    damsm = shapes_damsm(work, RECIPES["dmgan"], args.damsm)

    print(header(f"DM-GAN's ablation on Shapes ({args.steps} GAN steps)"))
    print(f"Recipes `{RECIPES['dfgan']}` and `{RECIPES['dmgan']}` (single-object Shapes, "
          f"64×64, batch {recipes['dmgan']['train']['batch_size']}), fast-convergence options "
          f"{FAST_CONVERGENCE or 'none'} in every row but the paper's; every run from the "
          f"DAMSM encoders in {damsm}; `keras-t2i evaluate` protocol, {args.num_images} test "
          "captions; diversity over 50 captions × 10 seeds.\n")
    for seed in args.seeds:
        table = []
        for name in rows:
            label, family, options = ROWS[name]
            report, minutes = train_and_evaluate(
                work / f"{name}-seed{seed}", args.num_images, model=family,
                text_encoder=damsm, steps=args.steps, seed=seed, **options)
            table.append((label, report, minutes))
        print(f"Seed {seed}:\n")
        print(quality_table(table) + "\n")


if __name__ == "__main__":
    main()
