"""Loading YOLO11 on the fastest backend for the device, and running it in batches.

CUDA: torch with FP16 and cudnn.benchmark, whole batches per call. CPU: an OpenVINO export
of the same weights (made once, cached beside them), torch as the fallback. Both go through
ultralytics' predict, so the CUDA path (which cannot run on a GPU-less machine) shares every
line but the device and precision flags with the CPU path that the tests exercise.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
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


@dataclass(frozen=True)
class ModelKey:
    model: str
    device: str  # "cpu" or "cuda"
    backend: str  # "torch" or "openvino"
    imgsz: int


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


class YoloDetector:
    """A YOLO model on one device/backend. `detect` is thread-safe (jobs share one model)."""

    def __init__(self, key: ModelKey, classes: Sequence[int], conf: float):
        self.key = key
        self.classes = list(classes)
        self.conf = conf
        self._lock = threading.Lock()
        self._yolo = _load_yolo(key)
        self.model_name = key.model

    def with_options(self, classes: Sequence[int], conf: float) -> "YoloDetector":
        """The same loaded network with other per-job options (no reload)."""
        clone = object.__new__(YoloDetector)
        clone.__dict__.update(self.__dict__)
        clone.classes, clone.conf = list(classes), conf
        return clone

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        if not frames:
            return []
        cuda = self.key.device == "cuda"
        with self._lock:
            try:
                results = self._yolo.predict(
                    list(frames),
                    imgsz=self.key.imgsz,
                    conf=self.conf,
                    classes=self.classes,
                    device=0 if cuda else "cpu",
                    quantize=16 if cuda else None,  # FP16 on the GPU
                    batch=len(frames),
                    verbose=False,
                )
            except Exception as err:  # ultralytics raises many types; report one line
                raise ModelError(f"Detection failed: {err}") from err
        out = []
        for result in results:
            boxes = result.boxes
            out.append(
                Detections(
                    xyxy=boxes.xyxy.cpu().numpy().astype(np.float32),
                    score=boxes.conf.cpu().numpy().astype(np.float32),
                    class_id=boxes.cls.cpu().numpy().astype(np.int32),
                )
            )
        return out


_loaded: dict[ModelKey, YoloDetector] = {}
_loaded_lock = threading.Lock()


def load_detector(settings: Settings) -> YoloDetector:
    """The process-wide detector for these settings, loaded on first use."""
    device = resolve_device(settings.device)
    backend = resolve_backend(settings.backend, device)
    key = ModelKey(settings.model.strip(), device, backend, settings.imgsz)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = YoloDetector(key, settings.classes, settings.conf)
        return _loaded[key].with_options(settings.classes, settings.conf)


def _load_yolo(key: ModelKey):
    try:
        import torch
        from ultralytics import YOLO
    except ImportError as err:
        raise ModelError(f"ultralytics/torch are not installed: {err}") from err

    if key.device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed batch shapes: let cuDNN pick kernels once
    else:
        # ultralytics sets torch to cpu_count-1 threads; inference is the bottleneck, use all.
        torch.set_num_threads(os.cpu_count() or 1)

    spec = key.model
    try:
        if spec.endswith((".yaml", ".yml")):
            spec = _private_yaml_copy(spec)  # so its export cannot shadow real weights' export
        model = YOLO(spec)
    except Exception as err:
        raise ModelError(f"Could not load model '{key.model}': {_one_line(err)}. {WEIGHTS_HELP}") from err
    if key.backend == "openvino":
        model = _openvino_model(model, spec, key)
    if key.device == "cuda":
        model.to("cuda")
    _warm_up(model, key)
    return model


def _warm_up(model, key: ModelKey) -> None:
    """One tiny predict so the first real batch does not pay for setup."""
    try:
        model.predict(
            np.zeros((64, 64, 3), np.uint8),
            imgsz=key.imgsz,
            device=0 if key.device == "cuda" else "cpu",
            quantize=16 if key.device == "cuda" else None,
            verbose=False,
        )
    except Exception as err:
        raise ModelError(f"Model '{key.model}' failed a test run: {_one_line(err)}") from err


def _private_yaml_copy(spec: str) -> str:
    from ultralytics.utils.checks import check_yaml

    try:
        source = Path(check_yaml(spec))
    except FileNotFoundError:
        # 'yolo11n.yaml' names scale n of the packaged 'yolo11.yaml'
        source = Path(check_yaml(re.sub(r"(\d+)[nslmx](\.ya?ml)$", r"\1\2", Path(spec).name)))
    folder = Path(tempfile.mkdtemp(prefix="mosaic-yaml-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = folder / Path(spec).name  # keep the name: it carries the model scale (n/s/m/...)
    shutil.copy(source, target)
    return str(target)


def _openvino_model(model, spec: str, key: ModelKey):
    """The OpenVINO export beside the weights, made on first use and reused after."""
    from ultralytics import YOLO

    weights = Path(getattr(model, "ckpt_path", None) or spec)
    export_dir = weights.with_name(f"{weights.stem}_openvino_model")
    stamp = export_dir / f".mosaic-imgsz-{key.imgsz}"
    try:
        if not stamp.exists():
            with warnings.catch_warnings():  # torch.jit deprecation noise from the exporter
                warnings.simplefilter("ignore")
                exported = Path(model.export(format="openvino", imgsz=key.imgsz, dynamic=False, verbose=False))
            if exported.resolve() != export_dir.resolve():
                shutil.rmtree(export_dir, ignore_errors=True)
                shutil.move(str(exported), export_dir)
            stamp.touch()
        return YOLO(str(export_dir), task="detect")
    except Exception as err:
        log.warning("OpenVINO export failed (%s); using torch on CPU", _one_line(err))
        return model


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text[:300] or type(err).__name__
