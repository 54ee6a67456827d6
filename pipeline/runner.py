"""The run: reader -> detector -> renderer -> ZIP writer, one thread each, joined by small
bounded queues, reported to the caller as a generator of Progress events and one Result.

Every stage polls one stop event, so an error anywhere, a cap, a cancel or the caller
closing the generator ends all threads within a fraction of a second; the first stage
error is re-raised in the caller's thread as our own error type.
"""
from __future__ import annotations

import contextlib
import math
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from . import source as source_mod
from .detection import Detector, ReplayDetector, csv_rows
from .disk import ensure_free_space, estimate_output_bytes
from .errors import Cancelled, InputError, MosaicError, OutputError
from .events import COMPLETED, IMAGE_CAP, NO_PERSON_WARNING, SIZE_CAP, USER_STOP, Progress, Result
from .maskers import MaskStyle, cover
from .outputs import check_outputs, kept_path
from .settings import Settings
from .tracking import TemporalHold
from .video import Frame, VideoInfo, probe_video, read_frames
from .video_sink import VideoSink
from .zip_sink import ZipSink

_END = object()  # end-of-stream marker passed down the queues
PREVIEW_WIDTH = 320
PROGRESS_PERIOD_S = 0.25


class _Stopped(Exception):
    """Raised inside a stage when the run's stop event is set."""


@dataclass
class _Rendered:
    """One masked frame for the ZIP writer: an encoded image when the frame is captured,
    else only its detections.csv rows (when a video is made, every frame is masked)."""

    index: int
    time_s: float
    name: str | None
    data: bytes | None
    rows: list[list[str]]
    people: int
    image: np.ndarray | None  # the output frame, kept only until it is written


def default_output(input_path: Path) -> Path:
    """`<stem>_mosaic.zip` next to the input."""
    return input_path.with_name(f"{input_path.stem}_mosaic.zip")


def run(
    source: str | Path,
    settings: Settings,
    output: str | Path | None = None,
    cancel: threading.Event | None = None,
    detector: Detector | None = None,
    work_dir: str | Path | None = None,
    max_download_bytes: int | None = None,
    video_output: str | Path | None = None,
    finish: threading.Event | None = None,
) -> Iterator[Progress | Result]:
    """Process one video. Yields Progress events, then a Result as the last item.

    `source` is a local path or a Google Drive link. `output` defaults to next to the input
    (for a Drive link: the current folder). `video_output`, when given, also writes the
    whole mosaicked video there (every frame masked, audio kept). `detector` replaces the
    YOLO model (tests inject one); settings.detections_csv replays boxes. Raises MosaicError subclasses; Cancelled
    when `cancel` is set. Closing the generator also cancels. Nothing partial is left.

    `finish` is "stop and keep what is done": the run stops reading, lets the frames already
    read go through, and keeps a valid ZIP (and video) under `kept_path()` names; the Result
    has stop_reason USER_STOP. Set before any frame is processed, it is a plain cancel.
    """
    cancel = cancel or threading.Event()
    finish = finish or threading.Event()
    started = time.monotonic()
    try:
        job_dir = Path(tempfile.mkdtemp(prefix="mosaic-job-", dir=work_dir))
    except OSError as err:  # the temp folder is full, read-only or gone: one line, no traceback
        raise OutputError(f"Cannot make a working folder in {work_dir or tempfile.gettempdir()}: "
                          f"{err.strerror or err}") from err
    stop_download = threading.Event()  # set on cancel and whenever this generator ends
    try:
        text = str(source).strip()
        if not text:
            raise InputError("No input video given")
        if source_mod.looks_like_link(text):
            state = source_mod.DownloadState()
            worker = threading.Thread(
                target=source_mod.download_drive_video,
                args=(text, job_dir, state, stop_download, max_download_bytes),
                name="mosaic-download", daemon=True,
            )
            worker.start()
            while not state.finished:
                if cancel.is_set() or finish.is_set():
                    stop_download.set()
                worker.join(PROGRESS_PERIOD_S)
                total = f" of {state.bytes_total / 1e6:.1f} MB" if state.bytes_total else ""
                yield Progress(
                    stage="downloading", elapsed_s=time.monotonic() - started,
                    message=f"Downloading from Google Drive: {state.bytes_done / 1e6:.1f} MB{total}",
                )
            if state.error is not None:
                raise state.error
            video_path = state.path
            output = Path(output) if output else Path.cwd() / default_output(Path(video_path.name)).name
        else:
            video_path = Path(text).expanduser()
            output = Path(output) if output else default_output(video_path)
        # Before any work: an output that is the input, or another output, or that cannot be
        # written is refused now, not after minutes of work (and never overwrites the input).
        check_outputs(_inputs(video_path, settings), [output] + ([video_output] if video_output else []))
        _check_cancel(cancel, finish)

        yield Progress(stage="probing", elapsed_s=time.monotonic() - started, message="Reading video")
        info = probe_video(video_path)
        ensure_free_space(Path(output).parent, estimate_output_bytes(info, settings, video_output is not None))

        if detector is None:
            if settings.detections_csv is not None:
                detector = ReplayDetector(settings.detections_csv)
            else:
                yield Progress(stage="loading model", elapsed_s=time.monotonic() - started,
                               message=f"Loading {settings.model}")
                from .model import load_detector  # heavy import only when the model is needed

                detector = load_detector(settings)
        _check_cancel(cancel, finish)

        job = _Job(video_path, info, settings, Path(output), detector, cancel, job_dir, started,
                   Path(video_output) if video_output else None, finish)
        yield from job.execute()
    finally:
        stop_download.set()  # a download still running stops before its folder goes
        shutil.rmtree(job_dir, ignore_errors=True)


def _inputs(video_path: Path, settings: Settings) -> list[Path]:
    """The files a run reads; none of them may also be one of its outputs."""
    inputs = [video_path]
    if settings.detections_csv is not None:
        inputs.append(settings.detections_csv)
    with contextlib.suppress(OSError):  # a model name, not a path: nothing to protect
        if Path(settings.model).expanduser().is_file():
            inputs.append(Path(settings.model))
    return inputs


def _check_cancel(cancel: threading.Event, finish: threading.Event) -> None:
    """Before the first frame there is nothing to keep: a stop of either kind writes nothing."""
    if cancel.is_set() or finish.is_set():
        raise Cancelled("Cancelled; nothing was written")


class _Job:
    """One run's threads and shared counters."""

    def __init__(self, video_path: Path, info: VideoInfo, settings: Settings, output: Path,
                 detector: Detector, cancel: threading.Event, job_dir: Path, started: float,
                 video_output: Path | None = None, finish: threading.Event | None = None):
        self.video_path, self.info, self.settings = video_path, info, settings
        self.video_output = video_output
        self.output, self.detector, self.cancel = output, detector, cancel
        self.finish = finish or threading.Event()
        self.job_dir, self.started = job_dir, started
        self.stop = threading.Event()
        self.errors: list[tuple[str, BaseException]] = []
        self.stop_reason = COMPLETED
        self.stopped_at: tuple[int, float] | None = None
        self.mask = MaskStyle(settings.style, settings.mosaic_cells, settings.min_cell_px, settings.pad_pct)
        # counters written by one stage each, read by the progress loop
        self.frames_read = 0
        self.people_found = 0
        self.latest_image: tuple[int, np.ndarray] | None = None  # last written output frame
        self.preview: tuple[int, np.ndarray] | None = None  # its thumbnail, made on report
        self.stage_seconds = {"read": 0.0, "detect": 0.0, "render": 0.0, "write": 0.0}
        if video_output:
            self.stage_seconds["video"] = 0.0
        batch = settings.batch
        self.decoded: queue.Queue = queue.Queue(maxsize=2 * batch)
        self.detected: queue.Queue = queue.Queue(maxsize=2 * batch)
        self.rendered: queue.Queue = queue.Queue(maxsize=8)
        self.to_video: queue.Queue = queue.Queue(maxsize=8)
        self.sink: ZipSink | None = None
        self.video_sink: VideoSink | None = None

    # -- queue helpers that never block past a stop ------------------------------------
    def _put(self, q: queue.Queue, item) -> None:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.05)
            except queue.Empty:
                continue
        raise _Stopped

    def _stage(self, name: str, body) -> threading.Thread:
        def target():
            try:
                body()
            except _Stopped:
                pass
            except BaseException as err:  # noqa: BLE001 - every stage error ends the run
                self.errors.append((name, err))
                self.stop.set()

        thread = threading.Thread(target=target, name=f"mosaic-{name}", daemon=True)
        thread.start()
        return thread

    # -- stages ---------------------------------------------------------------------
    def _read(self) -> None:
        interval = self.settings.interval
        every_frame = self.video_output is not None
        frames = read_frames(self.video_path, wanted=lambda i: every_frame or i % interval == 0)
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
                    self._put(self.decoded, frame)
                elif self.stop.is_set():
                    raise _Stopped
                clock = time.perf_counter()
        self._put(self.decoded, _END)

    def _detect(self) -> None:
        batch_size = self.settings.batch
        hold = TemporalHold(round(self.settings.hold_s * self.info.fps), track_gap=round(self.info.fps))
        finished = False
        while not finished:
            first = self._get(self.decoded)
            if first is _END:
                break
            batch: list[Frame] = [first]
            # Take what is already decoded, up to a full batch; never wait for more.
            while len(batch) < batch_size:
                try:
                    item = self.decoded.get_nowait()
                except queue.Empty:
                    break
                if item is _END:
                    finished = True
                    break
                batch.append(item)
            clock = time.perf_counter()
            found = self.detector.detect([f.image for f in batch], [f.index for f in batch])
            self.stage_seconds["detect"] += time.perf_counter() - clock
            if len(found) != len(batch):
                raise MosaicError("The detector returned a wrong number of results")
            for frame, detections in zip(batch, found):
                for ready in hold.push(frame.index, frame, detections):
                    self._put(self.detected, ready)
        for ready in hold.flush():
            self._put(self.detected, ready)
        self._put(self.detected, _END)

    def _render(self) -> None:
        settings, info = self.settings, self.info
        out_w, out_h = settings.output_size(info.width, info.height)
        ext = settings.image_format
        params = [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality] if ext == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
        digits = max(6, len(str(info.frame_count)))
        while True:
            item = self._get(self.detected)
            if item is _END:
                break
            captured = item[0].index % settings.interval == 0
            clock = time.perf_counter()
            frame, detections = item
            image = frame.image
            height, width = image.shape[:2]
            if (out_w, out_h) != (width, height):
                image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA)
            cover(image, detections.scaled(out_w / width, out_h / height), self.mask)
            rows = csv_rows(frame.index, frame.time_s, detections)
            rendered = _Rendered(frame.index, frame.time_s, None, None, rows, len(detections), None)
            if captured:
                ok, encoded = cv2.imencode(f".{ext}", image, params)
                if not ok:
                    raise MosaicError(f"Encoding frame {frame.index} as {ext} failed")
                rendered.name = f"frame_{frame.index:0{digits}d}_t{frame.time_s:.3f}s.{ext}"
                rendered.data, rendered.image = encoded.tobytes(), image
            self.stage_seconds["render"] += time.perf_counter() - clock
            self._put(self.rendered, rendered)
            if self.video_output is not None:
                self._put(self.to_video, (frame.time_s, image))
        self._put(self.rendered, _END)
        if self.video_output is not None:
            self._put(self.to_video, _END)

    def _write(self) -> None:
        max_images = self.settings.max_images
        while True:
            item = self._get(self.rendered)
            if item is _END:
                return
            clock = time.perf_counter()
            if item.data is None:  # a frame only in the video: its boxes still go in the CSV
                if not self.sink.add_rows(item.rows):
                    self._stop_for(SIZE_CAP, item)
                    return
                continue
            if max_images is not None and self.sink.images >= max_images:
                self._stop_for(IMAGE_CAP, item)
                return
            if not self.sink.add_image(item.name, item.data, item.rows):
                self._stop_for(SIZE_CAP, item)
                return
            self.people_found += item.people
            self.latest_image = (item.index, item.image)  # thumbnailed only when reported
            self.stage_seconds["write"] += time.perf_counter() - clock

    def _write_video(self) -> None:
        while True:
            item = self._get(self.to_video)
            if item is _END:
                return
            clock = time.perf_counter()
            time_s, image = item
            self.video_sink.write(image, time_s)
            self.stage_seconds["video"] += time.perf_counter() - clock

    def _stop_for(self, reason: str, item: _Rendered) -> None:
        self.stop_reason = reason
        self.stopped_at = (item.index, item.time_s)
        self.stop.set()  # upstream stages see it and end quietly

    # -- driver ---------------------------------------------------------------------
    def _progress(self, stage: str, message: str = "") -> Progress:
        elapsed = time.monotonic() - self.started
        total = self.info.frame_count
        processing = max(elapsed - self.processing_started, 1e-6)
        fps = self.frames_read / processing
        eta = (total - self.frames_read) / fps if total and fps > 0 else None
        latest = self.latest_image
        if latest is not None and (self.preview is None or self.preview[0] != latest[0]):
            self.preview = (latest[0], _thumbnail(latest[1]))
        preview = self.preview
        return Progress(
            stage=stage,
            frames_read=self.frames_read,
            frames_total=total,
            images_written=self.sink.images,
            images_expected=self.images_expected,
            people_found=self.people_found,
            bytes_written=self.sink.bytes_written,
            max_bytes=self.settings.max_bytes,
            fps=fps,
            eta_s=None if eta is None else max(eta, 0.0),
            elapsed_s=elapsed,
            message=message,
            preview=None if preview is None else preview[1],
            preview_index=-1 if preview is None else preview[0],
        )

    @property
    def images_expected(self) -> int:
        """What the interval gives over the whole video, before any cap (0 when unknown)."""
        return math.ceil(self.info.frame_count / self.settings.interval) if self.info.frame_count else 0

    def execute(self) -> Iterator[Progress | Result]:
        self.processing_started = time.monotonic() - self.started
        cv2.setNumThreads(1)  # resize/encode run beside a detector that already uses every core
        threads: list[threading.Thread] = []
        finished = False
        video_path = None
        try:
            # Every sink opens before any stage starts: a failure here has nothing to stop,
            # and the finally below removes what the sinks already made.
            with _as_output_error():
                self.sink = ZipSink(self.output, self.settings.max_bytes, temp_dir=self.job_dir)
                if self.video_output is not None:
                    self.video_sink = VideoSink(
                        self.video_output, self.video_path,
                        *self.settings.output_size(self.info.width, self.info.height),
                        self.info.fps, self.info.time_base,
                    )
            threads = [
                self._stage("reader", self._read),
                self._stage("detector", self._detect),
                self._stage("renderer", self._render),
                self._stage("writer", self._write),
            ]
            if self.video_sink is not None:
                threads.append(self._stage("video writer", self._write_video))
            while any(t.is_alive() for t in threads):
                if self.cancel.is_set():
                    raise Cancelled("Cancelled; partial output removed")
                threads[0].join(PROGRESS_PERIOD_S)
                if self.finish.is_set():
                    yield self._progress("finishing", "Stopping: writing what is done")
                else:
                    yield self._progress("processing")
            if self.errors:
                stage, err = self.errors[0]
                if isinstance(err, MosaicError):
                    raise err
                if isinstance(err, OSError):
                    raise OutputError(f"Writing the output failed: {err.strerror or err}") from err
                raise MosaicError(f"The {stage} stage failed: {type(err).__name__}: {err}") from err
            if self.stop_reason == COMPLETED and self.frames_read == 0:
                raise InputError(f"{self.video_path.name} has no readable frames")
            kept = self.stop_reason == USER_STOP  # a cut-short result is named as such
            if self.video_sink is not None:
                yield self._progress("finishing", "Adding the audio to the video")
                video_path = self.video_sink.close(kept_path(self.video_output) if kept else None,
                                                   trim_audio=self.stop_reason != COMPLETED)
            yield self._progress("finishing", "Writing detections.csv")
            zip_path = self.sink.close(kept_path(self.output) if kept else None)
            finished = True
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=5)
            if not finished:
                for sink in (self.sink, self.video_sink):
                    if sink is not None:
                        sink.abort()  # never raises: the error that got us here is the one to report
                if video_path is not None:
                    with contextlib.suppress(OSError):
                        video_path.unlink(missing_ok=True)
        stopped_at = self.stopped_at
        yield Result(
            zip_path=zip_path,
            video=self.info,
            images_written=self.sink.images,
            images_expected=self.images_expected,
            # what went through, not how far the reader ran ahead: agrees with stopped_at_frame
            frames_read=self.frames_read if stopped_at is None else stopped_at[0],
            people_found=self.people_found,
            zip_bytes=zip_path.stat().st_size,
            stop_reason=self.stop_reason,
            stopped_at_frame=None if stopped_at is None else stopped_at[0],
            stopped_at_s=None if stopped_at is None else stopped_at[1],
            elapsed_s=time.monotonic() - self.started,
            stage_seconds=dict(self.stage_seconds),
            frames_promised=self.info.frame_count,
            video_path=video_path,
            video_frames=self.video_sink.frames if self.video_sink else 0,
            warnings=(NO_PERSON_WARNING,) if self.sink.rows == 0 else (),
        )


@contextlib.contextmanager
def _as_output_error():
    """A raw OS error from opening an output (NotADirectoryError, PermissionError, ...)
    becomes our OutputError: one clear line, never a traceback."""
    try:
        yield
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise OutputError(f"Cannot write{where}: {err.strerror or err}") from err


def _thumbnail(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    if width <= PREVIEW_WIDTH:
        return image.copy()
    new_h = max(1, round(height * PREVIEW_WIDTH / width))
    return cv2.resize(image, (PREVIEW_WIDTH, new_h), interpolation=cv2.INTER_AREA)


def run_to_result(source: str | Path, settings: Settings, **kwargs) -> Result:
    """Run to the end and return the Result (for callers that do not show progress)."""
    result = None
    for event in run(source, settings, **kwargs):
        if isinstance(event, Result):
            result = event
    assert result is not None
    return result
