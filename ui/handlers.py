"""Event handlers: turn UI inputs into Settings, and pipeline events into component values.
No processing happens here; the pipeline does all of it."""
from __future__ import annotations

import collections
import contextlib
import html
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import cv2
import gradio as gr

from pipeline import MosaicError, Progress, Result, Settings, run
from pipeline.errors import Cancelled, InputError

from .status import RUNNING
from .zerogpu import run  # noqa: F811 - on ZeroGPU, detection in @spaces.GPU calls; elsewhere pipeline.run

SAMPLE_VIDEO = Path(__file__).parent / "assets" / "vtest_clip.mp4"
RESULTS_ROOT = Path(os.environ.get("MOSAIC_RESULTS_DIR") or Path(tempfile.gettempdir()) / "mosaic-results")
RESULT_TTL_S = int(os.environ.get("MOSAIC_RESULT_TTL_S", "3600"))  # results older than this are swept
UI_UPDATE_PERIOD_S = 0.5
# Largest input accepted, uploaded or from Drive (the app passes it to Gradio's max_file_size).
MAX_INPUT_MB = float(os.environ.get("MOSAIC_MAX_INPUT_MB", "2000"))
MAX_INPUT_BYTES = int(MAX_INPUT_MB * 1e6)
GALLERY_SIZE = 6
DEFAULTS = Settings.__dataclass_fields__
DEFAULT_CAP_MB = 500.0  # shown in the cap boxes; applied only when the cap is ticked
DEFAULT_CAP_IMAGES = 1000
STOP_WAIT_S = 10.0  # how long Stop waits for the job to end before answering "Stopping…"
STOPPED_MESSAGE = "⏹️ Stopped. Partial output was removed."

_cancel_events: dict[str, threading.Event] = {}  # per browser session, so Stop hits only its own job
_cancel_lock = threading.Lock()


def settings_from_inputs(interval, scale_pct, limit_size, max_mb, limit_images, max_images,
                         image_format, jpeg_quality, style, mosaic_cells, pad_pct, conf, model,
                         hold_s=DEFAULTS["hold_s"].default) -> Settings:
    """UI/API values to validated Settings. A cap applies only when its box is ticked; an
    empty or 0 cap that is ticked is an error, never silently 'no cap'."""
    def whole(value):
        return int(value) if isinstance(value, float) and value.is_integer() else value

    model = (model or "").strip()
    extra = {"model": model} if model else {}
    return Settings(
        interval=whole(interval),
        scale_pct=whole(scale_pct),
        max_mb=(float(max_mb) if max_mb not in (None, "") else 0.0) if limit_size else None,
        max_images=(whole(max_images) if max_images not in (None, "") else 0) if limit_images else None,
        image_format=image_format,
        jpeg_quality=whole(jpeg_quality),
        style=style,
        mosaic_cells=whole(mosaic_cells),
        pad_pct=float(pad_pct),
        conf=float(conf),
        hold_s=float(hold_s),
        **extra,
    )


def pick_source(video_file, drive_link) -> str:
    link = (drive_link or "").strip()
    path = video_file if isinstance(video_file, (str, Path)) or video_file is None else getattr(video_file, "name", None)
    if path and link:
        raise InputError("Give either a video file or a Google Drive link, not both.")
    if not path and not link:
        raise InputError("Upload a video or paste a Google Drive link first.")
    return str(path) if path else link


def _safe_stem(source: str) -> str:
    """A file name stem from user input, reduced to harmless characters."""
    stem = Path(source).stem if "://" not in source else "drive_video"
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._") or "video"
    return stem[:60]


def sweep_old_results(now: float | None = None) -> None:
    """Delete result folders older than RESULT_TTL_S."""
    now = time.time() if now is None else now
    if not RESULTS_ROOT.is_dir():
        return
    for folder in RESULTS_ROOT.iterdir():
        try:
            if now - folder.stat().st_mtime > RESULT_TTL_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _new_result_dir() -> Path:
    RESULTS_ROOT.mkdir(parents=True, exist_ok=True)
    sweep_old_results()
    return Path(tempfile.mkdtemp(prefix="job-", dir=RESULTS_ROOT))


def _progress_html(event: Progress) -> str:
    pct = 100.0 * event.fraction
    parts = [html.escape(event.stage)]
    if event.stage == "processing":
        total = event.frames_total or "?"
        parts.append(f"{event.frames_read} / {total} frames")
        parts.append(f"{event.fps:.1f} frames/s")
        if event.eta_s is not None:
            parts.append(f"ETA {event.eta_s:.0f} s")
        parts.append(f"{event.images_written} images, {event.people_found} people masked")
    elif event.message:
        parts.append(html.escape(event.message))
    return _bar_html(pct, " · ".join(parts))


def _bar_html(pct: float, text_html: str) -> str:
    return (
        '<div id="job-progress">'
        f'<div class="bar"><div class="fill" style="width:{pct:.1f}%"></div></div>'
        f'<div class="text">{text_html}</div></div>'
    )


def _bytes_text(written: int, max_bytes: int | None) -> str:
    cap = f"{max_bytes / 1e6:.1f} MB" if max_bytes else "no cap"
    return f"ZIP size: **{written / 1e6:.1f} MB / {cap}**"


def _finished_html(text: str) -> str:
    return _bar_html(100.0, html.escape(text))


def _result_markdown(result: Result) -> str:
    lines = [("⚠️ " if result.stopped_early else "✅ ") + result.message]
    lines.append(
        f"\nSource: {result.video.width}x{result.video.height}, {result.video.fps:.3f} fps, "
        f"{result.frames_read} frames read. The ZIP holds `detections.csv` listing every masked box."
    )
    if result.video_path:
        audio = "with the source audio" if result.video.has_audio else "the source has no audio"
        lines.append(f"\nVideo: {result.video_frames} frames, every one masked; {audio}.")
    return "\n".join(lines)


def _job_events(source: str, settings: Settings, cancel: threading.Event | None = None,
                make_video: bool = False):
    """Run one job in its own result folder, yielding the pipeline's events. The folder is
    removed if the job does not finish; the job shows in the status panel while it runs.
    closing(): when the caller drops this generator (Stop, a closed tab), the run is closed
    at once, which stops its threads and removes its partial output."""
    out_dir = _new_result_dir()
    output = out_dir / f"{_safe_stem(source)}_mosaic.zip"
    events = run(source, settings, output=output, cancel=cancel, work_dir=out_dir,
                 video_output=output.with_suffix(".mp4") if make_video else None,
                 max_download_bytes=MAX_INPUT_BYTES)
    job_id = uuid.uuid4().hex
    finished = False
    try:
        with contextlib.closing(events):
            for event in events:
                if isinstance(event, Progress):
                    RUNNING.update(job_id, event.fps, event.frames_read, event.frames_total)
                finished = isinstance(event, Result)
                yield event
    except BaseException:
        if not finished:
            shutil.rmtree(out_dir, ignore_errors=True)  # nothing half-written stays behind
        raise
    finally:
        RUNNING.finish(job_id)


def start_job(
    video_file, drive_link="", interval=DEFAULTS["interval"].default, scale_pct=DEFAULTS["scale_pct"].default,
    limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False, max_images=DEFAULT_CAP_IMAGES,
    image_format=DEFAULTS["image_format"].default, jpeg_quality=DEFAULTS["jpeg_quality"].default,
    style=DEFAULTS["style"].default, mosaic_cells=DEFAULTS["mosaic_cells"].default,
    pad_pct=DEFAULTS["pad_pct"].default, conf=DEFAULTS["conf"].default, model="",
    hold_s=DEFAULTS["hold_s"].default, make_video=False,
    request: gr.Request | None = None,
):
    """The Start button: yields (progress, bytes, gallery, zip, summary, video) as it runs."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex
    cancel = threading.Event()
    with _cancel_lock:
        _cancel_events[session] = cancel
    gallery: collections.deque = collections.deque(maxlen=GALLERY_SIZE)
    last_preview = -1
    last_update = 0.0
    try:
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s,
        )
        source = pick_source(video_file, drive_link)
        yield _finished_html("starting"), _bytes_text(0, settings.max_bytes), [], None, "Working…", None
        for event in _job_events(source, settings, cancel, make_video):
            if isinstance(event, Result):
                yield (
                    _finished_html("done" if not event.stopped_early else "stopped early by a cap"),
                    _bytes_text(event.zip_bytes, settings.max_bytes),
                    list(gallery),
                    str(event.zip_path),
                    _result_markdown(event),
                    str(event.video_path) if event.video_path else None,
                )
                return
            if event.preview is not None and event.preview_index != last_preview:
                last_preview = event.preview_index
                gallery.appendleft((cv2.cvtColor(event.preview, cv2.COLOR_BGR2RGB), f"frame {event.preview_index}"))
            now = time.monotonic()
            if now - last_update >= UI_UPDATE_PERIOD_S:
                last_update = now
                yield (_progress_html(event), _bytes_text(event.bytes_written, event.max_bytes),
                       list(gallery), None, "Working…", None)
    except Cancelled:
        yield _finished_html("stopped"), gr.skip(), gr.skip(), None, STOPPED_MESSAGE, None
    except MosaicError as err:
        yield _finished_html("failed"), gr.skip(), gr.skip(), None, f"❌ **Error:** {html.escape(str(err))}", None
    finally:
        with _cancel_lock:
            if _cancel_events.get(session) is cancel:
                del _cancel_events[session]


def stop_job(request: gr.Request | None = None) -> str:
    """Cancel this browser session's running job, and say so once it has ended. The Stop
    button also cancels the Start event, so the job's own "Stopped" message never reaches
    the page: this return value is the last word the summary gets."""
    session = getattr(request, "session_hash", None)
    with _cancel_lock:
        cancel = _cancel_events.get(session) if session else None
    if cancel is None:
        return "Nothing is running."
    cancel.set()
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        with _cancel_lock:
            if _cancel_events.get(session) is not cancel:  # start_job's cleanup has run
                return STOPPED_MESSAGE
        time.sleep(0.05)
    return "⏹️ Stopping…"


def stop_button(request: gr.Request | None = None):
    """The Stop button: (progress bar, summary). The bar is reset only if a job stopped."""
    message = stop_job(request)
    return (_finished_html("stopped") if message == STOPPED_MESSAGE else gr.skip()), message


def process_api(
    video_file, drive_link="", interval=DEFAULTS["interval"].default, scale_pct=DEFAULTS["scale_pct"].default,
    limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False, max_images=DEFAULT_CAP_IMAGES,
    image_format=DEFAULTS["image_format"].default, jpeg_quality=DEFAULTS["jpeg_quality"].default,
    style=DEFAULTS["style"].default, mosaic_cells=DEFAULTS["mosaic_cells"].default,
    pad_pct=DEFAULTS["pad_pct"].default, conf=DEFAULTS["conf"].default, model="",
    hold_s=DEFAULTS["hold_s"].default,
) -> str:
    """The /process API endpoint: runs to the end and returns the ZIP's path."""
    try:
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s,
        )
        source = pick_source(video_file, drive_link)
        result = [e for e in _job_events(source, settings) if isinstance(e, Result)][-1]
        return str(result.zip_path)
    except MosaicError as err:
        raise gr.Error(str(err), print_exception=False) from None


def warm_model() -> str | None:
    """Load the default model in the background at start-up; returns the error, if any."""
    try:
        from pipeline.model import load_detector

        load_detector(Settings())
        return None
    except MosaicError as err:
        return str(err)
