"""Event handlers: turn page and API inputs into Settings, and pipeline events into component
values. No processing happens here; the pipeline does all of it.

The app is public, so this layer also decides what a caller may reach: a video only as an
upload or a Google Drive link (pick_source), a model only from the allowlist
(model_choice), and error texts without server details (messages.public_message). An
uploaded original is deleted as soon as the job that used it ends."""
from __future__ import annotations

import collections
import contextlib
import html
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import gradio as gr

from pipeline import COMPLETED, IMAGE_CAP, SIZE_CAP, USER_STOP, MosaicError, Progress, Result, Settings, run
from pipeline.errors import Cancelled, InputError, SettingsError
from pipeline.settings import TARGETS
from pipeline.unmask import parse_track_ids
from pipeline.source import DRIVE_HOSTS

from .i18n import DEFAULT_LANGUAGE, language, say, tr
from .messages import public_message
from .model_choice import dropdown_choices, resolve_model
from .review import ReviewSource, edited_csv, review_source
from .status import RUNNING
from .zerogpu import run  # noqa: F811 - on ZeroGPU, detection in @spaces.GPU calls; elsewhere pipeline.run

log = logging.getLogger("ui")

SAMPLE_VIDEO = Path(__file__).parent / "assets" / "vtest_clip.mp4"
FACES_SAMPLE = Path(__file__).parent / "assets" / "faces_clip.mp4"  # real faces, for the face target
SAMPLES = (SAMPLE_VIDEO, FACES_SAMPLE)
RESULTS_ROOT = Path(os.environ.get("MOSAIC_RESULTS_DIR") or Path(tempfile.gettempdir()) / "mosaic-results")
RESULT_TTL_S = int(os.environ.get("MOSAIC_RESULT_TTL_S", "3600"))  # results older than this are swept
UI_UPDATE_PERIOD_S = 0.5
# Largest input accepted, uploaded or from Drive (the app passes it to Gradio's max_file_size).
MAX_INPUT_MB = float(os.environ.get("MOSAIC_MAX_INPUT_MB", "2000"))
MAX_INPUT_BYTES = int(MAX_INPUT_MB * 1e6)
# Jobs that run at once (app.py gives it to the queue); more wait in Gradio's queue.
JOB_SLOTS = int(os.environ.get("MOSAIC_CONCURRENCY", "1"))
GALLERY_SIZE = 6
DEFAULTS = Settings.__dataclass_fields__
DEFAULT_CAP_MB = 500.0  # shown in the cap boxes; applied only when the cap is ticked
DEFAULT_CAP_IMAGES = 1000
STOP_WAIT_S = 10.0  # how long Stop waits for the job to end before answering "Stopping"
# English, for the API and the tests; the page says them in its language (ui/i18n.py)
STOPPED_MESSAGE = tr("run.stopped_message")
STOPPED_WAITING = tr("run.stopped_waiting")
LINK_ONLY = tr("err.link_only")
# Progress.stage as the page says it
STAGES = {"downloading": "run.stage.downloading", "probing": "run.stage.probing",
          "loading model": "run.stage.loading_model", "processing": "run.stage.processing",
          "finishing": "run.stage.finishing"}

# -- what the page's Start / Stop / Stop-and-keep buttons act on, per browser session ------
@dataclass
class _Job:
    cancel: threading.Event = field(default_factory=threading.Event)
    finish: threading.Event = field(default_factory=threading.Event)
    upload_deleted: bool = False


_jobs: dict[str, _Job] = {}  # running jobs, so Stop hits only its own tab's job
_waiting: set[str] = set()  # sessions whose Start waits in the queue
_jobs_lock = threading.Lock()


# -- inputs ------------------------------------------------------------------------------
def _number(value):
    """A number from the page or the API, meaning unchanged: 10.0 becomes 10, but 2.5 stays
    2.5 (Settings refuses it for a whole-number field) and text that is not a number stays
    text (Settings names the field)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = float(value)
        except ValueError:
            return value.strip()[:40]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def settings_from_inputs(interval, scale_pct, limit_size, max_mb, limit_images, max_images,
                         image_format, jpeg_quality, style, mosaic_cells, pad_pct, conf, model,
                         hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
                         face_shape=DEFAULTS["face_shape"].default) -> Settings:
    """Page/API values to validated Settings; every check is Settings' own. A cap applies
    only when its box is ticked (its number is then ignored, whatever it is); a ticked cap
    that is empty or 0 is an error, never silently 'no cap'. The model must be on the
    allowlist: that is checked here, before anything is loaded."""
    max_mb, max_images = _number(max_mb), _number(max_images)
    model_spec = resolve_model(model, target if target in TARGETS else "person")
    try:
        return Settings(
            interval=_number(interval),
            scale_pct=_number(scale_pct),
            max_mb=(0.0 if max_mb is None else max_mb) if limit_size else None,
            max_images=(0 if max_images is None else max_images) if limit_images else None,
            image_format=image_format,
            jpeg_quality=_number(jpeg_quality),
            style=style,
            mosaic_cells=_number(mosaic_cells),
            pad_pct=_number(pad_pct),
            conf=_number(conf),
            hold_s=_number(hold_s),
            target=target,
            face_shape=face_shape,
            model=model_spec,
        )
    except TypeError:  # a comparison Settings makes on a value of the wrong type
        raise SettingsError(tr("err.settings.numbers"), key="err.settings.numbers") from None


def _drive_link(text: str) -> str:
    """The link as the pipeline gets it: always https?://<a Drive host>/..., so the pipeline
    never reads it as a path. Anything else is refused with one line that neither repeats
    the text nor depends on what exists on the server's disk."""
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise InputError(LINK_ONLY, key="err.link_only")
    lowered = text.lower()
    if not lowered.startswith(("http://", "https://")):
        if not lowered.startswith(tuple(f"{host}/" for host in DRIVE_HOSTS)):
            raise InputError(LINK_ONLY, key="err.link_only")
        text = "https://" + text  # a Drive address pasted without its scheme
    try:
        parsed = urllib.parse.urlsplit(text)
        port = parsed.port
    except ValueError:
        raise InputError(LINK_ONLY, key="err.link_only") from None
    if (parsed.scheme.lower() not in ("http", "https") or (parsed.hostname or "") not in DRIVE_HOSTS
            or parsed.username or parsed.password or port not in (None, 80, 443)):
        raise InputError(LINK_ONLY, key="err.link_only")
    return text


def pick_source(video_file, drive_link) -> str:
    """The job's input: an upload (Gradio hands over a path in its upload cache; the API
    accepts nothing else there) or a Google Drive link. Local paths, file:// and every
    other scheme typed into the link box are refused."""
    link = (drive_link or "").strip() if isinstance(drive_link, str) or drive_link is None else str(drive_link)
    path = video_file if isinstance(video_file, (str, Path)) or video_file is None else getattr(video_file, "name", None)
    if path and link:
        raise InputError(tr("err.both_inputs"), key="err.both_inputs")
    if not path and not link:
        raise InputError(tr("err.no_input"), key="err.no_input")
    return str(path) if path else _drive_link(link)


def _safe_stem(source: str) -> str:
    """A file name stem from user input, reduced to harmless characters."""
    stem = Path(source).stem if "://" not in source else "drive_video"
    stem = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._") or "video"
    return stem[:60]


# -- uploaded originals ------------------------------------------------------------------
_upload_users: collections.Counter = collections.Counter()  # jobs using each upload
_upload_lock = threading.Lock()


def _upload_folder() -> Path:
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def _as_upload(source: str) -> Path | None:
    """The file if `source` is an upload in Gradio's cache (<cache>/<hash>/<name>), else
    None: the bundled sample, a Drive link, any other path are never deleted."""
    if "://" in source:
        return None
    try:
        path = Path(source).resolve()
        folder = _upload_folder()
        if path.parent.parent != folder or not path.is_file():
            return None
        if _is_sample(str(path)):
            return None  # a sample's cached copy: public footage, shared by every tab that runs it
    except OSError:
        return None
    return path


def _is_sample(source: str) -> bool:
    """`source` is one of the bundled samples or a cached copy of one (same bytes)."""
    try:
        path = Path(source)
        size = path.stat().st_size
        return any(size == sample.stat().st_size and path.read_bytes() == sample.read_bytes() for sample in SAMPLES)
    except OSError:
        return False


@contextlib.contextmanager
def _using_upload(source: str, job: _Job | None = None):
    """While the block runs, the upload is in use; when the last job using it ends (done,
    failed, stopped, tab closed), it is deleted with its cache folder. Identical uploads
    share one cached file, hence the count."""
    upload = _as_upload(source)
    if upload is None:
        yield
        return
    with _upload_lock:
        _upload_users[upload] += 1
    try:
        yield
    finally:
        with _upload_lock:
            _upload_users[upload] -= 1
            last = _upload_users[upload] <= 0
            if last:
                del _upload_users[upload]
                upload.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    upload.parent.rmdir()  # the hash folder, if nothing else is in it
        if job is not None and last:
            job.upload_deleted = True


# -- results -----------------------------------------------------------------------------
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


def size_text(n_bytes: int) -> str:
    """Bytes in the units of the size cap (1 MB = 10^6 bytes), as the page shows them."""
    if n_bytes < 1_000_000:
        return f"{n_bytes / 1e3:.1f} kB"
    return f"{n_bytes / 1e6:.1f} MB"


def _size_line(written: int, max_bytes: int | None, lang: str = DEFAULT_LANGUAGE) -> str:
    cap = tr("run.size_cap", lang, size=size_text(max_bytes)) if max_bytes else tr("run.no_cap", lang)
    return tr("run.size_line", lang, size=size_text(written), cap=cap)


# -- what the page shows -----------------------------------------------------------------
def _bar_html(pct: float, text_html: str, state: str = "running") -> str:
    """The progress bar; `state` (running, waiting, done, warning, stopped, failed) colours it."""
    return (
        f'<div id="job-progress" class="{state}">'
        f'<div class="bar"><div class="fill" style="width:{pct:.1f}%"></div></div>'
        f'<div class="text">{text_html}</div></div>'
    )


def _progress_html(event: Progress, lang: str = DEFAULT_LANGUAGE) -> str:
    pct = 100.0 * event.fraction
    stage = STAGES.get(event.stage)
    parts = [html.escape(tr(stage, lang) if stage else event.stage)]
    if event.stage == "processing":
        parts.append(tr("run.frames", lang, read=event.frames_read, total=event.frames_total or "?"))
        parts.append(tr("run.fps", lang, fps=event.fps))
        if event.eta_s is not None:
            parts.append(tr("run.eta", lang, eta_s=event.eta_s))
        parts.append(tr("run.counts", lang, images=event.images_written, people=event.people_found))
    elif event.message:
        parts.append(html.escape(say(event.message, lang)))
    return _bar_html(pct, " · ".join(parts))


def _state_html(text: str, state: str, pct: float = 100.0) -> str:
    return _bar_html(pct, html.escape(text), state)


@dataclass
class Outcome:
    """How a finished job is reported: its state, a headline and detail lines (plain text),
    and whether its ZIP is worth offering."""

    state: str  # done | warning | stopped | failed
    headline: str
    details: list[str]
    offer_zip: bool = True

    @property
    def text(self) -> str:
        return " ".join([self.headline, *self.details])

    def html(self) -> str:
        lines = [f'<p class="headline">{html.escape(self.headline)}</p>']
        lines += [f"<p>{html.escape(line)}</p>" for line in self.details]
        return f'<div class="outcome {self.state}">{"".join(lines)}</div>'


def outcome(result: Result, settings: Settings, lang: str = DEFAULT_LANGUAGE) -> Outcome:
    """The words for a finished job, in `lang`. Counts and sizes use the units the rest of
    the page uses; a run that masked nobody is a warning, never a plain "done"."""
    size = size_text(result.zip_bytes)
    got = tr("out.got", lang, images=result.images_written, people=result.people_found, size=size,
             elapsed_s=result.elapsed_s)
    info = result.video
    # the frames before the stop, when a cap or the user stopped the run
    source = tr("out.source", lang, width=info.width, height=info.height, fps=info.fps, frames=result.frames_read)
    details: list[str] = []
    if result.images_written == 0:
        cap = size_text(settings.max_bytes) if settings.max_bytes else tr("out.the_cap", lang)
        return Outcome("failed", tr("out.nothing_written", lang, cap=cap), [tr("out.raise_cap", lang)],
                       offer_zip=False)
    if result.stop_reason == COMPLETED:
        headline, state, plain = tr("out.done", lang, got=got), "done", got
        details.append(source)
        if result.truncated:
            details.append(tr("out.truncated", lang, read=result.frames_read, promised=result.frames_promised))
    else:
        at = tr("out.at", lang, frame=result.stopped_at_frame, time_s=result.stopped_at_s)
        if result.stop_reason == USER_STOP:
            headline, state = tr("out.user_stop", lang, at=at, got=got), "stopped"
            details.append(tr("out.partial_zip", lang, name=result.zip_path.name))
        else:
            key = "out.image_cap_stop" if result.stop_reason == IMAGE_CAP else "out.size_cap_stop"
            headline, state = tr(key, lang, at=at, got=got), "warning"
            if result.images_expected > result.images_written:
                details.append(tr("out.not_written", lang, missing=result.images_expected - result.images_written,
                                  planned=result.images_expected))
        plain = headline
        details.append(source)
    warnings = list(result.warnings)  # e.g. nobody detected: the pipeline says what to check
    if warnings:  # the warning leads; what was done becomes a detail, never "Done"
        details.insert(0, plain)
        headline = tr("out.warning", lang, warnings=" ".join(say(w, lang) for w in warnings))
        state = "warning" if state == "done" else state
    details.append(tr("out.csv_note", lang))
    if result.video_path:
        key = "out.video_audio" if info.has_audio else "out.video_no_audio"
        details.append(tr(key, lang, frames=result.video_frames))
    return Outcome(state, headline, details)


def _no_zip():
    return gr.update(value=None, visible=False)


def _zip_button(result: Result, lang: str = DEFAULT_LANGUAGE):
    """The download button for a finished ZIP, labelled with its name and size in the
    units the rest of the page uses."""
    return gr.update(value=str(result.zip_path), visible=True,
                     label=tr("out.download", lang, name=result.zip_path.name, size=size_text(result.zip_bytes)))


def _error_html(err: MosaicError, lang: str = DEFAULT_LANGUAGE) -> str:
    return Outcome("failed", tr("out.error", lang, message=public_message(err, lang)), []).html()


def detected_outcome(result: Result, lang: str = DEFAULT_LANGUAGE) -> Outcome:
    """Detect only: no images, the boxes are for the review below."""
    if result.people_found == 0:
        return Outcome("warning", tr("out.detect_nobody", lang),
                       [tr("out.detect_nobody_detail", lang, frames=result.frames_read)])
    return Outcome("done", tr("out.detect_found", lang, boxes=result.people_found),
                   [tr("out.detect_found_detail", lang, frames=result.frames_read)])


# -- what a finished job leaves for the review ------------------------------------------
review_sources: dict[str, ReviewSource] = {}  # per browser session: its last finished job


def keep_for_review(source: str, result: Result, settings: Settings, make_video: bool) -> ReviewSource | None:
    """Keep what a review and its re-render need in the job's own result folder (swept
    with it): the run's detections.csv, and the video. An upload is moved there instead of
    being deleted (it leaves Gradio's cache all the same); a Drive download is not kept."""
    folder = result.zip_path.parent
    upload = _as_upload(source)
    if upload is not None:
        video = folder / f"original{upload.suffix.lower()}"
        try:
            shutil.move(str(upload), video)
        except OSError:
            log.exception("could not keep the upload for review")
            return None
    elif "://" in source:
        return None
    else:
        video = Path(source)
    return review_source(video, result.zip_path, folder, 1 if make_video else settings.interval)


# -- running a job -----------------------------------------------------------------------
def _job_events(source: str, settings: Settings, cancel: threading.Event | None = None,
                make_video: bool = False, finish: threading.Event | None = None, detect_only: bool = False):
    """Run one job in its own result folder, yielding the pipeline's events. The folder is
    removed if the job does not finish; the job shows in the status panel while it runs.
    closing(): when the caller drops this generator (Stop, a closed tab), the run is closed
    at once, which stops its threads and removes its partial output."""
    out_dir = _new_result_dir()
    output = out_dir / f"{_safe_stem(source)}_mosaic.zip"
    events = run(source, settings, output=output, cancel=cancel, work_dir=out_dir,
                 video_output=output.with_suffix(".mp4") if make_video else None,
                 max_download_bytes=MAX_INPUT_BYTES, finish=finish, detect_only=detect_only)
    job_id = uuid.uuid4().hex
    RUNNING.update(job_id, 0.0, 0, 0)
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
    face_shape=DEFAULTS["face_shape"].default, make_video=False, detect_only=False,
    request: gr.Request | None = None,
):
    """The Start button (and Detect only): yields (progress, size, gallery, zip, summary,
    video, video input, Start, Stop, Stop and keep, Try the sample) as it runs."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex

    def prepare():
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape,
        )
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
        with _using_upload(source, job):
            for event in _job_events(source, settings, job.cancel, make_video, job.finish, detect_only):
                if isinstance(event, Result):
                    result = event
                    review_sources[session] = keep_for_review(source, result, settings, make_video)
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
               make_video=False, request: gr.Request | None = None):
    """Render: the reviewed run again from its edited detections (no model), with the page's
    current settings. Same outputs as start_job."""
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex

    def prepare():
        if not review_state:
            raise InputError(tr("err.render_first"), key="err.render_first")
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape,
        )
        edited, unmask = edited_csv(review_state, Path(review_state["csv"]).parent)
        return settings.replace(detections_csv=edited, unmask_tracks=unmask), review_state["video"]

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


# -- the public API ----------------------------------------------------------------------
def process_api(
    video_file, drive_link="", interval=DEFAULTS["interval"].default, scale_pct=DEFAULTS["scale_pct"].default,
    limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False, max_images=DEFAULT_CAP_IMAGES,
    image_format=DEFAULTS["image_format"].default, jpeg_quality=DEFAULTS["jpeg_quality"].default,
    style=DEFAULTS["style"].default, mosaic_cells=DEFAULTS["mosaic_cells"].default,
    pad_pct=DEFAULTS["pad_pct"].default, conf=DEFAULTS["conf"].default, model="",
    hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
    face_shape=DEFAULTS["face_shape"].default,
):
    """Mask every person in a video. While it runs it sends (None, a progress line); its last
    output is (the ZIP of masked frames, a one-line summary that says when a cap stopped the
    run early or nobody was detected). It is a generator so that a caller who cancels (or
    goes away) stops the job: Gradio closes it at its next output."""
    try:
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, conf, model, hold_s, target, face_shape,
        )
        source = pick_source(video_file, drive_link)
        yield from _api_job(source, settings)
    except MosaicError as err:
        raise gr.Error(public_message(err), print_exception=False) from None


def render_api(
    video_file, detections_csv, unmask_tracks="", interval=DEFAULTS["interval"].default,
    scale_pct=DEFAULTS["scale_pct"].default, limit_size=False, max_mb=DEFAULT_CAP_MB, limit_images=False,
    max_images=DEFAULT_CAP_IMAGES, image_format=DEFAULTS["image_format"].default,
    jpeg_quality=DEFAULTS["jpeg_quality"].default, style=DEFAULTS["style"].default,
    mosaic_cells=DEFAULTS["mosaic_cells"].default, pad_pct=DEFAULTS["pad_pct"].default,
    hold_s=DEFAULTS["hold_s"].default, target=DEFAULTS["target"].default,
    face_shape=DEFAULTS["face_shape"].default,
):
    """Render a video from an edited detections.csv without running the model: the boxes
    listed are covered (manual rows interpolated per track, held like detections), the
    tracks in `unmask_tracks` ("3,7") are left uncovered. Outputs as /process."""
    try:
        settings = settings_from_inputs(
            interval, scale_pct, limit_size, max_mb, limit_images, max_images, image_format,
            jpeg_quality, style, mosaic_cells, pad_pct, DEFAULTS["conf"].default, "", hold_s, target, face_shape,
        )
        csv_path = detections_csv if isinstance(detections_csv, (str, Path)) else getattr(detections_csv, "name", None)
        if not csv_path or _as_upload(str(csv_path)) is None:
            raise InputError("Upload the edited detections.csv (the one in a run's ZIP) as detections_csv.")
        settings = settings.replace(detections_csv=Path(csv_path), unmask_tracks=parse_track_ids(unmask_tracks or ""))
        source = pick_source(video_file, "")
        if _as_upload(source) is None and not _is_sample(source):
            raise InputError("Upload the video as video_file.")
        with _using_upload(str(csv_path)):
            yield from _api_job(source, settings)
    except MosaicError as err:
        raise gr.Error(public_message(err), print_exception=False) from None


def _api_job(source: str, settings: Settings):
    """Run one API job: (None, a progress line) while it runs, then (ZIP, summary)."""
    result = None
    last_update = 0.0
    with _using_upload(source):
        for event in _job_events(source, settings):
            if isinstance(event, Result):
                result = event
                break
            now = time.monotonic()
            if now - last_update >= 1.0:
                last_update = now
                line = event.stage if event.stage != "processing" else (
                    f"processing: {event.frames_read} / {event.frames_total or '?'} frames, "
                    f"{event.images_written} images")
                yield None, line
    told = outcome(result, settings)
    if not told.offer_zip:
        shutil.rmtree(result.zip_path.parent, ignore_errors=True)
        raise gr.Error(told.text, print_exception=False)
    yield str(result.zip_path), told.text


def warm_model() -> str | None:
    """Load the default model in the background at start-up; returns the error, if any."""
    try:
        from pipeline.model import load_detector

        load_detector(Settings())
        return None
    except MosaicError as err:
        return str(err)
