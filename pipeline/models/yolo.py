"""YoloDetector: a light per-job view (classes, confidence, target) of a shared, loaded
Network, and the process-wide cache of networks.

    frames -> letterbox into the network's reused batch -> engine -> ultralytics' own NMS
           -> per target: boxes (person), boxes + outlines (silhouette), head boxes (head)
           -> source pixels

We do not go through `YOLO.predict`: per call it rebuilds its predictor state, converts
every frame separately, letterboxes a static export to a 640x640 square, and (when the
export has batch 1) splits the batch. Those costs made detection ~2.5x slower than the
engine itself.
"""
from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..errors import ModelError
from ..settings import Settings
from .engines import TorchEngine
from .letterbox import Geometry
from .network import ModelKey, Network, load_network, one_line, resolve_backend, resolve_device
from .pose import KPT_CONF, head_boxes
from .segment import mask_outlines

IOU = 0.7  # ultralytics' predict default
MAX_DET = 300


class YoloDetector:
    """One job's options over a shared network. `detect` is thread-safe: the jobs that
    share a network take turns on its lock (and its batch buffer)."""

    looks_at_pixels = True  # the detail level may show it full-resolution tiles (detect/scan.py)

    def __init__(self, network: Network, classes: Sequence[int], conf: float, target: str = "person"):
        self.network = network
        self.classes = list(classes)
        self.conf = conf
        self.target = target
        decoders = {"person": self._boxes, "silhouette": self._silhouettes, "head": self._heads}
        if target not in decoders:
            raise ModelError(f"The '{target}' target does not run on a YOLO model")
        self._decode = decoders[target]

    @property
    def key(self) -> ModelKey:
        return self.network.key

    @property
    def backend(self) -> str:
        return self.network.backend

    @property
    def model_name(self) -> str:
        return self.network.key.model

    @property
    def _yolo(self):  # the engine, under its old name (tests check it is shared)
        return self.network.engine

    def with_options(self, classes: Sequence[int], conf: float, target: str | None = None) -> "YoloDetector":
        """The same loaded network with other per-job options (no reload)."""
        target = target or self.target
        self.network.info.check_fits(target, self.model_name)
        return YoloDetector(self.network, classes, conf, target)

    def moved_to(self, device: str) -> "YoloDetector":
        """This job's view over a copy of the torch network on another device, without
        reading the weights again (ZeroGPU: the model is loaded on the CPU at start and moved
        to CUDA inside each GPU call). This detector is left as it was."""
        if device == self.key.device:
            return self
        if not isinstance(self.network.engine, TorchEngine):
            raise ModelError(f"Only a torch model can be moved to {device}; load it with backend 'torch'")
        import copy
        from types import SimpleNamespace

        engine = TorchEngine(SimpleNamespace(model=copy.deepcopy(self.network.engine.backend.model)), device)
        key = ModelKey(self.key.model, device, "torch", self.key.imgsz)
        moved = YoloDetector(Network(key, engine, self.network.info), self.classes, self.conf, self.target)
        moved.warm_up()
        return moved

    def geometry(self, src_hw: tuple[int, int]) -> Geometry:
        return self.network.geometry(src_hw)

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        if not len(frames):
            return []
        out: list[Detections | None] = [None] * len(frames)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, frame in enumerate(frames):  # a batch may mix sizes; each size is one call
            groups.setdefault(tuple(frame.shape[:2]), []).append(i)
        network = self.network
        try:
            with network.lock:
                for src_hw, members in groups.items():
                    geometry = network.geometry(src_hw)
                    outputs = network.infer([frames[i] for i in members], geometry)
                    for i, found in zip(members, self._decode(outputs, geometry)):
                        out[i] = found
        except ModelError:
            raise
        except Exception as err:  # engines raise many types; report one line
            raise ModelError(f"Detection failed: {one_line(err)}") from err
        return out

    def _nms(self, outputs: tuple) -> list:
        from ultralytics.utils.nms import non_max_suppression

        # a detect model's channels are all classes (nc inferred); others carry extras after them
        nc = 0 if self.network.info.task == "detect" else self.network.info.nc
        return non_max_suppression(
            outputs[0], self.conf, IOU, self.classes, max_det=MAX_DET, nc=nc, end2end=self.network.engine.end2end,
        )

    def _boxes(self, outputs: tuple, geometry: Geometry) -> list[Detections]:
        results = []
        for det in self._nms(outputs):
            det = det.float().cpu().numpy()
            results.append(Detections(
                xyxy=geometry.to_source(det[:, :4]).astype(np.float32),
                score=det[:, 4].astype(np.float32),
                class_id=det[:, 5].astype(np.int32),
            ))
        return results

    def _silhouettes(self, outputs: tuple, geometry: Geometry) -> list[Detections]:
        if len(outputs) < 2:
            raise ModelError(f"Model '{self.model_name}' gave no mask prototypes; it is not a segmentation model")
        results = []
        for det, proto in zip(self._nms(outputs), outputs[1]):
            outlines = mask_outlines(proto, det[:, 6:], det[:, :4], geometry)
            det = det.float().cpu().numpy()
            results.append(Detections(
                xyxy=geometry.to_source(det[:, :4]).astype(np.float32),
                score=det[:, 4].astype(np.float32),
                class_id=det[:, 5].astype(np.int32),
                outlines=outlines,
            ))
        return results

    def _heads(self, outputs: tuple, geometry: Geometry) -> list[Detections]:
        shape = self.network.info.kpt_shape
        results = []
        for det in self._nms(outputs):
            det = det.float().cpu().numpy()
            people = geometry.to_source(det[:, :4])
            keypoints = det[:, 6:].reshape(len(det), *shape)
            keypoints[..., :2] = geometry.points_to_source(keypoints[..., :2])
            results.append(Detections(
                xyxy=head_boxes(people, keypoints, KPT_CONF),
                score=det[:, 4].astype(np.float32),
                class_id=np.zeros(len(det), np.int32),
            ))
        return results

    def warm_up(self) -> None:
        """One run so the first real batch does not pay for setup (and a broken model fails
        here, at load)."""
        try:
            self.detect([np.zeros((64, 64, 3), np.uint8)])
        except Exception as err:
            raise ModelError(f"Model '{self.model_name}' failed a test run: {one_line(err)}") from err


_networks: dict[ModelKey, Network] = {}
_networks_lock = threading.Lock()


def load_yolo_detector(settings: Settings) -> YoloDetector:
    """A view of the process-wide network for these settings, loaded on first use. A model
    that does not fit `settings.target` is a ModelError here, before any frame."""
    device = resolve_device(settings.device if settings.precision == "fp32" else "cpu")  # int8: OpenVINO, CPU
    backend = resolve_backend(settings.backend, device)
    key = ModelKey(settings.model.strip(), device, backend, settings.imgsz, settings.precision,
                   settings.calibration_video)
    with _networks_lock:
        network = _networks.get(key)
        if network is None:
            network = load_network(key, settings.target)
            YoloDetector(network, settings.classes, settings.conf, settings.target).warm_up()
            _networks[key] = network
        else:
            network.info.check_fits(settings.target, key.model)
    return YoloDetector(network, settings.classes, settings.conf, settings.target)
