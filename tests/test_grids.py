"""The labelled sample grid: tiles where the layout says, upscaled by nearest neighbour to at
least 128 px, captions above their columns, seeds beside their rows, a block per stage."""

import numpy as np
import pytest

from keras_t2i.grids import MIN_TILE, image_grid, labelled_grid


def _images(rows, cols, size, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (rows * cols, size, size, 3),
                                                dtype=np.uint8)


def test_tiles_are_the_images_upscaled_where_the_layout_puts_them():
    images = _images(2, 3, 16)
    captions = ["a big red circle in the center", "a small blue square", "a green star"]
    picture, layout = labelled_grid([images], captions, [5, 6], return_layout=True)
    assert picture.shape == (layout.height, layout.width, 3) and picture.dtype == np.uint8
    assert layout.scale == [8]
    for r in range(2):
        for c in range(3):
            top, left, size = layout.tiles[(0, r, c)]
            assert size == 128
            tile = picture[top:top + size, left:left + size]
            expected = np.repeat(np.repeat(images[r * 3 + c], 8, axis=0), 8, axis=1)
            np.testing.assert_array_equal(tile, expected)


def test_captions_and_seeds_are_drawn_in_their_margins():
    images = np.full((2, 64, 64, 3), 255, np.uint8)  # white tiles: any ink is a label
    blank = labelled_grid([images], ["", ""], [0], return_layout=True)
    labelled, layout = labelled_grid([images], ["a big red circle", "a small blue square"],
                                     [0], return_layout=True)
    top, left, size = layout.tiles[(0, 0, 0)]
    header = labelled[:top]
    for c in range(2):  # ink above each column
        _, left_c, _ = layout.tiles[(0, 0, c)]
        assert (header[:, left_c:left_c + size] < 128).any(), c
    assert (labelled[top:top + size, :left] < 128).any()  # "seed 0" at the left
    assert not (blank[0][:top] < 128).any()  # nothing drawn for an empty caption


def test_long_captions_wrap_within_their_column():
    images = _images(1, 2, 64)
    long = " ".join(["a big red circle to the left of a small blue square"] * 3)
    short_picture = labelled_grid([images], ["red", "blue"], [0])
    long_picture, layout = labelled_grid([images], [long, "blue"], [0], return_layout=True)
    assert long_picture.shape[1] == short_picture.shape[1]  # wrapped, not widened
    assert long_picture.shape[0] > short_picture.shape[0]  # more header lines
    top, left, size = layout.tiles[(0, 0, 1)]
    gap = long_picture[:top, left - 4:left]  # the gap between columns stays clear
    assert not (gap < 128).any()


def test_one_block_per_stage_with_tiles_of_one_size():
    stages = [_images(2, 2, 8, 1), _images(2, 2, 32, 2), _images(2, 2, 256, 3)]
    picture, layout = labelled_grid(stages, ["a", "b"], [0, 1], return_layout=True)
    assert layout.scale == [32, 8, 1]
    tops = [layout.tiles[(k, 0, 0)][0] for k in range(3)]
    assert tops == sorted(tops) and len(set(tops)) == 3
    for k, stage in enumerate(stages):
        top, left, size = layout.tiles[(k, 1, 1)]
        assert size == 256
        factor = layout.scale[k]
        np.testing.assert_array_equal(picture[top:top + size:factor, left:left + size:factor],
                                      stage[3])


def test_min_tile_and_bad_shapes():
    picture, layout = labelled_grid([_images(1, 1, 200)], ["x"], [0], return_layout=True)
    assert layout.scale == [1] and layout.tiles[(0, 0, 0)][2] == 200 >= MIN_TILE
    with pytest.raises(ValueError, match="2 seeds × 2 captions"):
        labelled_grid([_images(1, 3, 16)], ["a", "b"], [0, 1])


def test_image_grid_is_row_major():
    images = _images(2, 3, 4)
    grid = image_grid(images, rows=2)
    np.testing.assert_array_equal(grid[4:8, 8:12], images[5])
