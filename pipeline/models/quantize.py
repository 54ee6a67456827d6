"""INT8 on the CPU: NNCF post-training quantization of an OpenVINO model, made once and cached.

    FP32 model (OpenVINO IR or ONNX, its raw float input) + calibration frames, prepared the way
    the engine prepares them (letterbox or resize to the detection size)
        -> nncf.quantize: 8-bit weights (7 used: the overflow fix) and activations, ranges from
           the frames; per-model recipe (preset, nodes kept in float) from the caller
        -> <dest>/<name>_int8_<key>/model.xml (+ .bin and a stamp saying what it was made from)

The int8 model keeps the FP32 model's interface (dynamic [1, 3, H, W] float input, same
outputs), so the engines compile and feed it exactly like the FP32 one.

Cached like the OpenVINO export (models/export.py): made on first use under a file lock (parallel
processes quantize once) and reused while its key holds. The key hashes what the result
depends on: the FP32 model's bytes, the calibration videos (name, size and a sample of their
bytes) and frame count, the size frames are prepared at, and our recipe; not the library
versions, so a cached model stays usable after an upgrade or where NNCF is not installed. A
changed model or calibration set gives a new folder, so switching between the shipped samples
and a user's video does not quantize again each time (old folders are not swept).

Calibration frames: by default from the sample clips shipped with the app (ui/assets: real
faces, and a street with walking people), spread evenly over each clip; when the clips hold
fewer frames than asked for, their mirror images fill up. `Settings.calibration_video`
calibrates on the user's own footage instead. How many frames: $MOSAIC_INT8_CALIBRATION_FRAMES
(default 300; tests use a few).

NNCF is needed only to make the int8 model (requirements-int8.txt); running a cached one
needs only OpenVINO.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)

CALIBRATION_ENV_VAR = "MOSAIC_INT8_CALIBRATION_FRAMES"
DEFAULT_CALIBRATION_FRAMES = 300
ASSETS = Path(__file__).resolve().parents[2] / "ui" / "assets"
SAMPLE_CLIPS = (ASSETS / "faces_clip.mp4", ASSETS / "vtest_clip.mp4")
STAMP = ".mosaic-int8.json"
RECIPE = 2  # bump when the quantization options below change: old caches are not reused
SAMPLE_BYTES = 1 << 22  # a video's key hashes its first and last 4 MiB (and its size), not all of it
INSTALL_HINT = "INT8 needs NNCF to make the quantized model once: pip install -r requirements-int8.txt"


def calibration_count() -> int:
    """Frames to calibrate on: $MOSAIC_INT8_CALIBRATION_FRAMES, default 300."""
    text = os.environ.get(CALIBRATION_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_CALIBRATION_FRAMES
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ModelError(f"${CALIBRATION_ENV_VAR} must be a whole number of frames >= 1 (got {text!r})")
    return count


@dataclass(frozen=True)
class Calibration:
    """Which frames an int8 model is calibrated on: `count` frames spread over `videos`."""

    videos: tuple[Path, ...]
    count: int

    @classmethod
    def for_video(cls, video: Path | None) -> "Calibration":
        """The user's video when given, else the shipped sample clips."""
        videos = (Path(video).expanduser(),) if video else SAMPLE_CLIPS
        for path in videos:
            if not path.is_file():
                raise ModelError(f"Calibration video '{path}' does not exist" if video else
                                 f"The sample clip '{path}' that INT8 calibrates on is missing")
        return cls(videos, calibration_count())

    def fingerprint(self) -> list:
        return [[path.name, path.stat().st_size, _sample_hash(path)] for path in self.videos] + [self.count]

    def frames(self, prepare: Callable[[np.ndarray], np.ndarray]) -> "CalibrationFrames":
        return CalibrationFrames(self, prepare)


class CalibrationFrames:
    """The calibration frames, each through `prepare` (BGR frame -> the network's uint8 input
    picture). Re-iterable (NNCF walks the set more than once) and decoded on the fly, so 300
    frames of a 4K video are never all in memory."""

    def __init__(self, calibration: Calibration, prepare: Callable[[np.ndarray], np.ndarray]):
        from ..io.video import probe_video

        self.videos, self.prepare = calibration.videos, prepare
        counts = [max(probe_video(path).frame_count, 1) for path in self.videos]
        shares = [calibration.count // len(counts) + (i < calibration.count % len(counts)) for i in range(len(counts))]
        # frames spread evenly over each video; mirrored copies when the videos hold too few
        self.picks = [set(np.linspace(0, n - 1, min(n, share)).round().astype(int).tolist())
                      for n, share in zip(counts, shares)]
        self.count = min(calibration.count, 2 * sum(len(p) for p in self.picks))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[np.ndarray]:
        from ..io.video import read_frames

        given = 0
        for mirror in (False, True):
            for path, picks in zip(self.videos, self.picks):
                frames = read_frames(path, wanted=picks.__contains__)
                with contextlib.closing(frames):
                    for frame in frames:
                        if frame.image is None:
                            continue
                        if given == self.count:
                            return
                        yield self.prepare(frame.image[:, ::-1] if mirror else frame.image)
                        given += 1


def int8_model(fp32: Path, dest: Path, calibration: Calibration, prepare: Callable[[np.ndarray], np.ndarray],
               scale: float, recipe: dict, preset: str = "performance",
               ignored: Callable[[object], list[str]] | None = None) -> Path:
    """The int8 version of the FP32 model `fp32` (.xml or .onnx, input float NCHW RGB times
    `scale`), in a folder `dest`_<key>, made now unless cached. `prepare` turns a BGR frame into
    the uint8 BGR picture the engine feeds (letterboxed or resized); `recipe` describes that and
    `ignored` (it goes into the key). `preset`: NNCF's "performance" (symmetric activations) or
    "mixed" (asymmetric); `ignored(model)` names the nodes kept in float."""
    key_source = {
        "model": _model_hash(fp32), "calibration": calibration.fingerprint(), "prepare": recipe,
        "scale": scale, "preset": preset, "recipe": RECIPE,
    }  # not the library versions: a cached model stays usable after an upgrade, and without NNCF
    key = hashlib.sha256(json.dumps(key_source, sort_keys=True).encode()).hexdigest()[:12]
    folder = dest.with_name(f"{dest.name}_{key}")
    stamp = folder / STAMP

    def current() -> Path | None:
        try:
            if json.loads(stamp.read_text()).get("key") == key_source and (folder / "model.bin").is_file():
                return folder / "model.xml"
        except (OSError, ValueError):
            pass
        return None

    found = current()
    if found is not None:
        return found
    folder.parent.mkdir(parents=True, exist_ok=True)
    from .export import file_lock

    with file_lock(folder.with_name(f".{folder.name}.lock")):
        found = current()  # another process may have made it while we waited
        if found is not None:
            return found
        frames = calibration.frames(prepare)
        log.warning("Quantizing %s to INT8 on %d calibration frames (once; cached in %s)",
                    fp32.name, len(frames), folder)
        quantized = _quantize(fp32, frames, scale, preset, ignored)
        import openvino as ov

        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        ov.save_model(quantized, str(tmp / "model.xml"))  # compressed to FP16 on disk is for weights
        made = {"key": key_source, "frames": len(frames), "made_with": _versions()}
        (tmp / STAMP).write_text(json.dumps(made, indent=1))  # only a complete folder gets a stamp
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        return current() or folder / "model.xml"


def _quantize(fp32: Path, frames: CalibrationFrames, scale: float, preset: str, ignored):
    try:
        import nncf
    except ImportError as err:
        raise ModelError(INSTALL_HINT, key="err.int8_unavailable") from err
    import openvino as ov

    model = ov.Core().read_model(str(fp32))
    model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, 3, -1, -1])})  # any frame size

    def to_input(picture: np.ndarray) -> np.ndarray:  # what the engine's in-graph preprocessing makes
        x = picture[None, :, :, ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        return x * np.float32(scale) if scale != 1 else x

    _quiet(nncf)
    names = ignored(model) if ignored else []
    options = {"ignored_scope": nncf.IgnoredScope(names=names)} if names else {}
    presets = {"performance": nncf.QuantizationPreset.PERFORMANCE, "mixed": nncf.QuantizationPreset.MIXED}
    # 7-bit weights in every layer, not only the first: CPUs without VNNI (AVX2, like the
    # EPYC this was measured on) multiply u8 x s8 pairs into saturating int16, and 8-bit
    # weights overflow there. On CenterFace it raised the recall of FP32's faces from 92 % to 97 %.
    advanced = nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE)
    try:  # its progress bars (rich, on stdout) go to stderr: the CLI's stdout is one JSON line
        with contextlib.redirect_stdout(sys.stderr):
            return nncf.quantize(model, nncf.Dataset(frames, to_input), preset=presets[preset],
                                 subset_size=len(frames), advanced_parameters=advanced, **options)
    except ModelError:
        raise
    except Exception as err:  # noqa: BLE001 - NNCF raises many types; report one line
        raise ModelError(f"INT8 quantization of {fp32.name} failed: {' '.join(str(err).split())[:300]}") from err


def _quiet(nncf) -> None:
    """NNCF logs every layer it leaves alone at INFO, on stdout: warnings only, on stderr."""
    from nncf.common.logging.logger import nncf_logger

    nncf.set_log_level(logging.WARNING)
    for handler in nncf_logger.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def _model_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for part in (path, path.with_suffix(".bin")) if path.suffix == ".xml" else (path,):
        with open(part, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _sample_hash(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(SAMPLE_BYTES))
        if size > SAMPLE_BYTES:
            handle.seek(max(SAMPLE_BYTES, size - SAMPLE_BYTES))
            digest.update(handle.read(SAMPLE_BYTES))
    return digest.hexdigest()[:16]


def _versions() -> dict:
    import openvino

    try:
        from importlib.metadata import version

        nncf_version = version("nncf")
    except Exception:  # noqa: BLE001 - not installed: a cached model is still usable
        nncf_version = None
    return {"openvino": openvino.__version__, "nncf": nncf_version}


# -- YOLO (the person, silhouette and head targets) ---------------------------------------
def yolo_int8_model(xml: Path, key) -> Path:
    """YOLO's OpenVINO export quantized to INT8, beside it (`<stem>_openvino_int8_<key>/`),
    calibrated on frames letterboxed exactly as the engine letterboxes them. The recipe is
    ultralytics' own INT8 export's: NNCF's mixed preset, and the detect head's box arithmetic
    (DFL, the anchor adds and multiplies, the class sigmoids) kept in float."""
    from .export import read_metadata
    from .letterbox import PAD_VALUE, Geometry

    stride = int(max(read_metadata(xml.parent).get("stride", 32), 32))

    def prepare(image: np.ndarray) -> np.ndarray:
        geometry = Geometry.fit(image.shape[:2], key.imgsz, stride, rect=True)
        out = np.full((*geometry.net_hw, 3), PAD_VALUE, np.uint8)
        geometry.place(out, image)
        return out

    stem = xml.parent.name.removesuffix("_openvino_model")
    return int8_model(xml, xml.parent.with_name(f"{stem}_openvino_int8"), Calibration.for_video(key.calibration),
                      prepare, scale=1 / 255, preset="mixed", ignored=_yolo_head_arithmetic,
                      recipe={"net": "yolo", "imgsz": key.imgsz, "stride": stride, "letterbox": "rect",
                              "float": "ultralytics: head arithmetic, dfl, sigmoid"})


def _yolo_head_arithmetic(model) -> list[str]:
    """ultralytics' ignored scope for Detect heads (utils/export/openvino.py): every Sigmoid,
    and the ops of the head module itself (not its convolutions) and of its DFL."""
    ops = model.get_ordered_ops()
    sigmoids = [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"]
    if not sigmoids:
        return []
    head = sigmoids[-1].split("/", 1)[0]
    return [op.get_friendly_name() for op in ops if op.get_type_name() == "Sigmoid"
            or op.get_friendly_name().startswith((f"{head}/", f"{head}.dfl"))]
