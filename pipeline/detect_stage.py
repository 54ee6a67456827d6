"""The detect stage without threads: frames in, each frame's tracked boxes out, in order.

Runs the detector on a batch, gives every box a track id, adds held and interpolated boxes
across misses (TemporalHold, which delays frames by its look-ahead), and leaves out the
tracks the reviewer chose to show. A file run and a live stream drive the same object; a
live stream passes `look_ahead=False`, so each pushed frame comes back at once.
"""
from __future__ import annotations

import time
from typing import Sequence

from .detection import Detector
from .detections import Detections
from .errors import MosaicError
from .settings import Settings
from .tracking import TemporalHold
from .video import Frame


class DetectStage:
    def __init__(self, detector: Detector, settings: Settings, fps: float, look_ahead: bool = True):
        self.detector = detector
        self.hold = TemporalHold(round(settings.hold_s * fps), track_gap=round(fps), look_ahead=look_ahead)
        self.seconds = 0.0  # time spent in the detector

    def push(self, frames: Sequence[Frame]) -> list[tuple[Frame, Detections]]:
        """Detect `frames` (in stream order); returns the frames now ready, with boxes."""
        clock = time.perf_counter()
        found = self.detector.detect([f.image for f in frames], [f.index for f in frames])
        self.seconds += time.perf_counter() - clock
        if len(found) != len(frames):
            raise MosaicError("The detector returned a wrong number of results")
        ready = []
        for frame, detections in zip(frames, found):
            ready.extend(self.hold.push(frame.index, frame, detections))
        return ready

    def flush(self) -> list[tuple[Frame, Detections]]:
        """The frames still held back for look-ahead, at the end of the stream."""
        return self.hold.flush()
