"""MirrorGAN on Shapes (issue 19): MirrorGAN, MirrorGAN without the re-description loss
(``stream_weight=0``) and DF-GAN, every run from the same DAMSM encoders, captioner, seeds and
budget, each family with its Shapes recipe (``mirrorgan_shapes_64``, ``dfgan_shapes_64``: batch
8, the same steps; the DF-GAN row with the fast-convergence options and the sentence
condition of MirrorGAN's preset, ``common.dfgan_as_the_other_presets``). The paper's claim
under test: the re-description loss raises R-precision.

Pretrains one DAMSM pair (unless --damsm) and one captioner in its vocabulary (unless
--captioner), prints the captioner's own test metrics, trains and evaluates each row with
`keras-t2i evaluate`'s protocol and prints a Markdown table per seed. A run directory that
already holds its result is read, not retrained (see common.train_and_evaluate).

Usage: python benchmarks/mirrorgan_ablation.py [--rows mirrorgan no-stream dfgan]
           [--seeds 0 1] [--steps N] [--num-images 1000] [--damsm DIR] [--captioner DIR]
           [--work /tmp/mirrorgan_ablation]
"""

import argparse
import json
from pathlib import Path

from common import (
    dfgan_as_the_other_presets,
    header,
    quality_table,
    shapes_captioner,
    shapes_damsm,
    train_and_evaluate,
)

from keras_t2i.models.registry import get_recipe

RECIPE = "mirrorgan_shapes_64"
# Row → (label, family, options on top of the family's Shapes recipe).
ROWS = {
    "mirrorgan": ("MirrorGAN", "mirrorgan", {}),
    "no-stream": ("MirrorGAN without the re-description loss (stream_weight 0)", "mirrorgan",
                  {"stream_weight": 0.0}),
    "dfgan": ("DF-GAN", "dfgan", dfgan_as_the_other_presets()),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=get_recipe(RECIPE)[1]["train"]["steps"])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--damsm", help="reuse these DAMSM encoders (default: pretrain them)")
    parser.add_argument("--captioner", help="reuse this captioner (default: pretrain one)")
    parser.add_argument("--work", default="/tmp/mirrorgan_ablation")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    damsm = shapes_damsm(work, RECIPE, args.damsm)
    captioner = shapes_captioner(work, RECIPE, damsm, args.captioner)

    print(header(f"MirrorGAN on Shapes ({args.steps} GAN steps)"))
    metrics = json.loads((Path(captioner) / "metrics.json").read_text())
    print(f"Every run from the DAMSM encoders in {damsm}; the captioner in {captioner} (test "
          f"split: word accuracy {metrics['word_accuracy']:.1%}, BLEU-4 {metrics['bleu4']:.3f}"
          + "".join(f", {a} words {v:.1%}" for a, v in
                    metrics.get("attribute_accuracy", {}).items())
          + f"); `keras-t2i evaluate` protocol, {args.num_images} test captions; diversity "
          "over 50 captions × 10 seeds.\n")
    for seed in args.seeds:
        table = []
        for name in args.rows:
            label, family, options = ROWS[name]
            extra = {"captioner": captioner} if family == "mirrorgan" and \
                options.get("stream_weight", 1.0) else {}
            report, minutes = train_and_evaluate(
                work / f"{name}-seed{seed}", args.num_images, model=family,
                text_encoder=damsm, steps=args.steps, seed=seed, **extra, **options)
            table.append((label, report, minutes))
        print(f"Seed {seed}:\n")
        print(quality_table(table) + "\n")


if __name__ == "__main__":
    main()
