"""DF-GAN training and generator-inference throughput on this machine (issue 3's benchmark).

Training: one compiled ``train_step`` (D step with MA-GP, then G step: what ``fit`` runs per
batch) on a fixed Shapes batch, nf 32, images/s = batch / seconds per step. Inference: the
generator's graph from tokens and seeds to images (what the exported model runs), images/s.

Usage: python benchmarks/train_throughput.py [--precision float32|mixed_bfloat16] [--jit]
           [--seconds 30] [--only train:64:8 ...]
Prints a Markdown section for benchmarks/RESULTS.md.
"""

import argparse

import keras
import numpy as np
import tensorflow as tf
from common import header, rate

import keras_t2i as kt
from keras_t2i.text.damsm import DAMSMTextEncoder

TRAIN_CASES = ((64, 8), (64, 32), (256, 8))
INFER_CASES = ((64, 1), (64, 16))


def batch_of(size, batch, tokenizer):
    data = kt.data.load("shapes", "train", image_size=size, batch_size=batch,
                        tokenizer=tokenizer)
    example = next(iter(data))
    return {"image": example["image"], "tokens": example["tokens"]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--jit", action="store_true", help="XLA-compile the steps")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--nf", type=int, default=32)
    parser.add_argument("--only", nargs="+", metavar="WHAT:SIZE:BATCH",
                        help="run only these rows, e.g. train:64:8 generate:64:16")
    args = parser.parse_args()
    wanted = set(args.only or [])
    known = {f"train:{s}:{b}" for s, b in TRAIN_CASES} | {f"generate:{s}:{b}"
                                                          for s, b in INFER_CASES}
    if wanted - known:
        parser.error(f"unknown rows {sorted(wanted - known)}; rows: {sorted(known)}")

    def selected(what, size, batch):
        return not wanted or f"{what}:{size}:{batch}" in wanted

    keras.mixed_precision.set_global_policy(args.precision)
    tokenizer = kt.data.caption_tokenizer("shapes")
    text_encoder = DAMSMTextEncoder(tokenizer)  # untrained: the cost is the same

    rows = []
    for size, batch in TRAIN_CASES:
        if not selected("train", size, batch):
            continue
        gan = kt.models.DFGAN(text_encoder, image_size=size, nf=args.nf)
        gan.compile()
        data = batch_of(size, batch, tokenizer)
        step = tf.function(gan.train_step, jit_compile=args.jit)
        per_second = rate(lambda step=step, data=data: step(data), batch, warmup=2,
                          min_seconds=args.seconds)
        rows.append(("train", size, batch, per_second))
    for size, batch in INFER_CASES:
        if not selected("generate", size, batch):
            continue
        gan = kt.models.DFGAN(text_encoder, image_size=size, nf=args.nf)
        tokens = batch_of(size, batch, tokenizer)["tokens"]
        seeds = np.arange(batch, dtype=np.int64)
        generate = tf.function(gan.generate_from_tokens, jit_compile=args.jit)
        per_second = rate(lambda f=generate, t=tokens, s=seeds: f(t, s).numpy(), batch, warmup=2,
                          min_seconds=args.seconds / 2)
        rows.append(("generate", size, batch, per_second))

    mode = f"{args.precision}, {'XLA' if args.jit else 'graph mode'}"
    print(header(f"DF-GAN throughput (nf {args.nf}, {mode})"))
    print("| what | image size | batch | images/s |\n|---|---|---|---|")
    for what, size, batch, per_second in rows:
        print(f"| {what} | {size} | {batch} | {per_second:.2f} |")


if __name__ == "__main__":
    main()
