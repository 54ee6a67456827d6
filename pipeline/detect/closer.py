"""A closer look, every frame, at what only the full-resolution tiles found: each such box
gets a window of the frame around it (a cell, at full resolution), and the cells are packed
side by side into tile-sized canvases, so one model run looks again at up to 16 small faces.

Between two passes of the rolling tile scan (scan.py), a small face or a far person would
otherwise be found only once per scan; looked at again on every frame, it is found on every
frame, tracked, and covered where it moves. Packing keeps that cheap: a 160-px cell holds a
face up to 80 px (larger ones get 320-px cells, four to a canvas, or a whole tile), and a
canvas costs one tile, whatever the number of faces on it; half a tile when its cells fill
only the top half (up to 8 small faces or 2 larger ones: 57 of the 75 canvases of the
1080p recall clip), the model's only other input shape.

    canvases = pack(boxes, frame_hw, side, reach) -> [Canvas], each of cells of one size
    canvas.image(frame)                          -> side x side BGR: the cells' pixels on grey
    canvas.to_frame(found)                       -> its boxes in frame pixels, and which are cut
                                                    by a cell's inner side (tiles.merge joins them)
    ahead(boxes, before, scale)                  -> each box joined with where it will be next

A small face in a fast pan (the 4K recall clip: a 60-px face moving 100 px between two looks)
leaves a window centred on where it was: each followed box is joined with where it is headed,
its shift since the look before repeated (`ahead`), and the window is sized to hold both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..detections import Detections
from .tiles import EDGE_PX, Tile

PAD_VALUE = 114  # the letterbox grey
REACH = 3.0  # a box's own on the look before is within this many of its sizes (a fast pan)
CELLS_PER_SIDE = (4, 2, 1)  # cell sizes tried, smallest first: side/4, side/2, side
FILL = 0.5  # a box may take up to this share of its cell's side


@dataclass(frozen=True)
class Cell:
    crop: Tile  # where in the frame
    x: int  # where in the canvas
    y: int


@dataclass
class Canvas:
    side: int  # its width
    cells: list[Cell]
    height: int  # side, or side / 2 when the cells fill only the top half

    def image(self, frame: np.ndarray) -> np.ndarray:
        canvas = np.full((self.height, self.side, 3), PAD_VALUE, np.uint8)
        for cell in self.cells:
            c = cell.crop
            canvas[cell.y:cell.y + c.h, cell.x:cell.x + c.w] = c.crop(frame)
        return canvas

    def to_frame(self, found: Detections, frame_hw: tuple[int, int]) -> tuple[Detections, np.ndarray]:
        """The canvas's boxes in frame pixels, each in the cell that holds its centre and
        clipped to it, and (N,) bool: cut by a side of its cell that lies inside the frame."""
        if not len(found) or not self.cells:
            return Detections.empty(), np.zeros(0, bool)
        h, w = frame_hw
        centres = (found.xyxy[:, :2] + found.xyxy[:, 2:]) / 2
        keep, shifts, cut = [], [], []
        for k, (cx, cy) in enumerate(centres):
            cell = next((c for c in self.cells if c.x <= cx < c.x + c.crop.w and c.y <= cy < c.y + c.crop.h), None)
            if cell is None:
                continue  # on the grey between cells
            c = cell.crop
            x1, y1, x2, y2 = found.xyxy[k]
            near = max(2.0, EDGE_PX * self.side)
            cut.append((c.x > 0 and x1 <= cell.x + near) or (c.x + c.w < w and x2 >= cell.x + c.w - near)
                       or (c.y > 0 and y1 <= cell.y + near) or (c.y + c.h < h and y2 >= cell.y + c.h - near))
            keep.append(k)
            shifts.append((c.x - cell.x, c.y - cell.y, cell.x, cell.y, c.w, c.h))
        if not keep:
            return Detections.empty(), np.zeros(0, bool)
        chosen = found[np.array(keep)]
        xyxy = chosen.xyxy.copy()
        outlines = list(chosen.outlines)
        for row, (dx, dy, cx, cy, cw, ch) in enumerate(shifts):
            xyxy[row, [0, 2]] = xyxy[row, [0, 2]].clip(cx, cx + cw) + dx
            xyxy[row, [1, 3]] = xyxy[row, [1, 3]].clip(cy, cy + ch) + dy
            if outlines[row] is not None:
                outlines[row] = tuple(p + np.array([dx, dy], np.float32) for p in outlines[row])
        return (Detections(xyxy, chosen.score, chosen.class_id, chosen.track_id, chosen.kind, tuple(outlines)),
                np.array(cut, bool))


def pack(boxes, frame_hw: tuple[int, int], side: int, reach=None) -> list[Canvas]:
    """Canvases of side x side holding a full-resolution window around each box (boxes
    already inside another window share it), cells of the smallest size that fits: its
    `reach` (where it may be next, `ahead`; default the box itself), on which the window is
    centred, with a margin that makes a box that stays put fill FILL of its cell."""
    h, w = frame_hw
    by_size: dict[int, list[Tile]] = {}
    windows: list[Tile] = []
    for (x1, y1, x2, y2), (rx1, ry1, rx2, ry2) in zip(boxes, boxes if reach is None else reach):
        if any(t.x <= rx1 and t.y <= ry1 and rx2 <= t.x + t.w and ry2 <= t.y + t.h for t in windows):
            continue
        big, span = max(x2 - x1, y2 - y1), max(rx2 - rx1, ry2 - ry1)
        margin = big * (1 / FILL - 1)  # around the reach; a box that stays put fills FILL of its cell
        size = next((side // n for n in CELLS_PER_SIDE if span + margin <= side // n), side)
        cw, ch = min(size, w), min(size, h)
        cx, cy = (rx1 + rx2) / 2, (ry1 + ry2) / 2
        tile = Tile(int(min(max(cx - cw / 2, 0), w - cw)), int(min(max(cy - ch / 2, 0), h - ch)), cw, ch)
        windows.append(tile)
        by_size.setdefault(size, []).append(tile)
    canvases = []
    for size, tiles in sorted(by_size.items()):
        per_row = side // size
        for start in range(0, len(tiles), per_row * per_row):
            cells = [Cell(t, (k % per_row) * size, (k // per_row) * size)
                     for k, t in enumerate(tiles[start:start + per_row * per_row])]
            rows = -(-len(cells) // per_row)
            canvases.append(Canvas(side, cells, side // 2 if rows * size <= side // 2 else side))
    return canvases


def ahead(boxes, before, scale: float = 1.0) -> np.ndarray:
    """(N, 4): each box joined with itself moved as it moved since the look before (the
    nearest box of `before` within REACH of its sizes, at 2/3-3/2 of its size; unmoved if
    none), times `scale` (the next look is that many times as far off as the look before).
    A wrong match only makes a window larger: the box itself is always inside."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    before = np.asarray(before if before is not None else (), np.float32).reshape(-1, 4)
    if not len(boxes) or not len(before):
        return boxes
    size, size_before = boxes[:, 2:] - boxes[:, :2], before[:, 2:] - before[:, :2]
    shift = ((boxes[:, None, :2] + boxes[:, None, 2:]) - (before[None, :, :2] + before[None, :, 2:])) / 2
    ratio = size[:, None] / np.maximum(size_before[None], 1e-6)
    near = (np.abs(shift) <= REACH * np.maximum(size[:, None], 1)).all(-1)
    near &= ((ratio >= 2 / 3) & (ratio <= 3 / 2)).all(-1)
    distance = np.where(near, np.hypot(shift[..., 0], shift[..., 1]), np.inf)
    best = distance.argmin(1)
    rows = np.arange(len(boxes))
    moved = np.where(np.isfinite(distance[rows, best])[:, None], shift[rows, best], 0) * scale
    return np.concatenate([np.minimum(boxes[:, :2], boxes[:, :2] + moved),
                           np.maximum(boxes[:, 2:], boxes[:, 2:] + moved)], 1)
