"""The audit's detectors: fresh eyes on the written frames.

Faces: CenterFace on each written frame at its own full resolution (the run may have seen
a 640-px copy), at FACE_CONF. Measured (docs/audit.md) on the shipped faces clip
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

from ..settings import FACE_MODEL, Settings

FACE_CONF = 0.3
PERSON_CONF = 0.5
SSDLITE_MODEL = "ssdlite-person"
PERSON_TARGETS = ("person", "silhouette")


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
    detector = load_face_detector(face).at_full_size()
    return Auditor("face", "CenterFace", FACE_CONF, detector, face_model_path(FACE_MODEL))


def person_auditor(settings: Settings) -> tuple[Auditor | None, str | None]:
    """The independent person model for this run, or None and the reason there is none."""
    if settings.target not in PERSON_TARGETS:
        return None, None  # faces and heads: the rest of a person is meant to show
    if SSDLITE_MODEL in str(settings.model) and settings.detections_csv is None:
        return None, ("the masks came from the bundled person model (SSDLite) itself; no other "
                      "person model is available offline, so only faces were audited")
    try:
        from ..models.ssdlite import load_ssdlite_detector  # noqa: PLC0415 - optional, heavy
        from ..models.weights import SSDLITE_PERSON_PB
    except ImportError:
        return None, "the bundled person model is not installed here; only faces were audited"
    person = Settings(model=SSDLITE_MODEL, device=_device(settings), conf=PERSON_CONF, detail="fast")
    detector = load_ssdlite_detector(person)
    return Auditor("person", "SSDLite-MobileNetV2 (person)", PERSON_CONF, detector, SSDLITE_PERSON_PB), None
