"""Where the time of one generation goes (issue 21): each stage of the exported path timed
alone at ``--batch`` (1 by default), each compiled as its own ``tf.function``, and the whole
exported ``serving_default`` beside their sum.

Stages: the in-graph tokenizer (captions → tokens), the DAMSM text encoder (tokens → words and
sentence), the latents from the seeds, the generator (noise and sentence → float images) and
the uint8 tail. DF-GAN at nf 32 (the peer's width) or ``--nf``, 64×64 unless ``--image-size``,
untrained (the cost is the same). Prints a Markdown section: milliseconds per call (median of
``--calls`` after warm-up) and each stage's share of their sum.

Usage: python benchmarks/generation_profile.py [--batch 1] [--image-size 64] [--nf 32]
           [--calls 300]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import tensorflow as tf
from common import header

import keras_t2i as kt
from keras_t2i.models.base import to_uint8
from keras_t2i.serving.savedmodel import LocalModel
from keras_t2i.text.damsm import DAMSMTextEncoder

CAPTION = "a big red circle in the center"


def median_ms(fn, calls):
    for _ in range(10):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--nf", type=int, default=32)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    tokenizer = kt.data.caption_tokenizer("shapes")
    gan = kt.models.DFGAN(DAMSMTextEncoder(tokenizer), image_size=args.image_size, nf=args.nf,
                          noise_dim=100)
    gan.compile()
    captions = tf.constant([CAPTION] * args.batch)
    seeds = tf.range(args.batch, dtype=tf.int64)
    tokens = tokenizer(captions)
    text = gan.encode_text(tokens)
    latents = gan.latents_from_seeds(seeds)
    images = gan.generator(latents["noise"], text["sentence"], training=False)

    stages = {
        "tokenizer": (tf.function(lambda c: tokenizer(c)), (captions,)),
        "text encoder": (tf.function(lambda t: gan.encode_text(t)["sentence"]), (tokens,)),
        "latents from seeds": (tf.function(lambda s: gan.latents_from_seeds(s)["noise"]),
                               (seeds,)),
        "generator": (tf.function(lambda n, s: gan.generator(n, s, training=False)),
                      (latents["noise"], text["sentence"])),
        "uint8 tail": (tf.function(to_uint8), (images,)),
    }
    rows = {name: median_ms(lambda f=f, a=a: tf.nest.map_structure(
        lambda t: t.numpy(), f(*a)), args.calls) for name, (f, a) in stages.items()}
    with tempfile.TemporaryDirectory() as tmp:
        model = LocalModel(kt.export.export_saved_model(gan, Path(tmp) / "profile").parent)
        exported = median_ms(lambda: model.generate([CAPTION] * args.batch,
                                                    list(range(args.batch))), args.calls)
    total = sum(rows.values())
    print(header(f"Generation at batch {args.batch}, stage by stage"))
    print(f"DF-GAN {args.image_size}×{args.image_size}, nf {args.nf}, untrained; each stage a "
          f"separate `tf.function`, median of {args.calls} calls after 10 of warm-up.\n")
    print("| stage | ms per call | share of the stages' sum |\n|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.2f} | {ms / total:.0%} |")
    print(f"| sum of the stages | {total:.2f} | |")
    print(f"| exported `serving_default` (`LocalModel.generate`) | {exported:.2f} | |")


if __name__ == "__main__":
    main()
