"""How a job is reported on the page and to the API: the progress bar and its states, the
size line, the outcome of a finished job (Outcome: its state, headline, detail lines and
whether its ZIP is worth offering), the ZIP's download button and the error summary. Only
words and HTML, in the request's language (ui/i18n.py); no job runs here."""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from pipeline import COMPLETED, IMAGE_CAP, USER_STOP, MosaicError, Progress, Result, Settings

from .i18n import DEFAULT_LANGUAGE, say, tr
from .messages import public_message

# Progress.stage as the page says it
STAGES = {"downloading": "run.stage.downloading", "probing": "run.stage.probing",
          "loading model": "run.stage.loading_model", "processing": "run.stage.processing",
          "finishing": "run.stage.finishing", "auditing": "run.stage.auditing"}


# -- sizes -------------------------------------------------------------------------------
def size_text(n_bytes: int) -> str:
    """Bytes in the units of the size cap (1 MB = 10^6 bytes), as the page shows them."""
    if n_bytes < 1_000_000:
        return f"{n_bytes / 1e3:.1f} kB"
    return f"{n_bytes / 1e6:.1f} MB"


def _size_line(written: int, max_bytes: int | None, lang: str = DEFAULT_LANGUAGE) -> str:
    cap = tr("run.size_cap", lang, size=size_text(max_bytes)) if max_bytes else tr("run.no_cap", lang)
    return tr("run.size_line", lang, size=size_text(written), cap=cap)


# -- the progress bar --------------------------------------------------------------------
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


# -- a finished job ----------------------------------------------------------------------
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
    details += _audit_lines(result, lang)
    if result.video_path:
        key = "out.video_audio" if info.has_audio else "out.video_no_audio"
        details.append(tr(key, lang, frames=result.video_frames))
    return Outcome(state, headline, details)


def _audit_lines(result: Result, lang: str) -> list[str]:
    """What the audit checked and found, and where the report is (pipeline/audit/)."""
    lines = []
    if result.audit is not None:
        if result.audit.get("mode") == "off":
            lines.append(tr("out.audit_off", lang))
        else:
            lines.append(tr("out.audit", lang, checked=result.audit["checked_frames"],
                            findings=result.audit["findings"]))
    if result.report_paths:
        lines.append(tr("out.report", lang, name=result.report_paths[-1].name))
    return lines


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
    notes = [say(w, lang) for w in result.warnings]  # the bundled model ran in place of YOLO
    return Outcome("warning" if notes else "done", tr("out.detect_found", lang, boxes=result.people_found),
                   [*notes, tr("out.detect_found_detail", lang, frames=result.frames_read)])

