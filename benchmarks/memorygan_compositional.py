"""MemoryGAN's claim on multi-object Shapes (issue 20): MemoryGAN (one shared part generator
queried by an RNN with feedback), the multi-generator baseline (one part generator per part,
no RNN) and DF-GAN (one monolithic generator), every run from the same DAMSM encoders, data,
seeds and budget.

The data: training scenes of 2–3 objects with two colour–shape pairs held out ("red circle",
"blue star"); the DAMSM pair is pretrained on the same held-out data with captions of up to
four objects (so the tokenizer fits the four-object probe). Each run is then scored with
`keras-t2i evaluate`'s protocol on test scenes of 2–3 objects, which adds the held-out-pair and
the part-disentanglement probes, and again on scenes of four objects: MemoryGAN runs its RNN
for four parts (``--num-parts 4``); the baseline and DF-GAN draw as they were trained (three
part generators; one generator), which is how each behaves.

The paper's claim under test (Wang et al., Electronics 2023): composition comparable to the
multi-generator model with one shared generator (fewer parameters), and scaling to more parts.

Usage: python benchmarks/memorygan_compositional.py [--rows memorygan multipart dfgan]
           [--seeds 0] [--steps N] [--num-images 1000] [--damsm DIR]
           [--work /tmp/memorygan_compositional]
"""

import argparse
import json
from pathlib import Path

from common import header, report_value, train_and_evaluate

from keras_t2i.models.registry import get_recipe

RECIPE = "memorygan_shapes_64"
HOLDOUT = ["red circle", "blue star"]
TRAIN_DATA = {"min_objects": 2, "max_objects": 3, "holdout": HOLDOUT}
DAMSM_DATA = {"min_objects": 2, "max_objects": 4, "holdout": HOLDOUT}
# Row → (label, family, options on top of the family's Shapes recipe).
ROWS = {
    "memorygan": ("MemoryGAN (K = 3)", "memorygan", {"num_parts": 3}),
    "multipart": ("Multi-generator baseline (K = 3)", "multipart", {"num_parts": 3}),
    "no-feedback": ("MemoryGAN without feedback", "memorygan",
                    {"num_parts": 3, "feedback": False}),
    # The two options against the inverted masks (compositor.py): a background that cannot
    # read the caption, in front of the parts at the start.
    "memorygan-objects": ("MemoryGAN, text-free background in front (b = 2)", "memorygan",
                          {"num_parts": 3, "text_background": False, "background_logit": 2.0}),
    "multipart-objects": ("Multi-generator baseline, text-free background in front (b = 2)",
                          "multipart",
                          {"num_parts": 3, "text_background": False, "background_logit": 2.0}),
    # The third (loss_terms.PartAreaTerm): on top of those two, a part pays for what it holds
    # beyond a quarter of the image, so no part can be the canvas.
    "memorygan-area": ("MemoryGAN, as above + coverage prior per part (λ 10, a ≤ 0.25)",
                       "memorygan", {"num_parts": 3, "text_background": False,
                                     "background_logit": 2.0, "part_area_weight": 10.0,
                                     "max_part_area": 0.25}),
    "multipart-area": ("Multi-generator baseline, as above + coverage prior per part",
                       "multipart", {"num_parts": 3, "text_background": False,
                                     "background_logit": 2.0, "part_area_weight": 10.0,
                                     "max_part_area": 0.25}),
    "dfgan": ("DF-GAN", "dfgan", {}),
}
COLUMNS = (("semantic_attributes", "attributes", "{:.1%}"), ("semantic_shape", "shape", "{:.1%}"),
           ("semantic_color", "colour", "{:.1%}"), ("semantic_count", "count", "{:.1%}"),
           ("semantic_scene", "scene", "{:.1%}"), ("fid", "FID", "{:.2f}"),
           ("kid", "KID", "{:.4f}"), ("r_precision", "R-precision", "{:.1%}"),
           ("holdout_pair", "held-out pairs", "{:.1%}"),
           ("holdout_seen_pair", "seen pairs", "{:.1%}"),
           ("disentangle_other", "Δ others", "{:.4f}"),
           ("disentangle_ratio", "Δ others / Δ changed", "{:.3f}"))
FOUR = (("semantic_attributes", "4 objects: attributes", "{:.1%}"),
        ("semantic_count", "4 objects: count", "{:.1%}"),
        ("r_precision", "4 objects: R-precision", "{:.1%}"))


def damsm_encoders(work, damsm=None):
    if damsm:
        return str(damsm)
    import keras_t2i as kt

    out = Path(work) / "damsm"
    if not (out / "text_encoder.keras").is_file():
        kt.pretrain.pretrain_damsm(data="shapes", data_options=DAMSM_DATA, out=str(out),
                                   seed=0, **get_recipe(RECIPE)[1]["damsm"])
    return str(out)


def four_objects(run, num_images, family):
    """The evaluation on scenes of four objects (MemoryGAN with four parts), cached."""
    from keras_t2i.evaluation import report as kt_evaluate

    saved = Path(run) / "four_objects.json"
    if saved.is_file():
        return json.loads(saved.read_text())
    report = kt_evaluate.evaluate(run=str(run), min_objects=4, max_objects=4,
                                  num_parts=4 if family == "memorygan" else None,
                                  num_images=num_images, diversity_captions=0, probe_images=0)
    saved.write_text(json.dumps(report))
    return report


def parameters(run):
    from keras_t2i.training import load_run

    gan = load_run(run)
    return gan.generator.count_params(), sum(d.count_params() for d in gan.discriminators)


def cell(report, prefix, fmt):
    value = report_value(report, prefix)
    return "—" if value is None else fmt.format(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", nargs="+", choices=list(ROWS),
                        default=["memorygan", "multipart", "dfgan"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=get_recipe(RECIPE)[1]["train"]["steps"])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--damsm", help="reuse these DAMSM encoders (default: pretrain them)")
    parser.add_argument("--work", default="/tmp/memorygan_compositional")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    damsm = damsm_encoders(work, args.damsm)
    print(header(f"MemoryGAN against the multi-generator baseline on Shapes ({args.steps} GAN "
                 "steps)"))
    print(f"Training scenes of 2-3 objects without {' and '.join(HOLDOUT)}; every run from the "
          f"DAMSM encoders in {damsm}; `keras-t2i evaluate` protocol, {args.num_images} test "
          "captions (2-3 objects), 200 scenes per probe; the four-object columns on "
          f"{args.num_images} test scenes of four objects.\n")
    for seed in args.seeds:
        lines = ["| model | " + " | ".join(c[1] for c in COLUMNS + FOUR)
                 + " | G parameters | D parameters | train minutes |",
                 "|---|" + "---|" * (len(COLUMNS) + len(FOUR) + 3)]
        for name in args.rows:
            label, family, options = ROWS[name]
            run = work / f"{name}-seed{seed}"
            report, minutes = train_and_evaluate(
                run, args.num_images, model=family, text_encoder=damsm, steps=args.steps,
                seed=seed, data_options=TRAIN_DATA, **options)
            four = four_objects(run, args.num_images, family)
            g, d = parameters(run)
            lines.append(f"| {label} | " + " | ".join(
                [cell(report, p, f) for p, _, f in COLUMNS]
                + [cell(four, p, f) for p, _, f in FOUR]) + f" | {g:,} | {d:,} | "
                f"{minutes:.1f} |")
        print(f"Seed {seed}:\n")
        print("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
