"""The audit's detectors: fresh eyes on the written frames.

Faces: CenterFace on each written frame at its own full resolution (the run may have seen
a 640-px copy), at FACE_CONF. A frame longer than WHOLE_PX is looked at in tiles of up to
TILE_PX at full resolution (tiles as the detail scan makes them, detect/tiles.py), plus the whole
frame at 640 for faces larger than the tiles' overlap: CenterFace on a whole 4K frame took
~1.1 GB of activations, more than the rest of the run; on its 1088x1184 tiles ~0.2 GB
(docs/memory.md). Measured (docs/audit.md) on the shipped faces clip
(ui/assets/faces_clip.mp4) and Megamind.avi, run with the face target and audited at 0.12:
our mosaics scored at most 0.28; detections outside every mask on clean runs at most 0.19
(faces clip) and 0.30 (Megamind, one frame of 54); real faces left uncovered on purpose
0.30-0.91. 0.3 catches those; the masks' own cover test (check.py) keeps mosaics out anyway.

People (person and silhouette targets): a model other than the one that made the masks. When
YOLO made them, the bundled SSDLite-MobileNetV2 (models/ssdlite.py); when SSDLite made them
(the offline fallback), no independent person model is at hand offline and only faces are
audited; the report says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..detections import Detections
from ..errors import MosaicError
from ..settings import BUNDLED_PERSON_MODEL, FACE_MODEL, Settings

FACE_CONF = 0.3
PERSON_CONF = 0.5
SSDLITE_MODEL = BUNDLED_PERSON_MODEL
PERSON_TARGETS = ("person", "silhouette")
# faces on frames longer than WHOLE_PX are looked at in tiles of at most TILE_PX: at 4K eight
# of 1088x1184 (24 % more pixels than the frame, from their overlap); 1080p stays whole
WHOLE_PX, TILE_PX = 2048, 1280


@dataclass
class Auditor:
    name: str  # "face" | "person"
    model: str  # the model's name as the report gives it
    threshold: float
    detector: Any  # .detect(list of BGR frames) -> list of Detections in those frames' pixels
    model_file: Any = None  # Path of its weights, hashed in the report


def _device(settings: Settings) -> str:
    return settings.device if settings.device in ("cpu", "cuda") else "auto"


def face_auditor(settings: Settings) -> Auditor:
    from ..models.face import face_model_path, load_face_detector

    face = Settings(target="face", model=FACE_MODEL, device=_device(settings), conf=FACE_CONF, detail="fast")
    return Auditor("face", "CenterFace", FACE_CONF, TiledFaces(load_face_detector(face)), face_model_path(FACE_MODEL))


def person_auditor(settings: Settings, masks_model: str | None = None) -> tuple[Auditor | None, str | None]:
    """The independent person model for this run, or None and the reason there is none.
    `masks_model`: the model that made the masks (Result.model; SSDLite when the offline
    fallback ran in place of YOLO)."""
    if settings.target not in PERSON_TARGETS:
        return None, None  # faces and heads: the rest of a person is meant to show
    made_by = masks_model if masks_model is not None else settings.model
    if settings.detections_csv is None and SSDLITE_MODEL in str(made_by):
        return None, ("the masks came from the bundled person model (SSDLite) itself; no other "
                      "person model is available offline, so only faces were audited")
    try:
        from ..models.ssdlite import load_ssdlite_detector  # noqa: PLC0415 - optional, heavy
        from ..models.weights import SSDLITE_PERSON_PB
    except ImportError:
        return None, "the bundled person model is not installed here; only faces were audited"
    person = Settings(model=SSDLITE_MODEL, device="cpu", conf=PERSON_CONF, detail="fast")
    try:
        detector = TiledPersons(load_ssdlite_detector(person))
    except MosaicError as err:
        return None, f"the bundled person model did not load ({err}); only faces were audited"
    return Auditor("person", "SSDLite-MobileNetV2 (person), whole frame and 2x2 tiles", PERSON_CONF, detector,
                   SSDLITE_PERSON_PB), None


class TiledPersons:
    """SSDLite sees 300x300: on a large frame a far person shrinks to a few pixels. It looks
    at the whole frame and, past TILE_FROM pixels a side, at 2x2 overlapping tiles too (each
    nearer its own size); boxes found twice are merged (NMS)."""

    TILE_FROM, OVERLAP = 600, 0.2

    def __init__(self, detector):
        self.detector = detector

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        from ..models.face import nms

        out = []
        for frame in frames:
            height, width = frame.shape[:2]
            crops, offsets = [frame], [(0, 0)]
            if max(height, width) > self.TILE_FROM:
                th, tw = int(height * (0.5 + self.OVERLAP / 2)), int(width * (0.5 + self.OVERLAP / 2))
                for y in (0, height - th):
                    for x in (0, width - tw):
                        crops.append(frame[y:y + th, x:x + tw])
                        offsets.append((x, y))
            found = self.detector.detect(crops)
            boxes = np.concatenate([d.xyxy + np.array([x, y, x, y], np.float32) for d, (x, y) in zip(found, offsets)])
            scores = np.concatenate([d.score for d in found])
            keep = nms(boxes, scores, 0.5) if len(boxes) else np.zeros(0, np.int64)
            out.append(Detections(boxes[keep], scores[keep]))
        return out


class TiledFaces:
    """CenterFace at each frame's full resolution: the whole frame at once up to WHOLE_PX
    a side (1080p and below), else the fewest full-resolution tiles of up to TILE_PX (at 4K
    eight of 1088x1184, overlapping by 170-210 px) and the whole frame at the model's size,
    which sees every face larger than the overlap; merged as the scan merges (a face found
    twice is one, halves cut by a tile's inner edge are joined)."""

    def __init__(self, detector):
        self.whole, self.full = detector, detector.at_full_size()

    def detect(self, frames: list[np.ndarray]) -> list[Detections]:
        from ..detect.scan import FACE_IOU
        from ..detect.tiles import cut_edges, merge, plan_tiles, to_frame

        out = []
        for frame in frames:
            frame_hw = tuple(frame.shape[:2])
            if max(frame_hw) <= WHOLE_PX:
                out.extend(self.full.detect([frame]))
                continue
            tiles = plan_tiles(frame_hw, self.whole.key.imgsz, TILE_PX)
            parts = self.whole.detect([frame])
            cuts = [np.zeros(len(parts[0]), bool)]
            for tile, found in zip(tiles, self.full.detect([tile.crop(frame) for tile in tiles])):
                parts.append(to_frame(found, tile))
                cuts.append(cut_edges(found.xyxy, tile, frame_hw))
            out.append(merge(parts, np.concatenate(cuts), FACE_IOU))
        return out
