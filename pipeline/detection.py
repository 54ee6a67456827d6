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

from .detections import DETECTED, HELD, KINDS, MANUAL, Detections
from .detections_csv import CSV_HEADER, csv_rows, read_detections_csv

__all__ = ["CSV_HEADER", "DETECTED", "HELD", "KINDS", "MANUAL", "Detections", "Detector",
           "ReplayDetector", "csv_rows", "read_detections_csv"]


class Detector(Protocol):
    """Anything that finds boxes: `detect(frames, indices)` returns one Detections per frame.
    `indices` are stream positions, which replayed detections are keyed by."""

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]: ...


class ReplayDetector:
    """Replays boxes from a detections.csv instead of running a model (see detections_csv)."""

    def __init__(self, csv_path: str | Path, frame_size: tuple[int, int] | None = None,
                 frame_count: int | None = None):
        self.boxes_by_frame = read_detections_csv(csv_path, frame_size, frame_count)

    def detect(self, frames, indices) -> list[Detections]:
        return [self.boxes_by_frame.get(int(i), Detections.empty()) for i in indices]
