"""One file run: reader -> detect stage -> renderer -> ZIP writer (and video writer), one
thread each over small bounded queues (engine.py), reported as Progress events and one
Result. The stage logic lives in detect/stage.py and mask/render.py; this module only wires
them to a file and its sinks, applies the caps, and counts.
"""
from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..audio.plan import audio_edit, audio_notes
from ..detect.detector import Detector
from ..detect.scan import look_ahead_s, tiles_apply
from ..detect.stage import DetectStage
from ..errors import Cancelled, InputError, Message, MosaicError, OutputError
from ..events import COMPLETED, IMAGE_CAP, NO_PERSON_WARNING, SIZE_CAP, USER_STOP, Progress, Result, hdr_note
from ..io.outputs import as_output_error, kept_path
from ..io.video import DECODE_THREADS, VideoInfo, read_frames
from ..io.video_sink import VideoSink
from ..io.zip_sink import ZipSink
from ..mask.render import Rendered, Renderer, thumbnail
from ..settings import ENCODES, Settings
from .budget import REREAD_DECODE_THREADS, BufferPlan, plan_buffers
from .engine import END, Engine, Stopped
from .reread import Rereader

PROGRESS_PERIOD_S = 0.25


class FileJob:
    """One run's stages, sinks and shared counters (each counter written by one stage)."""

    def __init__(self, video_path: Path, info: VideoInfo, settings: Settings, output: Path,
                 detector: Detector, cancel: threading.Event, job_dir: Path, started: float,
                 video_output: Path | None = None, finish: threading.Event | None = None,
                 detect_only: bool = False, plan: BufferPlan | None = None, identity=None):
        self.video_path, self.info, self.settings = video_path, info, settings
        self.output, self.video_output = output, video_output
        self.cancel, self.finish = cancel, finish or threading.Event()
        self.job_dir, self.started = job_dir, started
        self.detect_only = detect_only  # boxes for a review: detections.csv, no images
        self.engine = Engine()
        # queue depths from the memory budget and the frame size (budget.py)
        looks, frame_hw = getattr(detector, "looks_at_pixels", False), (info.height, info.width)
        self.model_name = getattr(detector, "model_name", None) or getattr(detector, "name", None)
        self.model_notes = tuple(getattr(detector, "notes", ()))
        ahead_s = look_ahead_s(looks, settings, frame_hw, info.fps)  # a rolling tile scan looks further ahead
        self.plan = plan or plan_buffers(settings, info, make_video=video_output is not None,
                                         full_detect=tiles_apply(looks, settings, frame_hw), look_ahead_s=ahead_s)
        scale = None
        if self.plan.reread and not self.plan.detect_full:  # detection sees small copies; its boxes go back to full size
            small_w, small_h = self.plan.detect_size
            scale = (info.width / small_w, info.height / small_h)
        self.detect = DetectStage(detector, settings, info.fps, scale=scale, identity=identity,
                                  drop_pixels=self.plan.detect_full, look_ahead_s=ahead_s,
                                  frame_wh=(info.width, info.height))
        self.renderer = Renderer(settings, info)
        self.stop_reason = COMPLETED
        self.stopped_at: tuple[int, float] | None = None
        self.frames_read = 0
        self.people_found = 0
        self.latest_image: tuple[int, np.ndarray] | None = None  # last written output frame
        self.preview: tuple[int, np.ndarray] | None = None  # its thumbnail, made on report
        self.stage_seconds = {"read": 0.0, "detect": 0.0, "render": 0.0, "write": 0.0}
        if video_output:
            self.stage_seconds["video"] = 0.0
        self.decoded: queue.Queue = queue.Queue(maxsize=self.plan.decoded)
        self.detected: queue.Queue = queue.Queue(maxsize=self.plan.detected)
        self.rendered: queue.Queue = queue.Queue(maxsize=self.plan.rendered)
        self.to_video: queue.Queue = queue.Queue(maxsize=max(1, self.plan.to_video))
        self.reread = Rereader(self.engine, video_path, self._wanted, self.plan.full) if self.plan.reread else None
        self.sink: ZipSink | None = None
        self.video_sink: VideoSink | None = None

    # -- stage bodies -------------------------------------------------------------------
    def _wanted(self, index: int) -> bool:
        """Frames converted to pictures: every frame for a video, else the captured ones."""
        return self.video_output is not None or self.settings.captures(index)

    def _frames(self):
        """The frames the reader hands on: the whole file (a segment of a long video: its range)."""
        return read_frames(self.video_path, wanted=self._wanted,
                           size=None if self.plan.detect_full else self.plan.detect_size,
                           threads=REREAD_DECODE_THREADS if self.plan.reread else DECODE_THREADS)

    def _read(self) -> None:
        frames = self._frames()
        with contextlib.closing(frames):
            clock = time.perf_counter()
            for frame in frames:
                self.stage_seconds["read"] += time.perf_counter() - clock
                if self.finish.is_set():  # stop and keep: what is read so far still goes through
                    if self.stop_reason == COMPLETED:  # a cap that already stopped the run wins
                        self.stop_reason, self.stopped_at = USER_STOP, (frame.index, frame.time_s)
                    break
                self.frames_read = frame.index + 1
                if frame.image is not None:
                    self.engine.put(self.decoded, frame)
                elif self.engine.stop.is_set():
                    raise Stopped
                clock = time.perf_counter()
        self.engine.put(self.decoded, END)

    def _detect(self) -> None:
        for batch in self.engine.batches(self.decoded, self.plan.batch):
            for ready in self.detect.push(batch):
                self.engine.put(self.detected, ready)
            self.stage_seconds["detect"] = self.detect.seconds
        for ready in self.detect.flush():
            self.engine.put(self.detected, ready)
        self.engine.put(self.detected, END)

    def _render(self) -> None:
        try:
            self._render_all()
        finally:
            if self.reread is not None:
                self.reread.done.set()

    def _render_all(self) -> None:
        for frame, detections in self.engine.drain(self.detected):
            clock = time.perf_counter()
            if self.reread is not None:  # detection saw a small copy: mask the full frame
                frame = self.reread.full(frame)
            if self.detect_only:
                rows = self.renderer.rows(frame, detections)
                self.engine.put(self.rendered, Rendered(frame.index, frame.time_s, None, None, rows, len(rows), None))
                continue
            rendered = self.renderer.render(frame, detections)
            self.stage_seconds["render"] += time.perf_counter() - clock
            image = rendered.image if rendered.shown is None else rendered.shown  # the follow crop
            if rendered.data is None:
                rendered.image = None  # only captured frames are previewed: keep no copy
            self.engine.put(self.rendered, rendered)
            if self.video_output is not None:
                self.engine.put(self.to_video, (frame.time_s, image))
        self.engine.put(self.rendered, END)
        if self.video_output is not None:
            self.engine.put(self.to_video, END)

    def _write(self) -> None:
        max_images = self.settings.max_images
        for item in self.engine.drain(self.rendered):
            clock = time.perf_counter()
            if item.data is None:  # a frame only in the video: its boxes still go in the CSV
                if not self.sink.add_rows(item.rows):
                    return self._stop_for(SIZE_CAP, item)
                if self.detect_only:
                    self.people_found += item.people
                continue
            if max_images is not None and self.sink.images >= max_images:
                return self._stop_for(IMAGE_CAP, item)
            if not self.sink.add_image(item.name, item.data, item.rows):
                return self._stop_for(SIZE_CAP, item)
            self.people_found += item.people
            self.latest_image = (item.index, item.image)  # thumbnailed only when reported
            self.stage_seconds["write"] += time.perf_counter() - clock

    def _write_video(self) -> None:
        for time_s, image in self.engine.drain(self.to_video):
            clock = time.perf_counter()
            self.video_sink.write(image, time_s)
            self.stage_seconds["video"] += time.perf_counter() - clock

    def _stop_for(self, reason: str, item: Rendered) -> None:
        self.stop_reason = reason
        self.stopped_at = (item.index, item.time_s)
        self.engine.stop.set()  # upstream stages see it and end quietly

    # -- driver -------------------------------------------------------------------------
    def _progress(self, stage: str, message: str = "") -> Progress:
        elapsed = time.monotonic() - self.started
        total = self.info.frame_count
        fps = self.frames_read / max(elapsed - self.processing_started, 1e-6)
        eta = (total - self.frames_read) / fps if total and fps > 0 else None
        latest = self.latest_image
        if latest is not None and (self.preview is None or self.preview[0] != latest[0]):
            self.preview = (latest[0], thumbnail(latest[1]))
        preview = self.preview
        return Progress(
            stage=stage, frames_read=self.frames_read, frames_total=total,
            images_written=self.sink.images, images_expected=self.images_expected,
            people_found=self.people_found, bytes_written=self.sink.bytes_written,
            max_bytes=self.settings.max_bytes, fps=fps, eta_s=None if eta is None else max(eta, 0.0),
            elapsed_s=elapsed, message=message,
            preview=None if preview is None else preview[1],
            preview_index=-1 if preview is None else preview[0],
        )

    @property
    def images_expected(self) -> int:
        """What the interval gives over the whole video, before any cap (0 when unknown)."""
        return math.ceil(self.info.frame_count / self.settings.interval) if self.info.frame_count else 0

    def _open_sinks(self) -> None:
        """Every sink opens before any stage starts: a failure here has nothing to stop,
        and execute's cleanup removes what the sinks already made."""
        with as_output_error():
            self.sink = ZipSink(self.output, self.settings.max_bytes, temp_dir=self.job_dir)
            if self.video_output is not None:
                self.video_sink = VideoSink(
                    self.video_output, self.video_path, *self.renderer.video_size,
                    self.info.fps, self.info.time_base, audio=audio_edit(self.settings),
                    preset=ENCODES[self.settings.encode],
                )

    def _raise_stage_error(self) -> None:
        if not self.engine.errors:
            return
        stage, err = self.engine.errors[0]
        if isinstance(err, MosaicError):
            raise err
        if isinstance(err, OSError):
            raise OutputError(f"Writing the output failed: {err.strerror or err}") from err
        raise MosaicError(f"The {stage} stage failed: {type(err).__name__}: {err}") from err

    def execute(self) -> Iterator[Progress | Result]:
        self.processing_started = time.monotonic() - self.started
        cv2.setNumThreads(1)  # resize/encode run beside a detector that already uses every core
        finished = False
        video_path = None
        try:
            self._open_sinks()
            for name, body in (("reader", self._read), ("detector", self._detect),
                               ("renderer", self._render), ("writer", self._write)):
                self.engine.start(name, body)
            if self.video_sink is not None:
                self.engine.start("video writer", self._write_video)
            if self.reread is not None:
                self.engine.start("rereader", self.reread.read)
            while self.engine.running():
                if self.cancel.is_set():
                    raise Cancelled("Cancelled; partial output removed")
                self.engine.wait(PROGRESS_PERIOD_S)
                if self.finish.is_set():
                    yield self._progress("finishing", Message("Stopping: writing what is done", "progress.keeping"))
                else:
                    yield self._progress("processing")
            self._raise_stage_error()
            if self.stop_reason == COMPLETED and self.frames_read == 0:
                raise InputError(f"{self.video_path.name} has no readable frames", key="err.no_frames",
                                 values={"name": self.video_path.name})
            kept = self.stop_reason == USER_STOP  # a cut-short result is named as such
            if self.video_sink is not None:
                yield self._progress("finishing", Message("Adding the audio to the video", "progress.audio"))
                video_path = self.video_sink.close(kept_path(self.video_output) if kept else None,
                                                   trim_audio=self.stop_reason != COMPLETED)
            yield self._progress("finishing", Message("Writing detections.csv", "progress.csv"))
            zip_path = self.sink.close(kept_path(self.output) if kept else None)
            finished = True
        finally:
            self.engine.shut_down()
            if not finished:
                for sink in (self.sink, self.video_sink):
                    if sink is not None:
                        sink.abort()  # never raises: the error that got us here is the one to report
                if video_path is not None:
                    with contextlib.suppress(OSError):
                        video_path.unlink(missing_ok=True)
        yield self._result(zip_path, video_path)

    def _warnings(self) -> tuple[str, ...]:
        warnings = list(self.model_notes)  # the bundled model ran in place of YOLO: said first
        warnings += [NO_PERSON_WARNING] if self.sink.rows == 0 else []
        if self.info.hdr:
            warnings.append(hdr_note(self.info.hdr))
        warnings += audio_notes(self.settings, self.info.has_audio, self.video_output is not None)
        return tuple(warnings)

    def _result(self, zip_path: Path, video_path: Path | None) -> Result:
        stopped_at = self.stopped_at
        return Result(
            zip_path=zip_path, video=self.info, images_written=self.sink.images,
            images_expected=self.images_expected,
            # what went through, not how far the reader ran ahead: agrees with stopped_at_frame
            frames_read=self.frames_read if stopped_at is None else stopped_at[0],
            people_found=self.people_found, zip_bytes=zip_path.stat().st_size,
            stop_reason=self.stop_reason,
            stopped_at_frame=None if stopped_at is None else stopped_at[0],
            stopped_at_s=None if stopped_at is None else stopped_at[1],
            elapsed_s=time.monotonic() - self.started, stage_seconds=dict(self.stage_seconds),
            frames_promised=self.info.frame_count, video_path=video_path,
            video_frames=self.video_sink.frames if self.video_sink else 0,
            warnings=self._warnings(), model=self.model_name,
        )
