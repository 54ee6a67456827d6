"""Covering boxes in a frame: mosaic (pixelate), blur or solid fill, in place.

Boxes are padded, rounded outward to whole pixels and clipped to the frame, so a mask never
covers less than the box. Pixels outside the padded boxes are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MaskStyle:
    style: str = "mosaic"  # mosaic | blur | fill
    cells: int = 15  # mosaic cells (or blur strength) across the box
    min_cell_px: int = 4
    pad_pct: float = 10.0
    fill_bgr: tuple[int, int, int] = (0, 0, 0)


def padded_boxes(xyxy: np.ndarray, pad_pct: float, width: int, height: int) -> np.ndarray:
    """Integer boxes (N, 4) grown by pad_pct of their size on each side, rounded outward
    and clipped to the frame; empty boxes are dropped."""
    if len(xyxy) == 0:
        return np.zeros((0, 4), np.int32)
    boxes = np.asarray(xyxy, np.float64)
    pad_x = (boxes[:, 2] - boxes[:, 0]) * pad_pct / 100.0
    pad_y = (boxes[:, 3] - boxes[:, 1]) * pad_pct / 100.0
    grown = np.stack(
        [
            np.floor(boxes[:, 0] - pad_x),
            np.floor(boxes[:, 1] - pad_y),
            np.ceil(boxes[:, 2] + pad_x),
            np.ceil(boxes[:, 3] + pad_y),
        ],
        axis=1,
    )
    grown[:, [0, 2]] = grown[:, [0, 2]].clip(0, width)
    grown[:, [1, 3]] = grown[:, [1, 3]].clip(0, height)
    grown = grown.astype(np.int32)
    keep = (grown[:, 2] > grown[:, 0]) & (grown[:, 3] > grown[:, 1])
    return grown[keep]


def cover_boxes(image: np.ndarray, xyxy: np.ndarray, mask: MaskStyle) -> np.ndarray:
    """Mask every box of `xyxy` (image pixels) in `image`, in place; returns the image."""
    height, width = image.shape[:2]
    for x1, y1, x2, y2 in padded_boxes(xyxy, mask.pad_pct, width, height):
        region = image[y1:y2, x1:x2]
        if mask.style == "fill":
            region[:] = mask.fill_bgr
        elif mask.style == "blur":
            region[:] = _blurred(region, mask.cells)
        else:
            region[:] = _pixelated(region, mask.cells, mask.min_cell_px)
    return image


def _cell_size(region_w: int, region_h: int, cells: int, min_cell_px: int) -> int:
    """Cells are square: the box is `cells` across, but never smaller than min_cell_px, so a
    distant 20-px person gets 4-px cells rather than 1-px ones that keep its shape."""
    return max(min_cell_px, int(np.ceil(max(region_w, region_h) / cells)))


def _pixelated(region: np.ndarray, cells: int, min_cell_px: int) -> np.ndarray:
    h, w = region.shape[:2]
    cell = _cell_size(w, h, cells, min_cell_px)
    small_w, small_h = max(1, -(-w // cell)), max(1, -(-h // cell))
    small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
    # Scale back by repeating cells exactly, then crop: every cell is cell x cell pixels.
    big = np.repeat(np.repeat(small, cell, axis=0), cell, axis=1)
    return big[:h, :w]


def _blurred(region: np.ndarray, strength: int) -> np.ndarray:
    h, w = region.shape[:2]
    # A kernel about 1/strength*3 of the box: strong enough that features do not survive.
    k = max(3, (max(w, h) * 3 // max(strength, 1)) | 1)
    blurred = cv2.blur(region, (k, k))
    return cv2.blur(blurred, (k, k))  # two box passes approximate a Gaussian, cheaply
