"""After every render: the audit (pipeline/audit/) and the report, as the run's last steps.

The outputs are complete and in place before this starts. Cancel during the audit removes
them, like a cancel at any earlier point; an audit that fails to run leaves them, and says so
in the report and as a warning (never as a silent pass).
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from ..audit.check import AuditResult, run_audit
from ..audit.files import report_paths, write_report
from ..audit.page import render
from ..audit.report import build_report
from ..audit.written import csv_rows
from ..errors import Cancelled, Message, MosaicError
from ..events import Progress, Result
from ..settings import Settings
from .budget import trim_freed

PROGRESS_PERIOD_S = 0.25


def audit_warning(audit: dict) -> Message | None:
    if not audit or not audit.get("findings"):
        return None
    frames = audit["frames_with_findings"]
    return Message(f"The audit found {audit['findings']} possible face(s) or person(s) left visible in "
                   f"{len(frames)} of {audit['checked_frames']} checked frames (first at frame {frames[0]}): "
                   "check them before sharing; the report lists each one.", "warn.audit",
                   findings=audit["findings"], frames=len(frames), checked=audit["checked_frames"], first=frames[0])


def audit_and_report(result: Result, video_path: Path, info, settings: Settings, left_visible: dict,
                     cancel: threading.Event, started: float) -> Iterator[Progress | Result]:
    """Progress events while the audit runs, then the Result with `audit` and `report_paths`."""
    clock, failed = time.monotonic(), None
    trim_freed()  # what the stages freed goes back before the audit's own model runs
    steps = run_audit(result.zip_path, result.video_path, info, settings, result.elapsed_s, left_visible, cancel,
                      masks_model=getattr(result, "model", None))  # Result.model: what made the masks
    try:
        last = 0.0
        while True:
            try:
                share = next(steps)
            except StopIteration as stop:
                audit = stop.value
                break
            if time.monotonic() - last >= PROGRESS_PERIOD_S:
                last = time.monotonic()
                yield Progress(stage="auditing", frames_read=result.frames_read, frames_total=result.frames_read,
                               images_written=result.images_written, people_found=result.people_found,
                               elapsed_s=time.monotonic() - started,
                               message=Message(f"Checking the outputs again ({share:.0%})", "progress.audit",
                                               pct=round(100 * share)))
    except Cancelled:
        _remove(result)
        raise
    except MosaicError as err:  # the outputs stand; the report says the audit did not run
        failed = str(err)
        audit = AuditResult(settings.audit, notes=[f"the audit failed: {err}"])
    audit_seconds = time.monotonic() - clock
    ended = datetime.now(timezone.utc)
    start_utc = ended - timedelta(seconds=time.monotonic() - started)
    outputs = [result.zip_path] + ([result.video_path] if result.video_path else [])
    try:
        report = build_report(video_path=video_path, info=info, settings=settings, result=result, audit=audit,
                              rows=csv_rows(result.zip_path), left_visible=left_visible,
                              started_utc=_iso(start_utc), ended_utc=_iso(ended), outputs=outputs)
        paths = write_report(report, result.zip_path, lambda r: render(r, audit.pictures), settings.max_bytes)
    except BaseException:
        _remove(result)  # a run without its report is not finished: nothing half-written stays
        raise
    summary = audit.summary()
    warnings = list(result.warnings)
    if failed:
        warnings.append(Message(f"The audit could not run ({failed}): check the output yourself before sharing.",
                                "warn.audit_failed", error=failed))
    elif (warning := audit_warning(summary)) is not None:
        warnings.append(warning)
    seconds = dict(result.stage_seconds, audit=audit_seconds)
    yield dataclasses.replace(result, audit=summary, report_paths=paths, warnings=tuple(warnings),
                              zip_bytes=result.zip_path.stat().st_size, stage_seconds=seconds)


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _remove(result: Result) -> None:
    for path in [result.zip_path, result.video_path, *report_paths(result.zip_path)]:
        if path is not None:
            with contextlib.suppress(OSError):
                Path(path).unlink(missing_ok=True)
