"""ZeroGPU on Hugging Face Spaces: detection runs inside `@spaces.GPU` calls, everything else
(decoding, masking, the ZIP, the video and its audio) on the Space's CPU, as always.

ZeroGPU lends a GPU only for the length of a decorated call, and each call asks for a
duration up front (the default is 60 s; a shorter request waits less in the queue; a call
that runs past its request is aborted). So a job is cut into calls:

  * the model is loaded on the CPU at start (`warm_model`) and moved to CUDA inside the call
    (in ZeroGPU's GPU process, once per process);
  * the frames to detect are decoded here, shrunk to the network's input size (what the
    detector would do first anyway, so 1080p frames do not cross the process boundary at
    full size), and sent in chunks; each chunk is one call whose duration is computed from
    its frame count and a measured time per frame (`call_duration`);
  * `plan_gpu_calls(frame_count, seconds_per_frame, cap_s)` splits a video so that no call
    asks for more than the cap: a long video makes several calls.

`run` is `pipeline.run` with that detector plugged in; off ZeroGPU (no `SPACES_ZERO_GPU`,
`MOSAIC_ZEROGPU` unset) it *is* `pipeline.run` and `@spaces.GPU` does nothing. Knobs (see
docs/hosting.md): MOSAIC_ZEROGPU_CAP_S, _SECONDS_PER_FRAME, _MAX_FRAMES, _CALL_MB."""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

try:  # before torch: on ZeroGPU, `spaces` patches CUDA at import
    import spaces
except ImportError:  # not installed (local runs): the decorator below does nothing
    spaces = None

import cv2

from pipeline import MosaicError, Progress, Settings, default_output
from pipeline import run as pipeline_run
from pipeline.io.source import looks_like_link

CALL_OVERHEAD_S = 8.0  # per call: GPU attach, model to CUDA, first-batch warm-up, frames over the pipe
SAFETY = 1.5  # a call asks for 1.5x its measured work
MIN_SECONDS_PER_FRAME = 0.001


def on_zerogpu() -> bool:
    """On a ZeroGPU Space (the variable the `spaces` package reads), or forced for tests
    and trials with MOSAIC_ZEROGPU=1 (then the decorator is a no-op and "the GPU call" runs
    here, on CUDA when present, else on the CPU)."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "t")
               for name in ("SPACES_ZERO_GPU", "MOSAIC_ZEROGPU"))


def cap_s() -> float:
    return float(os.environ.get("MOSAIC_ZEROGPU_CAP_S", "60"))


def start_seconds_per_frame() -> float:
    return float(os.environ.get("MOSAIC_ZEROGPU_SECONDS_PER_FRAME", "0.02"))


# -- planning the calls (pure) -------------------------------------------------------------------
@dataclass(frozen=True)
class GpuCall:
    start: int  # first frame (counted among the frames to detect) of this call
    stop: int  # one past its last
    duration_s: int  # what the call asks ZeroGPU for

    @property
    def frames(self) -> int:
        return self.stop - self.start


def call_duration(frames: int, seconds_per_frame: float, cap: float | None = None) -> int:
    """Seconds one call over `frames` frames asks for: the fixed overhead plus the frames at
    the measured time with a safety margin, rounded up, never past the cap."""
    cap = cap_s() if cap is None else cap
    wanted = CALL_OVERHEAD_S + max(frames, 0) * max(seconds_per_frame, MIN_SECONDS_PER_FRAME) * SAFETY
    return int(min(math.ceil(wanted), math.floor(cap)))


def frames_per_call(seconds_per_frame: float, cap: float) -> int:
    """The most frames one call may take without asking for more than `cap` seconds."""
    room = math.floor(cap) - CALL_OVERHEAD_S
    per_frame = max(seconds_per_frame, MIN_SECONDS_PER_FRAME) * SAFETY
    if room < per_frame:
        raise ValueError(f"a GPU call capped at {cap:g} s cannot fit one frame "
                         f"({CALL_OVERHEAD_S:g} s overhead + {per_frame:.3f} s)")
    return int(room // per_frame)


def plan_gpu_calls(frame_count: int, seconds_per_frame: float, cap: float,
                   max_frames: int | None = None) -> list[GpuCall]:
    """Split `frame_count` frames into as few calls as fit under `cap` seconds each (and
    `max_frames` frames each, for memory), of equal size, each with its duration."""
    if frame_count <= 0:
        return []
    per_call = frames_per_call(seconds_per_frame, cap)
    if max_frames:
        per_call = max(1, min(per_call, max_frames))
    count = math.ceil(frame_count / per_call)
    size, extra = divmod(frame_count, count)  # balanced: 101 frames in 2 calls are 51 + 50, not 100 + 1
    calls, start = [], 0
    for n in range(count):
        stop = start + size + (1 if n < extra else 0)
        calls.append(GpuCall(start, stop, call_duration(stop - start, seconds_per_frame, cap)))
        start = stop
    return calls


# -- the GPU call -----------------------------------------------------------------------------
_measured = {"seconds_per_frame": None}  # the latest measured time per frame (main process)
_on_device: dict = {}  # in the GPU process: the model moved to CUDA, kept for later calls


def seconds_per_frame() -> float:
    return _measured["seconds_per_frame"] or start_seconds_per_frame()


def _requested_duration(frames, indices, settings) -> int:
    """What `detect_on_gpu` asks ZeroGPU for (spaces calls this with the call's arguments)."""
    return call_duration(len(frames), seconds_per_frame())


def _gpu(**options):
    return spaces.GPU(**options) if spaces is not None else (lambda function: function)


def cpu_settings(settings: Settings) -> Settings:
    """The model as it is loaded at start: torch on the CPU (only torch moves to CUDA)."""
    return settings.replace(device="cpu", backend="torch")


@_gpu(duration=_requested_duration)
def detect_on_gpu(frames, indices, settings: Settings):
    """Inside the GPU call: the CPU model (inherited from the main process) moved to CUDA
    once per GPU process, then the frames in batches. Returns (detections, seconds spent
    detecting)."""
    import torch

    from pipeline.models import load_detector

    cpu = load_detector(cpu_settings(settings))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    detector = _on_device.get((cpu.key, device))
    if detector is None:
        detector = _on_device[(cpu.key, device)] = cpu.moved_to(device)
    detector = detector.with_options(settings.classes, settings.conf)
    started = time.perf_counter()
    found = []
    for first in range(0, len(frames), settings.batch):
        found.extend(detector.detect(frames[first:first + settings.batch], indices[first:first + settings.batch]))
    return found, time.perf_counter() - started


# -- the detector the run uses ----------------------------------------------------------------------
class ZeroGpuDetector:
    """A Detector for `pipeline.run`: when asked about a frame it has not detected yet, it
    decodes the next chunk of frames itself (here, on the CPU), sends them to one
    `detect_on_gpu` call, and keeps the answers until the run asks for them."""

    def __init__(self, video: Path, settings: Settings, every_frame: bool):
        from pipeline.io.video import probe_video, read_frames
        from pipeline.models import load_detector

        self.settings = settings
        self.cpu = load_detector(cpu_settings(settings))  # loaded at start by warm_model
        # the Result names the model, and says when the bundled one ran in place of YOLO
        self.model_name, self.notes = getattr(self.cpu, "model_name", None), tuple(getattr(self.cpu, "notes", ()))
        info = probe_video(video)
        self.wanted_total = info.frame_count if every_frame else math.ceil(info.frame_count / settings.interval)
        self.done = 0
        interval = settings.interval
        self._frames = read_frames(video, wanted=lambda i: every_frame or i % interval == 0)
        self._found: dict = {}
        self._lock = threading.Lock()
        self.calls: list[GpuCall] = []  # the calls made, with what each asked for

    def detect(self, frames, indices):
        with self._lock:
            for index in indices:
                while index not in self._found:
                    self._next_call(index)
            return [self._found.pop(index) for index in indices]

    def _max_frames(self, frame_bytes: int) -> int:
        given = os.environ.get("MOSAIC_ZEROGPU_MAX_FRAMES")
        if given:
            return max(1, int(given))
        budget = float(os.environ.get("MOSAIC_ZEROGPU_CALL_MB", "512")) * 1e6
        return max(1, int(budget // max(frame_bytes, 1)))

    def _next_call(self, wanted_index: int) -> None:
        shrunk, indices, scales = [], [], []
        limit = None
        for frame in self._frames:
            if frame.image is None:
                continue
            height, width = frame.image.shape[:2]
            new_w, new_h = self.cpu.geometry((height, width)).new_wh
            image = frame.image
            if (new_w, new_h) != (width, height):  # exactly the resize the detector starts with
                image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
            if limit is None:
                remaining = max(self.wanted_total - self.done, 1)
                plan = plan_gpu_calls(remaining, seconds_per_frame(), cap_s(), self._max_frames(image.nbytes))
                limit = plan[0].frames
            shrunk.append(image)
            indices.append(frame.index)
            scales.append((width / new_w, height / new_h))
            if len(shrunk) >= limit:
                break
        if not shrunk:
            raise MosaicError(f"The video ended before frame {wanted_index}, which the detector was asked about")
        call = GpuCall(self.done, self.done + len(shrunk), _requested_duration(shrunk, indices, self.settings))
        found, seconds = detect_on_gpu(shrunk, indices, self.settings)
        self.calls.append(call)
        self.done += len(shrunk)
        _measured["seconds_per_frame"] = max(seconds / len(shrunk), MIN_SECONDS_PER_FRAME)
        for index, detections, (sx, sy) in zip(indices, found, scales):
            self._found[index] = detections.scaled(sx, sy)

    def close(self) -> None:
        try:
            self._frames.close()
        except ValueError:  # still in use by a detect call that a cancel left running
            pass


def run(source, settings: Settings, **kwargs):
    """`pipeline.run`, with detection in ZeroGPU calls when on ZeroGPU (a Drive link is
    downloaded first, here). Off ZeroGPU, and for replayed boxes, a given detector or a run
    forced onto the CPU, it is plain `pipeline.run`; the face target and INT8 run it on the
    CPU, since their engines are OpenVINO's."""
    text = str(source).strip()
    if (not on_zerogpu() or kwargs.get("detector") is not None or settings.detections_csv is not None
            or settings.device == "cpu" or not text):
        yield from pipeline_run(source, settings, **kwargs)
        return
    if settings.target == "face" or settings.precision != "fp32":
        # CenterFace and INT8 models run on OpenVINO, a CPU engine: no GPU call to make (and the
        # GPU call's torch model, cpu_settings, cannot be INT8)
        yield from pipeline_run(source, settings.replace(device="cpu"), **kwargs)
        return
    folder = None
    try:
        if looks_like_link(text):
            folder = Path(tempfile.mkdtemp(prefix="mosaic-download-", dir=kwargs.get("work_dir")))
            video = yield from _download(text, folder, kwargs.get("max_download_bytes"), kwargs.get("cancel"))
            if kwargs.get("output") is None:
                kwargs["output"] = Path.cwd() / default_output(Path(video.name)).name
        else:
            video = Path(text).expanduser()
        detector = ZeroGpuDetector(video, settings, every_frame=kwargs.get("video_output") is not None) \
            if video.is_file() else None  # a missing file: the run says so in its own words
        try:
            yield from pipeline_run(video, settings, detector=detector, **kwargs)
        finally:
            if detector is not None:
                detector.close()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _download(link: str, folder: Path, max_bytes: int | None, cancel: threading.Event | None):
    """The Drive file into `folder`, with the run's own download code and messages; yields
    Progress while it runs and returns the file's path."""
    from pipeline.io import source as source_mod

    state, stop = source_mod.DownloadState(), threading.Event()
    worker = threading.Thread(target=source_mod.download_drive_video, args=(link, folder, state, stop, max_bytes),
                              name="mosaic-download", daemon=True)
    started = time.monotonic()
    worker.start()
    try:
        while not state.finished:
            if cancel is not None and cancel.is_set():
                stop.set()
            worker.join(0.25)
            yield Progress(stage="downloading", elapsed_s=time.monotonic() - started,
                           message=source_mod.download_message(state))
    finally:
        stop.set()
    if state.error is not None:
        raise state.error
    return state.path


def warm_model() -> str | None:
    """At start-up, in the background: the default model (on ZeroGPU, on the CPU, moved to
    CUDA inside each call). Returns the error, if any."""
    try:
        from pipeline.models import load_detector

        load_detector(cpu_settings(Settings()) if on_zerogpu() else Settings())
        return None
    except MosaicError as err:
        return str(err)
