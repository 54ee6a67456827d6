"""Keeping people masked across detector misses: an IoU tracker plus a hold window.

A detector misses a person now and then (motion blur, occlusion); in a video one unmasked
frame can identify someone. So each track's box is also applied to the frames up to
`hold` frames after it was last seen and `hold` frames before it first appears; across a
short gap the box is interpolated between the two sightings. That needs `hold` frames of
look-ahead, so TemporalHold delays frames by that much (bounded memory). A live stream
cannot wait for it: with `look_ahead=False` every frame is released as it is pushed, and
tracks are held only after they were last seen.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from .detections import HELD, Detections

IOU_MATCH = 0.3


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (N,4) and b (M,4), xyxy."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class _Track:
    track_id: int
    sightings: collections.deque = field(default_factory=collections.deque)  # (frame index, box)


class IoUTracker:
    """Greedy IoU matching of each frame's boxes to tracks seen within `max_gap` frames."""

    def __init__(self, max_gap: int):
        self.max_gap = max_gap
        self.tracks: dict[int, _Track] = {}
        self._next_id = 1

    def update(self, index: int, detections: Detections) -> np.ndarray:
        """Track ids (N,) for this frame's boxes, in order."""
        live = [t for t in self.tracks.values() if index - t.sightings[-1][0] <= self.max_gap + 1]
        ids = np.zeros(len(detections), np.int32)
        if live and len(detections):
            last_boxes = np.array([t.sightings[-1][1] for t in live], np.float32)
            overlap = iou_matrix(detections.xyxy, last_boxes)
            for flat in np.argsort(-overlap, axis=None):  # best pairs first
                d, t = divmod(int(flat), len(live))
                if overlap[d, t] < IOU_MATCH:
                    break
                if ids[d] == 0 and live[t] is not None:
                    ids[d] = live[t].track_id
                    live[t] = None
        for d in range(len(detections)):
            if ids[d] == 0:
                ids[d] = self._next_id
                self.tracks[self._next_id] = _Track(self._next_id)
                self._next_id += 1
            self.tracks[int(ids[d])].sightings.append((index, detections.xyxy[d].copy()))
        return ids

    def forget_before(self, index: int) -> None:
        """Drop sightings no frame at or after `index` can need."""
        for track_id in list(self.tracks):
            sightings = self.tracks[track_id].sightings
            while len(sightings) > 1 and sightings[1][0] <= index - self.max_gap - 1:
                sightings.popleft()
            if sightings[-1][0] < index - 2 * self.max_gap - 2:
                del self.tracks[track_id]


class TemporalHold:
    """push(index, item, detections) -> the items now ready, with their Detections (track
    ids set, held boxes added with kind 'held'), in order.
    `hold` and `track_gap` are in source frames; hold 0 passes detections through with
    track ids only. `look_ahead=False` (live): nothing is delayed, each push returns its own
    frame, held only by the sightings before it."""

    def __init__(self, hold: int, track_gap: int = 0, look_ahead: bool = True):
        self.hold = hold
        self.look_ahead = look_ahead
        # ids survive gaps of track_gap frames even when the hold is shorter (or off)
        self.tracker = IoUTracker(max_gap=max(hold, track_gap))
        self._pending: collections.deque = collections.deque()  # (index, item, detections, ids)

    def push(self, index: int, item, detections: Detections) -> list:
        ids = self.tracker.update(index, detections)
        self._pending.append((index, item, detections, ids))
        if not self.look_ahead:
            return self.flush()
        ready = []
        while self._pending and self._pending[0][0] < index - self.hold:
            ready.append(self._release())
        return ready

    def flush(self) -> list:
        ready = []
        while self._pending:
            ready.append(self._release())
        return ready

    def _release(self):
        index, item, detections, ids = self._pending.popleft()
        parts = [detections.with_tracks(ids)]
        if self.hold > 0:
            present = set(int(i) for i in ids)
            held = [(track.track_id, box) for track in self.tracker.tracks.values()
                    if track.track_id not in present
                    for box in [self._held_box(track, index)] if box is not None]
            if held:
                parts.append(Detections(
                    xyxy=np.array([box for _, box in held], np.float32),
                    score=np.zeros(len(held), np.float32),
                    track_id=np.array([t for t, _ in held], np.int32),
                    kind=np.full(len(held), HELD, object),
                ))
        self.tracker.forget_before(index)
        return item, Detections.concat(parts) if len(parts) > 1 else parts[0]

    def _held_box(self, track: _Track, index: int) -> np.ndarray | None:
        """The track's box at `index` when it was seen within `hold` frames either side:
        interpolated between the sightings around it, else the nearest sighting's box."""
        before = after = None
        for seen_at, box in track.sightings:
            if seen_at < index:
                before = (seen_at, box)
            elif seen_at > index and after is None:
                after = (seen_at, box)
        near_before = before is not None and index - before[0] <= self.hold
        near_after = after is not None and after[0] - index <= self.hold
        if near_before and near_after:
            t = (index - before[0]) / (after[0] - before[0])
            return (1 - t) * before[1] + t * after[1]
        if near_before:
            return before[1]
        if near_after:
            return after[1]
        return None
