"""The detection models, one job per module:

    letterbox  Geometry (source <-> network pixels) and the reused uint8 batch
    engines    TorchEngine (AutoBackend; FP16 on CUDA), OpenVINOEngine (FP32 on CPU)
    export     the cached dynamic-shape OpenVINO export (file-locked), yaml networks
    network    a loaded network (engine, lock, buffer); device/backend choice
    yolo       YoloDetector, a per-job view of a shared network; the process-wide cache

`load_detector(settings)` is the entry point.
"""
from __future__ import annotations

from ..settings import Settings


def load_detector(settings: Settings):
    """The detector for `settings.target`: a view of the process-wide YOLO network, or
    CenterFace for faces (face.py, on its own engines)."""
    if settings.target == "face":
        from ..face import load_face_detector  # imported only when asked for

        return load_face_detector(settings)
    from .yolo import load_yolo_detector

    return load_yolo_detector(settings)
