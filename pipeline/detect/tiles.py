"""Full-resolution tiles of a frame: where they lie, and their boxes back in the frame.

A model looks at a frame shrunk to its input size (640 px on the long side), so at 4K it
sees everything at 1/6 of its size and misses what is small there. A tile is a window of
the frame at the network's own input size, looked at without shrinking: together the tiles
show the model every pixel at full size.

    plan_tiles((h, w), side)   -> tiles of side x side (smaller only where the frame is),
                                  overlapping by OVERLAP of a side, in a grid over the frame;
                                  with `most`, the fewest tiles up to `most` px a side
    to_frame(found, tile)      -> a tile's boxes (and outlines) in frame pixels
    merge(parts, cut, iou)     -> one box per object: duplicates from overlapping tiles and
                                  from the whole-frame pass dropped (IoU >= iou), a box cut
                                  by a tile's inner edge joined with the box that continues it

Overlap: an object narrower than the overlap lies whole inside some tile; one wider than it
is large enough for the whole-frame pass (at 4K, 160 px is 27 px at 640), and the parts
two tiles see of it are joined (their overlap is most of the smaller part).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..detections import Detections

OVERLAP = 0.25  # of a tile's side, shared with each neighbour
# A frame up to this many tile sides long is looked at whole only: the model sees it at 3/4 of
# its size or more, and tiles would cost 2-4 times the whole-frame pass for that last quarter
# (the test suite's 768x576 clips stay as fast as before)
WHOLE_UP_TO = 4 / 3
EDGE_PX = 0.02  # a box within this share of a tile's side from an inner edge is cut by it
JOIN_IOS = 0.5  # a cut box joins a box covering this share of the smaller of the two


@dataclass(frozen=True)
class Tile:
    x: int
    y: int
    w: int
    h: int

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """The tile's pixels, a view (no copy)."""
        return frame[self.y:self.y + self.h, self.x:self.x + self.w]


def _windows(length: int, side: int, most: int) -> list[tuple[int, int]]:
    """(start, size) of the fewest windows of at most `most` px covering 0..length, evenly
    spread, neighbours overlapping by at least OVERLAP * side. Windows of `side` px are that
    long; larger ones (most > side) only as long as they need, a multiple of 32 if they can."""
    if length <= most:
        return [(0, length)]
    overlap = round(side * OVERLAP)
    n = math.ceil((length - overlap) / (most - overlap))
    size = most if most == side else min(length, (-(-(length + (n - 1) * overlap) // n) + 31) // 32 * 32)
    return [(round(i * (length - size) / (n - 1)), size) for i in range(n)]


def plan_tiles(frame_hw: tuple[int, int], side: int, most: int | None = None) -> tuple[Tile, ...]:
    """The grid of tiles over a frame of (h, w) pixels, any orientation; () when the frame
    is at most WHOLE_UP_TO model sides (`side`) long (the whole-frame pass sees it at >= 3/4
    size). Tiles are `side` square, or with `most` (a model that takes any input size) the
    fewest of at most `most` px a side: often one, the whole frame at full resolution."""
    h, w = frame_hw
    if max(h, w) <= side * WHOLE_UP_TO:
        return ()
    most = max(most or side, side)
    return tuple(Tile(x, y, tw, th) for y, th in _windows(h, side, most) for x, tw in _windows(w, side, most))


def cut_edges(xyxy: np.ndarray, tile: Tile, frame_hw: tuple[int, int]) -> np.ndarray:
    """(N,) bool: the box touches a side of the tile that lies inside the frame (the object
    may go on in the next tile). Boxes in tile pixels."""
    h, w = frame_hw
    near = max(2.0, EDGE_PX * max(tile.w, tile.h))
    cut = np.zeros(len(xyxy), bool)
    if tile.x > 0:
        cut |= xyxy[:, 0] <= near
    if tile.x + tile.w < w:
        cut |= xyxy[:, 2] >= tile.w - near
    if tile.y > 0:
        cut |= xyxy[:, 1] <= near
    if tile.y + tile.h < h:
        cut |= xyxy[:, 3] >= tile.h - near
    return cut


def to_frame(found: Detections, tile: Tile) -> Detections:
    """A tile's detections moved into frame pixels (boxes and outlines)."""
    shift = np.array([tile.x, tile.y], np.float32)
    return Detections(
        found.xyxy + np.tile(shift, 2), found.score, found.class_id, found.track_id, found.kind,
        tuple(None if o is None else tuple(p + shift for p in o) for o in found.outlines),
    )


def merge(parts: Sequence[Detections], cut: np.ndarray, iou: float) -> Detections:
    """One Detections from the whole-frame pass and the tiles (`parts`, frame pixels), `cut`
    (N,) marking boxes cut by a tile edge, in the order of the concatenated parts. Greedy, best
    score first: a box the kept one overlaps by IoU >= iou is the same object and goes; a cut
    box that the kept one covers for JOIN_IOS of the smaller of the two goes too, and the kept
    box grows to hold both (two halves of one face make the whole face)."""
    found = Detections.concat(list(parts)) if parts else Detections.empty()
    n = len(found)
    if n < 2:
        return found
    boxes = found.xyxy.astype(np.float64).copy()
    cut = np.asarray(cut, bool).copy()
    outlines = list(found.outlines)
    order = np.argsort(-found.score, kind="stable")
    alive = np.ones(n, bool)
    keep = []
    for i in order:
        if not alive[i]:
            continue
        alive[i] = False
        keep.append(i)
        while True:  # a grown box may now reach further boxes
            rest = np.flatnonzero(alive)
            if not len(rest):
                break
            lo = np.maximum(boxes[i, :2], boxes[rest, :2])
            hi = np.minimum(boxes[i, 2:], boxes[rest, 2:])
            inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
            area_i = np.prod(boxes[i, 2:] - boxes[i, :2])
            area_r = np.prod(boxes[rest, 2:] - boxes[rest, :2], axis=1)
            same = inter / np.maximum(area_i + area_r - inter, 1e-9) >= iou
            join = (cut[i] | cut[rest]) & (inter / np.maximum(np.minimum(area_i, area_r), 1e-9) >= JOIN_IOS)
            gone = rest[same | join]
            if not len(gone):
                break
            alive[gone] = False
            for j in rest[join & ~same]:
                boxes[i, :2] = np.minimum(boxes[i, :2], boxes[j, :2])
                boxes[i, 2:] = np.maximum(boxes[i, 2:], boxes[j, 2:])
                # the shape in two pieces; a piece without an outline: cover the grown box
                outlines[i] = None if outlines[i] is None or outlines[j] is None else outlines[i] + outlines[j]
                cut[i] = cut[i] and cut[j]
            if not join[~same].any():
                break
    keep = np.array(keep, np.int64)
    return Detections(boxes[keep].astype(np.float32), found.score[keep], found.class_id[keep],
                      found.track_id[keep], found.kind[keep], tuple(outlines[k] for k in keep))
