"""`run()`: one video in, Progress events and one Result out.

Resolves the source (a local path, or a Google Drive link downloaded into the job's own
folder), refuses outputs that would overwrite an input, probes the video, checks the disk,
loads the detector (or replays a CSV), then hands over to FileJob, which runs the stages.
Closing the generator cancels the run; nothing partial is left behind.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from ..audio.plan import check_audio_against, check_audio_request
from ..detect.detector import Detector, ReplayDetector
from ..detect.scan import look_ahead_s, tiles_apply
from ..errors import Cancelled, InputError, Message, OutputError
from ..events import Progress, Result
from ..identity.record import check_record_folder, write_record
from ..identity.stage import Identity
from ..io import source as source_mod
from ..io.disk import ensure_free_space, estimate_output_bytes
from ..io.outputs import check_outputs
from ..io.video import probe_video
from ..mask.unmask import check_unmask_tracks
from ..settings import Settings
from .budget import plan_buffers, return_freed_frames
from .audit_step import audit_and_report
from .file_job import FileJob

PROGRESS_PERIOD_S = 0.25


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
    detect_only: bool = False,
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

    `detect_only` writes no images and no video: the ZIP holds only detections.csv, for a
    review (pipeline/review.py) that a later run renders with settings.detections_csv.
    """
    check_audio_request(settings, video_output is not None, detect_only)  # before any work
    if detect_only:
        video_output = None
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
                yield Progress(stage="downloading", elapsed_s=time.monotonic() - started,
                               message=source_mod.download_message(state))
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
        identity = Identity.for_settings(settings)  # face photos: missing, unreadable, no face -> now
        if settings.people_record is not None:  # opt-in, private: never inside the ZIP or video
            check_record_folder(settings.people_record, [Path(output), video_output and Path(video_output)])
        _check_cancel(cancel, finish)

        yield Progress(stage="probing", elapsed_s=time.monotonic() - started, message=Message("Reading video", "progress.probing"))
        info = probe_video(video_path)
        check_audio_against(settings, info.duration_s)  # mute spans inside the video
        ensure_free_space(Path(output).parent, estimate_output_bytes(info, settings, video_output is not None))
        # a budget too small fails now; a model (not a replayed CSV) may scan full-size tiles
        looks = getattr(detector, "looks_at_pixels", False) if detector is not None else settings.detections_csv is None
        frame_hw = (info.height, info.width)
        plan = plan_buffers(settings, info, make_video=video_output is not None,
                            full_detect=tiles_apply(looks, settings, frame_hw),
                            look_ahead_s=look_ahead_s(looks, settings, frame_hw, info.fps))
        return_freed_frames()  # so the budget bounds what the process holds, not only the queues

        if detector is None:
            if settings.detections_csv is not None:  # never loads the model
                detector = ReplayDetector(settings.detections_csv, (info.width, info.height), info.frame_count)
                check_unmask_tracks(settings.unmask_tracks, detector.track_ids, detector.name)
            else:
                yield Progress(stage="loading model", elapsed_s=time.monotonic() - started,
                               message=Message(f"Loading {settings.model}", "progress.loading",
                                               model=Path(settings.model).name))
                from ..models import load_detector  # heavy import only when the model is needed

                detector = load_detector(settings)
        _check_cancel(cancel, finish)

        job = FileJob(video_path, info, settings, Path(output), detector, cancel, job_dir, started,
                   Path(video_output) if video_output else None, finish, detect_only, plan, identity)
        for event in job.execute():
            if isinstance(event, Result) and identity is not None and settings.people_record is not None:
                write_record(settings.people_record, identity.people, info.fps, video_path.name)
            if isinstance(event, Result) and not detect_only:  # every render: audit and report
                yield from audit_and_report(event, video_path, info, settings, job.detect.left_visible,
                                            cancel, started)
                continue
            yield event
    finally:
        stop_download.set()  # a download still running stops before its folder goes
        shutil.rmtree(job_dir, ignore_errors=True)


def _inputs(video_path: Path, settings: Settings) -> list[Path]:
    """The files a run reads; none of them may also be one of its outputs."""
    inputs = [video_path, *settings.face_photos]
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


def run_to_result(source: str | Path, settings: Settings, **kwargs) -> Result:
    """Run to the end and return the Result (for callers that do not show progress)."""
    result = None
    for event in run(source, settings, **kwargs):
        if isinstance(event, Result):
            result = event
    assert result is not None
    return result
