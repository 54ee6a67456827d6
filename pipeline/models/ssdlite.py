"""The bundled person detector, `ssdlite-person`: SSDLite-MobileNetV2 (TensorFlow Object
Detection API, fine-tuned for one class, person; MIT), whose frozen graph ships in weights/.
It runs offline: the person target falls back to it when YOLO's weights cannot be loaded
(models/__init__.py), and it may be named (`--model ssdlite-person`).

    frames -> each resized to 300x300 (aspect not kept: the graph was trained so), BGR -> RGB
           -> OpenVINO, which reads the frozen graph itself (no TensorFlow)
           -> its own NMS: the top 100 boxes, normalized (ymin, xmin, ymax, xmax), and scores
           -> boxes at or above the job's confidence, in source pixels

It sees every image at 300x300, so in a whole 1080p frame a person is a sixth of their size:
the detail scan's full-resolution tiles (detect/scan.py) and the closer looks matter more
for it than for YOLO. For `silhouette` and `head` it covers whole-person boxes (no outline,
no keypoints): more than asked for, never less, and the run says so.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..detections import Detections
from ..errors import Message, ModelError
from ..settings import BUNDLED_PERSON_MODEL, Settings
from .engines import RequestPool
from .weights import SSDLITE_PERSON_PB, SSDLITE_PERSON_SHA256

SIDE = 300  # the graph's own input size (its preprocessor resizes anything to this)
# what it misses, from benchmarks/bench_persons.py (docs/persons.md): shown with the fallback
MISSES = ("it misses more small, far and partly hidden people, and its boxes flicker more "
          "(docs/persons.md); check the output before sharing")


class SSDLiteEngine:
    """The frozen graph compiled on the CPU for (1, 300, 300, 3) uint8 RGB input, FP32, on a
    RequestPool (one single-thread stream per core for batches, all cores for a lone image).
    Outputs are told apart by shape and values, not names: boxes are (100, 4) an image; of
    the two (100,) outputs, the classes are whole numbers (all 1.0), the scores are not."""

    name = "openvino"

    def __init__(self, threads: int):
        import openvino as ov

        if not SSDLITE_PERSON_PB.is_file():
            raise ModelError(f"The bundled person model is missing: {SSDLITE_PERSON_PB.name} ships with the code")
        self.core = ov.Core()
        model = self.core.read_model(str(cached_ir(self.core)))
        model.reshape({model.input(0).get_any_name(): ov.PartialShape([1, SIDE, SIDE, 3])})

        def compile_requests(h: int, w: int, hint: str) -> list:
            config = {"PERFORMANCE_HINT": hint, "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
            compiled = self.core.compile_model(model, "CPU", config)
            count = max(1, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
            return [compiled.create_infer_request() for _ in range(count)]

        self.pool = RequestPool(self.core, None, threads, compile_requests=compile_requests)
        self.boxes_at = self.scores_at = None
        noise = np.random.default_rng(0).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        self._find_outputs(next(iter(self.run([noise])))[1])

    def _find_outputs(self, outputs: list[np.ndarray]) -> None:
        boxes = [k for k, out in enumerate(outputs) if out.ndim == 2 and out.shape[1] == 4]
        rows = [k for k, out in enumerate(outputs) if out.ndim == 1 and out.size > 1]
        scores = [k for k in rows if not np.array_equal(outputs[k], np.round(outputs[k]))]
        if len(boxes) != 1 or len(scores) != 1:
            raise ModelError("The bundled person model's outputs are not SSD boxes and scores")
        self.boxes_at, self.scores_at = boxes[0], scores[0]

    def run(self, images: Sequence[np.ndarray]):
        """(i, outputs) per image as each finishes; images are (300, 300, 3) uint8 RGB."""
        for i, request in self.pool.run(len(images), lambda i: images[i][None], SIDE, SIDE):
            yield i, [np.array(request.get_output_tensor(k).data[0]) for k in range(len(request.model_outputs))]


def cached_ir(core) -> Path:
    """The frozen graph as OpenVINO IR in the app's cache folder, made on first use (reading
    the TensorFlow graph takes ~1 s, 8 s on a busy 2-core machine; the IR a tenth of that),
    and OpenVINO's compiled-model cache turned on for `core` beside it (a second process
    compiles in a fifth of the time). Where the cache cannot be written, the graph itself."""
    import openvino as ov

    from .export import cache_root

    folder = cache_root() / f"ssdlite-person-{SSDLITE_PERSON_SHA256[:12]}"
    xml = folder / "model.xml"
    try:
        if not xml.is_file():
            tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            ov.save_model(core.read_model(str(SSDLITE_PERSON_PB)), str(tmp / "model.xml"), compress_to_fp16=False)
            try:
                os.replace(tmp, folder)
            except OSError:  # another process made it first
                shutil.rmtree(tmp, ignore_errors=True)
        (folder.parent / "openvino-cache").mkdir(exist_ok=True)
        core.set_property({"CACHE_DIR": str(folder.parent / "openvino-cache")})
        return xml
    except OSError:
        return SSDLITE_PERSON_PB


class SSDLitePersonDetector:
    """Persons from the bundled SSDLite graph. `detect` is thread-safe (one engine, a lock).
    `notes` are what a run must tell its user about this model (the fallback's warning)."""

    looks_at_pixels = True  # the detail level may show it full-resolution tiles (detect/scan.py)
    model_name = BUNDLED_PERSON_MODEL
    backend = "openvino"

    key = (BUNDLED_PERSON_MODEL, "cpu", "openvino", SIDE)  # what caches key a loaded model by

    def __init__(self, engine: SSDLiteEngine, conf: float, notes: tuple[Message, ...] = ()):
        self.engine, self.conf, self.notes = engine, conf, tuple(notes)
        self._lock = threading.Lock()

    def with_options(self, classes: Sequence[int] = (0,), conf: float | None = None,
                     target: str | None = None) -> "SSDLitePersonDetector":
        """The same loaded engine with another threshold (no reload); one class, person, so
        `classes` and `target` change nothing (YoloDetector's signature, for ZeroGPU)."""
        clone = SSDLitePersonDetector(self.engine, self.conf if conf is None else conf, self.notes)
        clone._lock = self._lock
        return clone

    def moved_to(self, device: str) -> "SSDLitePersonDetector":
        """It runs on OpenVINO on the CPU wherever the run is (ZeroGPU asks for CUDA)."""
        return self

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int] = ()) -> list[Detections]:
        import cv2

        images = [cv2.cvtColor(cv2.resize(frame, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
                  for frame in frames]
        out: list[Detections | None] = [None] * len(frames)
        try:
            with self._lock:
                for i, outputs in self.engine.run(images):
                    out[i] = self._decode(outputs, frames[i].shape[:2])
        except Exception as err:  # engines raise many types; report one line
            raise ModelError(f"Person detection failed: {' '.join(str(err).split())[:300]}") from err
        return out

    def _decode(self, outputs: list[np.ndarray], src_hw: tuple[int, int]) -> Detections:
        scores = outputs[self.engine.scores_at].astype(np.float32)
        keep = scores >= self.conf
        yx = outputs[self.engine.boxes_at][keep].astype(np.float32)  # ymin, xmin, ymax, xmax in 0..1
        h, w = src_hw
        xyxy = np.clip(yx[:, [1, 0, 3, 2]], 0.0, 1.0) * np.array([w, h, w, h], np.float32)
        return Detections(xyxy=xyxy, score=scores[keep], class_id=np.zeros(int(keep.sum()), np.int32))


_engine: SSDLiteEngine | None = None
_engine_lock = threading.Lock()


def load_ssdlite_detector(settings: Settings, instead_of: str | None = None, reason: str = "") -> SSDLitePersonDetector:
    """The process-wide bundled person detector at `settings.conf`. `instead_of` names the
    model that could not be loaded when this one runs in its place (the offline fallback):
    the detector then carries the note the run must show. INT8 is not offered for it: NNCF
    quantizes it (mixed preset, overflow fix; its box heads in float too), but the INT8 model
    found 97.7 % of FP32's people on vtest.avi, under the 99 % the other models must reach
    (docs/persons.md). Asked for by name, that is an error; in the fallback the note says
    FP32 ran."""
    if settings.precision != "fp32" and instead_of is None:
        raise ModelError(f"The bundled person model '{BUNDLED_PERSON_MODEL}' runs in FP32 only (its INT8 form "
                         "agrees with FP32 on 97.7 % of people, under the 99 % rule): use precision fp32")
    global _engine
    with _engine_lock:
        if _engine is None:
            try:
                _engine = SSDLiteEngine(os.cpu_count() or 1)
            except ModelError:
                raise
            except Exception as err:
                raise ModelError(f"The bundled person model failed to load: {' '.join(str(err).split())[:300]}") from err
    return SSDLitePersonDetector(_engine, settings.conf, notes_for(settings, instead_of, reason))


def notes_for(settings: Settings, instead_of: str | None, reason: str) -> tuple[Message, ...]:
    """What a run with this model says: which model found the people and why, when it ran in
    place of YOLO, and what it misses; what it covered instead of what was asked."""
    notes = []
    if instead_of is not None:
        notes.append(Message(f"People were found by the bundled model {BUNDLED_PERSON_MODEL} (SSDLite), because "
                             f"{instead_of} could not be loaded ({reason}). Compared with YOLO11, {MISSES}.",
                             "warn.fallback_model", model=BUNDLED_PERSON_MODEL, wanted=instead_of, reason=reason))
    if settings.target in ("silhouette", "head"):
        key = "warn.fallback_silhouette" if settings.target == "silhouette" else "warn.fallback_head"
        notes.append(Message(f"It covers whole-person boxes, not {settings.target}s.", key))
    if settings.precision != "fp32":
        notes.append(Message("It ran in FP32: its INT8 form misses too many people.", "warn.fallback_fp32"))
    return tuple(notes)
