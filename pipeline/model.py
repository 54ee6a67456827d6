"""Loading YOLO11 on the fastest backend for the device, and running it in batches.

One code path around two inference engines:

    frames -> letterbox into a reused uint8 batch (rect: 768x576 becomes 640x480, not 640x640)
           -> engine -> ultralytics' own NMS -> boxes scaled back to source pixels

* CUDA: torch (ultralytics' AutoBackend: fused, FP16) on whole batches.
* CPU: an OpenVINO export of the same weights, made once with dynamic shapes and cached
  beside them, then compiled per frame size (batch 1): FP32 (the CPU plugin's default on
  AVX512-BF16 CPUs without AMX is bf16, which measured ~2x slower here), colour conversion
  and scaling folded into the graph, THROUGHPUT streams with one frame in flight per
  stream (on 2 cores: 2 single-thread streams, which keep going when decode or JPEG encode
  takes a core, where one 2-thread stream stalls on its slower thread). torch on CPU is
  the fallback; torch gets 1 thread next to OpenVINO (it only runs NMS there).

We do not go through `YOLO.predict`: per call it rebuilds its predictor state, converts
every frame separately, letterboxes a static export to a 640x640 square, and (when the
export has batch 1) splits the batch. Those costs made detection ~2.5x slower than the
engine itself.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .detection import Detections
from .errors import ModelError
from .settings import MODEL_ENV_VAR, Settings

log = logging.getLogger(__name__)
os.environ.setdefault("YOLO_VERBOSE", "False")  # keep ultralytics' banners out of our CLI output

WEIGHTS_HELP = (
    f"Put the weights file (e.g. yolo11n.pt) beside the app, or set {MODEL_ENV_VAR} "
    "(CLI: --model) to a local .pt file; 'yolo11n.yaml' builds the untrained network for tests."
)
PAD_VALUE = 114  # ultralytics' letterbox grey
IOU = 0.7  # ultralytics' predict default
MAX_DET = 300
EXPORT_STAMP = ".mosaic-export.json"  # what the cached export was made from
OV_HINT_ENV_VAR = "MOSAIC_OPENVINO_HINT"  # override: LATENCY = one stream over all cores


@dataclass(frozen=True)
class ModelKey:
    model: str
    device: str  # "cpu" or "cuda"
    backend: str  # "torch" or "openvino"
    imgsz: int
    precision: str = "fp32"  # "int8": the OpenVINO model quantized by quantize.py
    calibration: Path | None = None  # int8: the user's calibration video (None: the shipped samples)


def resolve_device(requested: str) -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was requested but no CUDA GPU is available; use device 'auto' or 'cpu'.")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def resolve_backend(requested: str, device: str) -> str:
    if device == "cuda":
        return "torch"  # FP16 torch on the GPU; OpenVINO is a CPU backend here
    if requested != "auto":
        return requested
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "torch"
    return "openvino"


# -- letterbox ------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """How one source size maps into the network input, exactly as ultralytics' LetterBox
    does it (so boxes match `predict`): scale to fit, round, pad centred with grey."""

    src_hw: tuple[int, int]
    net_hw: tuple[int, int]
    new_wh: tuple[int, int]  # the resized picture inside the padding
    top: int
    left: int

    @classmethod
    def fit(cls, src_hw: tuple[int, int], imgsz: int, stride: int, rect: bool) -> "Geometry":
        h, w = src_hw
        r = min(imgsz / h, imgsz / w)
        new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
        pad_w, pad_h = imgsz - new_w, imgsz - new_h
        if rect:  # the smallest stride multiple that holds the picture
            pad_w, pad_h = pad_w % stride, pad_h % stride
        top, left = round(pad_h / 2 - 0.1), round(pad_w / 2 - 0.1)
        return cls((h, w), (new_h + pad_h, new_w + pad_w), (new_w, new_h), top, left)

    def place(self, out: np.ndarray, image: np.ndarray) -> None:
        """Resize `image` into its slot of `out` (H, W, 3); the padding is already grey."""
        import cv2

        new_w, new_h = self.new_wh
        if image.shape[1] != new_w or image.shape[0] != new_h:
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        out[self.top:self.top + new_h, self.left:self.left + new_w] = image

    def to_source(self, xyxy: np.ndarray) -> np.ndarray:
        """Network-input boxes to source pixels, clipped to the frame."""
        h, w = self.src_hw
        gain_x, gain_y = self.new_wh[0] / w, self.new_wh[1] / h
        out = np.empty_like(xyxy)
        out[:, [0, 2]] = (xyxy[:, [0, 2]] - self.left) / gain_x
        out[:, [1, 3]] = (xyxy[:, [1, 3]] - self.top) / gain_y
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out


class _BatchBuffer:
    """A reused uint8 (N, H, W, 3) BGR batch, grey where the letterbox pads. Frames are
    placed lazily (`Batch.slot(i)`), so an engine can start on frame 0 while it places 1."""

    def __init__(self):
        self.array: np.ndarray | None = None
        self.geometry: Geometry | None = None

    def batch(self, frames: Sequence[np.ndarray], geometry: Geometry) -> "Batch":
        n = len(frames)
        h, w = geometry.net_hw
        if self.array is None or self.geometry != geometry or len(self.array) < n:
            self.array = np.full((max(n, 1), h, w, 3), PAD_VALUE, np.uint8)
            self.geometry = geometry
        return Batch(self.array[:n], frames, geometry)


class Batch:
    def __init__(self, array: np.ndarray, frames: Sequence[np.ndarray], geometry: Geometry):
        self.array, self.frames, self.geometry = array, frames, geometry

    def __len__(self) -> int:
        return len(self.frames)

    def slot(self, i: int) -> np.ndarray:
        """Frame i letterboxed, as a (1, H, W, 3) view of the batch."""
        self.geometry.place(self.array[i], self.frames[i])
        return self.array[i:i + 1]

    def full(self) -> np.ndarray:
        for i in range(len(self.frames)):
            self.geometry.place(self.array[i], self.frames[i])
        return self.array


# -- engines ----------------------------------------------------------------------------
class _TorchEngine:
    """ultralytics' AutoBackend around the torch module: fused, FP16 on CUDA."""

    rect = True  # any stride multiple works

    def __init__(self, yolo, device: str):
        import torch
        from ultralytics.nn.autobackend import AutoBackend

        self.torch = torch
        self.device = torch.device("cuda:0" if device == "cuda" else "cpu")
        self.half = device == "cuda"
        self.backend = AutoBackend(model=yolo.model, device=self.device, fp16=self.half, fuse=True, verbose=False)
        self.backend.eval()
        self.stride = int(max(getattr(self.backend, "stride", 32), 32))
        self.end2end = bool(getattr(self.backend, "end2end", False))

    def __call__(self, batch: "Batch"):
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch.full()).to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).flip(1)  # NHWC BGR -> NCHW RGB
            x = (x.half() if self.half else x.float()).div_(255.0).contiguous()
            y = self.backend(x)
        return y[0] if isinstance(y, (list, tuple)) else y


class _OpenVINOEngine:
    """An OpenVINO IR compiled per input shape, with BGR->RGB, /255 and NHWC->NCHW inside
    the graph so a batch goes in as the raw uint8 letterbox."""

    def __init__(self, xml: Path, threads: int | None = None):
        import openvino as ov

        self.ov = ov
        self.core = ov.Core()
        self.xml = xml
        meta = _read_metadata(xml.parent)
        self.stride = int(max(meta.get("stride", 32), 32))
        self.end2end = bool(meta.get("end2end", False))
        shape = self.core.read_model(str(xml)).input(0).get_partial_shape()
        self.rect = shape.is_dynamic  # a static export only takes its own (square) size
        self.static_hw = None if self.rect else (shape[2].get_length(), shape[3].get_length())
        self.threads = threads or os.cpu_count() or 1
        self._compiled: dict[tuple[int, int], list] = {}  # (h, w) -> infer requests

    def _compile(self, h: int, w: int) -> list:
        from openvino.preprocess import ColorFormat, PrePostProcessor

        ov = self.ov
        model = self.core.read_model(str(self.xml))
        model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, 3, h, w])})
        ppp = PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")).set_color_format(ColorFormat.BGR)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        config = {
            "PERFORMANCE_HINT": os.environ.get(OV_HINT_ENV_VAR, "THROUGHPUT"),
            "INFERENCE_NUM_THREADS": self.threads,
            "INFERENCE_PRECISION_HINT": "f32",
        }
        compiled = self.core.compile_model(ppp.build(), "CPU", config)
        count = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        return [compiled.create_infer_request() for _ in range(count)]

    def __call__(self, batch: "Batch"):
        import torch

        n, (h, w) = len(batch), batch.geometry.net_hw
        requests = self._compiled.get((h, w))
        if requests is None:
            requests = self._compiled[(h, w)] = self._compile(h, w)
        out = None
        in_flight: deque = deque()

        def finish():
            nonlocal out
            index, request = in_flight.popleft()
            request.wait()
            result = request.get_output_tensor(0).data
            if out is None:
                out = np.empty((n, *result.shape[1:]), result.dtype)
            out[index] = result[0]

        for i in range(n):  # frames round-robin over the requests, oldest reused first
            if len(in_flight) == len(requests):
                finish()
            request = requests[i % len(requests)]
            request.start_async({0: batch.slot(i)})  # placed while the others run
            in_flight.append((i, request))
        while in_flight:
            finish()
        return torch.from_numpy(out)


# -- the detector -------------------------------------------------------------------------
class YoloDetector:
    """A YOLO model on one device/backend. `detect` is thread-safe (jobs share one model)."""

    def __init__(self, key: ModelKey, classes: Sequence[int], conf: float):
        self.key = key
        self.classes = list(classes)
        self.conf = conf
        self._lock = threading.Lock()
        self._yolo = _load_engine(key)
        self._buffer = _BatchBuffer()
        self.backend = "openvino" if isinstance(self._yolo, _OpenVINOEngine) else "torch"
        self.model_name = key.model
        self._warm_up()

    def with_options(self, classes: Sequence[int], conf: float) -> "YoloDetector":
        """The same loaded network with other per-job options (no reload)."""
        clone = object.__new__(YoloDetector)
        clone.__dict__.update(self.__dict__)
        clone.classes, clone.conf = list(classes), conf
        return clone

    def geometry(self, src_hw: tuple[int, int]) -> Geometry:
        engine = self._yolo
        if engine.rect:
            return Geometry.fit(src_hw, self.key.imgsz, engine.stride, rect=True)
        return Geometry.fit(src_hw, engine.static_hw[0], engine.stride, rect=False)

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        if not len(frames):
            return []
        out: list[Detections | None] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, frame in enumerate(frames):  # a batch may mix sizes; each size is one call
            groups.setdefault(tuple(frame.shape[:2]), []).append(i)
        try:
            with self._lock:
                for src_hw, members in groups.items():
                    geometry = self.geometry(src_hw)
                    for i, found in zip(members, self._detect_same([frames[i] for i in members], geometry)):
                        out[i] = found
        except ModelError:
            raise
        except Exception as err:  # engines raise many types; report one line
            raise ModelError(f"Detection failed: {_one_line(err)}") from err
        return out

    def _detect_same(self, frames: Sequence[np.ndarray], geometry: Geometry) -> list[Detections]:
        from ultralytics.utils.nms import non_max_suppression

        raw = self._yolo(self._buffer.batch(frames, geometry))
        kept = non_max_suppression(
            raw, self.conf, IOU, self.classes, max_det=MAX_DET, end2end=self._yolo.end2end,
        )
        results = []
        for det in kept:
            det = det.float().cpu().numpy()
            results.append(Detections(
                xyxy=geometry.to_source(det[:, :4]).astype(np.float32),
                score=det[:, 4].astype(np.float32),
                class_id=det[:, 5].astype(np.int32),
            ))
        return results

    def _warm_up(self) -> None:
        """One run so the first real batch does not pay for setup (and a broken model fails
        here, at load)."""
        try:
            self.detect([np.zeros((64, 64, 3), np.uint8)])
        except Exception as err:
            raise ModelError(f"Model '{self.key.model}' failed a test run: {_one_line(err)}") from err


_loaded: dict[ModelKey, YoloDetector] = {}
_loaded_lock = threading.Lock()


def load_detector(settings: Settings) -> YoloDetector:
    """The process-wide detector for these settings, loaded on first use."""
    if settings.target == "face":  # CenterFace on its own engines (face.py), not YOLO
        from .face import load_face_detector
        return load_face_detector(settings)
    device = resolve_device(settings.device if settings.precision == "fp32" else "cpu")  # int8: OpenVINO, CPU
    backend = resolve_backend(settings.backend, device)
    key = ModelKey(settings.model.strip(), device, backend, settings.imgsz, settings.precision, settings.calibration_video)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = YoloDetector(key, settings.classes, settings.conf)
        return _loaded[key].with_options(settings.classes, settings.conf)


# -- loading ------------------------------------------------------------------------------
def _load_engine(key: ModelKey):
    try:
        import torch
        from ultralytics import YOLO
    except ImportError as err:
        raise ModelError(f"ultralytics/torch are not installed: {err}") from err

    cores = os.cpu_count() or 1
    if key.device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick kernels once
    elif key.backend == "openvino":
        # torch only runs NMS here; its pool would fight OpenVINO's for the same cores.
        torch.set_num_threads(1)
    else:
        torch.set_num_threads(cores)  # ultralytics leaves one core idle; inference is the bottleneck

    spec = key.model
    folder = Path(spec)
    if folder.is_dir() and any(folder.glob("*.xml")):  # an OpenVINO export given directly
        if key.device == "cuda":
            raise ModelError(f"'{spec}' is an OpenVINO export; it runs on the CPU only")
        return _OpenVINOEngine(_precise(next(folder.glob("*.xml")), key), cores)
    try:
        if spec.endswith((".yaml", ".yml")):
            spec = _yaml_copy(spec)  # its export goes beside it, never beside real weights
            with torch.random.fork_rng():
                torch.manual_seed(0)  # the same untrained network every time, so its export can be cached
                yolo = YOLO(spec)
        else:
            yolo = YOLO(spec)
    except Exception as err:
        raise ModelError(f"Could not load model '{key.model}': {_one_line(err)}. {WEIGHTS_HELP}") from err
    if key.precision != "fp32" and key.backend != "openvino":
        raise ModelError("INT8 runs on OpenVINO, which is not installed: pip install openvino")
    if key.backend == "openvino":
        try:
            return _OpenVINOEngine(_precise(_openvino_export(yolo, spec), key), cores)
        except Exception as err:
            if key.precision != "fp32":  # never fall back to another precision than asked for
                raise err if isinstance(err, ModelError) else ModelError(f"INT8 model failed: {_one_line(err)}")
            log.warning("OpenVINO export failed (%s); using torch on CPU", _one_line(err))
            torch.set_num_threads(cores)
    try:
        return _TorchEngine(yolo, key.device)
    except Exception as err:
        raise ModelError(f"Could not load model '{key.model}': {_one_line(err)}") from err


def _precise(xml: Path, key: ModelKey) -> Path:
    """The export in the key's precision: as it is (fp32), or quantized (quantize.py)."""
    if key.precision == "fp32":
        return xml
    from .quantize import yolo_int8_model
    return yolo_int8_model(xml, key)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mosaic-anonymizer"


def _yaml_copy(spec: str) -> str:
    """The model yaml in a folder of its own (keyed by its content), so its export sits
    beside it and cannot shadow the export of real weights with the same stem."""
    from ultralytics.utils.checks import check_yaml

    try:
        source = Path(check_yaml(spec))
    except FileNotFoundError:
        # 'yolo11n.yaml' names scale n of the packaged 'yolo11.yaml'
        source = Path(check_yaml(re.sub(r"(\d+)[nslmx](\.ya?ml)$", r"\1\2", Path(spec).name)))
    text = source.read_bytes()
    folder = _cache_root() / f"yaml-{hashlib.sha256(text + Path(spec).name.encode()).hexdigest()[:16]}"
    target = folder / Path(spec).name  # keep the name: it carries the model scale (n/s/m/...)
    if not target.exists() or target.read_bytes() != text:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{target.name}.{os.getpid()}"
        tmp.write_bytes(text)
        os.replace(tmp, target)
    return str(target)


def _openvino_export(yolo, spec: str) -> Path:
    """The dynamic-shape OpenVINO export beside the weights, made on first use (under a
    file lock, so parallel processes export once) and reused while the weights and the
    ultralytics version stay the same."""
    import ultralytics

    weights = Path(getattr(yolo, "ckpt_path", None) or spec)
    export_dir = weights.with_name(f"{weights.stem}_openvino_model")
    stat = weights.stat()
    source = {"weights": weights.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "ultralytics": ultralytics.__version__, "dynamic": True}
    stamp = export_dir / EXPORT_STAMP

    def current() -> Path | None:
        try:
            if json.loads(stamp.read_text()) == source:
                return next(export_dir.glob("*.xml"))
        except (OSError, ValueError, StopIteration):
            pass
        return None

    found = current()
    if found is not None:
        return found
    with _file_lock(export_dir.with_name(f".{export_dir.name}.lock")):
        found = current()  # another process may have made it while we waited
        if found is not None:
            return found
        shutil.rmtree(export_dir, ignore_errors=True)
        with warnings.catch_warnings():  # torch.jit deprecation noise from the exporter
            warnings.simplefilter("ignore")
            exported = Path(yolo.export(format="openvino", dynamic=True, half=False, verbose=False))
        if exported.resolve() != export_dir.resolve():
            shutil.rmtree(export_dir, ignore_errors=True)
            shutil.move(str(exported), export_dir)
        stamp.write_text(json.dumps(source))
        return next(export_dir.glob("*.xml"))


@contextlib.contextmanager
def _file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_metadata(folder: Path) -> dict:
    try:
        from ultralytics.utils import YAML

        return YAML.load(folder / "metadata.yaml") or {}
    except Exception:  # noqa: BLE001 - a missing or odd metadata file means the defaults
        return {}


def _one_line(err: Exception) -> str:
    """The error as one line, without ultralytics' emoji and trailing dots."""
    text = " ".join(str(err).replace("❌", "").split()).rstrip(". ")
    return text[:300] or type(err).__name__
