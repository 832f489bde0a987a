"""Shapes rendering and input-pipeline throughput (images/s).

Usage: python benchmarks/shapes_pipeline.py
Prints a Markdown section for benchmarks/RESULTS.md.
"""

import itertools

from common import header, rate

import keras_t2i as kt


def main():
    gen = kt.data.ShapesGenerator(max_objects=2)
    lines = [header("Shapes rendering and input pipeline"),
             "| what | image size | batch | images/s |", "|---|---|---|---|"]
    for size in (64, 256):
        counter = itertools.count()

        def render_one(size=size, counter=counter):
            gen.render(gen.scene("train", next(counter)), size)

        lines.append(f"| scene + captions + render, one thread | {size} | 1 | "
                     f"{rate(render_one, 1):.0f} |")
    for size, batch in ((64, 32), (256, 32)):
        ds = kt.data.load("shapes", "train", image_size=size, batch_size=batch).repeat()
        it = iter(ds)
        lines.append(f"| `kt.data.load` train pipeline (tf.data, tokenised) | {size} | {batch} | "
                     f"{rate(lambda it=it: next(it), batch, warmup=5):.0f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
