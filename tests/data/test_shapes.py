import collections
import itertools

import numpy as np
import pytest

from keras_t2i.data import shapes
from keras_t2i.data.shapes import (
    COLOR_NAMES,
    COLORS,
    JITTER,
    RADIUS,
    SHAPES,
    SIZES,
    SYNONYMS,
    ShapeObject,
    ShapesGenerator,
    max_caption_words,
)

# word -> (kind, canonical value), through the synonyms of the grammar
WORD_MEANING = {}
for kind, names in (("color", COLOR_NAMES), ("shape", SHAPES), ("size", SIZES)):
    for name in names:
        for synonym in SYNONYMS.get(name, (name,)):
            WORD_MEANING[synonym] = (kind, name)


def mentions(caption):
    found = collections.defaultdict(collections.Counter)
    for word in caption.replace(",", " ").replace(":", " ").split():
        if word in WORD_MEANING:
            kind, value = WORD_MEANING[word]
            found[kind][value] += 1
    return found


def test_grammar_has_required_variety():
    assert len(SHAPES) >= 5 and len(COLORS) >= 8 and len(SIZES) >= 2


def test_scenes_are_deterministic_and_splits_disjoint():
    a, b = ShapesGenerator(seed=3), ShapesGenerator(seed=3)
    for i in range(20):
        assert a.scene("train", i) == b.scene("train", i)
        img_a, masks_a = a.render(a.scene("test", i), 32)
        img_b, masks_b = b.render(b.scene("test", i), 32)
        np.testing.assert_array_equal(img_a, img_b)
        np.testing.assert_array_equal(masks_a, masks_b)
    train = {a.scene("train", i).objects for i in range(50)}
    test = {a.scene("test", i).objects for i in range(50)}
    assert not train & test
    assert ShapesGenerator(seed=4).scene("train", 0) != a.scene("train", 0)


@pytest.mark.parametrize("max_objects", [1, 2, 4])
def test_every_caption_names_every_object(max_objects):
    gen = ShapesGenerator(max_objects=max_objects, num_captions=6)
    counts = collections.Counter()
    for i in range(150):
        scene = gen.scene("train", i)
        counts[len(scene.objects)] += 1
        assert len(scene.captions) == 6 and len(set(scene.captions)) == 6
        expected = {
            "color": collections.Counter(COLOR_NAMES[o.color] for o in scene.objects),
            "shape": collections.Counter(SHAPES[o.shape] for o in scene.objects),
            "size": collections.Counter(SIZES[o.size] for o in scene.objects),
        }
        for caption in scene.captions:
            found = mentions(caption)
            for kind in expected:
                assert found[kind] == expected[kind], (caption, kind, scene.objects)
            assert len(caption.split()) <= max_caption_words(max_objects), caption
    assert set(counts) == set(range(1, max_objects + 1))


def test_positions_in_captions_match_the_grid():
    gen = ShapesGenerator(max_objects=1)
    row_words = {"top": 0, "upper": 0, "bottom": 2, "lower": 2}
    col_words = {"left": 0, "right": 2}
    for i in range(200):
        scene = gen.scene("train", i)
        (obj,) = scene.objects
        for caption in scene.captions:
            words = set(caption.split())
            for word, row in row_words.items():
                if word in words:
                    assert obj.row == row, caption
            for word, col in col_words.items():
                if word in words:
                    assert obj.col == col, caption
            if obj.row == 1 and obj.col == 1:
                assert words & {"center", "middle"}, caption


def test_relations_are_true():
    def obj(row, col):
        return ShapeObject(0, 0, 0, row, col, ((col + 0.5) / 3, (row + 0.5) / 3))

    rng = np.random.default_rng(0)
    for (r1, c1), (r2, c2) in itertools.permutations(itertools.product(range(3), repeat=2), 2):
        for _ in range(5):
            rel = shapes._relation(rng, obj(r1, c1), obj(r2, c2))
            if "left" in rel:
                assert c1 < c2
            elif "right" in rel:
                assert c1 > c2
            elif rel in ("above", "over"):
                assert r1 < r2
            else:
                assert rel in ("below", "under", "beneath") and r1 > r2


def test_multi_object_scenes_get_relational_captions():
    gen = ShapesGenerator(max_objects=2)
    relational = [c for i in range(100) for c in gen.scene("train", i).captions
                  if any(r in c for r in (" left of ", " right of ", " above ", " below ",
                                          " over ", " under ", " beneath "))]
    assert len(relational) >= 20


def test_geometry_invariants_keep_objects_apart_and_inside():
    large = RADIUS["large"]
    assert 1 / 3 - 2 * JITTER > 2 * large
    assert 1 / 6 - JITTER > large


def test_masks_and_colours_match_ground_truth():
    gen = ShapesGenerator(max_objects=4)
    for i in range(60):
        scene = gen.scene("train", i)
        image, masks = gen.render(scene, 64)
        assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
        assert masks.shape == (64, 64, 4)
        for k, obj in enumerate(scene.objects):
            mask = masks[..., k].astype(bool)
            minimum = 20 if SIZES[obj.size] == "small" else 60
            assert mask.sum() > minimum, (obj, mask.sum())
            # The mask sits in the object's grid cell and holds the object's colour.
            ys, xs = np.nonzero(mask)
            assert obj.row == int(ys.mean() // (64 / 3)) and obj.col == int(xs.mean() // (64 / 3))
            inner = image[mask].astype(int)
            colour = np.asarray(COLORS[COLOR_NAMES[obj.color]])
            assert np.median(np.abs(inner - colour).sum(axis=1)) < 10
        for k in range(len(scene.objects), 4):
            assert not masks[..., k].any()
        assert (masks.sum(axis=-1) <= 1).all(), "objects never overlap"


@pytest.mark.parametrize("size", SIZES)
def test_shapes_are_distinct_silhouettes(size):
    """At 64×64, any two shapes of one size differ in at least 15% of the smaller one."""
    gen = ShapesGenerator(max_objects=1)
    silhouettes = {}
    for name in SHAPES:
        obj = ShapeObject(SHAPES.index(name), 0, SIZES.index(size), 1, 1, (0.5, 0.5))
        scene = shapes.Scene(objects=(obj,), captions=(), key="k")
        silhouettes[name] = gen.render(scene, 64)[1][..., 0].astype(bool)
    for a, b in itertools.combinations(SHAPES, 2):
        differ = (silhouettes[a] ^ silhouettes[b]).sum()
        smaller = min(silhouettes[a].sum(), silhouettes[b].sum())
        assert differ >= 0.15 * smaller, (a, b, differ, smaller)


def test_holdout_keeps_pairs_out_of_training_only():
    gen = ShapesGenerator(max_objects=2, holdout=["red circle", "blue square"])
    held = {(COLOR_NAMES.index("red"), SHAPES.index("circle")),
            (COLOR_NAMES.index("blue"), SHAPES.index("square"))}
    train_pairs = {(o.color, o.shape) for i in range(800) for o in gen.scene("train", i).objects}
    test_pairs = {(o.color, o.shape) for i in range(800) for o in gen.scene("test", i).objects}
    assert not train_pairs & held
    assert held <= test_pairs


def test_bad_options_raise():
    with pytest.raises(ValueError, match="max_objects"):
        ShapesGenerator(max_objects=5)
    with pytest.raises(ValueError, match="num_captions"):
        ShapesGenerator(num_captions=3)
    with pytest.raises(ValueError, match="hold out 'pink circle'"):
        ShapesGenerator(holdout=["pink circle"])
    with pytest.raises(ValueError, match="Unknown Shapes split"):
        ShapesGenerator().scene("val", 0)


def test_class_id_identifies_the_description():
    gen = ShapesGenerator(max_objects=1)
    by_class = collections.defaultdict(set)
    for i in range(3000):
        scene = gen.scene("train", i)
        (o,) = scene.objects
        by_class[scene.class_id].add((o.shape, o.color, o.size, o.row, o.col))
    assert all(len(descriptions) == 1 for descriptions in by_class.values())
