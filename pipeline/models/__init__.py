"""The detection models, one job per module:

    letterbox  Geometry (source <-> network pixels) and the reused uint8 batch
    engines    TorchEngine (AutoBackend; FP16 on CUDA), OpenVINOEngine (FP32 on CPU)
    export     the cached dynamic-shape OpenVINO export (file-locked), yaml networks
    network    a loaded network (engine, model info, lock, buffer); device/backend choice;
               the model-fits-target check
    yolo       YoloDetector, a per-job view of a shared network; the process-wide cache
    segment    masks -> outlines (silhouette)
    pose       keypoints -> head boxes (head)

`load_detector(settings)` is the entry point: it dispatches on `settings.target`.
"""
from __future__ import annotations

from ..settings import Settings


def load_detector(settings: Settings):
    """The detector for `settings.target`: a YOLO view for person / silhouette / head,
    CenterFace for face. A model that does not fit the target fails here, before work."""
    if settings.target == "face":
        from .face import load_face_detector  # imported only when asked for

        return load_face_detector(settings)
    from .yolo import load_yolo_detector

    return load_yolo_detector(settings)
