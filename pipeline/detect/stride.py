"""The detection stride of a file run (Settings.stride): which frames the model looks at.

A frame not looked at is covered by the hold (track/tracking.py): each track's box is the
hull of its two sightings around the gap (any motion that goes one way between them stays
inside), held or run back where only one side saw it. That is safe only where little
happens between the two looks, so the stride follows the boxes:

- the model looks at most `most` frames apart (auto: 0.1 s of video, 3 frames at 30 fps,
  and at least 2)
  and at least at every cut (track/cuts.py) and every frame captured for the ZIP;
- after each batch of looks, every gap is checked against the boxes on both of its sides:
  a box without a partner on the other side (someone came in, left, or was found or lost),
  a box that moved or changed size by more than STILL of its size, or a cut at its end,
  and the frames inside the gap are looked at too (`fill`), so they are never left to a guess;
- the next batch is planned at the stride the fastest box allows: STILL of its size per gap
  (a still scene: `most`; a person walking across a 1080p frame: 1-2; a fast pan: 1).

Stride 1 looks at every frame. A live stream has no look-ahead and never skips (live.py).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

STILL = 0.25  # a box may move this share of its size (centre or side) between two looks
MOST_S = 0.1  # stride auto: looks at most this many seconds of video apart (or 2 frames)


def most_frames(stride: int | str, fps: float, hold_frames: int) -> int:
    """The largest gap between two looks: the setting (auto: MOST_S of video, at least 2
    frames), never more than the hold can bridge (hold 0: every frame)."""
    most = max(2, math.floor(fps * MOST_S + 0.5)) if stride == "auto" else int(stride)
    return max(1, min(most, hold_frames + 1))


def drift(before: np.ndarray, after: np.ndarray) -> float:
    """How far the boxes of one look are from those of another, in shares of a box's size:
    each box's nearest partner on the other side (centre shift and size change per axis, over
    the larger of the two), the worst box's; inf when a box has no partner at all."""
    before, after = np.asarray(before, np.float32).reshape(-1, 4), np.asarray(after, np.float32).reshape(-1, 4)
    if not len(before) or not len(after):
        return 0.0 if len(before) == len(after) else math.inf
    size_a, size_b = before[:, 2:] - before[:, :2], after[:, 2:] - after[:, :2]
    size = np.maximum(np.maximum(size_a[:, None], size_b[None]), 1.0)  # (A, B, 2)
    shift = np.abs((before[:, None, :2] + before[:, None, 2:]) - (after[None, :, :2] + after[None, :, 2:])) / 2
    grow = np.abs(size_a[:, None] - size_b[None])
    apart = (np.maximum(shift, grow) / size).max(-1)  # (A, B)
    return float(max(apart.min(1).max(), apart.min(0).max()))


class Stride:
    """plan(indices, cuts) -> the positions to look at first; gaps(looks) -> the positions to
    look at besides (`fill`); learns the next stride from what both found.

    `must(index)`: a frame always looked at (a ZIP capture). Positions after the last look of
    a call wait for the next call (DetectStage carries them), unless `final`."""

    def __init__(self, most: int, must: Callable[[int], bool] = lambda index: False):
        self.most = max(1, most)
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
        `boxes[j]`: what the look at position looks[j] found."""
        self.looked += len(looks)
        if self.most == 1 or not looks:
            return []
        filled = []
        sides = ([(-1, self.last[0], self.last[1])] if self.last is not None else []) + \
            [(k, indices[k], b) for k, b in zip(looks, boxes)]
        for (ka, a, box_a), (kb, b, box_b) in zip(sides, sides[1:]):
            if b - a >= 2 and (cuts[kb] or drift(box_a, box_b) > STILL):
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
            pair = drift(box_a, box_b) / max(1, b - a)
            rate = pair if rate == math.inf else max(rate, pair)
        self.gap = self.most if rate == 0 else max(1, min(self.most, math.floor(STILL / rate))) \
            if math.isfinite(rate) else 1
        self.last = sides[-1][1:]
