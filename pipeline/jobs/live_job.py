"""One live run: a source (stream_source) -> LiveMasker (live.py) -> a sink (stream_sink),
with a stats line once a second and a LiveResult at the end.

The run ends when the source ends or goes quiet (nothing for `timeout_s`), at `duration_s`
of stream time, or when `stop` is set (Ctrl-C); the output is closed cleanly in every case.
A source that never connects raises InputError before any output exists.
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..detect.detector import Detector, ReplayDetector
from ..errors import Cancelled, MosaicError
from ..io.outputs import check_outputs
from ..io.stream_sink import StreamSink, check_target, is_url
from ..io.stream_source import FrameFeed, open_feed, parse_source
from ..settings import Settings
from ..track.ids import preload as preload_tracker
from .live import LiveMasker

STATS_PERIOD_S = 1.0
# Frames per detection call: the newest alone, on every core (the CPU engine's LATENCY
# request). Two (the newest and one between it and the previous call, side by side on two
# single-thread streams) gave 10-15 % more detections a second but twice the delay of each:
# 218 against 131 ms a call for YOLO11n at 640x480 (native), 608 against 285 ms (AVX2), on
# the shared 2-core Xeon, 2026-12-07. A frame waits whenever its newest boxes are over 0.5 s
# old, and frames that wait are dropped: in 4 paired 10-s bench_live runs there, batch 2
# kept 707 of 1200 frames, batch 1 1097 (docs/live.md). Fresher boxes also cover better.
LIVE_BATCH = 1
DURATION, STOPPED = "duration reached", "stopped"


@dataclass
class LiveStats:
    """One stats line: rates over the last period, latency of its frames, totals so far."""

    in_fps: float
    out_fps: float
    detect_hz: float
    latency_p50_ms: float
    latency_p95_ms: float
    dropped: int
    frames_in: int
    frames_out: int
    elapsed_s: float

    def line(self) -> str:
        return (f"live: in {self.in_fps:5.1f} fps  out {self.out_fps:5.1f} fps  detect {self.detect_hz:5.1f} Hz  "
                f"latency p50 {self.latency_p50_ms:4.0f} ms p95 {self.latency_p95_ms:4.0f} ms  "
                f"dropped {self.dropped}")


@dataclass
class LiveResult:
    output: str | None  # the file written, or the stream URL; None when no frame came
    ended: str  # source ended | source went quiet | duration reached | stopped | source failed
    frames_in: int
    frames_out: int
    dropped: int
    detections: int
    elapsed_s: float  # wall clock from the first frame out to the last
    out_fps: float  # frames per second of the output video
    detect_hz: float
    latency_p50_ms: float
    latency_p95_ms: float
    error: str | None = None  # why a source failed mid-stream
    model: str | None = None  # what found the people (the model, or the replayed CSV)
    warnings: tuple[str, ...] = ()  # the bundled model ran in place of YOLO (models/ssdlite.py)

    def summary(self) -> dict:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def check_live_output(source: str, output: str, settings: Settings) -> None:
    """A file output must be writable and never the input file, the CSV or the model."""
    check_target(output)
    if is_url(output):
        return
    spec = parse_source(source)
    inputs = [Path(spec.url)] if spec.kind == "file" else []
    inputs += [settings.detections_csv] if settings.detections_csv else []
    with contextlib.suppress(OSError):
        if Path(settings.model).expanduser().is_file():
            inputs.append(Path(settings.model))
    check_outputs(inputs, [output])


def load_live_detector(settings: Settings) -> Detector:
    if settings.detections_csv is not None:
        return ReplayDetector(settings.detections_csv)
    from ..models import load_detector  # heavy import only when the model is needed

    return load_detector(settings)


def run_live(source: str, output: str, settings: Settings, *, detector: Detector | None = None,
             strict: bool = False, duration_s: float | None = None, realtime: bool = False,
             timeout_s: float = 10.0, stop: threading.Event | None = None, batch: int = LIVE_BATCH,
             on_stats: Callable[[LiveStats], None] | None = None) -> LiveResult:
    check_live_output(source, output, settings)
    detector = detector or load_live_detector(settings)  # before the source: frames would pile up
    preload_tracker()  # so is the tracker's import (seconds): in a UDP run it cost 4.5 s of frames
    stop = stop or threading.Event()
    if stop.is_set():
        raise Cancelled("Stopped before the source was opened; nothing was written")
    feed = open_feed(source, timeout_s, realtime, start=False)  # InputError when nothing comes
    try:
        warm_up(detector, feed.size, batch)
        # the masker (its tracker imports ultralytics: seconds) is ready before the first frame
        with LiveMasker(detector, settings, feed.fps, strict=strict, batch=batch) as masker:
            feed.start()
            result = _Loop(feed, masker, output, duration_s, stop, on_stats).run()
        result.model = getattr(detector, "model_name", None) or getattr(detector, "name", None)
        result.warnings = tuple(getattr(detector, "notes", ()))
        return result
    finally:
        feed.close()


def warm_up(detector: Detector, size: tuple[int, int], batch: int = 1) -> None:
    """Detection calls at the stream's frame size before its first frame is read: an engine
    set up per input shape (OpenVINO's compile, cuDNN's autotune) would otherwise make the
    first frames wait. Both call sizes the masker makes: `batch` frames, and one alone (the
    first frame, and whenever one frame waits), which the CPU engine runs on a LATENCY
    request compiled apart from the batch's streams (engines.py)."""
    width, height = size
    if width > 0 and height > 0:
        for n in sorted({batch, 1}, reverse=True):
            detector.detect([np.zeros((height, width, 3), np.uint8)] * n, [-1] * n)


class _Loop:
    def __init__(self, feed: FrameFeed, masker: LiveMasker, output: str, duration_s: float | None,
                 stop: threading.Event, on_stats):
        self.feed, self.masker, self.output = feed, masker, output
        self.duration_s, self.stop, self.on_stats = duration_s, stop, on_stats
        self.sink: StreamSink | None = None
        self.latency_hist = np.zeros(10_001, np.int64)  # whole run, 1 ms bins up to 10 s
        self.window: list[float] = []  # this period's latencies, ms
        self.frames_out = 0
        self.first = self.last = None  # wall clock of the first and last frame out
        self.span = [None, None]  # stream time of the first and last frame out

    def run(self) -> LiveResult:
        ended = None
        period = {"start": time.monotonic(), "in": 0, "out": 0, "detected": 0}
        try:
            while ended is None:
                if self.stop.is_set():
                    ended = STOPPED
                elif self.feed.done:
                    ended = self.feed.ended
                else:
                    ended = self._step()
                if time.monotonic() - period["start"] >= STATS_PERIOD_S:
                    self._report(period)
        except MosaicError as err:  # every frame written was masked: keep them, say where
            if self.sink is None:
                raise
            try:
                kept = self.sink.close()
            except MosaicError:
                raise err from None
            raise type(err)(f"{err}; the output so far is kept: {kept}") from err
        except BaseException:  # a second Ctrl-C: no time to finish (an MP4 is still playable)
            if self.sink is not None:
                self.sink.abort()
            raise
        path = self.sink.close() if self.sink is not None else None
        return self._result(path, ended)

    def _step(self) -> str | None:
        frame = self.feed.get(0.1)
        if frame is None:
            return None
        if self.duration_s is not None and frame.time_s >= self.duration_s:
            return DURATION
        masked = self.masker.mask(frame, self.stop)
        if masked is None:  # stopped while waiting for a detection: the frame is not shown
            return STOPPED
        if self.sink is None:
            height, width = masked.shape[:2]
            self.sink = StreamSink(self.output, width, height, self.feed.fps)
        self.sink.write(masked, frame.time_s)
        now = time.monotonic()
        latency_ms = (now - frame.arrived) * 1000
        self.window.append(latency_ms)
        self.latency_hist[min(int(latency_ms), len(self.latency_hist) - 1)] += 1
        self.frames_out += 1
        self.first = self.first or now
        self.last = now
        self.span = [frame.time_s if self.span[0] is None else self.span[0], frame.time_s]
        return None

    def _report(self, period: dict) -> None:
        now = time.monotonic()
        span = max(now - period["start"], 1e-6)
        window = np.array(self.window or [0.0])
        stats = LiveStats(
            in_fps=(self.feed.frames_in - period["in"]) / span, out_fps=(self.frames_out - period["out"]) / span,
            detect_hz=(self.masker.detected - period["detected"]) / span,
            latency_p50_ms=float(np.percentile(window, 50)), latency_p95_ms=float(np.percentile(window, 95)),
            dropped=self.feed.dropped, frames_in=self.feed.frames_in, frames_out=self.frames_out,
            elapsed_s=0.0 if self.first is None else now - self.first,
        )
        period.update(start=now, **{"in": self.feed.frames_in, "out": self.frames_out,
                                    "detected": self.masker.detected})
        self.window = []
        if self.on_stats is not None:
            self.on_stats(stats)

    def _percentile(self, q: float) -> float:
        total = self.latency_hist.sum()
        if not total:
            return 0.0
        return float(np.searchsorted(np.cumsum(self.latency_hist), q / 100 * total))

    def _result(self, path: str | None, ended: str) -> LiveResult:
        elapsed = 0.0 if self.first is None else self.last - self.first
        shown = 0.0 if self.span[0] is None else self.span[1] - self.span[0]
        return LiveResult(
            output=path, ended=ended, frames_in=self.feed.frames_in, frames_out=self.frames_out,
            dropped=self.feed.dropped, detections=self.masker.detected, elapsed_s=elapsed,
            out_fps=(self.frames_out - 1) / shown if shown > 0 else 0.0,
            detect_hz=self.masker.detected / elapsed if elapsed > 0 else 0.0,
            latency_p50_ms=self._percentile(50), latency_p95_ms=self._percentile(95),
            error=self.feed.error,
        )
