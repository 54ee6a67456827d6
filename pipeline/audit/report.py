"""The report's content: what was done to which file, with what, and what the audit saw.

Keys: tool, started_utc, ended_utc, input, outputs, models, settings, counts, tracks,
manual_boxes, audio, audit (detectors and thresholds, checked, findings). File names only:
no folder of the machine that ran it appears anywhere (settings that are paths keep their
names). The disguise amount of a voice is never written (it is drawn per run and kept secret).
"""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import av

from ..settings import BUNDLED_PERSON_MODEL, FACE_MODEL, Settings
from .check import AuditResult
from .files import describe_file, sha256_of
from .written import CsvRow

TOOL_NAME = "video-anonymizer"
REPO = Path(__file__).resolve().parents[2]


def tool_info() -> dict:
    """The tool and its version: the commit when it runs from a clone."""
    commit = None
    if (REPO / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                                 timeout=5, check=False)
            commit = out.stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"name": TOOL_NAME, "version": commit or "unknown", "commit": commit}


def input_info(video_path: Path, info) -> dict:
    entry = describe_file(video_path)
    entry.update({"duration_s": round(info.duration_s, 3), "fps": round(info.fps, 3), "width": info.width,
                  "height": info.height, "frame_count": info.frame_count, "rotation": info.rotation,
                  "streams": _streams(video_path)})
    return entry


def _streams(path: Path) -> list[dict]:
    try:
        with av.open(str(path)) as container:
            return [{"index": s.index, "type": s.type, "codec": s.codec_context.name if s.codec_context else None}
                    for s in container.streams]
    except (av.FFmpegError, OSError):
        return []


def settings_info(settings: Settings) -> dict:
    """Every setting; paths reduced to their file names."""
    def clean(value):
        if isinstance(value, Path):
            return value.name
        if isinstance(value, tuple):
            return [clean(v) for v in value]
        return value

    return {f.name: clean(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


def models_info(settings: Settings, audit: AuditResult, masks_model: str | None = None) -> list[dict]:
    """Each model file the run and its audit used: name and SHA-256 (None when the model is
    a name the library builds or fetches, not a file here). `masks_model`: the model that
    ran (Result.model), which the offline fallback makes differ from settings.model."""
    models = []
    if settings.detections_csv is None:  # a replay uses no model: the CSV is in `input`
        models.append(_model_entry("masks", masks_model or settings.model))
    for auditor in audit.auditors:
        models.append({"role": f"audit:{auditor.name}", "name": auditor.model_file.name,
                       "sha256": sha256_of(auditor.model_file)})
    return models


def _model_entry(role: str, spec: str) -> dict:
    if spec in (FACE_MODEL, BUNDLED_PERSON_MODEL):  # shipped in models/weights/
        from ..models.weights import CENTERFACE_ONNX, SSDLITE_PERSON_PB

        path = CENTERFACE_ONNX if spec == FACE_MODEL else SSDLITE_PERSON_PB
        return {"role": role, "name": path.name, "sha256": sha256_of(path), "model": spec}
    path = Path(spec).expanduser()
    if path.is_file():
        return {"role": role, "name": path.name, "sha256": sha256_of(path)}
    return {"role": role, "name": path.name, "sha256": None,
            "note": "a model name the library resolves, not a file in the working folder"}


def tracks_info(rows: list[CsvRow], left_visible: dict, settings: Settings, reasons: dict | None = None) -> list[dict]:
    """Per track: first and last time, frames covered, whether it was left visible (and why)."""
    tracks: dict[int, dict] = {}
    for row in rows:
        if row.track:
            entry = tracks.setdefault(row.track, {"track": row.track, "first_s": row.time_s, "last_s": row.time_s,
                                                  "frames_covered": 0, "person": row.person or None})
            entry["first_s"], entry["last_s"] = min(entry["first_s"], row.time_s), max(entry["last_s"], row.time_s)
            entry["frames_covered"] += 1
    shown_ids: dict[int, int] = {}
    for detections in left_visible.values():
        for track in detections.track_id:
            shown_ids[int(track)] = shown_ids.get(int(track), 0) + 1
    for track in set(shown_ids) | set(settings.unmask_tracks):
        if track:
            entry = tracks.setdefault(track, {"track": track, "first_s": None, "last_s": None,
                                              "frames_covered": 0, "person": None})
            entry["frames_left_visible"] = shown_ids.get(track, 0)
    out = []
    for track, entry in sorted(tracks.items()):
        visible = track in settings.unmask_tracks or track in shown_ids
        entry["left_visible"] = visible
        reason = (reasons or {}).get(track) or (settings.unmask_reason if track in settings.unmask_tracks else "")
        if visible and reason:
            entry["reason"] = str(reason)
        for key in ("first_s", "last_s"):
            entry[key] = None if entry[key] is None else round(entry[key], 3)
        out.append(entry)
    return out


def counts_info(rows: list[CsvRow], result, left_visible: dict) -> dict:
    return {"boxes": len(rows), "tracks": len({r.track for r in rows if r.track}),
            "people": len({r.person for r in rows if r.person}), "frames_masked": len({r.frame for r in rows}),
            "frames_read": result.frames_read, "images": result.images_written, "video_frames": result.video_frames,
            "boxes_left_visible": int(sum(len(d) for d in left_visible.values()))}


def audio_info(settings: Settings, has_audio: bool) -> dict:
    """Mode and spans, never the disguise amount."""
    return {"source_has_audio": has_audio, "voice": settings.voice,
            "spans": [list(s) for s in settings.mute_spans], "spans_as": "bleep" if settings.bleep else "silence"}


def build_report(*, video_path: Path, info, settings: Settings, result, audit: AuditResult, rows: list[CsvRow],
                 left_visible: dict, started_utc: str, ended_utc: str, outputs: list[Path],
                 reasons: dict | None = None) -> dict:
    report = {
        "tool": tool_info(), "started_utc": started_utc, "ended_utc": ended_utc,
        "input": input_info(video_path, info),
        "outputs": [describe_file(p) for p in outputs],
        "models": models_info(settings, audit, getattr(result, "model", None)),
        "settings": settings_info(settings),
        "counts": counts_info(rows, result, left_visible),
        "tracks": tracks_info(rows, left_visible, settings, reasons),
        "manual_boxes": [{"frame": r.frame, "time_s": r.time_s, "box": list(r.box), "track": r.track or None}
                         for r in rows if r.kind == "manual"],
        "audio": audio_info(settings, info.has_audio),
        "stop_reason": result.stop_reason,
        "audit": audit.as_dict(),
    }
    if settings.detections_csv is not None:
        report["input"]["detections_csv"] = describe_file(settings.detections_csv)
    for photo_kind in ("keep_faces", "only_faces"):
        photos = getattr(settings, photo_kind)
        if photos:
            report["input"][photo_kind] = [describe_file(p) for p in photos]
    return report
