"""How much of each Shapes attribute a DAMSM pair carries (issue 17's diagnostics).

1. The text encoder alone: over every caption of one template (each shape × colour × size ×
   cell), the variance of the unit-normalised sentence vectors between the attribute's values
   (of the per-value means) against the mean variance within a value. A generator conditioned
   on the sentence sees an attribute whose between/within ratio is small only as a faint
   signal.
2. Both encoders (``--real-images N``): for N real single-object test images, how often the
   sentence-level score cos(image, sentence) ranks the image's true template caption first
   among its variants with the shape word (6), the size word (2) or the colour word (8)
   swapped: how well the pair, and so a DAMSM loss or a paired feature term built on it, tells
   those attributes apart on images.

Usage: python benchmarks/text_attribute_spread.py DAMSM_DIR [DAMSM_DIR ...] [--real-images N]
"""

import argparse
import itertools

import numpy as np
import tensorflow as tf
from common import header

import keras_t2i as kt
from keras_t2i.data.shapes import COLOR_NAMES, COLS, ROWS, SHAPES, SIZES
from keras_t2i.text.damsm import load_encoders

# The template caption of an object, and the attributes the image probe swaps in it.
TEMPLATE = "a {size} {colour} {shape} in the {row} {col}"
SWAPPED = {"shape": SHAPES, "size": SIZES, "colour": COLOR_NAMES}


def spread(vectors, labels):
    """(between-value variance, mean within-value variance) of rows of ``vectors``."""
    labels = np.asarray(labels)
    means = {value: vectors[labels == value].mean(0) for value in set(labels)}
    between = np.var(np.stack(list(means.values())), axis=0).sum()
    within = np.mean([((vectors[labels == value] - mean) ** 2).sum(1).mean()
                      for value, mean in means.items()])
    return float(between), float(within)


def true_caption_first(image_encoder, sentences, num_images):
    """{attribute: fraction of the first ``num_images`` real single-object test images whose
    true template caption scores highest among its variants with that attribute swapped}.

    ``sentences`` maps (shape, colour, size, row, col) words to the unit sentence vector of
    their template caption (the text probe's, so no caption is encoded twice).
    """
    test = kt.data.load("shapes", "test", batch_size=100, max_objects=1)
    names = ("shape", "colour", "size", "row", "col")
    hits = {name: [] for name in SWAPPED}
    for batch in test:
        images = tf.math.l2_normalize(image_encoder(batch["image"], training=False)[1],
                                      axis=-1).numpy()
        for i, image in enumerate(images[:num_images - len(hits["shape"])]):
            words = {"shape": SHAPES[int(batch["shape"][i, 0])],
                     "size": SIZES[int(batch["size"][i, 0])],
                     "colour": COLOR_NAMES[int(batch["color"][i, 0])],
                     "row": ROWS[int(batch["row"][i, 0])], "col": COLS[int(batch["col"][i, 0])]}
            for name, values in SWAPPED.items():
                variants = [{**words, name: value} for value in values]
                scores = np.stack([sentences[tuple(v[n] for n in names)]
                                   for v in variants]) @ image
                hits[name].append(values[int(np.argmax(scores))] == words[name])
        if len(hits["shape"]) >= num_images:
            break
    return {name: float(np.mean(values)) for name, values in hits.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("damsm", nargs="+", help="`keras-t2i pretrain damsm` output folders")
    parser.add_argument("--real-images", type=int, default=0, metavar="N",
                        help="also rank each of N real test images' captions among their "
                             "shape/size/colour variants (default 0: the text probe only)")
    args = parser.parse_args()
    print(header("Shapes attributes in the DAMSM sentence vector"))
    print("| encoder | " + " | ".join(f"{a} between / within" for a in
                                        ("shape", "colour", "size", "cell")) + " |")
    print("|---|---|---|---|---|")
    for directory in args.damsm:
        text_encoder, image_encoder = load_encoders(directory)
        rows = list(itertools.product(SHAPES, COLOR_NAMES, SIZES, ROWS, COLS))
        captions = [TEMPLATE.format(shape=shape, colour=colour, size=size, row=row, col=col)
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
        if args.real_images:
            first = true_caption_first(image_encoder, dict(zip(rows, vectors)),
                                       args.real_images)
            print(f"  true caption first on {args.real_images} real test images: " + ", ".join(
                f"{name} {100 * value:.1f} %" for name, value in first.items()))


if __name__ == "__main__":
    main()
