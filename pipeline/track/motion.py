"""Where a tracked person is now, from where the detector saw them a moment ago.

A live stream shows each frame before its own detection is done, so the boxes it is covered
with come from an earlier frame. Each track's velocity, from its sightings over the last
half second, moves its box forward over that delay; the box is then the hull of where the
person was and where they are predicted to be (so stopping is covered as well as carrying
on), grown on every side with the delay, by a share of the box's larger side per second:
GROW_PER_S for turns and changes of speed, NEW_TRACK_GROW_PER_S for a track seen once,
whose motion is not known yet (a walker crosses about one body height a second). The
renderer then pads it like any box.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from ..detections import HELD, Detections

VELOCITY_WINDOW_S = 0.5  # sightings this recent give a track's velocity
GROW_PER_S = 0.25  # each side grows by this share of the box's larger side per second of delay
NEW_TRACK_GROW_PER_S = 1.0  # the same for a track whose velocity is not known yet
MAX_SPEED = 3.0  # box sizes per second; a faster estimate is a mismatch, clamped
FORGET_S = 10.0  # a track unseen this long is dropped


class Motion:
    """Each track's recent sightings (time, box), fed with every detected frame in order."""

    def __init__(self) -> None:
        self.seen: dict[int, collections.deque] = {}

    def update(self, time_s: float, detections: Detections) -> None:
        for box, track, kind in zip(detections.xyxy, detections.track_id, detections.kind):
            if kind == HELD or not track:
                continue
            seen = self.seen.setdefault(int(track), collections.deque())
            seen.append((time_s, box.copy()))
            while len(seen) > 2 and time_s - seen[1][0] >= VELOCITY_WINDOW_S:
                seen.popleft()
        for track in [t for t, s in self.seen.items() if time_s - s[-1][0] > FORGET_S]:
            del self.seen[track]

    def velocity(self, track: int) -> np.ndarray:
        """(4,) pixels per second of the track's x1, y1, x2, y2; zero with one sighting."""
        seen = self.seen.get(int(track))
        if not seen or len(seen) < 2 or seen[-1][0] <= seen[0][0]:
            return np.zeros(4, np.float32)
        (t0, b0), (t1, b1) = seen[0], seen[-1]
        v = (b1 - b0) / (t1 - t0)
        size = np.array([b1[2] - b1[0], b1[3] - b1[1]] * 2, np.float32)
        return np.clip(v, -MAX_SPEED * size, MAX_SPEED * size).astype(np.float32)

    def forecast(self, time_s: float, detections: Detections) -> "Forecast":
        """What `at()` needs to place these detections (of the frame at `time_s`) later.
        A held box is the track's last sighting, so it moves on from that sighting's time."""
        n = len(detections)
        anchor = np.full(n, time_s, np.float64)
        velocity = np.zeros((n, 4), np.float32)
        rate = np.full(n, NEW_TRACK_GROW_PER_S, np.float32)
        for i, (track, kind) in enumerate(zip(detections.track_id, detections.kind)):
            seen = self.seen.get(int(track)) if track else None
            if not seen:
                continue
            velocity[i] = self.velocity(track)
            if len(seen) >= 2:
                rate[i] = GROW_PER_S
            if kind == HELD:
                anchor[i] = seen[-1][0]
        size = detections.xyxy[:, 2:] - detections.xyxy[:, :2]
        grow = rate * np.max(size, axis=1) if n else rate  # px per second, on each side
        return Forecast(time_s, detections, anchor, velocity, grow)


@dataclass(frozen=True)
class Forecast:
    """One detected frame's boxes, ready to be placed on any later frame. Immutable, so the
    detection thread can hand it to the render thread without a copy."""

    time_s: float  # of the detected frame
    detections: Detections
    anchor_s: np.ndarray  # (N,) when each box was where it is
    velocity: np.ndarray  # (N, 4) px/s
    grow: np.ndarray  # (N,) px/s on each side

    def at(self, time_s: float) -> Detections:
        """The boxes for a frame shown at `time_s`: moved, hulled with where they were,
        grown by the delay. On the detected frame itself: the boxes (and outlines) as found."""
        d = self.detections
        dt = (time_s - self.anchor_s)[:, None]
        if not np.any(dt):
            return d
        moved = d.xyxy + self.velocity * np.clip(dt, 0, None)
        lo = np.minimum(d.xyxy[:, :2], moved[:, :2])
        hi = np.maximum(d.xyxy[:, 2:], moved[:, 2:])
        grow = self.grow[:, None] * np.abs(dt)
        xyxy = np.concatenate([lo - grow, hi + grow], axis=1).astype(np.float32)
        # an outline is exact only where it was found; elsewhere its (grown) box is covered
        outlines = tuple(o if t == 0 else None for o, t in zip(d.outlines, dt[:, 0]))
        return Detections(xyxy, d.score, d.class_id, d.track_id, d.kind, outlines)
