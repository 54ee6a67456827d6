"""The Live tab: the browser's webcam in, the masked picture out, measured rates beside it.

Gradio 6's own webcam streaming (`gr.Image(sources=["webcam"], streaming=True)` with
`.stream`) sends one JPEG frame at a time and the next only once the answer is back, so
this path reaches a handful of frames a second (see docs/live.md); `python -m pipeline live`
is the path for 30 fps streams. Each browser session gets its own LiveMasker (tracker,
hold, motion), the one the CLI uses, on the process-wide detector; a frame is shown only
once it is masked.

$MOSAIC_LIVE_DETECTIONS (a detections CSV keyed by the session's frame count) replays boxes
instead of running the model: a test mode, said on the tab when it is on.
"""
from __future__ import annotations

import logging
import os
import time

import gradio as gr
import numpy as np

from pipeline.detect.detector import ReplayDetector
from pipeline.errors import MosaicError
from pipeline.io.video import Frame
from pipeline.jobs.live import LiveMasker
from pipeline.jobs.rates import RateWindow
from pipeline.settings import FOLLOW_ASPECTS, STYLES, TARGETS, Settings

from .i18n import DEFAULT_LANGUAGE, STYLE_LABELS, TARGET_LABELS, i18n, language, say, tr
from .messages import public_message
from .webrtc_page import build_webrtc_panel

log = logging.getLogger("ui.live")
REPLAY_ENV_VAR = "MOSAIC_LIVE_DETECTIONS"
STREAM_EVERY_S = 0.05  # the browser sends a frame at most this often, one at a time
RATE_WINDOW_S = 2.0  # rates are measured over this last stretch
LIVE_SESSIONS = int(os.environ.get("MOSAIC_LIVE_SESSIONS", "4"))  # webcams masked at once



class LiveSession:
    """One browser's stream: its masker, its frame count and its measured rates."""

    def __init__(self, settings: Settings):
        self.settings = settings
        replay = os.environ.get(REPLAY_ENV_VAR, "").strip()
        if replay:
            detector = ReplayDetector(replay)
        else:
            from pipeline.models import load_detector  # the process-wide model, shared with file jobs

            detector = load_detector(settings)
        self.replay = bool(replay)
        self.notes = tuple(getattr(detector, "notes", ()))  # the bundled model ran in place of YOLO
        self.masker = LiveMasker(detector, settings, fps=1 / STREAM_EVERY_S)
        self.start = time.monotonic()
        self.index = 0
        self.shown = RateWindow(RATE_WINDOW_S)  # frames shown and detected per second

    def mask(self, rgb: np.ndarray) -> np.ndarray:
        now = time.monotonic()
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        masked = self.masker.mask(Frame(self.index, now - self.start, bgr))
        self.index += 1
        self.shown.add(self.masker.detected)
        return np.ascontiguousarray(masked[:, :, ::-1])

    def rates(self) -> tuple[float, float]:
        """(frames shown per second, frames detected per second) over the last stretch."""
        return self.shown.rates()

    def stats_markdown(self, lang: str = DEFAULT_LANGUAGE) -> str:
        fps, detect_hz = self.rates()
        note = " · " + tr("live.test_mode", lang) if self.replay else ""
        notes = "".join("\n\n" + say(n, lang) for n in self.notes)
        return tr("live.stats", lang, fps=fps, detect_hz=detect_hz, frames=self.index) + note + notes

    def close(self) -> None:
        self.masker.close()


def close_session(session: LiveSession | None) -> None:
    if session is not None:
        session.close()


def live_frame(image, session: LiveSession | None, target: str, style: str, cells, pad, follow="",
               request: gr.Request | None = None):
    """One webcam frame in, its masked picture out (never the frame itself)."""
    lang = language(request)
    if image is None:
        return gr.skip(), session, gr.skip()
    try:
        settings = Settings(target=target, style=style, mosaic_cells=int(cells), pad_pct=float(pad),
                            follow=follow or None)
        if session is None or session.settings != settings:  # new settings: a fresh tracker
            close_session(session)
            session = None  # closed: an error below must not close it twice
            session = LiveSession(settings)
        masked = session.mask(image)
    except MosaicError as err:
        close_session(session)
        return None, None, tr("out.error", lang, message=public_message(err, lang))
    except Exception:  # a bug or a library's failure: said on the tab, not left to Gradio's toast
        log.exception("live frame failed")
        close_session(session)
        return None, None, tr("out.error", lang, message=tr("err.processing_failed", lang))
    return masked, session, session.stats_markdown(lang)


def build_live_tab() -> None:
    """The tab's components and events; call it inside `with gr.Tab("Live"):`. The settings
    on the left apply to both paths: WebRTC (the page posts them to its session as they
    change, ui/webrtc_page.py) and, below it, the JPEG stream kept as the fallback."""
    d = Settings()
    gr.Markdown(i18n("live.webrtc.heading"))
    with gr.Row():
        with gr.Column(scale=1):
            target = gr.Radio([(i18n(TARGET_LABELS[t]), t) for t in TARGETS], value=d.target,
                              label=i18n("page.target"), elem_id="live-target")
            style = gr.Radio([(i18n(STYLE_LABELS[s]), s) for s in STYLES], value=d.style, label=i18n("page.style"),
                             elem_id="live-style")
            cells = gr.Slider(2, 200, value=d.mosaic_cells, step=1, label=i18n("page.cells"), elem_id="live-cells")
            pad = gr.Slider(0, 50, value=d.pad_pct, step=1, label=i18n("page.pad"), elem_id="live-pad")
            follow = gr.Radio([(i18n("page.follow.off"), ""), *((a, a) for a in FOLLOW_ASPECTS)], value="",
                              label=i18n("live.follow"), elem_id="live-follow")
        with gr.Column(scale=1):
            build_webrtc_panel()
    gr.Markdown(i18n("live.jpeg_heading"))
    gr.Markdown(i18n("live.intro"))
    with gr.Row():
        with gr.Column(scale=1):
            webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label=i18n("live.webcam"),
                              elem_id="live-webcam")
        with gr.Column(scale=1):
            masked = gr.Image(label=i18n("live.masked"), format="jpeg", interactive=False, elem_id="live-output")
            stats = gr.Markdown("", elem_id="live-stats")
    session = gr.State(None, delete_callback=close_session)
    webcam.stream(live_frame, [webcam, session, target, style, cells, pad, follow], [masked, session, stats],
                  stream_every=STREAM_EVERY_S, time_limit=None, concurrency_limit=LIVE_SESSIONS,
                  concurrency_id="live", show_progress="hidden", api_visibility="private")
