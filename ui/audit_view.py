"""The audit on the page (pipeline/audit/): the report files offered for download beside the
ZIP, per browser session, and the Review opened on the findings (the slider on the first
one, a button that draws a box over each, for Render). The outcome's words (frames checked,
findings as a warning) are ui/report.py's; the choice of audit is in Advanced (layout.py)."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from .i18n import language, tr
from .review import _drawn_choices, _frame_at, edits_of, review_for

# session -> the last finished job's (report.json, report.html); a job that starts clears it
report_files: dict[str, tuple[Path, ...]] = {}


def report_download(request: gr.Request | None = None):
    """The report files of this session's last finished job, or a hidden, empty component."""
    session = getattr(request, "session_hash", None)
    paths = [str(p) for p in report_files.get(session, ()) if Path(p).is_file()]
    return gr.update(value=paths or None, visible=bool(paths))


# -- the Review opens on the audit's findings ---------------------------------------------
def findings_of(session: str | None) -> list[dict]:
    """The findings in this session's last report (empty when none, or no report)."""
    paths = report_files.get(session, ())
    if not paths:
        return []
    try:
        return json.loads(Path(paths[0]).read_text(encoding="utf-8"))["audit"]["findings"]
    except (OSError, ValueError, KeyError):
        return []


def jump_to_findings(state: dict | None, request: gr.Request | None = None):
    """After the Review opens: (slider, note, cover button) on the first finding's frame,
    or left as they are (button hidden) when the audit found nothing."""
    findings = findings_of(getattr(request, "session_hash", None))
    if not state or not findings:
        return gr.skip(), gr.skip(), gr.update(visible=False)
    review = review_for(state)
    frames = sorted({f["frame"] for f in findings if f["frame"] in review.frames})
    if not frames:
        return gr.skip(), gr.skip(), gr.update(visible=False)
    lang = language(request)
    shown = ", ".join(str(f) for f in frames[:12]) + (", ..." if len(frames) > 12 else "")
    return (gr.update(value=review.frames.index(frames[0])),
            tr("review.findings", lang, count=len(findings), frames=shown), gr.update(visible=True))


def cover_findings(position, state: dict | None, request: gr.Request | None = None):
    """One click: a drawn box over each finding (each its own new track), for Render.
    Returns (image, state, drawn dropdown, note, cover button)."""
    findings = findings_of(getattr(request, "session_hash", None))
    if not state or not findings:
        return gr.skip(), state, gr.skip(), gr.skip(), gr.update(visible=False)
    review = review_for(state)
    for finding in findings:
        if finding["frame"] in review.frames:
            track = review.next_track_id(edits_of(state))
            state = dict(state, drawn=[*state["drawn"], [finding["frame"], list(finding["box"]), track]])
    lang = language(request)
    return (review.preview(_frame_at(review, position), edits_of(state)), state,
            gr.update(choices=_drawn_choices(state, lang), value=None),
            tr("review.covered_findings", lang, count=len(state["drawn"])), gr.update(visible=False))
