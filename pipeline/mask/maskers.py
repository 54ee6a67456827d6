"""Covering detections in a frame, in place: one class per effect (mosaic, blur, fill),
applied through the shape of each detection (its padded box, an ellipse inside that box,
or its outline grown by the padding).

Boxes are padded, rounded outward to whole pixels and clipped to the frame, so a mask
never covers less than the box. Pixels outside every grown shape are never touched.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..detections import Detections


class Effect(Protocol):
    def __call__(self, region: np.ndarray) -> np.ndarray:
        """The covered version of `region` (same shape); `region` itself is not changed."""


@dataclass(frozen=True)
class Pixelate:
    """Square cells, `cells` across the region but never smaller than `min_cell_px`, so a
    distant 20-px person gets 4-px cells rather than 1-px ones that keep its shape."""

    cells: int = 15
    min_cell_px: int = 4

    def __call__(self, region: np.ndarray) -> np.ndarray:
        h, w = region.shape[:2]
        cell = max(self.min_cell_px, int(np.ceil(max(w, h) / self.cells)))
        small = cv2.resize(region, (max(1, -(-w // cell)), max(1, -(-h // cell))), interpolation=cv2.INTER_AREA)
        # Scale back by repeating cells exactly, then crop: every cell is cell x cell pixels.
        return np.repeat(np.repeat(small, cell, axis=0), cell, axis=1)[:h, :w]


@dataclass(frozen=True)
class Blur:
    """Two box blurs (close to a Gaussian, cheaply) with a kernel of about 3/strength of the
    region: larger `strength` = a smaller kernel = a weaker blur."""

    strength: int = 15

    def __call__(self, region: np.ndarray) -> np.ndarray:
        h, w = region.shape[:2]
        k = max(3, (max(w, h) * 3 // max(self.strength, 1)) | 1)
        return cv2.blur(cv2.blur(region, (k, k)), (k, k))


@dataclass(frozen=True)
class Fill:
    bgr: tuple[int, int, int] = (0, 0, 0)

    def __call__(self, region: np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.array(self.bgr, region.dtype), region.shape)


@dataclass(frozen=True)
class MaskStyle:
    style: str = "mosaic"  # mosaic | blur | fill
    cells: int = 15  # mosaic cells (or blur strength) across the box
    min_cell_px: int = 4
    pad_pct: float = 10.0
    fill_bgr: tuple[int, int, int] = (0, 0, 0)
    shape: str = "box"  # box | ellipse, for detections without an outline

    def effect(self) -> Effect:
        if self.style == "fill":
            return Fill(self.fill_bgr)
        if self.style == "blur":
            return Blur(self.cells)
        return Pixelate(self.cells, self.min_cell_px)


def padded_boxes(xyxy: np.ndarray, pad_pct: float, width: int, height: int, keep_empty: bool = False) -> np.ndarray:
    """Integer boxes (N, 4) grown by pad_pct of their size on each side, rounded outward
    and clipped to the frame; empty boxes are dropped unless `keep_empty`."""
    if len(xyxy) == 0:
        return np.zeros((0, 4), np.int32)
    boxes = np.asarray(xyxy, np.float64)
    pad_x = (boxes[:, 2] - boxes[:, 0]) * pad_pct / 100.0
    pad_y = (boxes[:, 3] - boxes[:, 1]) * pad_pct / 100.0
    grown = np.stack([np.floor(boxes[:, 0] - pad_x), np.floor(boxes[:, 1] - pad_y),
                      np.ceil(boxes[:, 2] + pad_x), np.ceil(boxes[:, 3] + pad_y)], axis=1)
    grown[:, [0, 2]] = grown[:, [0, 2]].clip(0, width)
    grown[:, [1, 3]] = grown[:, [1, 3]].clip(0, height)
    grown = grown.astype(np.int32)
    if keep_empty:
        return grown
    return grown[(grown[:, 2] > grown[:, 0]) & (grown[:, 3] > grown[:, 1])]


def shape_mask(box: np.ndarray, padded: np.ndarray, outline, style: MaskStyle) -> np.ndarray | None:
    """Which pixels of the padded box region to cover: None = all of them (a box)."""
    x1, y1, x2, y2 = (int(v) for v in padded)
    h, w = y2 - y1, x2 - x1
    if outline is None and style.shape == "box":
        return None
    mask = np.zeros((h, w), np.uint8)
    if outline is None:  # an ellipse filling the padded box (a face)
        bx1, by1, bx2, by2 = box
        cx, cy = (bx1 + bx2) / 2 - x1, (by1 + by2) / 2 - y1
        ax = (bx2 - bx1) * (0.5 + style.pad_pct / 100.0)
        ay = (by2 - by1) * (0.5 + style.pad_pct / 100.0)
        cv2.ellipse(mask, ((cx, cy), (2 * ax + 1, 2 * ay + 1), 0), 1, -1)
        return mask.astype(bool)
    polygons = [np.round(p - (x1, y1)).astype(np.int32) for p in outline if len(p) >= 3]
    if not polygons:
        return None  # no usable outline: cover the box, never less
    cv2.fillPoly(mask, polygons, 1)
    cv2.polylines(mask, polygons, True, 1)  # the outline's own pixels count as inside
    # grow by the padding: pad % of the box's width and height, like the box padding
    rx = int(np.ceil((box[2] - box[0]) * style.pad_pct / 100.0))
    ry = int(np.ceil((box[3] - box[1]) * style.pad_pct / 100.0))
    if rx or ry:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rx + 1, 2 * ry + 1)))
    return mask.astype(bool)


def cover(image: np.ndarray, detections: Detections, style: MaskStyle) -> np.ndarray:
    """Cover every detection (in `image` pixels) in place; returns the image."""
    height, width = image.shape[:2]
    effect = style.effect()
    padded = padded_boxes(detections.xyxy, style.pad_pct, width, height, keep_empty=True)
    for box, grown, outline in zip(detections.xyxy, padded, detections.outlines):
        x1, y1, x2, y2 = grown
        if x2 <= x1 or y2 <= y1:
            continue
        if outline is not None:  # an outline's last pixel row/column grows to the padded
            x2, y2 = min(x2 + 1, width), min(y2 + 1, height)  # box's exclusive end: keep it
            grown = np.array([x1, y1, x2, y2])
        region = image[y1:y2, x1:x2]
        mask = shape_mask(box, grown, outline, style)
        if mask is None:
            region[:] = effect(region)
            continue
        covered = effect(region)  # copied in place: 5x faster than region[mask] = (200-px face: 0.2 ms)
        if not np.shares_memory(cv2.copyTo(covered, mask.view(np.uint8), region), region):
            region[mask] = covered[mask]  # OpenCV wrote a copy (never seen): the region itself is what counts
    return image
