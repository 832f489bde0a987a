"""Sample grids a person can read without TensorBoard: numpy and PIL only (no TensorFlow), so
``keras-t2i generate`` draws the same picture from a run, an export or a server.

``labelled_grid(stages, captions, seeds)`` lays out one block per generator stage (lowest
resolution first), each with one column per caption and one row per seed; a header holds each
column's caption (wrapped to the tile's width), the left margin each row's seed, and tiles are
upscaled by nearest neighbour to at least ``min_tile`` pixels, so a 64-pixel sample is seen at
128 pixels with its pixels intact.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

MIN_TILE = 128
GAP = 4
MARGIN = 6
FONT_SIZE = 13
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
MUTED = (110, 110, 110)


def image_grid(images: np.ndarray, rows: int) -> np.ndarray:
    """uint8 (rows·cols, H, W, 3) → one uint8 (rows·H, cols·W, 3) image, row-major."""
    n, h, w, c = images.shape
    cols = n // rows
    return images.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(
        rows * h, cols * w, c)


@dataclasses.dataclass(frozen=True)
class GridLayout:
    """Where ``labelled_grid`` puts things: ``tiles[(stage, row, col)]`` is the (top, left,
    size) of a tile in pixels; ``scale[stage]`` its upscaling factor."""

    width: int
    height: int
    tiles: dict
    scale: list


def _font(size=FONT_SIZE):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType: its fixed bitmap font
        return ImageFont.load_default()


def _wrap(text: str, font, width: int, draw) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``width`` pixels wide (a word longer
    than the width gets a line of its own)."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + ([line] if line else [])


def labelled_grid(stages, captions, seeds, min_tile: int = MIN_TILE, title: str | None = None,
                  return_layout: bool = False, block_titles=None):
    """The labelled picture of generated samples.

    Args:
        stages: list of uint8 arrays (rows·cols, s, s, 3), one per generator stage (lowest
            resolution first), row-major: image ``r·cols + c`` is seed ``seeds[r]`` with
            ``captions[c]``.
        captions: list of str, one per column.
        seeds: list of int, one per row.
        min_tile: int. Tiles are upscaled by an integer factor to at least this many pixels.
        title: str. A line above the captions (e.g. the model and its step). Defaults to none.
        return_layout: bool. Also return the :class:`GridLayout`.
        block_titles: list of str, one per block, in place of "stage k of n" (e.g. images
            and part masks). Defaults to None.

    Returns:
        uint8 (H, W, 3), and the layout when asked.
    """
    rows, cols = len(seeds), len(captions)
    for k, stage in enumerate(stages):
        if stage.shape[0] != rows * cols or stage.ndim != 4:
            raise ValueError(f"stage {k} holds images of shape {stage.shape}; expected "
                             f"({rows}·{cols}, s, s, 3) for {rows} seeds × {cols} captions")
    font, small = _font(), _font(FONT_SIZE - 2)
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tile = max(max(stage.shape[1] for stage in stages), min_tile)
    scale = [max(1, math.ceil(tile / stage.shape[1])) for stage in stages]
    tile = max(stage.shape[1] * f for stage, f in zip(stages, scale))
    line_height = FONT_SIZE + 3
    wrapped = [_wrap(caption, font, tile, scratch) for caption in captions]
    top_line = line_height if title else 0
    header = MARGIN + top_line + line_height * max(len(lines) for lines in wrapped) + MARGIN
    seed_labels = [f"seed {s}" for s in seeds]
    left = MARGIN + int(max(scratch.textlength(t, font=font) for t in seed_labels)) + MARGIN
    block_title = line_height + 2 if len(stages) > 1 else 0
    block = block_title + rows * (tile + GAP)
    width = left + cols * (tile + GAP) + MARGIN
    height = header + len(stages) * block + MARGIN
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((MARGIN, MARGIN), title, font=small, fill=MUTED)
    for c, lines in enumerate(wrapped):
        for i, line in enumerate(lines):
            draw.text((left + c * (tile + GAP), MARGIN + top_line + i * line_height), line,
                      font=font, fill=INK)
    tiles = {}
    for k, (stage, factor) in enumerate(zip(stages, scale)):
        top = header + k * block
        if block_title:
            size = stage.shape[1]
            # ASCII only: Pillow's default font has no glyph for "×".
            name = (f"stage {k + 1} of {len(stages)}" if block_titles is None
                    else block_titles[k])
            draw.text((left, top), f"{name}: {size}x{size} px"
                      + (f" (shown {factor}x larger)" if factor > 1 else ""), font=small,
                      fill=MUTED)
        for r in range(rows):
            y = top + block_title + r * (tile + GAP)
            draw.text((MARGIN, y + tile // 2 - FONT_SIZE // 2), seed_labels[r], font=font,
                      fill=INK)
            for c in range(cols):
                x = left + c * (tile + GAP)
                image = stage[r * cols + c]
                big = np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
                canvas.paste(Image.fromarray(big), (x, y))
                tiles[(k, r, c)] = (y, x, big.shape[0])
    picture = np.asarray(canvas)
    if return_layout:
        return picture, GridLayout(width, height, tiles, scale)
    return picture


# Part colours of ``colorize_masks``: the background first (dark), then one per part.
MASK_PALETTE = np.array([(40, 40, 46), (230, 25, 75), (60, 180, 75), (255, 225, 25),
                         (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
                         (240, 50, 230), (210, 245, 60)], np.float32)


def colorize_masks(masks) -> np.ndarray:
    """Soft part masks float (N, h, w, M) (background first, summing to 1) → uint8 (N, h, w, 3):
    each pixel the mask-weighted mix of the parts' colours (``MASK_PALETTE``, cycled beyond
    its length)."""
    masks = np.asarray(masks, np.float32)
    palette = MASK_PALETTE[np.arange(masks.shape[-1]) % len(MASK_PALETTE)]
    return np.clip(np.round(masks @ palette), 0, 255).astype(np.uint8)
