"""The detection models, one job per module:

    letterbox  Geometry (source <-> network pixels) and the reused uint8 batch
    engines    TorchEngine (AutoBackend; FP16 on CUDA), OpenVINOEngine (FP32 on CPU)
    export     the cached dynamic-shape OpenVINO export (file-locked), yaml networks
    network    a loaded network (engine, model info, lock, buffer); device/backend choice;
               the model-fits-target check
    yolo       YoloDetector, a per-job view of a shared network; the process-wide cache
    segment    masks -> outlines (silhouette)
    pose       keypoints -> head boxes (head)
    ssdlite    the bundled person model (SSDLite, shipped in weights/): offline persons
    face, face_engines  CenterFace (face), shipped in weights/
    quantize   INT8 with NNCF, cached beside the FP32 model

`load_detector(settings)` is the entry point: it dispatches on `settings.target`.
"""
from __future__ import annotations

from ..settings import BUNDLED_PERSON_MODEL, Settings


def load_detector(settings: Settings):
    """The detector for `settings.target`: a YOLO view for person / silhouette / head,
    CenterFace for face, the bundled SSDLite when named. A model that does not fit the
    target fails here, before work. Where no model was named and YOLO's default weights
    cannot be loaded (offline: the download fails), the person targets run the bundled
    model instead and the detector carries a note saying so (never silently)."""
    if settings.target == "face":
        from .face import load_face_detector  # imported only when asked for

        return load_face_detector(settings)
    if settings.model.strip() == BUNDLED_PERSON_MODEL:
        from .ssdlite import load_ssdlite_detector

        return load_ssdlite_detector(settings)
    from .network import WeightsUnavailable
    from .yolo import load_yolo_detector

    try:
        return load_yolo_detector(settings)
    except WeightsUnavailable as err:
        if settings.model_named:
            raise
        from .ssdlite import load_ssdlite_detector

        return load_ssdlite_detector(settings, instead_of=settings.model, reason=err.values.get("reason", str(err)))
