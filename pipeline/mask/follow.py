"""Follow cam: a crop of a fixed aspect (9:16, 1:1, 16:9) that follows the subject.

Applied to the frame AFTER it is masked, so the crop only ever shows a part of the masked
frame (scaled): it cannot reveal what the full frame covers. The subject is the largest box
of the frame's detections (the largest person or face; `subject_box` is where a chosen
identity would plug in). The crop:

* has the requested aspect and one output size for the whole run (the largest rectangle of
  that aspect inside the frame, both sides even for H.264); a crop larger than that (a
  subject too big for it, or nobody at all) is scaled down into it;
* contains the subject, grown by `margin`, and is at least that inscribed rectangle;
* moves only when the subject leaves a dead zone around the crop's centre, and then
  follows it damped (a share of the way each frame) until it is centred again, so a box
  that jitters by a few pixels leaves the crop still;
* when nobody is there, eases out to the whole frame fitted into the aspect (letterboxed:
  the parts of the crop outside the frame are black);
* whatever the smoothing, every output contains the subject's box: a crop that lags is
  pushed (and grown) just enough to hold it.

    cam = FollowCam(1280, 720, "9:16")
    out = cam.crop(masked_frame, detections)   # (cam.out_h, cam.out_w, 3)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FOLLOW_ASPECTS = ("9:16", "1:1", "16:9")
MARGIN = 0.15  # the subject's box grows by this share of its size on each side
DEAD_ZONE = 0.08  # the subject may move this share of the crop's size before the crop moves
FOLLOW = 0.2  # share of the remaining way the crop moves per frame once the subject is out of the dead zone
SETTLED_PX = 1.0  # a following crop this close to its goal rests there


def parse_aspect(text: str) -> tuple[int, int]:
    """'9:16' -> (9, 16); ValueError for anything not in FOLLOW_ASPECTS."""
    if text not in FOLLOW_ASPECTS:
        raise ValueError(f"follow aspect must be one of {', '.join(FOLLOW_ASPECTS)} (got {text!r})")
    w, h = text.split(":")
    return int(w), int(h)


def output_size(width: int, height: int, aspect: str) -> tuple[int, int]:
    """The largest even-sided (width, height) of `aspect` that fits in width x height."""
    aw, ah = parse_aspect(aspect)
    h = min(height, width * ah / aw)
    w = h * aw / ah
    even = lambda v: max(2, int(v) // 2 * 2)  # noqa: E731 - H.264 (yuv420p) wants even sides
    return even(w), even(h)


@dataclass(frozen=True)
class Rect:
    """A crop in frame pixels: centre and size (floats; it may reach outside the frame)."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return self.cx - self.w / 2, self.cy - self.h / 2, self.cx + self.w / 2, self.cy + self.h / 2

    def contains(self, box, tol: float = 1e-3) -> bool:
        x1, y1, x2, y2 = self.xyxy
        return x1 - tol <= box[0] and y1 - tol <= box[1] and box[2] <= x2 + tol and box[3] <= y2 + tol


def subject_box(detections) -> np.ndarray | None:
    """The subject: the largest box (by area) of the frame's detections, or None."""
    if detections is None or len(detections) == 0:
        return None
    xyxy = np.asarray(detections.xyxy, np.float64)
    area = (xyxy[:, 2] - xyxy[:, 0]).clip(0) * (xyxy[:, 3] - xyxy[:, 1]).clip(0)
    return xyxy[int(np.argmax(area))]


class FollowCam:
    """Stateful: call `step` / `crop` once per frame, in stream order."""

    def __init__(self, width: int, height: int, aspect: str, *, margin: float = MARGIN,
                 dead_zone: float = DEAD_ZONE, follow: float = FOLLOW):
        self.width, self.height = width, height
        aw, ah = parse_aspect(aspect)
        self.ratio = aw / ah  # crop width / height
        self.out_w, self.out_h = output_size(width, height, aspect)
        self.base_h = self.out_w / self.ratio  # the inscribed crop (the smallest one)
        self.margin, self.dead_zone, self.follow = margin, dead_zone, follow
        full_h = max(height, width / self.ratio)  # the whole frame, fitted into the aspect
        self.full = Rect(width / 2, height / 2, full_h * self.ratio, full_h)
        self.current: Rect | None = None
        self.moving = [False, False, False]  # centre x, centre y, height: following the goal now

    def _clamped(self, cx: float, cy: float, h: float) -> Rect:
        """A crop of height h near (cx, cy): inside the frame where it fits, centred where not."""
        h = min(max(h, self.base_h), self.full.h)
        w = h * self.ratio
        cx = min(max(cx, w / 2), self.width - w / 2) if w <= self.width else self.width / 2
        cy = min(max(cy, h / 2), self.height - h / 2) if h <= self.height else self.height / 2
        return Rect(cx, cy, w, h)

    def target(self, box) -> Rect:
        """Where the crop would go with no smoothing."""
        if box is None:
            return self.full
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = (x2 - x1) * (1 + 2 * self.margin), (y2 - y1) * (1 + 2 * self.margin)
        return self._clamped((x1 + x2) / 2, (y1 + y2) / 2, max(bh, bw / self.ratio))

    def _approach(self, axis: int, now: float, goal: float, zone: float) -> float:
        """Damped follow with a dead zone (hysteresis): an axis starts moving once the goal is
        more than `zone` away, then eases all the way to it and rests until it leaves again."""
        gap = goal - now
        if not self.moving[axis]:
            if abs(gap) <= zone:
                return now
            self.moving[axis] = True
        if abs(gap) <= SETTLED_PX:
            self.moving[axis] = False
            return goal
        return now + self.follow * gap

    def step(self, box) -> Rect:
        """The crop for the next frame, whose subject box (frame pixels) is `box` or None."""
        goal = self.target(box)
        cur = self.current
        if cur is None:
            rect = goal
        else:
            rect = self._clamped(self._approach(0, cur.cx, goal.cx, self.dead_zone * cur.w),
                                 self._approach(1, cur.cy, goal.cy, self.dead_zone * cur.h),
                                 self._approach(2, cur.h, goal.h, self.dead_zone * cur.h))
        if box is not None:
            rect = self._holding(rect, box)
        self.current = rect
        return rect

    def _holding(self, rect: Rect, box) -> Rect:
        """`rect` grown and moved just enough to contain `box` (the raw subject box)."""
        x1, y1, x2, y2 = (float(v) for v in box)
        h = max(rect.h, y2 - y1, (x2 - x1) / self.ratio)
        w = h * self.ratio
        cx = min(max(rect.cx, x2 - w / 2), x1 + w / 2)
        cy = min(max(rect.cy, y2 - h / 2), y1 + h / 2)
        rect = self._clamped(cx, cy, h)
        if not rect.contains(box):  # the clamp into the frame moved it off a box that leaves the frame
            rect = Rect(min(max(rect.cx, x2 - w / 2), x1 + w / 2), min(max(rect.cy, y2 - h / 2), y1 + h / 2), w, h)
        return rect

    def crop(self, image: np.ndarray, detections) -> np.ndarray:
        """The output frame: the crop of `image` (already masked) for this frame's detections
        (in `image`'s pixels), scaled to (out_h, out_w); outside the frame is black."""
        return render_rect(image, self.step(subject_box(detections)), self.out_w, self.out_h)


def render_rect(image: np.ndarray, rect: Rect, out_w: int, out_h: int) -> np.ndarray:
    """The pixels of `rect` scaled to out_w x out_h; what lies outside `image` is black."""
    height, width = image.shape[:2]
    scale = out_h / rect.h
    x1, y1, _, _ = rect.xyxy
    sx1, sy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    sx2, sy2 = min(width, int(np.ceil(x1 + rect.w))), min(height, int(np.ceil(y1 + rect.h)))
    out = np.zeros((out_h, out_w, image.shape[2]), image.dtype)
    if sx2 <= sx1 or sy2 <= sy1:
        return out
    dx1, dy1 = int(round((sx1 - x1) * scale)), int(round((sy1 - y1) * scale))
    dx2, dy2 = int(round((sx2 - x1) * scale)), int(round((sy2 - y1) * scale))
    dx1, dy1 = max(0, dx1), max(0, dy1)
    dx2, dy2 = min(out_w, max(dx2, dx1 + 1)), min(out_h, max(dy2, dy1 + 1))
    region = image[sy1:sy2, sx1:sx2]
    size = (dx2 - dx1, dy2 - dy1)
    if size != (region.shape[1], region.shape[0]):
        inter = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        region = cv2.resize(region, size, interpolation=inter)
    out[dy1:dy2, dx1:dx2] = region
    return out
