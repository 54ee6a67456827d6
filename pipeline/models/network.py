"""One loaded YOLO network: its engine, and the lock and batch buffer every job that
shares it goes through. Loading picks the engine for the device and backend."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..settings import MODEL_ENV_VAR
from .engines import OpenVINOEngine, TorchEngine
from .export import openvino_export, yaml_copy
from .letterbox import BatchBuffer, Geometry

log = logging.getLogger(__name__)
os.environ.setdefault("YOLO_VERBOSE", "False")  # keep ultralytics' banners out of our CLI output

WEIGHTS_HELP = (
    f"Put the weights file (e.g. yolo11n.pt) beside the app, or set {MODEL_ENV_VAR} "
    "(CLI: --model) to a local .pt file; 'yolo11n.yaml' builds the untrained network for tests."
)


@dataclass(frozen=True)
class ModelKey:
    model: str
    device: str  # "cpu" or "cuda"
    backend: str  # "torch" or "openvino"
    imgsz: int


class Network:
    """The shared part of a detector: the engine, and the lock and letterbox buffer that
    serialize the jobs using it."""

    def __init__(self, key: ModelKey, engine):
        self.key, self.engine = key, engine
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


def load_network(key: ModelKey) -> Network:
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
        return Network(key, OpenVINOEngine(next(folder.glob("*.xml")), cores))
    try:
        if spec.endswith((".yaml", ".yml")):
            spec = yaml_copy(spec)  # its export goes beside it, never beside real weights
            with torch.random.fork_rng():
                torch.manual_seed(0)  # the same untrained network every time, so its export can be cached
                yolo = YOLO(spec)
        else:
            yolo = YOLO(spec)
    except Exception as err:
        raise ModelError(f"Could not load model '{key.model}': {one_line(err)}. {WEIGHTS_HELP}") from err
    if key.backend == "openvino":
        try:
            return Network(key, OpenVINOEngine(openvino_export(yolo, spec), cores))
        except Exception as err:
            log.warning("OpenVINO export failed (%s); using torch on CPU", one_line(err))
            torch.set_num_threads(cores)
    try:
        return Network(key, TorchEngine(yolo, key.device))
    except Exception as err:
        raise ModelError(f"Could not load model '{key.model}': {one_line(err)}") from err


def one_line(err: Exception) -> str:
    """The error as one line, without ultralytics' emoji and trailing dots."""
    text = " ".join(str(err).replace("❌", "").split()).rstrip(". ")
    return text[:300] or type(err).__name__
