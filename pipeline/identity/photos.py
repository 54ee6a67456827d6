"""Reference photos (`--keep-face` / `--only-face`): each must show exactly one face.

Every photo is checked before any work starts: missing, unreadable, no face, or several
faces is one InputError naming the photo, and nothing is written. The face is found with
our CenterFace detector (pipeline/models/face.py), the same one the face target runs, then
described by dlib (embed.py). Only the descriptors are kept, in memory.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .embed import FaceEmbedder

PHOTO_CONF = 0.5  # a reference photo is a clear portrait: only confident faces count
MIN_FACE_PX = 24  # smaller than this and the descriptor is noise
SECOND_FACE_SHARE = 0.25  # a face under a quarter of the largest's area is background, not "several"
MAX_PHOTO_BYTES = 40_000_000

FaceFinder = Callable[[np.ndarray], list[tuple[float, float, float, float]]]


@dataclass(frozen=True)
class Reference:
    """One reference photo's face: its name (for messages) and descriptor (memory only)."""

    name: str
    descriptor: np.ndarray

    def __repr__(self) -> str:  # never print a descriptor, not even in a traceback
        return f"Reference({self.name!r})"


def face_finder(conf: float = PHOTO_CONF, square: int | None = None) -> FaceFinder:
    """image (BGR) -> face boxes, largest first, from CenterFace at its default size. With
    `square` (a multiple of 32), each image is first padded to a square (below and to the
    right, so boxes keep their coordinates) and seen at `square` px a side: one input shape
    for images of every size and aspect (the tops of person boxes), where the default size
    compiles the engine again for each new aspect (~0.5 s each) and blows small crops up to
    640 px."""
    from ..models.face import load_face_detector
    from ..settings import Settings

    detector = load_face_detector(Settings(target="face", conf=conf, device="cpu", imgsz=square or 640))

    def find(image: np.ndarray) -> list[tuple[float, float, float, float]]:
        h, w = image.shape[:2]
        if square and h != w:
            image = cv2.copyMakeBorder(image, 0, max(h, w) - h, 0, max(h, w) - w, cv2.BORDER_CONSTANT, value=0)
        found = detector.detect([image])[0]
        boxes = [(float(b[0]), float(b[1]), float(min(b[2], w)), float(min(b[3], h))) for b in found.xyxy
                 if b[0] < w and b[1] < h]
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))

    return find


def read_photo(path: Path) -> np.ndarray:
    """The photo as BGR; InputError when it is missing, too big or not a picture."""
    if not path.is_file():
        raise InputError(f"Face photo {path.name or path} does not exist", key="err.face_photo_missing",
                         values={"name": path.name or str(path)})
    if path.stat().st_size > MAX_PHOTO_BYTES:
        raise InputError(f"Face photo {path.name} is larger than {MAX_PHOTO_BYTES // 1_000_000} MB",
                         key="err.face_photo_unreadable", values={"name": path.name})
    image = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"Face photo {path.name} is not a picture that can be read (JPEG, PNG, ...)",
                         key="err.face_photo_unreadable", values={"name": path.name})
    return image


def the_face(path: Path, image: np.ndarray, find: FaceFinder) -> tuple[float, float, float, float]:
    """The photo's one face; InputError for none or several clear ones."""
    boxes = [b for b in find(image) if min(b[2] - b[0], b[3] - b[1]) >= MIN_FACE_PX]
    if not boxes:
        raise InputError(f"Face photo {path.name} shows no face large enough to recognise "
                         f"(at least {MIN_FACE_PX} px): use a clear photo of one face",
                         key="err.face_photo_none", values={"name": path.name})
    largest = (boxes[0][2] - boxes[0][0]) * (boxes[0][3] - boxes[0][1])
    others = [b for b in boxes[1:] if (b[2] - b[0]) * (b[3] - b[1]) >= SECOND_FACE_SHARE * largest]
    if others:
        raise InputError(f"Face photo {path.name} shows {len(others) + 1} faces: crop it to the one "
                         "person it is for", key="err.face_photo_several",
                         values={"name": path.name, "count": len(others) + 1})
    return boxes[0]


def load_references(paths: Sequence[Path | str], find: FaceFinder | None = None,
                    embedder: FaceEmbedder | None = None) -> tuple[Reference, ...]:
    """One Reference per photo, in order. All photos are read and checked first, so a bad
    third photo fails before the first is described."""
    paths = [Path(p) for p in paths]
    images = [read_photo(p) for p in paths]
    if not paths:
        return ()
    find = find or face_finder()
    boxes = [the_face(p, image, find) for p, image in zip(paths, images)]
    embedder = embedder or FaceEmbedder.load()
    return tuple(Reference(p.name, embedder.describe(image, box)) for p, image, box in zip(paths, images, boxes))
