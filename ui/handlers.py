"""The page's event handlers: Start (and Detect only, Try the sample), Render, Stop, Stop
and keep, the target's model list, and the model warm-up at start-up. They turn the page's
inputs into a job (inputs.settings_from_inputs, sources.pick_source) and the job's events
into component values (report.py); no processing happens here, the pipeline does all of
it (jobs._job_events). Each browser session has at most one job, registered in _jobs, so
Stop hits only its own tab's job; an uploaded original is deleted as soon as the job that
used it ends (sources._using_upload). The HTTP API is ui/api.py."""
from __future__ import annotations

import collections
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import gradio as gr

from pipeline import COMPLETED, IMAGE_CAP, SIZE_CAP, USER_STOP, MosaicError, Result
from pipeline.errors import Cancelled, InputError
from pipeline.settings import TARGETS

from .audit_view import report_files
from .faces import with_faces
from .i18n import DEFAULT_LANGUAGE, language, tr
from .inputs import DEFAULT_CAP_IMAGES, DEFAULT_CAP_MB, DEFAULTS, settings_from_inputs
from .jobs import _job_events, keep_for_review
from .model_choice import dropdown_choices
from .report import (
    Outcome,
    _error_html,
    _no_zip,
    _progress_html,
    _size_line,
    _state_html,
    _zip_button,
    detected_outcome,
    outcome,
)
from .review import edited_csv, review_sources
from .sources import _using_upload, pick_source
from .status import RUNNING

log = logging.getLogger("ui")

UI_UPDATE_PERIOD_S = 0.5
# Jobs that run at once (app.py gives it to the queue); more wait in Gradio's queue.
JOB_SLOTS = int(os.environ.get("MOSAIC_CONCURRENCY", "1"))
GALLERY_SIZE = 6
STOP_WAIT_S = 10.0  # how long Stop waits for the job to end before answering "Stopping"
# English, for the API and the tests; the page says them in its language (ui/i18n.py)
STOPPED_MESSAGE = tr("run.stopped_message")
STOPPED_WAITING = tr("run.stopped_waiting")

# -- what the page's Start / Stop / Stop-and-keep buttons act on, per browser session ------
@dataclass
class _Job:
    cancel: threading.Event = field(default_factory=threading.Event)
    finish: threading.Event = field(default_factory=threading.Event)
    upload_deleted: bool = False


_jobs: dict[str, _Job] = {}  # running jobs, so Stop hits only its own tab's job
_waiting: set[str] = set()  # sessions whose Start waits in the queue
_jobs_lock = threading.Lock()


def _buttons(running: bool, keep: bool = False):
    """(Start, Stop, Stop and keep, Try the sample): each enabled only when it applies."""
    return (gr.update(interactive=not running), gr.update(interactive=running),
            gr.update(interactive=keep), gr.update(interactive=not running))


def begin(request: gr.Request | None = None):
    """Start and Try the sample, before the job is queued: clear the last result, lock the
    buttons, and say whether the job waits for another one. Outputs: (progress, size,
    gallery, zip, summary, video, Start, Stop, Stop and keep, Try the sample)."""
    session = getattr(request, "session_hash", None)
    lang = language(request)
    if session:
        with _jobs_lock:
            _waiting.add(session)
    running = len(RUNNING.snapshot())
    if running >= JOB_SLOTS:
        waiting = tr("run.waiting_one", lang) if running == 1 else tr("run.waiting_many", lang, jobs=running)
        bar = _state_html(waiting, "waiting", 0.0)
    else:
        bar = _state_html(tr("run.starting", lang), "running", 0.0)
    return (bar, "", [], _no_zip(), "", gr.update(value=None), *_buttons(True))


def model_choices(target, request: gr.Request | None = None):
    """The model dropdown for a newly chosen target: its default model first, in the page's language."""
    return gr.update(choices=dropdown_choices(target if target in TARGETS else "person", language(request)), value="")


def start_job(
    video_file, drive_link="", interval=DEFAULTS["interval"].default, scale_pct=DEFAULTS["scale_pct"].default,
    limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False, max_images=DEFAULT_CAP_IMAGES,
    image_format=DEFAULTS["image_format"].default, jpeg_quality=DEFAULTS["jpeg_quality"].default,
    style=DEFAULTS["style"].default, mosaic_cells=DEFAULTS["mosaic_cells"].default,
    pad_pct=DEFAULTS["pad_pct"].default, conf=DEFAULTS["conf"].default, model="",
    hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
    face_shape=DEFAULTS["face_shape"].default, precision=DEFAULTS["precision"].default, make_video=False,
    detect_only=False, voice=DEFAULTS["voice"].default, mute_spans="", bleep=False,
    keep_faces=None, only_faces=None, follow="", detail=DEFAULTS["detail"].default,
    audit=None, encode=DEFAULTS["encode"].default, request: gr.Request | None = None,
):
    """The Start button (and Detect only): yields (progress, size, gallery, zip, summary,
    video, video input, Start, Stop, Stop and keep, Try the sample) as it runs."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex

    def prepare():
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape, precision,
            voice, mute_spans, bleep,
            follow, detail, audit, encode,
        )
        settings = with_faces(settings, keep_faces, only_faces)  # uploads only
        if detect_only and make_video:  # a review of a video run covers every frame
            settings = settings.replace(interval=1)
        return settings, pick_source(video_file, drive_link)

    yield from page_job(session, prepare, bool(make_video) and not detect_only, bool(detect_only), language(request))


def page_job(session: str, prepare, make_video: bool, detect_only: bool = False, lang: str = DEFAULT_LANGUAGE):
    """One job for the page: `prepare()` gives (settings, source) or raises our error; the
    job's events become component values (see start_job), in the page's language `lang`. A
    finished job is offered for review: its detections and the video stay in its result
    folder (review_sources)."""
    job = _Job()
    with _jobs_lock:
        _waiting.discard(session)
        _jobs[session] = job
    gallery: collections.deque = collections.deque(maxlen=GALLERY_SIZE)
    last_preview = -1
    last_update = 0.0
    keep_offered = False
    skip = gr.skip()
    idle = _buttons(False)

    def cleared_input():
        return gr.update(value=None) if job.upload_deleted else skip

    try:
        settings, source = prepare()
        yield (_state_html(tr("run.starting", lang), "running", 0.0), _size_line(0, settings.max_bytes, lang),
               [], _no_zip(),
               "", skip, skip, *_buttons(True))
        result = None
        review_sources.pop(session, None)
        report_files.pop(session, None)
        with _using_upload(source, job):
            for event in _job_events(source, settings, job.cancel, make_video, job.finish, detect_only):
                if isinstance(event, Result):
                    result = event
                    review_sources[session] = keep_for_review(source, result, settings, make_video)
                    report_files[session] = result.report_paths  # offered beside the ZIP (report_download)
                    break
                if event.preview is not None and event.preview_index != last_preview:
                    last_preview = event.preview_index
                    caption = tr("run.frame_caption", lang, frame=event.preview_index)
                    gallery.appendleft((cv2.cvtColor(event.preview, cv2.COLOR_BGR2RGB), caption))
                now = time.monotonic()
                if now - last_update >= UI_UPDATE_PERIOD_S:
                    last_update = now
                    keep = skip
                    if event.stage == "processing" and not keep_offered and not job.finish.is_set():
                        keep, keep_offered = gr.update(interactive=True), True
                    yield (_progress_html(event, lang), _size_line(event.bytes_written, event.max_bytes, lang),
                           list(gallery), skip, skip, skip, skip, skip, skip, keep, skip)
        told = detected_outcome(result, lang) if detect_only else outcome(result, settings, lang)
        if not told.offer_zip:  # an empty ZIP is not a result
            shutil.rmtree(result.zip_path.parent, ignore_errors=True)
        label = {SIZE_CAP: "end.size_cap", IMAGE_CAP: "end.image_cap",
                 USER_STOP: "end.user_stop"}.get(result.stop_reason, "end.done")
        if told.state == "failed":
            label = "end.failed"
        elif told.state == "warning" and result.stop_reason == COMPLETED:
            label = "end.warning"
        yield (
            _state_html(tr(label, lang), told.state),
            _size_line(result.zip_bytes, settings.max_bytes, lang) if told.offer_zip else "",
            list(gallery) if told.offer_zip else [],
            _zip_button(result, lang) if told.offer_zip else _no_zip(),
            told.html(),
            gr.update(value=str(result.video_path)) if result.video_path and told.offer_zip else gr.update(value=None),
            cleared_input(),
            *idle,
        )
    except Cancelled:
        yield (_state_html(tr("end.stopped", lang), "stopped"), "", [], _no_zip(), tr("run.stopped_message", lang),
               gr.update(value=None), cleared_input(), *idle)
    except MosaicError as err:
        yield (_state_html(tr("end.failed", lang), "failed"), "", [], _no_zip(), _error_html(err, lang),
               gr.update(value=None), cleared_input(), *idle)
    except Exception:  # a bug: the page still says it failed; the log has the trace
        log.exception("job failed")
        yield (_state_html(tr("end.failed", lang), "failed"), "", [], _no_zip(),
               Outcome("failed", tr("out.error", lang, message=tr("err.processing_failed", lang)), []).html(),
               gr.update(value=None), cleared_input(), *idle)
    finally:
        with _jobs_lock:
            if _jobs.get(session) is job:
                del _jobs[session]


def render_job(review_state, interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
               jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape,
               make_video=False, voice=DEFAULTS["voice"].default, mute_spans="", bleep=False,
               keep_faces=None, only_faces=None, follow="", audit=None, unmask_reason="",
               encode=DEFAULTS["encode"].default, request: gr.Request | None = None):
    """Render: the reviewed run again from its edited detections (no model, so no CPU
    precision either), with the page's current settings. Same outputs as start_job."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex

    def prepare():
        if not review_state:
            raise InputError(tr("err.render_first"), key="err.render_first")
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape,
            voice=voice, mute_spans=mute_spans, bleep=bleep,
            follow=follow, audit=audit, encode=encode,
        )
        edited, unmask = edited_csv(review_state, Path(review_state["csv"]).parent)
        settings = with_faces(settings, keep_faces, only_faces)
        return settings.replace(detections_csv=edited, unmask_tracks=unmask,
                                unmask_reason=(unmask_reason or "") if unmask else ""), review_state["video"]

    yield from page_job(session, prepare, bool(make_video), lang=language(request))


def stop_button(request: gr.Request | None = None):
    """Stop: cancel this session's job and, once it has ended, clear what is gone. The Start
    event is cancelled too, so its own last message never reaches the page: these values are
    the last word. With nothing running (a job that just ended), nothing but the buttons
    changes, so a finished job's summary stays. Same outputs as start_job."""
    session = getattr(request, "session_hash", None)
    lang = language(request)
    skip = gr.skip()
    with _jobs_lock:
        job = _jobs.get(session) if session else None
        was_waiting = session in _waiting
        _waiting.discard(session)
    idle = _buttons(False)
    if job is None:
        if was_waiting:
            return (_state_html(tr("run.stopped_waiting", lang), "stopped", 0.0), skip, skip, skip, "", skip, skip,
                    *idle)
        return (skip, skip, skip, skip, skip, skip, skip, *idle)
    job.cancel.set()
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        with _jobs_lock:
            if _jobs.get(session) is not job:  # start_job's cleanup has run
                cleared = gr.update(value=None) if job.upload_deleted else skip
                return (_state_html(tr("end.stopped", lang), "stopped"), "", [], _no_zip(),
                        tr("run.stopped_message", lang), gr.update(value=None), cleared, *idle)
        time.sleep(0.05)
    return (_state_html(tr("run.stopping", lang), "stopped"), "", [], _no_zip(), tr("run.stopping_message", lang),
            gr.update(value=None), skip, *idle)


def keep_button(request: gr.Request | None = None):
    """Stop and keep what is done: the job finishes early with a valid ZIP of the frames so
    far, named as partial; its own last yield shows it. Outputs: (progress, Stop and keep)."""
    session = getattr(request, "session_hash", None)
    with _jobs_lock:
        job = _jobs.get(session) if session else None
    if job is None:
        return gr.skip(), gr.update(interactive=False)
    job.finish.set()
    return _state_html(tr("run.keeping", language(request)), "running"), gr.update(interactive=False)


def stop_job(request: gr.Request | None = None) -> str:
    """Cancel this session's job and wait for it to end; returns what happened (for tests
    and scripts that drive the handlers without a page)."""
    session = getattr(request, "session_hash", None)
    with _jobs_lock:
        job = _jobs.get(session) if session else None
    if job is None:
        return tr("run.nothing_running")
    values = stop_button(request)
    return values[4] if isinstance(values[4], str) else "Stopping"
