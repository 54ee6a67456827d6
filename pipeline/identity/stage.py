"""The identity step of a run: people numbered, reference photos matched, boxes left out.

    identity = Identity.for_settings(settings)   # reads and checks the photos: before any work
    identity.observe(index, image, tracked)      # each frame, as it is tracked (detect stage)
    shown = identity.apply(detections)           # each frame, as the hold releases it

`apply` sets every box's person number and then, with --keep-face, drops the boxes of the
people the photos show (they stay visible, held boxes too), or with --only-face keeps only
theirs. A person is matched from the views seen so far, the hold's look-ahead included, so
a track is decided a hold's length before its first frame is rendered.
"""
from __future__ import annotations

import logging

import numpy as np

from ..detections import Detections
from ..errors import ModelError
from ..settings import Settings
from .embed import INSTALL_HINT, FaceEmbedder, model_folder
from .people import People
from .photos import face_finder, load_references

# the top of a person box is looked for a face in as a square of this many px: small people's
# heads are seen larger, and every crop is one input shape for CenterFace's engine
PERSON_TOP_PX = 320

log = logging.getLogger(__name__)

KEEP, ONLY = "keep", "only"


class Identity:
    def __init__(self, people: People, mode: str | None):
        self.people, self.mode = people, mode

    @classmethod
    def for_settings(cls, settings: Settings) -> Identity | None:
        """None when people are not grouped and no photo is given. Bad photos raise
        InputError; missing dlib raises ModelError when photos are given, and with photos
        absent only turns the person column off (logged once)."""
        photos = settings.face_photos
        if not photos and not settings.people:
            return None
        if photos:  # read and described now: a bad photo stops the run before any work
            embedder = FaceEmbedder.load()
            references = load_references(photos, find=face_finder(), embedder=embedder)
            describe = embedder.describe
        else:  # grouping only: the models load on the first face, so a run with nobody pays nothing
            try:
                model_folder()
                import dlib  # noqa: F401 - only whether it is there
            except (ModelError, ImportError):
                log.warning("People are not grouped by face (no person column): %s", INSTALL_HINT)
                return None
            references, describe = (), _lazy_describe()
        inside = None if settings.target == "face" else _lazy_finder(settings.conf)
        people = People(describe, references, settings.face_match, faces_inside=inside,
                        keep_crops=settings.people_record is not None)
        mode = KEEP if settings.keep_faces else ONLY if settings.only_faces else None
        return cls(people, mode)

    def observe(self, index: int, image: np.ndarray, tracked: Detections,
                scale: tuple[float, float] | None = None) -> None:
        self.people.observe(index, image, tracked, scale or (1.0, 1.0))

    def apply(self, detections: Detections) -> Detections:
        labelled = self.people.label(detections)
        if self.mode is None or not len(labelled):
            return labelled
        matched = np.array([bool(t) and self.people.matches(int(t)) for t in labelled.track_id], bool)
        return labelled[~matched] if self.mode == KEEP else labelled[matched]


def _lazy_describe():
    """FaceEmbedder.describe, the models loaded on the first call."""
    def describe(image: np.ndarray, box) -> np.ndarray:
        return FaceEmbedder.load().describe(image, box)

    return describe


def _lazy_finder(conf: float):
    """face_finder(conf), CenterFace loaded on the first call (person boxes: the face inside),
    each top of a person box seen as one square of PERSON_TOP_PX (one engine shape)."""
    loaded = []

    def find(image: np.ndarray) -> list:
        if not loaded:
            loaded.append(face_finder(conf, square=PERSON_TOP_PX))
        return loaded[0](image)

    return find
