"""How much of each Shapes attribute a DAMSM text encoder's sentence vector carries (issue 17's
diagnostic): over every caption of one template (each shape × colour × size × cell), the
variance of the unit-normalised sentence vectors between the attribute's values (of the
per-value means) against the mean variance within a value. A generator conditioned on the
sentence sees an attribute whose between/within ratio is small only as a faint signal.

Usage: python benchmarks/text_attribute_spread.py DAMSM_DIR [DAMSM_DIR ...]
"""

import argparse
import itertools

import numpy as np
import tensorflow as tf
from common import header

from keras_t2i.data.shapes import COLOR_NAMES, COLS, ROWS, SHAPES, SIZES
from keras_t2i.text.damsm import load_encoders


def spread(vectors, labels):
    """(between-value variance, mean within-value variance) of rows of ``vectors``."""
    labels = np.asarray(labels)
    means = {value: vectors[labels == value].mean(0) for value in set(labels)}
    between = np.var(np.stack(list(means.values())), axis=0).sum()
    within = np.mean([((vectors[labels == value] - mean) ** 2).sum(1).mean()
                      for value, mean in means.items()])
    return float(between), float(within)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("damsm", nargs="+", help="`keras-t2i pretrain damsm` output folders")
    args = parser.parse_args()
    print(header("Shapes attributes in the DAMSM sentence vector"))
    print("| encoder | " + " | ".join(f"{a} between / within" for a in
                                        ("shape", "colour", "size", "cell")) + " |")
    print("|---|---|---|---|---|")
    for directory in args.damsm:
        text_encoder, _ = load_encoders(directory)
        rows = list(itertools.product(SHAPES, COLOR_NAMES, SIZES, ROWS, COLS))
        captions = [f"a {size} {colour} {shape} in the {row} {col}"
                    for shape, colour, size, row, col in rows]
        unknown_words, _ = text_encoder.tokenizer.check_words(tf.constant(captions))
        unknown = {w.decode() for w in unknown_words.numpy().flat if w}
        if unknown:
            raise ValueError(f"The template has words outside {directory}'s vocabulary: "
                             f"{sorted(unknown)}")
        _, sentence = text_encoder(text_encoder.tokenizer(tf.constant(captions)),
                                   training=False)
        vectors = sentence.numpy()
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        cells = [f"{row} {col}" for *_, row, col in rows]
        columns = [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], cells]
        cells_text = [f"{b:.3f} / {w:.3f} ({b / w:.2f})"
                      for b, w in (spread(vectors, labels) for labels in columns)]
        print(f"| {directory} | " + " | ".join(cells_text) + " |")


if __name__ == "__main__":
    main()
