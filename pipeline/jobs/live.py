"""Masking a live stream: frames go in one at a time and come out masked at once.

LiveMasker drives the file run's own stages: a DetectStage (detector, tracker and hold,
with no look-ahead: a live frame cannot wait half a second for the frames after it) on a
thread of its own that detects the newest frames as fast as the device allows, and the
Renderer that covers every frame. Each frame is covered with the newest tracked boxes,
moved forward by each track's motion over the time since they were seen and grown with
that time (motion.py). No frame leaves uncovered:

* before the first detection, and whenever the newest one is more than `max_predict_s`
  older than the frame, `mask()` waits for a fresh one (the caller's input buffer drops
  frames meanwhile: frames are dropped, never sent unmasked);
* boxes whose motion is not known yet (a track seen once) are used for at most
  UNKNOWN_PREDICT_S: growing alone does not keep up with a fast pan;
* across a scene cut (track/scene.py) boxes of the old shot do not fit: `mask()` waits for
  a detection of the new shot; so across a change of frame size (a browser's WebRTC encoder
  scales its picture down and up with the CPU and the link): boxes of one size drawn on a
  frame of another land beside the faces;
* `strict=True`: every frame waits for its own detection (more latency, exact boxes).

    with LiveMasker(detector, settings, fps=30) as masker:
        for frame in frames:                  # pipeline.video.Frame, in stream order
            out = masker.mask(frame)          # BGR, the output size, every box covered
"""
from __future__ import annotations

import collections
import threading
import time

import numpy as np

from ..detect.detector import Detector
from ..detect.stage import DetectStage
from ..errors import MosaicError
from ..identity.stage import Identity
from ..io.video import Frame, VideoInfo
from ..mask.render import Renderer
from ..settings import Settings
from ..track.motion import Forecast, Motion
from ..track.scene import is_cut, signature

MAX_PREDICT_S = 0.5  # boxes are moved forward at most this far; older ones mean waiting
# ... and at most this far while a box's motion is not known yet (a track seen once, e.g. the
# first sighting after a cut): it only grows, and a fast pan outruns that growth
UNKNOWN_PREDICT_S = 0.2
STALL_S = 60.0  # a detector that gives nothing for this long has failed
WAITING_MAX = 32  # frames kept for the detector to choose from (bounded memory)


class LiveMasker:
    """Stateful: keeps the tracker, the hold and each track's motion across calls.

    `batch` frames are detected per call: 1 detects the newest frame; more also detect
    frames spaced between the previous detection and the newest (they run in parallel on
    a multi-stream engine, giving the tracker more sightings at the same latency)."""

    def __init__(self, detector: Detector, settings: Settings, fps: float, *, strict: bool = False,
                 max_predict_s: float = MAX_PREDICT_S, batch: int = 1):
        self.settings, self.fps = settings, fps or 30.0
        self.strict, self.max_predict_s, self.batch = strict, max_predict_s, max(1, batch)
        # people by face only for --keep-face / --only-face: describing faces costs a live frame time
        identity = Identity.for_settings(settings.replace(people=False))
        self.stage = DetectStage(detector, settings, self.fps, look_ahead=False, identity=identity)
        self.stage.hold.tracker.ready()  # made now, not on the first detection (seconds of import)
        self.motion = Motion()
        self.renderer: Renderer | None = None  # made for the first frame's size
        self.detected = 0  # frames detected so far
        self.stall_s = STALL_S
        self._cond = threading.Condition()
        self._waiting: collections.deque = collections.deque(maxlen=WAITING_MAX)
        self._latest: Forecast | None = None
        self._latest_scene: np.ndarray | None = None  # signature of the frame _latest was detected on
        self._latest_reach = max_predict_s  # how far _latest may be moved forward
        self._own: dict[int, Forecast] = {}  # strict: each frame's own detection
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._detect_loop, name="mosaic-live-detect", daemon=True)
        self._thread.start()

    def __enter__(self) -> "LiveMasker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def detect_seconds(self) -> float:
        return self.stage.seconds

    def mask(self, frame: Frame, stop: threading.Event | None = None) -> np.ndarray | None:
        """The masked output of `frame` (frames in stream order, `time_s` increasing): BGR at
        the output size. Waits when no detection is fresh enough; returns None only when
        `stop` is set while waiting (the frame is then dropped)."""
        if self.renderer is None:  # the output size is the first frame's; other sizes are scaled to it
            height, width = frame.image.shape[:2]
            self.renderer = Renderer(self.settings, VideoInfo(width, height, self.fps, 0, 0.0, 0, "live", False))
        forecast = self._forecast_for(frame, stop)
        if forecast is None:
            return None
        height, width = frame.image.shape[:2]
        same_size = (self.renderer.out_w, self.renderer.out_h) == (width, height)
        image = frame.image.copy() if same_size else frame.image  # the detector may still read it
        return self.renderer.shown(image, forecast.at(frame.time_s))  # the follow crop when on

    def _forecast_for(self, frame: Frame, stop: threading.Event | None) -> Forecast | None:
        scene = None if self.strict else signature(frame.image)
        with self._cond:
            self._waiting.append(frame)
            self._cond.notify_all()
            deadline = time.monotonic() + self.stall_s
            while True:
                if self._error is not None:
                    raise _as_mosaic_error(self._error)
                if self.strict:
                    found = self._own.pop(frame.index, None)
                else:
                    found = self._latest
                    if found is not None and abs(frame.time_s - found.time_s) > self._latest_reach:
                        found = None  # too old to move forward: wait for a fresh one
                    elif found is not None and is_cut(scene, self._latest_scene):
                        found = None  # boxes of another shot or size: wait for one of this one
                if found is not None:
                    return found
                if stop is not None and stop.is_set():
                    return None
                if self._closed:
                    raise MosaicError("The live masker is closed")
                if time.monotonic() > deadline:
                    raise MosaicError(f"Detection gave nothing for {self.stall_s:.0f} s")
                self._cond.wait(0.05)

    # -- the detection thread ---------------------------------------------------------
    def _pick(self) -> list[Frame]:
        """Strict: the oldest frames, in order (each needs its own boxes). Otherwise the
        newest frame and, with batch > 1, frames spaced before it; the rest are skipped."""
        waiting = self._waiting
        if self.strict:
            return [waiting.popleft() for _ in range(min(self.batch, len(waiting)))]
        n = len(waiting)
        picks = sorted({n - 1 - n * k // self.batch for k in range(min(self.batch, n))})  # newest first
        frames = [waiting[i] for i in picks]
        waiting.clear()
        return frames

    def _detect_loop(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._waiting and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    frames = self._pick()
                # look_ahead=False: every frame comes back now; a cut (a new size too) ends tracks and held boxes
                ready = self.stage.push(frames)
                scene = signature(ready[-1][0].image) if ready and not self.strict else None
                if is_cut(scene, self._latest_scene):  # a new shot or size: old sightings give no velocity
                    self.motion = Motion()
                forecasts = []
                for frame, detections in ready:
                    self.motion.update(frame.time_s, detections)
                    forecasts.append((frame.index, self.motion.forecast(frame.time_s, detections)))
                with self._cond:
                    self.detected += len(forecasts)
                    if self.strict:
                        self._own.update(forecasts)
                    if forecasts:
                        self._latest, self._latest_scene = forecasts[-1][1], scene
                        self._latest_reach = self._reach(forecasts[-1][1])
                    self._cond.notify_all()
        except BaseException as err:  # noqa: BLE001 - given to the caller of mask()
            with self._cond:
                self._error = err
                self._cond.notify_all()

    def _reach(self, forecast: Forecast) -> float:
        """How far these boxes may be moved forward: less while a track's motion is unknown."""
        d = forecast.detections
        unknown = any(len(self.motion.seen.get(int(t), ())) < 2 for t, k in zip(d.track_id, d.kind) if t)
        return min(self.max_predict_s, UNKNOWN_PREDICT_S) if unknown else self.max_predict_s

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=self.stall_s)


def _as_mosaic_error(err: BaseException) -> MosaicError:
    if isinstance(err, MosaicError):
        return err
    return MosaicError(f"Live detection failed: {type(err).__name__}: {err}")
