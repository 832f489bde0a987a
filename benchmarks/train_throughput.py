"""Training and generator-inference throughput on this machine (issues 3, 17 and 18).

Training: one compiled ``train_step`` (every discriminator step, then the generator step:
what ``fit`` runs per batch) on a fixed Shapes batch, images/s = batch / seconds per step.
Inference: the generator's graph from tokens and seeds to images (what the exported model
runs), images/s.

Two groups of rows:
- ``train:SIZE:BATCH`` / ``generate:SIZE:BATCH``: DF-GAN at nf ``--nf`` (issue 3's rows).
- ``preset:NAME:BATCH``: a model preset (``dfgan_shapes_64``, ``dmgan_shapes_64``,
  ``dmgan_cub_256``, ...) as its recipe trains it, once per ``--variants`` entry (the
  fast-convergence options of ``fast_convergence.py``; ``old`` is the preset alone). The
  DAMSM encoders are untrained (the cost is the same); presets with InceptionV3 use its
  architecture with random weights. Captions are Shapes', so CUB presets run with Shapes'
  caption length rather than CUB's 18 words.

Usage: python benchmarks/train_throughput.py [--precision float32|mixed_bfloat16] [--jit]
           [--seconds 30] [--only train:64:8 preset:dmgan_cub_256:10 ...] [--variants old ...]
Prints a Markdown section for benchmarks/RESULTS.md.
"""

import argparse

import keras
import numpy as np
import tensorflow as tf
from common import header, rate
from fast_convergence import VARIANTS

import keras_t2i as kt
from keras_t2i.models import registry
from keras_t2i.text.damsm import ARCHITECTURE_ONLY, DAMSMImageEncoder, DAMSMTextEncoder

TRAIN_CASES = ((64, 8), (64, 32), (256, 8))
INFER_CASES = ((64, 1), (64, 16))
# (preset, batch): the batch of the preset's recipe.
PRESET_CASES = (("dfgan_shapes_64", 8), ("dmgan_shapes_64", 8), ("dmgan_cub_256", 10),
                ("mirrorgan_shapes_64", 8), ("memorygan_shapes_64", 8),
                ("multipart_shapes_64", 8))


def preset_data(name) -> dict:
    """The Shapes options of the preset's recipe (a multi-object preset's longer captions and
    scenes); Shapes' defaults for presets of other data."""
    family, _ = registry.get_preset(name)
    recipe = family.recipes.get(name, {"data": {"name": ""}})
    return recipe["data"]["options"] if recipe["data"]["name"] == "shapes" else {}


def preset_model(name, options, tokenizer):
    """The compiled model of a preset with untrained encoders (and captioner) of the kind its
    recipe uses."""
    family, preset = registry.get_preset(name)
    text_encoder = DAMSMTextEncoder(tokenizer)
    size = preset["config"]["image_size"]
    if size > 64:  # the CUB/COCO recipes pretrain DAMSM on InceptionV3
        image_encoder = DAMSMImageEncoder("inception_v3", backbone_weights=ARCHITECTURE_ONLY)
    else:
        image_encoder = DAMSMImageEncoder("cnn")
    model_class = family.model_class
    kwargs = {**preset["config"], **options}
    if model_class.needs_image_encoder(**kwargs):
        kwargs["image_encoder"] = image_encoder
    if model_class.needs_captioner(**kwargs):
        from keras_t2i.models.mirror_gan import STREAMCaptioner

        kwargs["captioner"] = STREAMCaptioner(tokenizer)
    gan = model_class(text_encoder, **kwargs)
    gan.compile()
    return gan, size


def batch_of(size, batch, tokenizer, **options):
    data = kt.data.load("shapes", "train", image_size=size, batch_size=batch,
                        tokenizer=tokenizer, **options)
    example = next(iter(data))
    return {k: example[k] for k in ("image", "tokens", "class_id")}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--jit", action="store_true", help="XLA-compile the steps")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--nf", type=int, default=32)
    parser.add_argument("--only", nargs="+", metavar="WHAT:SIZE:BATCH",
                        help="run only these rows, e.g. train:64:8 generate:64:16 "
                             "preset:dmgan_shapes_64:8")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["old"],
                        help="fast-convergence options for the preset rows")
    args = parser.parse_args()
    wanted = set(args.only or [])
    known = ({f"train:{s}:{b}" for s, b in TRAIN_CASES}
             | {f"generate:{s}:{b}" for s, b in INFER_CASES}
             | {f"preset:{n}:{b}" for n, b in PRESET_CASES})
    if wanted - known:
        parser.error(f"unknown rows {sorted(wanted - known)}; rows: {sorted(known)}")

    def selected(what, size, batch):
        return not wanted or f"{what}:{size}:{batch}" in wanted

    def step_rate(gan, data, batch):
        step = tf.function(gan.train_step, jit_compile=args.jit)
        return rate(lambda: step(data), batch, warmup=2, min_seconds=args.seconds)

    keras.mixed_precision.set_global_policy(args.precision)
    tokenizer = kt.data.caption_tokenizer("shapes")
    text_encoder = DAMSMTextEncoder(tokenizer)  # untrained: the cost is the same

    rows = []
    for size, batch in TRAIN_CASES:
        if not selected("train", size, batch):
            continue
        gan = kt.models.DFGAN(text_encoder, image_size=size, nf=args.nf)
        gan.compile()
        rows.append((f"train DF-GAN nf {args.nf}", size, batch,
                     step_rate(gan, batch_of(size, batch, tokenizer), batch)))
    for name, batch in PRESET_CASES:
        if not selected("preset", name, batch):
            continue
        data_options = preset_data(name)
        preset_tokenizer = kt.data.caption_tokenizer("shapes", **data_options)
        for variant in args.variants:
            label, options = VARIANTS[variant]
            gan, size = preset_model(name, options, preset_tokenizer)
            what = f"train `{name}`" + ("" if variant == "old" else f" {label}")
            data = batch_of(size, batch, preset_tokenizer, **data_options)
            rows.append((what, size, batch, step_rate(gan, data, batch)))
    for size, batch in INFER_CASES:
        if not selected("generate", size, batch):
            continue
        gan = kt.models.DFGAN(text_encoder, image_size=size, nf=args.nf)
        tokens = batch_of(size, batch, tokenizer)["tokens"]
        seeds = np.arange(batch, dtype=np.int64)
        generate = tf.function(gan.generate_from_tokens, jit_compile=args.jit)
        per_second = rate(lambda f=generate, t=tokens, s=seeds: f(t, s).numpy(), batch, warmup=2,
                          min_seconds=args.seconds / 2)
        rows.append((f"generate DF-GAN nf {args.nf}", size, batch, per_second))

    mode = f"{args.precision}, {'XLA' if args.jit else 'graph mode'}"
    print(header(f"Throughput ({mode})"))
    print("| what | image size | batch | images/s | s per step |\n|---|---|---|---|---|")
    for what, size, batch, per_second in rows:
        print(f"| {what} | {size} | {batch} | {per_second:.2f} | {batch / per_second:.3f} |")


if __name__ == "__main__":
    main()
