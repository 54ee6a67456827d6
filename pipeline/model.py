"""The detection models' public names, kept here so `from pipeline.model import
load_detector, resolve_device, ...` keeps working; the code lives in pipeline/models/."""
from __future__ import annotations

from .models import load_detector
from .models.engines import OV_HINT_ENV_VAR, OpenVINOEngine, TorchEngine
from .models.export import EXPORT_STAMP, cache_root, file_lock, openvino_export, read_metadata, yaml_copy
from .models.letterbox import PAD_VALUE, Batch, BatchBuffer, Geometry
from .models.network import WEIGHTS_HELP, ModelInfo, ModelKey, Network, one_line, resolve_backend, resolve_device
from .models.pose import head_boxes
from .models.segment import mask_outlines
from .models.yolo import IOU, MAX_DET, YoloDetector

# the old private names, still used by benchmarks/bench.py and by work in flight
_openvino_export, _yaml_copy, _cache_root = openvino_export, yaml_copy, cache_root
_file_lock, _read_metadata, _one_line = file_lock, read_metadata, one_line

__all__ = [
    "EXPORT_STAMP", "IOU", "MAX_DET", "OV_HINT_ENV_VAR", "PAD_VALUE", "WEIGHTS_HELP", "Batch", "BatchBuffer",
    "Geometry", "ModelInfo", "ModelKey", "Network", "OpenVINOEngine", "TorchEngine", "YoloDetector",
    "cache_root", "file_lock", "head_boxes", "load_detector", "mask_outlines", "one_line", "openvino_export",
    "read_metadata", "resolve_backend", "resolve_device", "yaml_copy",
]
