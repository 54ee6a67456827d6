"""SHA-256s, and the report written beside the ZIP (`<stem>.report.json`, `<stem>.report.html`)
and into it (as `report.json` and `report.html`: fixed names, like detections.csv, so no
name a user gave reaches an entry of the ZIP).

The copies inside the ZIP cannot hold the ZIP's own hash (adding them changes it): there the
ZIP's entry gives its name only. The files beside it are written after, with the final ZIP's
size and SHA-256, under .partial names renamed when complete.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import zipfile
from pathlib import Path

from ..errors import OutputError

CHUNK = 1 << 20
INNER_NAMES = ("report.json", "report.html")  # the copies inside the ZIP
ZIP_ENTRY_OVERHEAD = 200  # local and central headers of one entry, its name included, roughly


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path: Path) -> dict:
    path = Path(path)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256_of(path)}


def report_paths(zip_path: Path) -> tuple[Path, Path]:
    stem = Path(zip_path).with_suffix("")
    return stem.with_name(stem.name + ".report.json"), stem.with_name(stem.name + ".report.html")


def write_report(report: dict, zip_path: Path, render_html, max_bytes: int | None = None) -> tuple[Path, Path]:
    """Put the report into the ZIP (unless that would pass the size cap) and beside it.
    `report["outputs"]` must list the ZIP by name; its size and hash are filled in here.
    `render_html(report) -> str`. Returns the (json, html) paths beside the ZIP."""
    zip_path = Path(zip_path)
    json_path, html_path = report_paths(zip_path)
    inner = copy.deepcopy(report)
    for entry in inner["outputs"]:
        if entry["name"] == zip_path.name:
            entry.update(bytes=None, sha256=None, note="this ZIP: its size and SHA-256 are in the report beside it")
    inner_json = json.dumps(inner, indent=1, ensure_ascii=False).encode("utf-8")
    inner_html = render_html(inner).encode("utf-8")
    try:
        room = None if max_bytes is None else max_bytes - zip_path.stat().st_size
        need = len(inner_json) + len(inner_html) + 2 * ZIP_ENTRY_OVERHEAD
        inside = room is None or need <= room
        if inside:
            with zipfile.ZipFile(zip_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in zip(INNER_NAMES, (inner_json, inner_html)):
                    archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                                     compress_type=zipfile.ZIP_DEFLATED)
        report.setdefault("notes", [])
        if not inside:
            report["notes"].append("the report is not inside the ZIP: it would have passed the size cap")
        for entry in report["outputs"]:
            if entry["name"] == zip_path.name:
                entry.update(bytes=zip_path.stat().st_size, sha256=sha256_of(zip_path))
        for path, text in ((json_path, json.dumps(report, indent=1, ensure_ascii=False)), (html_path, render_html(report))):
            partial = path.with_name(path.name + ".partial")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
    except OSError as err:
        raise OutputError(f"Writing the report beside {zip_path.name} failed: {err.strerror or err}") from err
    return json_path, html_path
