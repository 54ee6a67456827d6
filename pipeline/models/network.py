"""One loaded YOLO network: its engine, what kind of model it is, and the lock and batch
buffer every job that shares it goes through. Loading picks the engine for the device
and backend, and checks that the model fits the target before any export or frame."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..settings import MODEL_ENV_VAR, TARGET_MODELS
from .engines import OpenVINOEngine, TorchEngine
from .export import openvino_export, yaml_copy
from .letterbox import BatchBuffer, Geometry

log = logging.getLogger(__name__)
os.environ.setdefault("YOLO_VERBOSE", "False")  # keep ultralytics' banners out of our CLI output

WEIGHTS_HELP = (
    f"Put the weights file (e.g. yolo11n.pt) beside the app, or set {MODEL_ENV_VAR} "
    "(CLI: --model) to a local .pt file; 'yolo11n.yaml' builds the untrained network for tests."
)
TARGET_TASKS = {"person": "detect", "silhouette": "segment", "head": "pose"}
COCO_KPT_SHAPE = (17, 3)  # the head target reads COCO keypoints 0-6 and their confidences


class WeightsUnavailable(ModelError):
    """YOLO's weights could not be read or fetched (no network, a blocked download, a
    broken file): where no model was named, the person targets run the bundled model."""


@dataclass(frozen=True)
class ModelKey:
    model: str
    device: str  # "cpu" or "cuda"
    backend: str  # "torch" or "openvino"
    imgsz: int
    precision: str = "fp32"  # "int8": the OpenVINO model quantized by models/quantize.py
    calibration: Path | None = None  # int8: the user's calibration video (None: the shipped samples)


@dataclass(frozen=True)
class ModelInfo:
    """What a model predicts: its ultralytics task, class count and keypoint layout."""

    task: str  # detect | segment | pose | ...
    nc: int
    kpt_shape: tuple[int, ...] | None = None

    @classmethod
    def of_yolo(cls, yolo) -> "ModelInfo":
        model = yolo.model
        kpt = getattr(model, "kpt_shape", None) or (getattr(model, "yaml", None) or {}).get("kpt_shape")
        return cls(str(yolo.task), len(getattr(model, "names", {}) or {}), tuple(kpt) if kpt else None)

    @classmethod
    def of_metadata(cls, meta: dict) -> "ModelInfo":
        kpt = meta.get("kpt_shape")
        return cls(str(meta.get("task", "detect")), len(meta.get("names") or {}), tuple(kpt) if kpt else None)

    def check_fits(self, target: str, model: str) -> None:
        """One clear error where this model cannot serve `target`."""
        want = TARGET_TASKS.get(target)
        if want is None:
            raise ModelError(f"The '{target}' target does not run on a YOLO model")
        if self.task != want:
            raise ModelError(
                f"Model '{model}' is a {self.task} model, but the '{target}' target needs a {want} model "
                f"(e.g. {TARGET_MODELS[target]})"
            )
        if target == "head" and self.kpt_shape != COCO_KPT_SHAPE:
            raise ModelError(
                f"Model '{model}' has keypoints {list(self.kpt_shape or [])}, but the 'head' target needs "
                f"the 17 COCO person keypoints with confidences (kpt_shape {list(COCO_KPT_SHAPE)})"
            )


class Network:
    """The shared part of a detector: engine, model info, and the lock and letterbox
    buffer that serialize the jobs using it."""

    def __init__(self, key: ModelKey, engine, info: ModelInfo):
        self.key, self.engine, self.info = key, engine, info
        self.lock = threading.Lock()
        self.buffer = BatchBuffer()
        self.backend = "openvino" if isinstance(engine, OpenVINOEngine) else "torch"

    def geometry(self, src_hw: tuple[int, int]) -> Geometry:
        engine = self.engine
        if engine.rect:
            return Geometry.fit(src_hw, self.key.imgsz, engine.stride, rect=True)
        return Geometry.fit(src_hw, engine.static_hw[0], engine.stride, rect=False)

    def infer(self, frames, geometry: Geometry) -> tuple:
        """The engine's outputs for same-size frames; the caller holds `lock`."""
        return self.engine(self.buffer.batch(frames, geometry))


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


def load_network(key: ModelKey, target: str) -> Network:
    """Load `key` for `target`: the model's task is checked as soon as it is known, before
    the (slow, first-time) OpenVINO export."""
    try:
        import torch
        from ultralytics import YOLO
    except ImportError as err:
        raise ModelError(f"ultralytics/torch are not installed: {err}") from err

    cores = os.cpu_count() or 1
    if key.device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick kernels once
    elif key.backend == "openvino":
        # torch only runs NMS there; its pool would fight OpenVINO's for the same cores.
        torch.set_num_threads(1)
    else:
        torch.set_num_threads(cores)  # ultralytics leaves one core idle; inference is the bottleneck

    spec = key.model
    folder = Path(spec)
    if folder.is_dir() and any(folder.glob("*.xml")):  # an OpenVINO export given directly
        if key.device == "cuda":
            raise ModelError(f"'{spec}' is an OpenVINO export; it runs on the CPU only")
        engine = OpenVINOEngine(_precise(next(folder.glob("*.xml")), key), cores)
        info = ModelInfo.of_metadata(engine.metadata)
        info.check_fits(target, key.model)
        return Network(key, engine, info)
    try:
        if spec.endswith((".yaml", ".yml")):
            spec = yaml_copy(spec)  # its export goes beside it, never beside real weights
            with torch.random.fork_rng():
                torch.manual_seed(0)  # the same untrained network every time, so its export can be cached
                yolo = YOLO(spec)
        else:
            yolo = YOLO(spec)
    except Exception as err:
        raise WeightsUnavailable(f"Could not load model '{key.model}': {one_line(err)}. {WEIGHTS_HELP}",
                                 values={"reason": one_line(err)}) from err
    info = ModelInfo.of_yolo(yolo)
    info.check_fits(target, key.model)
    if key.precision != "fp32" and key.backend != "openvino":
        raise ModelError("INT8 runs on OpenVINO, which is not installed: pip install openvino")
    if key.backend == "openvino":
        try:
            return Network(key, OpenVINOEngine(_precise(openvino_export(yolo, spec), key), cores), info)
        except Exception as err:
            if key.precision != "fp32":  # never fall back to another precision than asked for
                raise err if isinstance(err, ModelError) else ModelError(f"INT8 model failed: {one_line(err)}")
            log.warning("OpenVINO export failed (%s); using torch on CPU", one_line(err))
            torch.set_num_threads(cores)
    try:
        return Network(key, TorchEngine(yolo, key.device), info)
    except Exception as err:
        raise ModelError(f"Could not load model '{key.model}': {one_line(err)}") from err


def _precise(xml: Path, key: ModelKey) -> Path:
    """The export in the key's precision: as it is (fp32), or quantized (models/quantize.py)."""
    if key.precision == "fp32":
        return xml
    from .quantize import yolo_int8_model

    return yolo_int8_model(xml, key)


def one_line(err: Exception) -> str:
    """The error as one line, without ultralytics' emoji and trailing dots."""
    text = " ".join(str(err).replace("❌", "").split()).rstrip(". ")
    return text[:300] or type(err).__name__
