"""DAMSM pretraining step time on Shapes 64×64 (the defaults of `keras-t2i pretrain damsm`).

Usage: python benchmarks/damsm_step.py [--batch-size 32]
Prints a Markdown section for benchmarks/RESULTS.md.
"""

import argparse

import keras
import tensorflow as tf
from common import header, rate

import keras_t2i as kt
from keras_t2i.text.damsm import DAMSM, DAMSMImageEncoder, DAMSMTextEncoder


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    tok = kt.data.caption_tokenizer("shapes")
    damsm = DAMSM(DAMSMTextEncoder(tok), DAMSMImageEncoder())
    damsm.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5, beta_2=0.999))
    batch = next(iter(kt.data.load("shapes", "train", batch_size=args.batch_size)))
    batch = {k: batch[k] for k in ("image", "tokens", "class_id")}
    step = tf.function(damsm.train_step)
    per_second = rate(lambda: step(batch), 1, warmup=3, min_seconds=20)
    print(header("DAMSM train step (Shapes 64×64, CNN image encoder, BiLSTM 2×128)"))
    print("| batch | steps/s | s/step | images/s |\n|---|---|---|---|")
    print(f"| {args.batch_size} | {per_second:.2f} | {1 / per_second:.3f} | "
          f"{per_second * args.batch_size:.0f} |")


if __name__ == "__main__":
    main()
