"""People: tracks whose faces match are one person, numbered across tracks, shots and cuts.

A track is described on a few good views only (embed.py: ~10 ms a face on one core of a
2-core AMD EPYC, ~75 ms where dlib runs its network itself):
its first face of at least MIN_FACE_PX, then each view clearly better than the best one so
far (a larger face at a higher detector score: closer and more frontal), at most
VIEWS_PER_TRACK. When a track is first described it joins the nearest person within the
threshold whose tracks are not on screen at the same time (two faces in one frame are two
people); else it starts a person. A track never described (never seen from the front, or
too small) is a person of its own. A person matches a reference photo when any of its
descriptors is within the threshold of the photo's.

The threshold comes from benchmarks/identity_distances.py on the sample photos (AMD EPYC):
different people were 0.574 apart at the closest (median 0.707); the same face scaled to
60 %, darkened, blurred or mirrored stayed within 0.524 (0.42 for mirrors alone), and a face
filmed zoomed and panned in the sample clip within 0.374. DEFAULT_THRESHOLD sits between.

Descriptors are biometric: they stay in this object, in memory, for the run. Its repr,
person numbers and match flags carry none of them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..detections import HELD, Detections
from ..settings import FACE_MATCH
from .photos import Reference

DEFAULT_THRESHOLD = FACE_MATCH  # 0.5, Euclidean; dlib's examples use 0.6, which merges strangers here
MIN_FACE_PX = 20  # smaller faces give descriptors that match anyone
VIEWS_PER_TRACK = 4
BETTER_VIEW = 1.3  # a view is described when its quality beats the best so far by this factor
PERSON_DESCRIPTORS = 16  # kept per person, first come
FACE_SEARCH_TOP = 0.5  # for person boxes: the face is looked for in the top half
CROP_PX = 160  # the per-person record's face pictures, long side

Describe = Callable[[np.ndarray, tuple], np.ndarray]
FindFaces = Callable[[np.ndarray], list]


@dataclass
class _Track:
    first: int
    last: int
    person: int = 0
    best_quality: float = 0.0
    views: int = 0


@dataclass
class _Person:
    descriptors: list = field(default_factory=list)
    tracks: set = field(default_factory=set)
    matches: bool = False  # within the threshold of a reference photo
    crop: np.ndarray | None = None  # best face view, small (only with keep_crops: the per-person record)
    crop_quality: float = 0.0


class People:
    """observe(index, image, detections) on each frame in stream order (detections tracked,
    boxes in `image` pixels times `scale`); person_of(track) and matches(track) after."""

    def __init__(self, describe: Describe, references: Sequence[Reference] = (),
                 threshold: float = DEFAULT_THRESHOLD, faces_inside: FindFaces | None = None,
                 keep_crops: bool = False):
        self.describe, self.threshold = describe, float(threshold)
        self.keep_crops = keep_crops  # each person's best face picture, for the opt-in record
        self.references = tuple(references)
        self.faces_inside = faces_inside  # None: boxes are faces; else finds faces in a person crop
        self.tracks: dict[int, _Track] = {}
        self.persons: dict[int, _Person] = {}
        self._next_person = 1

    def __repr__(self) -> str:
        return f"People({len(self.persons)} persons, {len(self.tracks)} tracks)"

    # -- seeing -------------------------------------------------------------------------
    def observe(self, index: int, image: np.ndarray, detections: Detections,
                scale: tuple[float, float] = (1.0, 1.0)) -> None:
        sx, sy = scale
        for box, score, track_id, kind in zip(detections.xyxy, detections.score, detections.track_id,
                                              detections.kind):
            if not track_id or kind == HELD:
                continue
            track = self.tracks.setdefault(int(track_id), _Track(index, index))
            track.last = index
            if track.views >= VIEWS_PER_TRACK:
                continue
            small = (box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy)
            side = min(small[2] - small[0], small[3] - small[1])
            quality = side * side * max(float(score), 0.05)
            if side < MIN_FACE_PX or quality < BETTER_VIEW * track.best_quality:
                continue
            face = small if self.faces_inside is None else self._face_in(image, small)
            track.best_quality = quality
            if face is None:
                continue
            try:
                vector = self.describe(image, face)
            except ValueError:
                continue
            track.views += 1
            self._add(int(track_id), track, vector)
            person = self.persons[track.person]
            if self.keep_crops and quality > person.crop_quality:
                person.crop, person.crop_quality = _small_crop(image, face), quality

    def _face_in(self, image: np.ndarray, box) -> tuple | None:
        """The largest face in the top of a person box, in image pixels."""
        h, w = image.shape[:2]
        x1, y1 = int(max(0, box[0])), int(max(0, box[1]))
        x2, y2 = int(min(w, box[2])), int(min(h, box[1] + FACE_SEARCH_TOP * (box[3] - box[1])))
        if x2 - x1 < MIN_FACE_PX or y2 - y1 < MIN_FACE_PX:
            return None
        faces = [f for f in self.faces_inside(np.ascontiguousarray(image[y1:y2, x1:x2]))
                 if min(f[2] - f[0], f[3] - f[1]) >= MIN_FACE_PX]
        if not faces:
            return None
        f = faces[0]
        return (f[0] + x1, f[1] + y1, f[2] + x1, f[3] + y1)

    def _add(self, track_id: int, track: _Track, vector: np.ndarray) -> None:
        if not track.person:
            track.person = self._nearest(track_id, track, vector) or self._new_person()
            self.persons[track.person].tracks.add(track_id)
        person = self.persons[track.person]
        if len(person.descriptors) < PERSON_DESCRIPTORS:
            person.descriptors.append(vector)
        if not person.matches and any(_dist(vector, r.descriptor) <= self.threshold for r in self.references):
            person.matches = True

    def _nearest(self, track_id: int, track: _Track, vector: np.ndarray) -> int:
        best, best_d = 0, self.threshold
        for number, person in self.persons.items():
            if any(self._together(track, self.tracks[t]) for t in person.tracks if t != track_id):
                continue  # on screen at the same time: someone else
            d = min((_dist(vector, v) for v in person.descriptors), default=np.inf)
            if d <= best_d:
                best, best_d = number, d
        return best

    @staticmethod
    def _together(a: _Track, b: _Track) -> bool:
        return a.first <= b.last and b.first <= a.last

    def _new_person(self) -> int:
        number, self._next_person = self._next_person, self._next_person + 1
        self.persons[number] = _Person()
        return number

    # -- answers ------------------------------------------------------------------------
    def person_of(self, track_id: int) -> int:
        """The track's person number; a track never described gets a person of its own."""
        track = self.tracks.get(int(track_id))
        if track is None:
            track = self.tracks[int(track_id)] = _Track(-1, -1)
        if not track.person:
            track.person = self._new_person()
            self.persons[track.person].tracks.add(int(track_id))
        return track.person

    def faces(self) -> dict[int, list[np.ndarray]]:
        """Person number -> the face descriptors it was grouped by (people seen with a face),
        for grouping the same people across the segments of one video (batch/join.py).
        In memory only, like every descriptor."""
        return {number: list(person.descriptors) for number, person in self.persons.items() if person.descriptors}

    def matches(self, track_id: int) -> bool:
        track = self.tracks.get(int(track_id))
        return bool(track and track.person and self.persons[track.person].matches)

    def label(self, detections: Detections) -> Detections:
        """The detections with their person numbers set (0 for untracked boxes)."""
        persons = np.array([self.person_of(t) if t else 0 for t in detections.track_id], np.int32)
        return detections.with_persons(persons)


def _small_crop(image: np.ndarray, box, side: int = CROP_PX) -> np.ndarray:
    """The face with a margin, its long side at most `side` px (BGR)."""
    import cv2

    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = 0.25 * (x2 - x1), 0.25 * (y2 - y1)
    h, w = image.shape[:2]
    crop = image[int(max(0, y1 - my)):int(min(h, y2 + my)), int(max(0, x1 - mx)):int(min(w, x2 + mx))]
    scale = min(1.0, side / max(crop.shape[:2]))
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else crop.copy()


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))
