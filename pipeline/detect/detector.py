"""The detector interface, and the detector that replays a detections.csv.

A detector maps a batch of BGR frames to one Detections per frame, boxes in the frame's own
pixels. The model detectors live in model.py and face.py; ReplayDetector replays a CSV,
which lets a user correct a run (add a missed person, keep reviewed track ids) and lets
tests use exact boxes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from ..detections import DETECTED, HELD, KINDS, MANUAL, Detections
from ..io.detections_csv import CSV_HEADER, csv_rows, read_detections_csv
from ..track.tracking import drawn_keyframes

__all__ = ["CSV_HEADER", "DETECTED", "HELD", "KINDS", "MANUAL", "Detections", "Detector",
           "ReplayDetector", "csv_rows", "read_detections_csv"]


class Detector(Protocol):
    """Anything that finds boxes: `detect(frames, indices)` returns one Detections per frame.
    `indices` are stream positions, which replayed detections are keyed by."""

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]: ...


class ReplayDetector:
    """Replays boxes from a detections.csv instead of running a model (see detections_csv).
    `track_ids` are the ids the file uses (the tracker numbers other rows after them);
    `keyframes` are its drawn (manual) boxes by track, for TemporalHold to interpolate."""

    def __init__(self, csv_path: str | Path, frame_size: tuple[int, int] | None = None,
                 frame_count: int | None = None):
        self.name = Path(csv_path).name
        self.boxes_by_frame = read_detections_csv(csv_path, frame_size, frame_count)
        self.track_ids = frozenset(int(t) for found in self.boxes_by_frame.values() for t in found.track_id if t)
        self.keyframes = drawn_keyframes(self.boxes_by_frame)

    def detect(self, frames, indices) -> list[Detections]:
        return [self.boxes_by_frame.get(int(i), Detections.empty()) for i in indices]
