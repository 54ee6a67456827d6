"""detections.csv: one row per covered box, the file a user edits to correct a run.

Columns: frame,time_s,x1,y1,x2,y2,score,class,track_id,kind,target,person. Reading needs
only frame,x1,y1,x2,y2; the rest are optional (files from before the person column read as
they did). `person`: tracks whose faces match share one number (pipeline/identity/).
`held` rows are skipped on reading (the hold setting recreates them from the rows around
them); `detected` and `manual` rows are kept with their track ids, which are the ids a
reviewer saw.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..detections import DETECTED, HELD, KINDS, Detections
from ..errors import InputError

CSV_HEADER = ("frame", "time_s", "x1", "y1", "x2", "y2", "score", "class", "track_id", "kind", "target", "person")
REQUIRED = ("frame", "x1", "y1", "x2", "y2")


def csv_rows(frame_index: int, time_s: float, detections: Detections, target: str = "person") -> list[list[str]]:
    """Rows for one frame, in source pixels. Held boxes have an empty score."""
    rows = []
    for box, score, cls, track, kind, person in zip(detections.xyxy, detections.score, detections.class_id,
                                                    detections.track_id, detections.kind, detections.person):
        rows.append([
            str(frame_index), f"{time_s:.3f}", *(f"{v:.1f}" for v in box),
            "" if kind == HELD else f"{score:.3f}", str(cls), str(track) if track else "", kind, target,
            str(person) if person else "",
        ])
    return rows


def read_detections_csv(csv_path: str | Path, frame_size: tuple[int, int] | None = None,
                        frame_count: int | None = None, include_held: bool = False) -> dict[int, Detections]:
    """Boxes by frame index. Every bad line is reported by number; with `frame_size`
    (width, height) boxes wholly outside the frame are refused, and with `frame_count`
    frames past the end are. Held rows are skipped unless `include_held` (a review shows
    them; a render recreates them)."""
    path = Path(csv_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"Cannot read detections file {path.name}: {err.strerror if isinstance(err, OSError) else err}") from err
    reader = csv.DictReader(text.splitlines())
    fields = {f.strip() for f in (reader.fieldnames or []) if f}
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        raise InputError(f"{path.name} line 1 (the header) is missing the column(s) {','.join(missing)}: "
                         "it needs at least frame,x1,y1,x2,y2 (time_s, score, class, track_id, kind optional)")
    rows: dict[int, list[tuple]] = {}
    for line_no, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if not any(row.values()):
            continue  # a blank line
        kind = row.get("kind") or DETECTED
        if kind == HELD and not include_held:
            continue
        try:
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
            frame = int(row["frame"])
            x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            score = float(row["score"]) if row.get("score") else 1.0
            class_id = int(float(row["class"])) if row.get("class") else 0
            track = int(row["track_id"]) if row.get("track_id") else 0
            person = int(row["person"]) if row.get("person") else 0
        except ValueError as err:
            raise InputError(f"{path.name} line {line_no}: {err}") from err
        if frame < 0 or not (x2 > x1 and y2 > y1) or track < 0 or person < 0:
            raise InputError(f"{path.name} line {line_no}: need frame >= 0, x2 > x1, y2 > y1, track_id >= 0 "
                             "and person >= 0")
        if frame_count and frame >= frame_count:
            raise InputError(f"{path.name} line {line_no}: frame {frame} is past the end of the video "
                             f"({frame_count} frames)")
        if frame_size is not None:
            width, height = frame_size
            if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
                raise InputError(f"{path.name} line {line_no}: box {x1:g},{y1:g},{x2:g},{y2:g} is outside "
                                 f"the {width}x{height} frame")
        rows.setdefault(frame, []).append((x1, y1, x2, y2, score, class_id, track, kind, person))
    return {
        frame: Detections(
            xyxy=np.array([r[:4] for r in boxes], np.float32),
            score=np.array([r[4] for r in boxes], np.float32),
            class_id=np.array([r[5] for r in boxes], np.int32),
            track_id=np.array([r[6] for r in boxes], np.int32),
            kind=np.array([r[7] for r in boxes], object),
            person=np.array([r[8] for r in boxes], np.int32),
        )
        for frame, boxes in rows.items()
    }
