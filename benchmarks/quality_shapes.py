"""DF-GAN against DF-GAN + mode seeking (MSGAN, λ = 1) on Shapes, same seeds and budget
(issue 5's results table).

Pretrains one DAMSM encoder pair (the quickstart preset's budget) unless --damsm is given,
trains both models from it with the quickstart preset and the same seed, evaluates both with
`keras-t2i evaluate`'s protocol, and adds the real-image sanity row. Prints a Markdown section
for benchmarks/RESULTS.md and the README; the runs and metrics stay in --work.

Usage: python benchmarks/quality_shapes.py [--steps 3000] [--num-images 1000]
           [--damsm DIR] [--work /tmp/quality_shapes] [--mode-seeking 1 [0.1 ...]]
           [--damsm-weight W]   (default: the preset's; 0 for the paper's DF-GAN loss)
"""

import argparse
import json
from pathlib import Path

from common import header, quality_table, shapes_damsm, train_and_evaluate

from keras_t2i.evaluation import report as kt_evaluate
from keras_t2i.models.registry import get_preset, get_recipe

PRESET = "dfgan_shapes_64"
def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=get_recipe(PRESET)[1]["train"]["steps"])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--damsm", help="reuse these DAMSM encoders (default: pretrain them)")
    parser.add_argument("--work", default="/tmp/quality_shapes")
    parser.add_argument("--mode-seeking", type=float, nargs="+", default=[1.0], metavar="λ",
                        help="mode-seeking weights, one DF-GAN + MS run each (default 1)")
    parser.add_argument("--damsm-weight", type=float,
                        default=get_preset(PRESET)[1]["config"].get("damsm_weight", 0.0),
                        help="DAMSM loss weight on G in every run (default: the preset's)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    max_objects = get_recipe(PRESET)[1]["data"]["options"]["max_objects"]

    damsm = shapes_damsm(work, PRESET, args.damsm)

    rows = [("real Shapes images (sanity)", kt_evaluate.evaluate(
        model=kt_evaluate.REAL_MODEL, max_objects=max_objects, damsm_dir=damsm,
        num_images=args.num_images, out=str(work / "real.json")), None)]
    runs = [("DF-GAN", 0.0)] + [(f"DF-GAN + MS (λ = {w:g})", w) for w in args.mode_seeking]
    for label, weight in runs:
        report, minutes = train_and_evaluate(
            work / (f"dfgan-ms{weight:g}" if weight else "dfgan"), args.num_images,
            text_encoder=damsm, mode_seeking=weight, steps=args.steps,
            damsm_weight=args.damsm_weight, seed=0)
        rows.append((label, report, minutes))

    print(header(f"Shapes quality: DF-GAN vs DF-GAN + mode seeking ({args.steps} steps)"))
    print(f"Preset `{PRESET}` (single-object Shapes, 64×64, nf 16, batch 8), seed 0, "
          f"{args.steps} GAN steps each from the same DAMSM encoders ({damsm}), DAMSM loss "
          f"weight {args.damsm_weight:g}; "
          f"`keras-t2i evaluate` protocol, {args.num_images} test captions; diversity over "
          "50 captions × 10 seeds.\n")
    print(quality_table(rows))
    (work / "table.json").write_text(json.dumps(
        [{"model": label, "report": report, "train_minutes": minutes}
         for label, report, minutes in rows], indent=2))


if __name__ == "__main__":
    main()
