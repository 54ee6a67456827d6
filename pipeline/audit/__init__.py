"""The audit: the outputs looked at again after they are written, and the run's report.

    written.py   the outputs as written: the ZIP's images and its detections.csv (the masks),
                 the video's frames decoded again; which frames a sample looks at
    detectors.py the fresh eyes: CenterFace at full resolution, and for person/silhouette
                 targets a person model other than the one that made the masks
    check.py     each checked frame: detections the masks do not cover are findings (people
                 left visible on purpose are not); the time budget of `sample`
    report.py    the report's JSON: tool, input, outputs, models, settings, counts, tracks,
                 audio edits, the audit (file names only, never a folder)
    page.py      the same report as one self-contained, printable HTML page
    files.py     SHA-256s, and the report written beside the ZIP and into it

Layer: imports the top modules, io/, mask/ and models/; jobs/ calls it after every render.
"""
from .check import AuditResult, Finding, run_audit
from .files import write_report
from .report import build_report

__all__ = ["AuditResult", "Finding", "run_audit", "write_report", "build_report"]
