"""The Live tab: the browser's webcam in, the masked picture out, measured rates beside it.

Gradio 6's own webcam streaming (`gr.Image(sources=["webcam"], streaming=True)` with
`.stream`) sends one JPEG frame at a time and the next only once the answer is back, so
this path reaches a handful of frames a second (see the README); `python -m pipeline live`
is the path for 30 fps streams. Each browser session gets its own LiveMasker (tracker,
hold, motion), the one the CLI uses, on the process-wide detector; a frame is shown only
once it is masked.

$MOSAIC_LIVE_DETECTIONS (a detections CSV keyed by the session's frame count) replays boxes
instead of running the model: a test mode, said on the tab when it is on.
"""
from __future__ import annotations

import collections
import html
import os
import time

import gradio as gr
import numpy as np

from pipeline.detection import ReplayDetector
from pipeline.errors import MosaicError
from pipeline.live import LiveMasker
from pipeline.settings import STYLES, TARGETS, Settings
from pipeline.video import Frame

REPLAY_ENV_VAR = "MOSAIC_LIVE_DETECTIONS"
STREAM_EVERY_S = 0.05  # the browser sends a frame at most this often, one at a time
RATE_WINDOW_S = 2.0  # rates are measured over this last stretch
LIVE_SESSIONS = int(os.environ.get("MOSAIC_LIVE_SESSIONS", "4"))  # webcams masked at once

LIVE_INTRO = """Mask your webcam live: press the camera's record button and every frame comes back
with each person covered, before it is shown. The browser sends one frame at a time, so this
reaches a few frames a second; for a 30 fps camera or network stream use
`python -m pipeline live SOURCE -o OUT` (see the README)."""


class LiveSession:
    """One browser's stream: its masker, its frame count and its measured rates."""

    def __init__(self, settings: Settings):
        self.settings = settings
        replay = os.environ.get(REPLAY_ENV_VAR, "").strip()
        if replay:
            detector = ReplayDetector(replay)
        else:
            from pipeline.model import load_detector  # the process-wide model, shared with file jobs

            detector = load_detector(settings)
        self.replay = bool(replay)
        self.masker = LiveMasker(detector, settings, fps=1 / STREAM_EVERY_S)
        self.start = time.monotonic()
        self.index = 0
        self.shown: collections.deque = collections.deque()  # (time, frames detected so far)

    def mask(self, rgb: np.ndarray) -> np.ndarray:
        now = time.monotonic()
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        masked = self.masker.mask(Frame(self.index, now - self.start, bgr))
        self.index += 1
        self.shown.append((time.monotonic(), self.masker.detected))
        while self.shown and self.shown[0][0] < self.shown[-1][0] - RATE_WINDOW_S:
            self.shown.popleft()
        return np.ascontiguousarray(masked[:, :, ::-1])

    def rates(self) -> tuple[float, float]:
        """(frames shown per second, frames detected per second) over the last stretch."""
        if len(self.shown) < 2:
            return 0.0, 0.0
        (t0, d0), (t1, d1) = self.shown[0], self.shown[-1]
        span = max(t1 - t0, 1e-6)
        return (len(self.shown) - 1) / span, (d1 - d0) / span

    def stats_markdown(self) -> str:
        fps, detect_hz = self.rates()
        note = " · **test mode: boxes replayed from a CSV**" if self.replay else ""
        return f"**{fps:.1f} fps** shown · detection **{detect_hz:.1f} Hz** · {self.index} frames{note}"

    def close(self) -> None:
        self.masker.close()


def close_session(session: LiveSession | None) -> None:
    if session is not None:
        session.close()


def live_frame(image, session: LiveSession | None, target: str, style: str, cells, pad):
    """One webcam frame in, its masked picture out (never the frame itself)."""
    if image is None:
        return gr.skip(), session, gr.skip()
    try:
        settings = Settings(target=target, style=style, mosaic_cells=int(cells), pad_pct=float(pad))
        if session is None or session.settings != settings:  # new settings: a fresh tracker
            close_session(session)
            session = None  # closed: an error below must not close it twice
            session = LiveSession(settings)
        masked = session.mask(image)
    except MosaicError as err:
        close_session(session)
        return None, None, f"❌ {html.escape(str(err))}"
    return masked, session, session.stats_markdown()


def build_live_tab() -> None:
    """The tab's components and events; call it inside `with gr.Tab("Live"):`."""
    d = Settings()
    gr.Markdown(LIVE_INTRO)
    with gr.Row():
        with gr.Column(scale=1):
            webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam",
                              elem_id="live-webcam")
            target = gr.Radio(list(TARGETS), value=d.target, label="What to hide", elem_id="live-target")
            style = gr.Radio(list(STYLES), value=d.style, label="Mask style", elem_id="live-style")
            cells = gr.Slider(2, 200, value=d.mosaic_cells, step=1, label="Mosaic cells across a person: fewer = coarser, hides more (blur: fewer = stronger)")
            pad = gr.Slider(0, 50, value=d.pad_pct, step=1, label="Padding around each box (%)")
        with gr.Column(scale=1):
            masked = gr.Image(label="Masked", format="jpeg", interactive=False, elem_id="live-output")
            stats = gr.Markdown("", elem_id="live-stats")
    session = gr.State(None, delete_callback=close_session)
    webcam.stream(live_frame, [webcam, session, target, style, cells, pad], [masked, session, stats],
                  stream_every=STREAM_EVERY_S, time_limit=None, concurrency_limit=LIVE_SESSIONS,
                  concurrency_id="live", show_progress="hidden", api_visibility="private")
