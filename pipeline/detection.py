"""Detections as numpy arrays, the detector interface, and the detections.csv format.

A detector maps a batch of BGR frames to one Detections per frame, boxes in the frame's own
pixels. The YOLO detector lives in model.py; ReplayDetector here replays a CSV, which lets a
user fix a missed person by adding a row, and lets tests use exact boxes.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import InputError

CSV_HEADER = ("frame", "time_s", "x1", "y1", "x2", "y2", "score", "class", "track_id", "kind")
DETECTED, HELD = "detected", "held"  # kind: seen by the detector, or held over a miss


@dataclass
class Detections:
    """Boxes found in one frame: xyxy in source pixels (N, 4), score (N,), class_id (N,)."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    class_id: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int32))

    def __len__(self) -> int:
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> "Detections":
        return cls()


class Detector(Protocol):
    """Anything that finds boxes: `detect(frames, indices)` returns one Detections per frame.
    `indices` are stream positions, which replayed detections are keyed by."""

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]: ...


class ReplayDetector:
    """Replays boxes from a detections.csv (columns frame,x1,y1,x2,y2; time_s, score, class,
    track_id, kind optional) instead of running a model. Rows of kind 'held' are skipped:
    the run's own hold setting recreates them from the detected rows around them."""

    def __init__(self, csv_path: str | Path):
        self.boxes_by_frame = read_detections_csv(csv_path)

    def detect(self, frames, indices) -> list[Detections]:
        return [self.boxes_by_frame.get(int(i), Detections.empty()) for i in indices]


def read_detections_csv(csv_path: str | Path) -> dict[int, Detections]:
    path = Path(csv_path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"Cannot read detections file {path.name}: {err}") from err
    reader = csv.DictReader(text.splitlines())
    required = {"frame", "x1", "y1", "x2", "y2"}
    if reader.fieldnames is None or not required <= {f.strip() for f in reader.fieldnames}:
        raise InputError(
            f"{path.name} needs the columns frame,x1,y1,x2,y2 (time_s, score, class optional)"
        )
    rows: dict[int, list[tuple[float, float, float, float, float, int]]] = {}
    for line_no, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if row.get("kind") == HELD:
            continue
        try:
            frame = int(row["frame"])
            x1, y1, x2, y2 = (float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            score = float(row["score"]) if row.get("score") else 1.0
            class_id = int(float(row["class"])) if row.get("class") else 0
        except ValueError as err:
            raise InputError(f"{path.name} line {line_no}: {err}") from err
        if frame < 0 or x2 <= x1 or y2 <= y1:
            raise InputError(f"{path.name} line {line_no}: need frame >= 0, x2 > x1 and y2 > y1")
        rows.setdefault(frame, []).append((x1, y1, x2, y2, score, class_id))
    return {
        frame: Detections(
            xyxy=np.array([r[:4] for r in boxes], np.float32),
            score=np.array([r[4] for r in boxes], np.float32),
            class_id=np.array([r[5] for r in boxes], np.int32),
        )
        for frame, boxes in rows.items()
    }


def csv_rows(frame_index: int, time_s: float, detections: Detections) -> list[list[str]]:
    """detections.csv rows for one frame, in source-pixel coordinates. Held boxes (see
    tracking.py) have kind 'held' and an empty score."""
    count = len(detections)
    track_ids = getattr(detections, "track_id", np.zeros(count, np.int32))
    seen = getattr(detections, "seen", np.ones(count, bool))
    rows = []
    for box, score, cls, track, was_seen in zip(detections.xyxy, detections.score, detections.class_id, track_ids, seen):
        rows.append([
            str(frame_index), f"{time_s:.3f}", *(f"{v:.1f}" for v in box),
            f"{score:.3f}" if was_seen else "", str(cls), str(track) if track else "",
            DETECTED if was_seen else HELD,
        ])
    return rows
