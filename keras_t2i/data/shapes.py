"""Shapes: the built-in procedural text-to-image dataset (DESIGN §5).

Each scene holds 1 to ``max_objects`` coloured shapes on a 3×3 grid with jitter, over a plain
background, and several captions written from a small grammar with synonyms, different word
orders and, for multi-object scenes, spatial relations. Every example carries its exact ground
truth (per-object shape, colour, size, grid cell, centre and mask), so generated images can be
scored by reading the attributes back.

Scenes are a pure function of ``(seed, split, index)``: the same arguments give the same scene
and captions on every machine, and train and test scenes come from disjoint random streams.

Shapes are drawn as anti-aliased signed-distance fields, vectorised in NumPy, so a 64×64 scene
renders in well under a millisecond (``benchmarks/shapes_pipeline.py``).

Horizontal flips would contradict "left"/"right" in the captions, so Shapes is never flipped;
its variety comes from the generator itself.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import tensorflow as tf

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "star")
COLORS = {
    "red": (220, 38, 38),
    "green": (34, 177, 76),
    "blue": (40, 90, 235),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 205),
    "orange": (245, 135, 25),
    "cyan": (40, 205, 215),
    "white": (240, 240, 240),
}
COLOR_NAMES = tuple(COLORS)
SIZES = ("small", "large")
ROWS = ("top", "middle", "bottom")
COLS = ("left", "center", "right")
SPLITS = ("train", "test")
MAX_OBJECTS_LIMIT = 4

# Object radius as a fraction of the image side, per size; centre jitter of at most JITTER.
# Every shape fits in a square of half-side r, so with these numbers two large objects in
# neighbouring cells never touch and no object leaves the image:
# 1/3 - 2*JITTER > 2*0.14 and 1/6 - JITTER > 0.14 (checked in tests).
RADIUS = {"small": 0.10, "large": 0.14}
JITTER = 0.025
BACKGROUND = (30, 30, 34)

SYNONYMS = {
    "small": ("small", "little", "tiny"),
    "large": ("large", "big"),
    "circle": ("circle", "disc"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "diamond": ("diamond", "rhombus"),
    "cross": ("cross", "plus"),
    "star": ("star",),
    "purple": ("purple", "violet"),
    "cyan": ("cyan", "turquoise"),
}
_ROW_WORDS = {"top": ("top", "upper"), "middle": ("middle",), "bottom": ("bottom", "lower")}
_NUMBER_WORDS = ("zero", "one", "two", "three", "four")


def _attribute_words():
    """word → canonical value, per attribute, of every word the grammar uses to name one."""
    def named(values):
        return {w: v for v in values for w in SYNONYMS.get(v, (v,))}

    rows = {w: row for row, words in _ROW_WORDS.items() for w in words}
    return {"shape": named(SHAPES), "colour": named(COLOR_NAMES), "size": named(SIZES),
            "position": {**rows, "left": "left", "center": "center", "right": "right"}}


# The words that name each attribute in a caption (synonyms included) → the value they name:
# what a captioner must read back for each attribute (issue 19's per-attribute accuracy).
ATTRIBUTE_WORDS = _attribute_words()


@dataclasses.dataclass(frozen=True)
class ShapeObject:
    """One object of a scene. Indices refer to SHAPES, COLOR_NAMES, SIZES, ROWS and COLS."""

    shape: int
    color: int
    size: int
    row: int
    col: int
    center: tuple[float, float]  # (x, y) in [0, 1], y pointing down

    @property
    def position(self) -> int:
        """Grid cell 0..8, row-major from the top left."""
        return 3 * self.row + self.col

    def words(self) -> tuple[str, str, str]:
        return SIZES[self.size], COLOR_NAMES[self.color], SHAPES[self.shape]


@dataclasses.dataclass(frozen=True)
class Scene:
    objects: tuple[ShapeObject, ...]
    captions: tuple[str, ...]
    key: str

    @property
    def class_id(self) -> int:
        """Id of the scene's description (objects' attributes and cells, order-free).

        Two scenes share it exactly when they admit the same captions, which is what
        same-class masking in the DAMSM loss and R-precision's mismatched captions need.
        """
        canon = sorted((o.shape, o.color, o.size, o.row, o.col) for o in self.objects)
        return zlib.crc32(repr(canon).encode()) & 0x7FFFFFFF


def parse_holdout(holdout) -> frozenset[tuple[int, int]]:
    """Parses ``["red circle", ...]`` into (color index, shape index) pairs."""
    pairs = set()
    for item in holdout or ():
        words = str(item).lower().split()
        if len(words) != 2 or words[0] not in COLORS or words[1] not in SHAPES:
            raise ValueError(
                f"Cannot hold out {item!r}: write it as '<colour> <shape>' with a colour in "
                f"{COLOR_NAMES} and a shape in {SHAPES}, e.g. 'red circle'."
            )
        pairs.add((COLOR_NAMES.index(words[0]), SHAPES.index(words[1])))
    return frozenset(pairs)


class ShapesGenerator:
    """Deterministic scenes, captions and renderings.

    Args:
        max_objects: int. Scenes hold ``min_objects`` to this many objects (at most 4).
            Defaults to 2.
        num_captions: int. Distinct captions per scene (at least 5). Defaults to 5.
        seed: int. Base seed; train and test use disjoint streams derived from it. Defaults to 0.
        holdout: list of str. (colour, shape) pairs such as ``"red circle"`` that never appear
            in training scenes (test scenes keep them), to measure composition. Defaults to ().
        min_objects: int. The fewest objects of a scene. Defaults to 1 (with 1, scenes are
            those of earlier versions).

    Example:
    >>> gen = ShapesGenerator(max_objects=2)
    >>> scene = gen.scene("train", 0)
    >>> image, masks = gen.render(scene, image_size=64)   # uint8 (64, 64, 3), (64, 64, K)
    """

    def __init__(self, max_objects=2, num_captions=5, seed=0, holdout=(), min_objects=1):
        if not 1 <= int(max_objects) <= MAX_OBJECTS_LIMIT:
            raise ValueError(f"max_objects must be in 1..{MAX_OBJECTS_LIMIT}, got {max_objects}")
        if not 1 <= int(min_objects) <= int(max_objects):
            raise ValueError(f"min_objects must be in 1..max_objects ({max_objects}), got "
                             f"{min_objects}")
        self.min_objects = int(min_objects)
        if int(num_captions) < 5:
            raise ValueError(f"num_captions must be at least 5, got {num_captions}")
        self.max_objects = int(max_objects)
        self.num_captions = int(num_captions)
        self.seed = int(seed)
        self.holdout = parse_holdout(holdout)
        if len(self.holdout) == len(SHAPES) * len(COLORS):
            raise ValueError("holdout covers every colour/shape pair; nothing is left to train on.")

    def scene(self, split: str, index: int) -> Scene:
        """The scene ``index`` of ``split``: a pure function of (seed, split, index)."""
        if split not in SPLITS:
            raise ValueError(f"Unknown Shapes split {split!r}; valid splits: {SPLITS}")
        rng = np.random.default_rng([self.seed, SPLITS.index(split), int(index)])
        count = int(rng.integers(self.min_objects, self.max_objects + 1))
        cells = rng.choice(9, size=count, replace=False)
        objects = []
        for cell in cells:
            while True:
                color, shape = int(rng.integers(len(COLORS))), int(rng.integers(len(SHAPES)))
                if split == "test" or (color, shape) not in self.holdout:
                    break
            row, col = divmod(int(cell), 3)
            dx, dy = rng.uniform(-JITTER, JITTER, size=2)
            objects.append(
                ShapeObject(
                    shape=shape,
                    color=color,
                    size=int(rng.integers(len(SIZES))),
                    row=row,
                    col=col,
                    center=((col + 0.5) / 3 + float(dx), (row + 0.5) / 3 + float(dy)),
                )
            )
        objects = tuple(objects)
        captions = write_captions(objects, self.num_captions, rng)
        return Scene(objects=objects, captions=captions, key=f"shapes/{split}/{int(index):07d}")

    def render(self, scene: Scene, image_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Draws a scene.

        Returns:
            image: uint8 (image_size, image_size, 3).
            masks: uint8 (image_size, image_size, max_objects), 1 where object k covers more
                than half of the pixel (after later objects are drawn over it); all-zero for
                absent objects.
        """
        coverage = np.zeros((self.max_objects, image_size, image_size), np.float32)
        image = np.empty((image_size, image_size, 3), np.float32)
        image[:] = BACKGROUND
        grid = (np.arange(image_size, dtype=np.float32) + 0.5) / image_size
        x, y = grid[None, :], grid[:, None]
        for k, obj in enumerate(scene.objects):
            sdf = _signed_distance(SHAPES[obj.shape], x - obj.center[0], y - obj.center[1],
                                   RADIUS[SIZES[obj.size]])
            # Anti-aliasing: the coverage ramps over one pixel across the boundary.
            alpha = np.clip(0.5 - sdf * image_size, 0.0, 1.0)
            image += alpha[..., None] * (np.asarray(COLORS[COLOR_NAMES[obj.color]]) - image)
            coverage[:k] *= 1.0 - alpha
            coverage[k] = alpha
        masks = (coverage > 0.5).astype(np.uint8).transpose(1, 2, 0)
        return np.round(image).astype(np.uint8), masks


def _signed_distance(shape: str, x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (negative inside) to a shape of radius r centred at the origin."""
    if shape == "circle":
        return np.sqrt(x * x + y * y) - r
    if shape == "square":
        return _box(x, y, r, r)
    if shape == "diamond":
        return (np.abs(x) + np.abs(y) - r) / np.sqrt(2.0)
    if shape == "triangle":
        # Circumradius 1.1 r spans 1.65 r vertically; shift it so that span is centred.
        return _triangle(x, y - 0.275 * r, 1.1 * r, up=True)
    if shape == "cross":
        return np.minimum(_box(x, y, r, 0.33 * r), _box(x, y, 0.33 * r, r))
    if shape == "star":
        return _star(x, y, r, inner=0.45 * r, points=5)
    raise ValueError(f"Unknown shape {shape!r}")


def _box(x, y, half_w, half_h):
    qx, qy = np.abs(x) - half_w, np.abs(y) - half_h
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _triangle(x, y, circumradius, up):
    """Equilateral triangle as the intersection of three half-planes (y points down)."""
    s = -1.0 if up else 1.0
    inradius = 0.5 * circumradius
    # Outward normals: the base edge (down for an upward triangle), then +-120 degrees.
    d = [(-s) * y, 0.866 * x + 0.5 * s * y, -0.866 * x + 0.5 * s * y]
    return np.maximum(np.maximum(d[0], d[1]), d[2]) - inradius


def _star(x, y, outer, inner, points):
    """A star with ``points`` tips at radius ``outer`` (one at the top), notches at ``inner``.

    Each wedge between a tip and a notch is folded onto one edge, whose signed distance is
    exact near the boundary (which is all anti-aliasing needs).
    """
    sector = 2 * np.pi / points
    angle = np.arctan2(x, -y)  # 0 at the top, y pointing down
    phi = np.abs(np.mod(angle + sector / 2, sector) - sector / 2)
    rho = np.sqrt(x * x + y * y)
    qx, qy = rho * np.cos(phi), rho * np.sin(phi)
    ax, ay = outer, 0.0
    bx, by = inner * np.cos(sector / 2), inner * np.sin(sector / 2)
    nx, ny = by - ay, -(bx - ax)  # outward normal of the tip→notch edge
    norm = np.hypot(nx, ny)
    return ((qx - ax) * nx + (qy - ay) * ny) / norm


# ---------------------------------------------------------------------------------------------
# Caption grammar


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _word(rng, word):
    return _pick(rng, SYNONYMS.get(word, (word,)))


def _noun_phrase(rng, obj: ShapeObject, style: int) -> str:
    size, color, shape = (_word(rng, w) for w in obj.words())
    article = "an" if (size if style != 1 else color)[0] in "aeiou" else "a"
    if style == 1:
        return f"{article} {color} {shape} that is {size}"
    if style == 2:
        article = "an" if size[0] in "aeiou" else "a"
        return f"{article} {size} {shape} in {color}"
    article = "an" if size[0] in "aeiou" else "a"
    return f"{article} {size} {color} {shape}"


def _position_phrase(rng, obj: ShapeObject) -> str:
    row, col = ROWS[obj.row], COLS[obj.col]
    if row == "middle" and col == "center":
        return _pick(rng, ("in the center", "in the middle", "at the center"))
    if row == "middle":
        return _pick(rng, (f"on the {col}", f"at the {col}", f"on the {col} side"))
    row_word = _pick(rng, _ROW_WORDS[row])
    if col == "center":
        return _pick(rng, (f"at the {row}", f"at the {row_word} center",
                           f"in the {row_word} middle"))
    return _pick(rng, (f"in the {row_word} {col}", f"in the {row_word} {col} corner",
                       f"at the {row_word} {col}"))


def _relation(rng, a: ShapeObject, b: ShapeObject) -> str:
    """A spatial relation that holds between a and b, chosen at random among the true ones."""
    options = []
    if a.col < b.col:
        options.append(_pick(rng, ("to the left of", "left of")))
    if a.col > b.col:
        options.append(_pick(rng, ("to the right of", "right of")))
    if a.row < b.row:
        options.append(_pick(rng, ("above", "over")))
    if a.row > b.row:
        options.append(_pick(rng, ("below", "under", "beneath")))
    return _pick(rng, options)  # distinct grid cells always give at least one


def _join(parts):
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _template(rng, objects, template: int) -> str:
    order = [objects[i] for i in rng.permutation(len(objects))]
    style = int(rng.integers(3))
    placed = [f"{_noun_phrase(rng, o, style)} {_position_phrase(rng, o)}" for o in order]
    n = len(order)
    if template == 0:
        return _join(placed)
    if template == 1:
        return "there is " + _join(placed)
    if template == 2:
        first = [f"{_position_phrase(rng, o)} there is {_noun_phrase(rng, o, style)}"
                 for o in order]
        return _join(first)
    if template == 3:
        if n == 1:
            return f"{_noun_phrase(rng, order[0], style)} is {_position_phrase(rng, order[0])}"
        a, b = order[0], order[1]
        text = f"{_noun_phrase(rng, a, style)} {_relation(rng, a, b)} {_noun_phrase(rng, b, style)}"
        return _join([text] + placed[2:])
    count = f"{_NUMBER_WORDS[n]} {'shape' if n == 1 else 'shapes'}"
    return f"{_pick(rng, ('the image shows', 'a picture of', 'an image with'))} {count}: " + _join(
        placed
    )


def listing_caption(objects, seed: int) -> str:
    """The listing caption ("a big red circle in the upper left and a small blue star at the
    bottom") of ``objects``, its order and synonyms drawn from ``seed``: two object lists that
    differ in one object's words get captions that differ in that object's phrase only (the
    part-disentanglement probe relies on it)."""
    return _template(np.random.default_rng(int(seed)), tuple(objects), 0)


def max_caption_words(max_objects: int) -> int:
    """An upper bound on the words of a caption of a scene with ``max_objects`` objects.

    The longest object clause is 13 words ("in the upper left corner there is a red circle
    that is small"), plus a joining word per extra object and a 5-word counted prefix; Shapes
    captions are never cut to fit (every word names an attribute).
    """
    return 5 + 14 * int(max_objects)


def write_captions(objects, num_captions: int, rng: np.random.Generator) -> tuple[str, ...]:
    """``num_captions`` distinct captions that each name every object's attributes.

    Templates rotate (listing, "there is", position first, relational, counted), so every
    scene gets different word orders; synonyms and phrasing are drawn from ``rng``.
    """
    captions: list[str] = []
    attempt = 0
    while len(captions) < num_captions:
        text = _template(rng, objects, attempt % 5)
        if text not in captions:
            captions.append(text)
        attempt += 1
        if attempt > 50 * num_captions:
            raise RuntimeError(f"Could not write {num_captions} distinct captions for {objects}")
    return tuple(captions)


def shapes_examples(generator: ShapesGenerator, split: str, num_scenes: int, image_size: int,
                    shuffle: bool, seed: int | None = None) -> tf.data.Dataset:
    """A tf.data.Dataset of unbatched Shapes examples rendered on the fly.

    Each element is a dict: ``image`` uint8 (S, S, 3); ``captions`` string (num_captions,);
    ``key`` string; ``class_id`` int32; ``num_objects`` int32; ``shape``, ``color``, ``size``,
    ``row``, ``col`` int32 (max_objects,) with -1 for absent objects; ``center`` float32
    (max_objects, 2); ``masks`` uint8 (S, S, max_objects).
    """
    k = generator.max_objects

    def make(index):
        scene = generator.scene(split, int(index))
        image, masks = generator.render(scene, image_size)
        attrs = np.full((5, k), -1, np.int32)
        center = np.full((k, 2), -1.0, np.float32)
        for i, o in enumerate(scene.objects):
            attrs[:, i] = (o.shape, o.color, o.size, o.row, o.col)
            center[i] = o.center
        return (image, np.array(scene.captions, dtype=object), scene.key.encode(),
                np.int32(scene.class_id), np.int32(len(scene.objects)), attrs, center, masks)

    out_types = (tf.uint8, tf.string, tf.string, tf.int32, tf.int32, tf.int32, tf.float32,
                 tf.uint8)

    def to_dict(index):
        (image, captions, key, class_id, count, attrs, center, masks) = tf.numpy_function(
            make, [index], out_types, stateful=False)
        image.set_shape((image_size, image_size, 3))
        captions.set_shape((generator.num_captions,))
        masks.set_shape((image_size, image_size, k))
        attrs.set_shape((5, k))
        center.set_shape((k, 2))
        key.set_shape(())
        class_id.set_shape(())
        count.set_shape(())
        example = {"image": image, "captions": captions, "key": key, "class_id": class_id,
                   "num_objects": count, "center": center, "masks": masks}
        for i, name in enumerate(("shape", "color", "size", "row", "col")):
            example[name] = attrs[i]
        return example

    ds = tf.data.Dataset.range(num_scenes)
    if shuffle:
        ds = ds.shuffle(num_scenes, seed=seed, reshuffle_each_iteration=True)
    return ds.map(to_dict, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def caption_vocabulary_sample(generator: ShapesGenerator, num_scenes: int = 2000):
    """Training captions of the first ``num_scenes`` scenes (to build a vocabulary)."""
    for i in range(num_scenes):
        yield from generator.scene("train", i).captions
