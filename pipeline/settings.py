"""One validated settings object shared by the CLI, the UI, the API and the tests."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from .audio.spans import merge_spans, parse_spans
from .audio.voice import VOICES
from .errors import Message, SettingsError

DEFAULT_MODEL = "yolo11n.pt"
MODEL_ENV_VAR = "MOSAIC_MODEL"
FACE_MODEL = "centerface"  # CenterFace's ONNX weights, shipped in pipeline/models/weights/
# SSDLite-MobileNetV2 persons, shipped in pipeline/models/weights/: runs offline, and in place
# of YOLO when its weights cannot be loaded and no model was named (pipeline/models/ssdlite.py)
BUNDLED_PERSON_MODEL = "ssdlite-person"
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
DETAILS = ("fast", "full", "max")  # what of each frame the model sees (pipeline/detect/scan.py)
FACE_MATCH = 0.5  # distance under which two faces are one person (pipeline/identity/people.py)
FOLLOW_ASPECTS = ("9:16", "1:1", "16:9")  # follow cam crops (pipeline/mask/follow.py)
AUDITS = ("off", "sample", "all")  # the outputs looked at again after writing (pipeline/audit/)
AUDIT_ENV_VAR = "MOSAIC_AUDIT"  # an operator's default for `audit` (the test suite's: off, but where tested)
DEFAULT_AUDIT = "sample"
# the --video output's x264 preset, as a choice of what matters more (docs/speed.md, "Encoder")
ENCODES = {"fast": "superfast", "small": "veryfast"}
PRECISIONS = ("fp32", "int8")  # int8: NNCF-quantized OpenVINO model, CPU only (pipeline/models/quantize.py)


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
    # whether a model was chosen (a name given, or $MOSAIC_MODEL), not left to the default:
    # only a default YOLO model that cannot be loaded falls back to BUNDLED_PERSON_MODEL.
    # None = worked out from `model` as given
    model_named: bool | None = None
    device: str = "auto"
    backend: str = "auto"  # torch or openvino; auto picks the fastest for the device
    precision: str = "fp32"  # of the CPU engine: fp32, or int8 (quantized once, cached)
    calibration_video: Path | None = None  # int8: calibrate on this video, not the shipped samples
    batch: int = 8
    imgsz: int = 640
    # fast: the whole frame at imgsz; full: plus full-resolution tiles rolled across frames;
    # max: the whole frame and every tile on every frame (docs/recall.md)
    detail: str = "full"
    conf: float = 0.2  # low on purpose: a missed person is a privacy leak
    classes: tuple[int, ...] = (0,)  # COCO ids; 0 = person
    pad_pct: float = 10.0  # box padding on each side, percent of the box size
    style: str = "mosaic"
    mosaic_cells: int = 15  # cells across the box
    min_cell_px: int = 4  # never smaller cells than this: tiny people stay unrecognizable
    hold_s: float = 0.5  # keep a tracked person masked this long across detector misses
    stride: int | str = "auto"  # file runs: most frames between detections, or auto (detect/stride.py)
    detections_csv: Path | None = None  # replay boxes from this CSV instead of the model
    # frame buffers a run may hold, in MB (10^6 bytes); $MOSAIC_MEMORY_MB sets the default
    memory_mb: float = field(default_factory=lambda: _env_float(MEMORY_ENV_VAR, DEFAULT_MEMORY_MB))
    unmask_tracks: tuple[int, ...] = ()  # track ids of detections_csv left uncovered on every frame
    unmask_reason: str = ""  # optional: why they stay visible, as the reviewer typed it (the report keeps it)
    keep_faces: tuple[Path, ...] = ()  # photos: the people they show stay unmasked everywhere
    only_faces: tuple[Path, ...] = ()  # photos: only the people they show are masked
    face_match: float = FACE_MATCH  # descriptor distance under which faces are one person
    people: bool = True  # group tracks into people by face (the person column); needs dlib
    people_record: Path | None = None  # opt-in folder: each person's best face and times (private)
    # the --video output's audio (pipeline/audio/): keep | disguise | mute the voices, and
    # (start, end) seconds to silence, or to cover with a tone with bleep
    voice: str = "keep"
    mute_spans: tuple[tuple[float, float], ...] = ()  # text such as "12.5-14,61-63.2" is parsed
    bleep: bool = False
    # follow cam: the video / live output is a crop of this aspect following the largest subject
    # (None = the whole frame); applied after masking. ZIP images stay whole frames.
    follow: str | None = None
    # one video with --workers N (N > 1) or --ray: split into segments this long, each on a
    # worker (pipeline/batch/segments.py); 0 = never split
    segment_s: float = 60.0
    encode: str = "fast"  # the video output: fast (to write) or small (file); ENCODES names x264's preset
    # after writing: decode the outputs and look for faces/people the masks miss (docs/audit.md);
    # sample keeps it within a quarter of the run's time, all checks every frame
    audit: str = field(default_factory=lambda: os.environ.get(AUDIT_ENV_VAR, "").strip() or DEFAULT_AUDIT)

    def __post_init__(self) -> None:
        for name in ("detections_csv", "calibration_video", "people_record"):
            value = getattr(self, name)
            if name in ("calibration_video", "people_record") and isinstance(value, str) and not value.strip():
                object.__setattr__(self, name, None)  # an empty text box: none given
            elif value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        object.__setattr__(self, "classes", tuple(self.classes))
        for name in ("keep_faces", "only_faces"):
            value = getattr(self, name)
            value = () if value is None else (value,) if isinstance(value, (str, Path)) else value
            object.__setattr__(self, name, tuple(Path(v) if isinstance(v, str) else v for v in value))
        if isinstance(self.unmask_tracks, (list, set, frozenset)):
            object.__setattr__(self, "unmask_tracks", tuple(self.unmask_tracks))
        if isinstance(self.mute_spans, str):  # text from the CLI, the page or the API
            try:
                object.__setattr__(self, "mute_spans", parse_spans(self.mute_spans))
            except SettingsError:
                pass  # left as text: _problems names it
        elif isinstance(self.mute_spans, (list, tuple)):
            try:
                object.__setattr__(self, "mute_spans", merge_spans(self.mute_spans))
            except (TypeError, ValueError):
                pass
        if isinstance(self.follow, str) and self.follow.strip().lower() in ("", "off", "none"):
            object.__setattr__(self, "follow", None)
        if self.model_named is None:
            given = isinstance(self.model, str) and bool(self.model.strip())
            object.__setattr__(self, "model_named", given or bool(os.environ.get(MODEL_ENV_VAR, "").strip()))
        if isinstance(self.model, str) and not self.model.strip():
            object.__setattr__(self, "model", default_model(self.target if self.target in TARGETS else "person"))
        problems = list(self._problems())
        if problems:
            raise SettingsError("Invalid settings: " + "; ".join(problems) + ".", key="err.settings",
                                values={"problems": problems})

    def _problems(self):
        """Each wrong field as one Message: its English words, its translation key, and the
        value given (as `got`) and the values allowed, when there are any."""
        def is_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def bad(key: str, text: str, *got, allowed: tuple = ()) -> Message:
            values = {}
            if allowed:
                values["allowed"] = ", ".join(allowed)
                text = f"{text} {values['allowed']}"
            if got:
                values["got"] = repr(got[0])
                text = f"{text} (got {values['got']})"
            return Message(text, key, **values)

        if not is_int(self.interval) or self.interval < 1:
            yield bad("set.interval", "capture interval must be a whole number >= 1", self.interval)
        if not is_int(self.scale_pct) or not 50 <= self.scale_pct <= 100:
            yield bad("set.scale", "output resolution must be 50-100 %", self.scale_pct)
        if self.max_mb is not None and not (self.max_mb > 0):
            yield bad("set.max_mb", "size cap must be more than 0 MB", self.max_mb)
        if self.max_images is not None and (not is_int(self.max_images) or self.max_images < 1):
            yield bad("set.max_images", "maximum image count must be at least 1", self.max_images)
        if self.image_format not in IMAGE_FORMATS:
            yield bad("set.format", "format must be one of", self.image_format, allowed=IMAGE_FORMATS)
        if not is_int(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            yield bad("set.quality", "JPEG quality must be 1-100", self.jpeg_quality)
        if self.target not in TARGETS:
            yield bad("set.target", "target must be one of", self.target, allowed=TARGETS)
        if self.face_shape not in FACE_SHAPES:
            yield bad("set.face_shape", "face shape must be one of", self.face_shape, allowed=FACE_SHAPES)
        if not isinstance(self.model, str) or not self.model.strip():
            yield bad("set.model", "model must be a model name or path")
        if self.device not in DEVICES:
            yield bad("set.device", "device must be one of", self.device, allowed=DEVICES)
        if self.backend not in BACKENDS:
            yield bad("set.backend", "backend must be one of", self.backend, allowed=BACKENDS)
        if self.precision not in PRECISIONS:
            yield bad("set.precision", "precision must be one of", self.precision, allowed=PRECISIONS)
        elif self.precision == "int8" and (self.device == "cuda" or self.backend == "torch"):
            yield bad("set.int8_cpu", "precision int8 runs on OpenVINO on the CPU: use device auto or cpu and "
                      "backend auto or openvino")
        if self.calibration_video is not None and self.precision != "int8":
            yield bad("set.calibration", "a calibration video is only used with precision int8")
        if not is_int(self.batch) or not 1 <= self.batch <= 256:
            yield bad("set.batch", "batch must be 1-256", self.batch)
        if not is_int(self.imgsz) or not 32 <= self.imgsz <= 4096 or self.imgsz % 32:
            yield bad("set.imgsz", "detection size must be a multiple of 32 in 32-4096", self.imgsz)
        if self.detail not in DETAILS:
            yield bad("set.detail", "detail must be one of", self.detail, allowed=DETAILS)
        if not isinstance(self.conf, (int, float)) or not 0 < self.conf < 1:
            yield bad("set.conf", "confidence must be between 0 and 1", self.conf)
        if not self.classes or not all(is_int(c) and 0 <= c < 1000 for c in self.classes):
            yield bad("set.classes", "classes must be the model's class ids, 0-999", self.classes)
        if not isinstance(self.pad_pct, (int, float)) or not 0 <= self.pad_pct <= 100:
            yield bad("set.pad", "padding must be 0-100 %", self.pad_pct)
        if self.style not in STYLES:
            yield bad("set.style", "style must be one of", self.style, allowed=STYLES)
        if not is_int(self.mosaic_cells) or not 2 <= self.mosaic_cells <= 200:
            yield bad("set.cells", "mosaic cells must be 2-200", self.mosaic_cells)
        if not isinstance(self.hold_s, (int, float)) or not 0 <= self.hold_s <= 10:
            yield bad("set.hold", "hold must be 0-10 seconds", self.hold_s)
        if self.stride != "auto" and (not is_int(self.stride) or not 1 <= self.stride <= 30):
            yield bad("set.stride", "stride must be auto or 1-30 frames", self.stride)
        if not isinstance(self.memory_mb, (int, float)) or isinstance(self.memory_mb, bool) or not self.memory_mb > 0:
            yield bad("set.memory", "memory budget must be more than 0 MB", self.memory_mb)
        if not isinstance(self.segment_s, (int, float)) or isinstance(self.segment_s, bool) or \
                not (self.segment_s == 0 or 5 <= self.segment_s <= 86400):
            yield bad("set.segment", "segment length must be 0 (never split) or 5-86400 seconds", self.segment_s)
        if not is_int(self.min_cell_px) or not 1 <= self.min_cell_px <= 256:
            yield bad("set.min_cell", "minimum cell size must be 1-256 px", self.min_cell_px)
        if self.follow is not None and self.follow not in FOLLOW_ASPECTS:
            yield bad("set.follow", "follow cam aspect must be one of", self.follow, allowed=FOLLOW_ASPECTS)
        if not isinstance(self.unmask_tracks, tuple) or not all(is_int(t) and t >= 1 for t in self.unmask_tracks):
            yield bad("set.unmask", "tracks to leave unmasked must be track ids >= 1", self.unmask_tracks)
        elif self.unmask_tracks and self.detections_csv is None:
            yield bad("set.unmask_csv", "tracks to leave unmasked need a detections CSV: their ids are the ones "
                      "in that file (a run's detections.csv)")

        if not all(isinstance(p, Path) for p in self.keep_faces + self.only_faces):
            yield bad("set.face_photos", "face photos must be file paths")
        elif self.keep_faces and self.only_faces:
            yield bad("set.face_both", "give photos to keep visible or photos to hide only, not both")
        if self.people_record is not None and not self.people:
            yield bad("set.people_record", "a per-person record needs people grouped by face (not --no-people)")
        if not isinstance(self.face_match, (int, float)) or isinstance(self.face_match, bool) \
                or not 0.2 <= self.face_match <= 0.8:
            yield bad("set.face_match", "face match distance must be 0.2-0.8", self.face_match)
        if not isinstance(self.unmask_reason, str) or len(self.unmask_reason) > 500:
            yield bad("set.unmask_reason", "the reason for leaving people visible must be text of at most 500 characters")
        if self.encode not in ENCODES:
            yield bad("set.encode", "video encoding must be one of", self.encode, allowed=tuple(ENCODES))
        if self.audit not in AUDITS:
            yield bad("set.audit", "audit must be one of", self.audit, allowed=AUDITS)
        yield from self._audio_problems(bad)

    def _audio_problems(self, bad):
        if self.voice not in VOICES:
            yield bad("set.voice", "voice must be one of", self.voice, allowed=VOICES)
        if isinstance(self.mute_spans, str):
            try:
                parse_spans(self.mute_spans)
            except SettingsError as err:
                yield Message(str(err), err.key, **err.values)
        elif not isinstance(self.mute_spans, tuple) or not all(isinstance(s, tuple) and len(s) == 2 and all(isinstance(t, float) for t in s)
                     and 0 <= s[0] < s[1] < float("inf") for s in self.mute_spans):
            yield bad("set.spans", "mute spans must be (start, end) seconds with 0 <= start < end", self.mute_spans)
        if not isinstance(self.bleep, bool):
            yield bad("set.bleep", "bleep must be true or false", self.bleep)
        elif self.bleep and not self.mute_spans:
            yield bad("set.bleep_spans", "bleep covers the mute spans with a tone: give the spans too")

    @property
    def face_photos(self) -> tuple[Path, ...]:
        """The reference photos of either kind (keep_faces or only_faces)."""
        return self.keep_faces or self.only_faces

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
        if "model" in changes and "model_named" not in changes:
            changes["model_named"] = None  # worked out again from the new model
        return dataclasses.replace(self, **changes)
