"""Detections: what was found in one frame, as validated numpy arrays.

One object for every target and every stage: a detector fills boxes, scores and classes
(and, for silhouettes, outlines); the tracker adds track ids; the hold adds `held` boxes;
a reviewer adds `manual` ones. Arrays are checked on construction, so a stage that builds
a wrong shape fails where it did it, not three threads later.

    >>> import numpy as np
    >>> d = Detections(xyxy=np.array([[10, 20, 50, 120]], np.float32))
    >>> len(d), d.kind.tolist(), d.track_id.tolist()
    (1, ['detected'], [0])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

DETECTED, HELD, MANUAL = "detected", "held", "manual"
KINDS = (DETECTED, HELD, MANUAL)  # seen by the detector, held over a miss, drawn by a person

Outline = tuple  # of (K, 2) float32 polygons in source pixels; one person may be in pieces


def _array(value, dtype, shape_tail: tuple[int, ...], name: str, n: int | None) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.size == 0:
        array = array.reshape((0, *shape_tail))
    if array.shape[1:] != shape_tail or (n is not None and len(array) != n):
        want = f"({n if n is not None else 'N'}{''.join(', ' + str(s) for s in shape_tail)})"
        raise ValueError(f"Detections.{name} must have shape {want}, got {array.shape}")
    return array


@dataclass
class Detections:
    """Boxes found in one frame, in that frame's pixels.

    xyxy (N, 4) float32; score (N,) float32; class_id (N,) int32; track_id (N,) int32,
    0 = not tracked; kind (N,) str, one of KINDS; outlines: N entries, each None (cover the
    box) or a tuple of (K, 2) polygons (cover that shape: a silhouette); person (N,) int32,
    0 = not known (tracks whose faces match share one number, pipeline/identity/)."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    score: np.ndarray | None = None
    class_id: np.ndarray | None = None
    track_id: np.ndarray | None = None
    kind: np.ndarray | None = None
    outlines: tuple | None = None
    person: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xyxy = _array(self.xyxy, np.float32, (4,), "xyxy", None)
        n = len(self.xyxy)
        self.score = _array(np.ones(n) if self.score is None else self.score, np.float32, (), "score", n)
        self.class_id = _array(np.zeros(n) if self.class_id is None else self.class_id, np.int32, (), "class_id", n)
        self.track_id = _array(np.zeros(n) if self.track_id is None else self.track_id, np.int32, (), "track_id", n)
        self.person = _array(np.zeros(n) if self.person is None else self.person, np.int32, (), "person", n)
        kind = np.full(n, DETECTED, object) if self.kind is None else np.asarray(self.kind, object).reshape(-1)
        if len(kind) != n or not all(k in KINDS for k in kind):
            raise ValueError(f"Detections.kind must be {n} of {KINDS}, got {list(kind)!r}")
        self.kind = kind
        outlines = (None,) * n if self.outlines is None else tuple(self.outlines)
        if len(outlines) != n:
            raise ValueError(f"Detections.outlines must have {n} entries, got {len(outlines)}")
        self.outlines = tuple(None if o is None else tuple(np.asarray(p, np.float32).reshape(-1, 2) for p in o)
                              for o in outlines)

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> "Detections":
        return cls()

    @property
    def seen(self) -> np.ndarray:
        """True where the box is not a held one (the detector or a person put it there)."""
        return self.kind != HELD

    def __getitem__(self, keep) -> "Detections":
        """The detections at `keep` (a boolean mask or index array), in that order."""
        index = np.arange(len(self))[keep]
        return Detections(self.xyxy[index], self.score[index], self.class_id[index],
                          self.track_id[index], self.kind[index],
                          tuple(self.outlines[i] for i in index), self.person[index])

    def with_tracks(self, track_id: np.ndarray) -> "Detections":
        return Detections(self.xyxy, self.score, self.class_id, track_id, self.kind, self.outlines, self.person)

    def with_persons(self, person: np.ndarray) -> "Detections":
        return Detections(self.xyxy, self.score, self.class_id, self.track_id, self.kind, self.outlines, person)

    def scaled(self, sx: float, sy: float) -> "Detections":
        """The same detections in a frame resized by (sx, sy): boxes and outlines scale."""
        if sx == 1 and sy == 1:
            return self
        factor = np.array([sx, sy], np.float32)
        return Detections(
            self.xyxy * np.array([sx, sy, sx, sy], np.float32), self.score, self.class_id,
            self.track_id, self.kind,
            tuple(None if o is None else tuple(p * factor for p in o) for o in self.outlines), self.person,
        )

    @classmethod
    def concat(cls, parts: Sequence["Detections"]) -> "Detections":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        return cls(
            np.concatenate([p.xyxy for p in parts]), np.concatenate([p.score for p in parts]),
            np.concatenate([p.class_id for p in parts]), np.concatenate([p.track_id for p in parts]),
            np.concatenate([p.kind for p in parts]), tuple(o for p in parts for o in p.outlines),
            np.concatenate([p.person for p in parts]),
        )
