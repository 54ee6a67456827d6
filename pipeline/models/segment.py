"""Silhouettes: a segmentation model's mask per person, as polygons in source pixels.

After NMS each detection carries 32 mask coefficients; ultralytics' own `process_mask`
combines them with the prototype output into a binary mask at the letterboxed network
resolution, cropped to the detection's box. cv2.findContours traces each mask's outer
edge (holes, e.g. between an arm and the body, are filled: more cover, never less), and
the letterbox is undone. A contour runs through the centres of the mask's edge pixels,
so at pad 0 the outline may fall half a network pixel inside the mask's edge; the
renderer's padding (pad % of the box) grows it well past that.

A mask that is empty or tiny next to its box (a person's mask fills roughly half of it)
is not trusted: that detection gets outline None, and the renderer covers its box.
"""
from __future__ import annotations

import cv2
import numpy as np

from .letterbox import Geometry

MIN_MASK_PX = 16  # network pixels; fewer is no usable mask
MIN_MASK_FILL = 0.15  # of the detection's box area; less is a broken mask, not a person


def mask_outlines(proto, coefficients, boxes, geometry: Geometry) -> tuple:
    """Per detection, None or a tuple of (K, 2) float32 polygons in source pixels.

    proto: (32, mh, mw) tensor, one frame's prototypes; coefficients: (N, 32) tensor;
    boxes: (N, 4) xyxy tensor in network-input pixels."""
    from ultralytics.utils.ops import process_mask

    if not len(coefficients):
        return ()
    masks = process_mask(proto, coefficients.float(), boxes.float(), geometry.net_hw, upsample=True)
    masks = masks.cpu().numpy()
    return tuple(outline_of(mask, box, geometry) for mask, box in zip(masks, boxes.float().cpu().numpy()))


def outline_of(mask: np.ndarray, box: np.ndarray, geometry: Geometry) -> tuple | None:
    """The polygons of one binary (H, W) network-resolution mask, in source pixels; None
    where the mask is not usable (the box is covered instead)."""
    area = int(np.count_nonzero(mask))
    box_area = max(float(box[2] - box[0]), 0.0) * max(float(box[3] - box[1]), 0.0)
    if area < max(MIN_MASK_PX, MIN_MASK_FILL * box_area):
        return None
    contours, _ = cv2.findContours(np.ascontiguousarray(mask, np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pieces = []
    for contour in contours:
        points = contour.reshape(-1, 2)
        if len(points) < 3:  # a one- or two-pixel piece: the rectangle through its pixels
            (x0, y0), (x1, y1) = points.min(0), points.max(0)
            points = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        pieces.append(geometry.points_to_source(points, pixel_centres=True))
    return tuple(pieces) or None
