"""The detail level (Settings.detail): what of each frame the model is shown.

    fast  the whole frame at the model's size (imgsz) only: today's speed, and at 1080p or 4K
          it sees small faces and far people at 1/3 or 1/6 of their size and misses them
    full  (default) the whole frame as in fast, plus full-resolution tiles (tiles.py) rolled
          across frames: every region is seen at full size at least once every SCAN_S seconds
          of video (in a file run, the hold's look-ahead and interpolation carry a person
          between full-size sightings); frames SCAN_S or more apart (a ZIP's captures) get
          every tile
    max   the whole frame and every tile, on every frame

TiledDetector wraps any detector that looks at the pixels (a model: `looks_at_pixels`), so
every target gets it: person, silhouette, head, face. A replayed CSV or a stand-in that
does not look at the pixels is never tiled. A frame that fits the model's input whole has
no tiles: there the levels are the same.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..settings import Settings
from .closer import pack
from .tiles import Tile, cut_edges, merge, plan_tiles, to_frame

SCAN_S = {"fast": None, "full": 0.3, "max": 0.0}  # seconds to see every tile once
FACE_IOU = 0.3  # CenterFace's own NMS overlap: the same face
BOX_IOU = 0.6
FOLLOW_VIEW_PX = 24  # a box smaller than this in the whole frame's view is looked at closer  # YOLO targets: the same person seen by the whole-frame pass and a tile


def tiles_apply(looks_at_pixels: bool, settings: Settings, frame_hw: tuple[int, int]) -> bool:
    """Whether a run at `settings` with a detector that looks at the pixels (or not) scans
    tiles of frames this size: then detection must read the full frames, not small copies.
    Known before the model loads (the memory plan is made first)."""
    return SCAN_S.get(settings.detail) is not None and looks_at_pixels and bool(plan_tiles(frame_hw, settings.imgsz))


def with_detail(detector, settings: Settings, fps: float):
    """`detector` as the detail level asks: wrapped in a tile scan, or as it is."""
    scan_s = SCAN_S.get(settings.detail)
    if scan_s is None or not getattr(detector, "looks_at_pixels", False):
        return detector
    iou = FACE_IOU if settings.target == "face" else BOX_IOU
    return TiledDetector(detector, settings.imgsz, round(scan_s * fps), iou)


class TiledDetector:
    """`detect` = the inner detector on the whole frames (one call), then per frame (one
    call) on its share of the tiles and on canvases of full-resolution windows around what
    only tiles found on the frame before (closer.py), merged into one box per object.
    `period` frames: every tile is seen once in that many consecutive frames (0: every frame).
    Other attributes (key, backend, model_name) are the inner detector's."""

    looks_at_pixels = True

    def __init__(self, inner, side: int, period: int, iou: float):
        self.inner, self.side, self.period, self.iou = inner, side, max(0, period), iou
        self._plans: dict[tuple[int, int], tuple[Tile, ...]] = {}
        self._cursor: dict[tuple[int, int], int] = {}
        self._last_index: int | None = None
        self._follow: dict[tuple[int, int], list] = {}  # boxes only the tiles found, last frame
        self.tiles_seen = 0  # tiles looked at so far (a benchmark reads it)

    def __getattr__(self, name):
        return getattr(self.__dict__["inner"], name)

    def _tiles_for(self, frame_hw: tuple[int, int], index: int) -> tuple[Tile, ...]:
        """This frame's share of the rolling scan: all tiles on the first frame, after a
        jump back, or when frames come `period` or more apart; else the next tiles in turn."""
        plan = self._plans.get(frame_hw)
        if plan is None:
            plan = self._plans[frame_hw] = plan_tiles(frame_hw, self.side)
        last, self._last_index = self._last_index, index
        if not plan:
            return ()
        gap = None if last is None or index <= last else index - last
        if gap is None or gap >= self.period:
            return plan
        count = math.ceil(len(plan) * gap / self.period)
        start = self._cursor.get(frame_hw, 0)
        self._cursor[frame_hw] = (start + count) % len(plan)
        return tuple(plan[(start + k) % len(plan)] for k in range(count))

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        indices = list(indices) if len(indices) == len(frames) else list(range(len(frames)))
        whole = self.inner.detect(frames, indices)
        out = []
        for frame, index, found in zip(frames, indices, whole):  # in order: each frame follows the last
            frame_hw = tuple(frame.shape[:2])
            tiles = self._tiles_for(frame_hw, int(index))
            canvases = pack(self._follow.get(frame_hw, ()), frame_hw, self.side)
            if not tiles and not canvases:
                out.append(found)
                continue
            images = [tile.crop(frame) for tile in tiles] + [canvas.image(frame) for canvas in canvases]
            seen = self.inner.detect(images, [index] * len(images))
            self.tiles_seen += len(images)
            parts, cuts = [found], [np.zeros(len(found), bool)]
            for tile, boxes in zip(tiles, seen):
                if len(boxes):
                    parts.append(to_frame(boxes, tile))
                    cuts.append(cut_edges(boxes.xyxy, tile, frame_hw))
            followed = []
            for canvas, boxes in zip(canvases, seen[len(tiles):]):
                boxes, cut = canvas.to_frame(boxes, frame_hw)
                parts.append(boxes)
                cuts.append(cut)
                followed.append(boxes.xyxy)
            merged = merge(parts, np.concatenate(cuts), self.iou)
            # looked at closer on the next frame: what is small in the whole frame's view (found
            # there only now and then), what the whole frame missed, what a closer look found
            followed = np.concatenate(followed) if followed else np.zeros((0, 4), np.float32)
            small = FOLLOW_VIEW_PX * max(frame_hw) / self.side
            self._follow[frame_hw] = [box for box in merged.xyxy.tolist()
                                      if max(box[2] - box[0], box[3] - box[1]) < small
                                      or not _covered(box, found.xyxy) or _covered(box, followed)]
            out.append(merged)
        return out


def _covered(box: list[float], by: np.ndarray) -> bool:
    """Whether one of the boxes `by` covers most of `box` (the whole-frame pass found it)."""
    if not len(by):
        return False
    lo = np.maximum(box[:2], by[:, :2])
    hi = np.minimum(box[2:], by[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return bool((inter / area >= 0.5).any())
