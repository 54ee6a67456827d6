"""The detail level (Settings.detail): what of each frame the model is shown.

    fast  the whole frame at the model's size (imgsz) only: today's speed, and at 1080p or 4K
          it sees small faces and far people at 1/3 or 1/6 of their size and misses them
    full  (default) the whole frame as in fast, plus full-resolution tiles (tiles.py) rolled
          across frames: every region is seen at full size at least once every SCAN_S seconds
          of video (in a file run, the hold's look-ahead and interpolation carry a person
          between full-size sightings); frames SCAN_S or more apart (a ZIP's captures) get
          every tile. Which frames are looked at is the stride's (stride.py): the scan's share
          follows the frames of video passed, not the frames looked at
    max   the whole frame and every tile, on every frame (stride 1)

TiledDetector wraps any detector that looks at the pixels (a model: `looks_at_pixels`), so
every target gets it: person, silhouette, head, face. A replayed CSV or a stand-in that
does not look at the pixels is never tiled. A frame that fits the model's input whole has
no tiles: there the levels are the same, and every frame is looked at.

The tiles of all the frames in one call go to the model as one batch (the CPU engine runs
a batch on all its cores, one image on one), the closer looks (closer.py) one frame at a
time, since each follows what the frame before found.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..settings import Settings
from .closer import ahead, pack
from .stride import most_frames
from .tiles import Tile, cut_edges, merge, plan_tiles, to_frame

# seconds to see every tile once, by level, for faces and for the YOLO targets. A file run's
# look-ahead reaches back this far (look_ahead_s), so what a tile finds late is covered from
# the frame it came into view. Faces: within the default 0.5 s hold. People: 1 s, so the
# tiles cost about what the frames the stride skips save (docs/recall.md)
SCAN_S = {"fast": (None, None), "full": (0.3, 1.0), "max": (0.0, 0.0)}
FACE_IOU = 0.3  # CenterFace's own NMS overlap: the same face
BOX_IOU = 0.6  # YOLO targets: the same person seen by the whole-frame pass and a tile
FOLLOW_VIEW_PX = 24  # a box smaller than this in the whole frame's view is looked at closer
# a model that takes any input size (CenterFace: `at_full_size`) sees the fewest tiles up to
# this many px a side, at their own size: at 1080p and below the whole frame at once, at 4K
# four 2016x1184 tiles, instead of 8 or 40 tiles of 640 (which overlap: 1.6x and 2x the
# frame's pixels). Memory: CenterFace on a 2048-px tile takes ~1 GB; at 640, 0.1 GB
LARGE_TILE_PX = 2048
FOLLOW_LOOKS = 16  # looks kept for the stride's fills (detect_between), more than a batch


def tiles_apply(looks_at_pixels: bool, settings: Settings, frame_hw: tuple[int, int]) -> bool:
    """Whether a run at `settings` with a detector that looks at the pixels (or not) scans
    tiles of frames this size: then detection must read the full frames, not small copies.
    Known before the model loads (the memory plan is made first)."""
    return SCAN_S[settings.detail][0] is not None and looks_at_pixels and bool(plan_tiles(frame_hw, settings.imgsz))


def file_stride(looks_at_pixels: bool, settings: Settings, fps: float) -> int:
    """The most frames between two looks in a file run (stride.py): 1 where the detector does
    not look at the pixels (a replayed CSV has every frame's boxes) or at `--detail max`."""
    if not looks_at_pixels or settings.detail == "max":
        return 1
    return most_frames(settings.stride, fps, round(settings.hold_s * fps))


def look_ahead_s(looks_at_pixels: bool, settings: Settings, frame_hw: tuple[int, int], fps: float) -> float:
    """Seconds a file run looks ahead: the hold, or one rolling scan and a stride if tiles
    are scanned (TemporalHold's `lead`). Known before the model loads."""
    if not tiles_apply(looks_at_pixels, settings, frame_hw):
        return settings.hold_s
    yolo = int(settings.target != "face")
    return max(settings.hold_s, SCAN_S[settings.detail][yolo] + file_stride(True, settings, fps) / fps)


def with_detail(detector, settings: Settings, fps: float, most: int = 1):
    """`detector` as the detail level asks: wrapped in a tile scan, or as it is. `most`: the
    largest gap between two frames looked at that still counts as consecutive (the stride)."""
    yolo = int(settings.target != "face")
    scan_s = SCAN_S[settings.detail][yolo]
    if scan_s is None or not getattr(detector, "looks_at_pixels", False):
        return detector
    iou = FACE_IOU if settings.target == "face" else BOX_IOU
    full_size = getattr(detector, "at_full_size", None)
    return TiledDetector(detector, settings.imgsz, round(scan_s * fps), iou, most,
                         tiler=full_size() if full_size else None, tile_px=LARGE_TILE_PX if full_size else None)


class TiledDetector:
    """`detect` = the inner detector on the whole frames and on their share of the tiles (one
    call each), then per frame on canvases of full-resolution windows around what only tiles
    found on the frame looked at before (closer.py), merged into one box per object.
    `period` frames: every tile is seen once in that many consecutive frames (0: every frame).
    `most`: frames looked at up to this many apart are consecutive (the stride, stride.py);
    further apart (a ZIP's captures) each gets every tile. `detect_between` looks at frames
    the stride skipped, after the frames around them: the whole frame and the closer looks
    of the look before, carried to that frame; the scan and what is followed stay as they are.
    `tiler` (default: inner) looks at the tiles, `tile_px` their largest side (plan_tiles).
    Other attributes (key, backend, model_name) are the inner detector's."""

    looks_at_pixels = True

    def __init__(self, inner, side: int, period: int, iou: float, most: int = 1, tiler=None,
                 tile_px: int | None = None):
        self.inner, self.side, self.period, self.iou = inner, side, max(0, period), iou
        self.most = max(1, most)
        self.tiler, self.tile_px = tiler or inner, tile_px  # what looks at the tiles, and their size
        self._plans: dict[tuple[int, int], tuple[Tile, ...]] = {}
        self._cursor: dict[tuple[int, int], float] = {}  # next tile of the rolling scan, and a fraction
        self._last_index: int | None = None  # the last frame looked at
        # per frame size, the recent looks: (index, boxes followed closer from there, all its
        # boxes, the look before's boxes and index) -> where to look closer next (closer.ahead)
        self._follow: dict[tuple[int, int], list[tuple]] = {}
        self.tiles_seen = 0  # tiles looked at so far (a benchmark reads it)

    def __getattr__(self, name):
        return getattr(self.__dict__["inner"], name)

    def _plan(self, frame_hw: tuple[int, int]) -> tuple[Tile, ...]:
        plan = self._plans.get(frame_hw)
        if plan is None:
            plan = self._plans[frame_hw] = plan_tiles(frame_hw, self.side, self.tile_px)
        return plan

    def _tiles_for(self, frame_hw: tuple[int, int], index: int) -> tuple[Tile, ...]:
        """This frame's share of the rolling scan: all tiles on the first frame, after a
        jump back, or on a frame not next to the last one looked at (more than `most` or
        `period` apart: a ZIP's captures, which are outputs in their own right); else the next
        tiles in turn, len(plan) * gap / period of them (the fraction carried to the next frame)."""
        plan = self._plan(frame_hw)
        last, self._last_index = self._last_index, index
        if not plan:
            return ()
        gap = None if last is None or index <= last else index - last
        if gap is None or gap >= self.period or gap > self.most:
            return plan
        cursor = self._cursor.get(frame_hw, 0.0)
        start, end = math.floor(cursor), math.floor(cursor + len(plan) * gap / self.period)
        self._cursor[frame_hw] = (cursor + len(plan) * gap / self.period) % len(plan)
        return tuple(plan[k % len(plan)] for k in range(start, end))

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        indices = [int(i) for i in indices] if len(indices) == len(frames) else list(range(len(frames)))
        tiles = [self._tiles_for(tuple(frame.shape[:2]), index) for frame, index in zip(frames, indices)]
        whole = self.inner.detect(list(frames), indices)
        crops = [(tile, frame, index) for frame, index, share in zip(frames, indices, tiles) for tile in share]
        seen = iter(self.tiler.detect([tile.crop(frame) for tile, frame, _ in crops], [i for *_, i in crops])
                    if crops else ())
        self.tiles_seen += len(crops)
        return [self._merged(frame, index, found, [(tile, next(seen)) for tile in share], keep=True)
                for frame, index, found, share in zip(frames, indices, whole, tiles)]

    def detect_between(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        """Frames between looks already made (the stride's fills): no tiles, nothing kept."""
        whole = self.inner.detect(list(frames), [int(i) for i in indices])
        return [self._merged(frame, int(index), found, [], keep=False)
                for frame, index, found in zip(frames, indices, whole)]

    def _closer(self, frame_hw: tuple[int, int], index: int) -> tuple[list, list]:
        """The boxes the latest look before `index` followed, and how far each may have gone
        by `index`: its shift since the look before that, again (closer.ahead)."""
        looks = [look for look in self._follow.get(frame_hw, ()) if look[0] < index]
        if not looks:
            return [], []
        at, chosen, _, before, before_at = looks[-1]
        # per frame between consecutive looks (the stride's); per look between a ZIP's captures
        scale = 1.0 if before_at is None or at - before_at > self.most else (index - at) / max(1, at - before_at)
        return chosen, ahead(chosen, before, scale).tolist()

    def _merged(self, frame: np.ndarray, index: int, found: Detections, tiled: list, keep: bool) -> Detections:
        """One frame's boxes: the whole frame's, its tiles' (found already), and a closer look
        at what was followed from the frame looked at before (kept for the next: `keep`)."""
        frame_hw = tuple(frame.shape[:2])
        if not self._plan(frame_hw):
            return found
        boxes, reach = self._closer(frame_hw, index)
        canvases = pack(boxes, frame_hw, self.side, reach)
        closer = self.inner.detect([canvas.image(frame) for canvas in canvases], [index] * len(canvases)) \
            if canvases else []
        self.tiles_seen += len(canvases)
        parts, cuts = [found], [np.zeros(len(found), bool)]
        for tile, boxes in tiled:
            if len(boxes):
                parts.append(to_frame(boxes, tile))
                cuts.append(cut_edges(boxes.xyxy, tile, frame_hw))
        followed = []
        for canvas, boxes in zip(canvases, closer):
            boxes, cut = canvas.to_frame(boxes, frame_hw)
            parts.append(boxes)
            cuts.append(cut)
            followed.append(boxes.xyxy)
        merged = merge(parts, np.concatenate(cuts), self.iou)
        if not keep:
            return merged
        # looked at closer on the next frame: what is small in the whole frame's view (found
        # there only now and then), what the whole frame missed, what a closer look found
        followed = np.concatenate(followed) if followed else np.zeros((0, 4), np.float32)
        small = FOLLOW_VIEW_PX * max(frame_hw) / self.side
        chosen = [box for box in merged.xyxy.tolist() if max(box[2] - box[0], box[3] - box[1]) < small
                  or not _covered(box, found.xyxy) or _covered(box, followed)]
        looks = self._follow.setdefault(frame_hw, [])
        before, before_at = (looks[-1][2], looks[-1][0]) if looks else (None, None)
        looks.append((index, chosen, merged.xyxy, before, before_at))
        del looks[:-FOLLOW_LOOKS]
        return merged


def _covered(box: list[float], by: np.ndarray) -> bool:
    """Whether one of the boxes `by` covers most of `box` (the whole-frame pass found it)."""
    if not len(by):
        return False
    lo = np.maximum(box[:2], by[:, :2])
    hi = np.minimum(box[2:], by[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return bool((inter / area >= 0.5).any())
