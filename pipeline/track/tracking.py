"""Keeping people masked across detector misses: ByteTrack ids plus a hold window.

Tracking only names people; it never decides who is masked. Every detection is covered
whether or not ByteTrack keeps it: one it does not output (a new, unconfirmed track, or a
low score that matched nothing) still gets an id of its own. A detector misses a person now
and then (motion blur, occlusion), and in a video one unmasked frame can identify someone, so
each track's box is also applied up to `hold` frames after it was last seen and before it
first appears, and across a short gap it is interpolated between the two sightings. That
needs `hold` frames of look-ahead, so TemporalHold delays frames by that much (bounded
memory). Boxes a person drew (`manual` rows of a replayed CSV, known in advance) are
interpolated between a track's drawn boxes however far apart, and held like detections.
A live stream cannot wait for the look-ahead: with `look_ahead=False` every frame is
released as it is pushed, and tracks are held only after they were last seen.
Track ids come from ByteTrackIds (ids.py).
"""
from __future__ import annotations

import bisect
import collections

import numpy as np

from ..detections import HELD, MANUAL, Detections
from .ids import ByteTrackIds


class TemporalHold:
    """push(index, item, detections) -> the items now ready, with their Detections (track
    ids set, held boxes added with kind 'held'), in order.

    `hold` and `track_gap` are in source frames; hold 0 passes detections through with track
    ids only. Detections that already carry a track id (a replayed CSV's) keep it; the others
    get ids from ByteTrack, counted from `first_id`. `keyframes` maps a track id to its drawn
    (manual) boxes [(frame, xyxy)], known up front: the track is covered on every frame from
    its first to its last drawn box, interpolated linearly, and held `hold` frames beyond.
    `look_ahead=False` (live): nothing is delayed, each push returns its own frame, held
    only by the sightings before it. `lead` (default `hold`) frames before its first sighting
    a track is covered too (_held_box; inside `bounds`, the frame's width and height): a
    person a rolling tile scan finds late (detect/scan.py) is covered from their first frame.
    Between two sightings at most `hull` frames apart (the detection stride's gaps,
    detect/stride.py) a box is the hull of both, not their average: whatever way the person
    went between them, as long as it was one way, they are inside."""

    def __init__(self, hold: int, track_gap: int = 0, conf: float = 0.2, first_id: int = 1,
                 keyframes: dict[int, list[tuple[int, np.ndarray]]] | None = None, look_ahead: bool = True,
                 lead: int | None = None, bounds: tuple[int, int] | None = None, hull: int = 1):
        self.hold = hold
        self.hull = hull
        self.bounds = bounds  # (width, height): a box run back by its motion stays in the frame
        self.lead = hold if lead is None else max(hold, lead)
        self.look_ahead = look_ahead
        # ids survive gaps of track_gap frames even when the hold is shorter (or off)
        self.max_gap = max(self.lead, track_gap)
        self.tracker = ByteTrackIds(self.max_gap, conf, first_id)
        self.keyframes = {int(t): sorted(((int(f), np.asarray(b, np.float32)) for f, b in rows), key=lambda r: r[0])
                          for t, rows in (keyframes or {}).items() if rows}
        self.sightings: dict[int, collections.deque] = {}  # track id -> (frame index, box), oldest first
        self._pending: collections.deque = collections.deque()  # (index, item, detections)
        self.cuts: list[int] = []  # first frames of new shots (pipeline/track/cuts.py), ascending

    def cut(self, index: int) -> None:
        """Frame `index` starts a new shot: no track id and no held box crosses it."""
        self.tracker.reset()
        if not self.cuts or index > self.cuts[-1]:
            self.cuts.append(index)

    def track(self, index: int, detections: Detections) -> Detections:
        """The detections with a track id each: call once per frame, then `add`."""
        ids = detections.track_id.copy()
        untracked = np.flatnonzero(ids == 0)
        ids[untracked] = self.tracker.update(index, detections.xyxy[untracked], detections.score[untracked],
                                             detections.class_id[untracked])
        return detections.with_tracks(ids)

    def push(self, index: int, item, detections: Detections) -> list:
        return self.add(index, item, self.track(index, detections))

    def add(self, index: int, item, detections: Detections) -> list:
        """Like push, for detections `track` already gave ids."""
        ids = detections.track_id
        for box, track, kind in zip(detections.xyxy, ids, detections.kind):
            if kind == HELD:  # not a sighting: a box given for a frame not looked at (detect/stride.py)
                continue
            if not (kind == MANUAL and int(track) in self.keyframes):  # those are held from the keyframes
                self.sightings.setdefault(int(track), collections.deque()).append((index, box.copy()))
        self._pending.append((index, item, detections))
        if not self.look_ahead:
            return self.flush()
        ready = []
        while self._pending and self._pending[0][0] < index - self.lead:
            ready.append(self._release())
        return ready

    def flush(self) -> list:
        ready = []
        while self._pending:
            ready.append(self._release())
        return ready

    def _release(self):
        index, item, detections = self._pending.popleft()
        # seen on this frame; a held box given for it (a bridge, detect/stride.py) does not count
        present = set(int(i) for i, kind in zip(detections.track_id, detections.kind) if kind != HELD)
        held: list[tuple[int, np.ndarray]] = []
        if self.lead > 0:
            for track_id, seen in self.sightings.items():
                box = None if track_id in present else self._held_box(seen, index)
                if box is not None:
                    held.append((track_id, box))
        for track_id, rows in self.keyframes.items():
            box = self._drawn_box(rows, index)
            if box is not None:
                held.append((track_id, box))
        self._forget_before(index)
        if not held:
            return item, detections
        return item, Detections.concat([detections, Detections(
            xyxy=np.array([box for _, box in held], np.float32),
            score=np.zeros(len(held), np.float32),
            track_id=np.array([t for t, _ in held], np.int32),
            kind=np.full(len(held), HELD, object),
        )])

    def _held_box(self, seen, index: int) -> np.ndarray | None:
        """A track's box at `index` when it was seen within `hold` frames before or `lead`
        after: interpolated between the sightings around it, else the nearest sighting's box;
        before a track's first sighting, that box joined with the box its motion over the
        sightings after puts it in then (a person walking in covered on both hypotheses:
        standing there, or moving on as seen)."""
        before = after = later = None
        start = self.cuts[bisect.bisect_right(self.cuts, index) - 1] if self.cuts and self.cuts[0] <= index else None
        end_at = bisect.bisect_right(self.cuts, index)
        end = self.cuts[end_at] if end_at < len(self.cuts) else None
        for seen_at, box in seen:
            if (start is not None and seen_at < start) or (end is not None and seen_at >= end):
                continue  # another shot
            if seen_at < index:
                before = (seen_at, box)
            elif seen_at > index:
                after = after or (seen_at, box)
                later = (seen_at, box)
        near_before = before is not None and index - before[0] <= self.hold
        near_after = after is not None and after[0] - index <= self.lead
        if near_before and near_after:
            if after[0] - before[0] <= self.hull:
                return np.concatenate([np.minimum(before[1][:2], after[1][:2]), np.maximum(before[1][2:], after[1][2:])])
            return _between(before, after, index)
        if near_before:
            return before[1]
        if near_after and later[0] > after[0]:
            back = after[1] + (after[1] - later[1]) * ((after[0] - index) / (later[0] - after[0]))
            if self.bounds is not None:
                back = back.clip(0, np.tile(np.asarray(self.bounds, np.float32), 2))
            return np.concatenate([np.minimum(after[1][:2], back[:2]), np.maximum(after[1][2:], back[2:])])
        if near_after:
            return after[1]
        return None

    def _drawn_box(self, rows: list[tuple[int, np.ndarray]], index: int) -> np.ndarray | None:
        """A drawn track's box at `index`: None on its own keyframes (the row is there),
        interpolated between them, the end boxes `hold` frames beyond."""
        at = bisect.bisect_left(rows, index, key=lambda r: r[0])
        if at < len(rows) and rows[at][0] == index:
            return None
        if 0 < at < len(rows):
            return _between(rows[at - 1], rows[at], index)
        if at == 0 and rows[0][0] - index <= self.hold:
            return rows[0][1]
        if at == len(rows) and index - rows[-1][0] <= self.hold:
            return rows[-1][1]
        return None

    def _forget_before(self, index: int) -> None:
        """Drop sightings no frame at or after `index` can need."""
        for track_id in list(self.sightings):
            seen = self.sightings[track_id]
            while len(seen) > 1 and seen[1][0] <= index - self.max_gap - 1:
                seen.popleft()
            if seen[-1][0] < index - 2 * self.max_gap - 2:
                del self.sightings[track_id]


def _between(before: tuple[int, np.ndarray], after: tuple[int, np.ndarray], index: int) -> np.ndarray:
    t = (index - before[0]) / (after[0] - before[0])
    return ((1 - t) * before[1] + t * after[1]).astype(np.float32)


def drawn_keyframes(boxes_by_frame: dict[int, Detections]) -> dict[int, list[tuple[int, np.ndarray]]]:
    """The manual rows with a track id, by track: what TemporalHold's `keyframes` takes."""
    keyframes: dict[int, list] = {}
    for frame, found in boxes_by_frame.items():
        for box, track, kind in zip(found.xyxy, found.track_id, found.kind):
            if kind == MANUAL and track:
                keyframes.setdefault(int(track), []).append((frame, box))
    return keyframes
