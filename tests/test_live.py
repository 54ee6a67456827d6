"""The live path: the stateful masker on its own (known boxes, a slow detector), and
`python -m pipeline live` end to end on a real-time UDP MPEG-TS stream served on 127.0.0.1
by tests/live_media.py, whose frames carry their index so every output frame is checked
against the exact box it had to cover."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from live_media import HEIGHT, WIDTH, footage, moving_box, read_index, sent_frame, write_csv
from mediakit import BoxDetector
from pipeline import Settings
from pipeline.detections import HELD, Detections
from pipeline.live import LiveMasker
from pipeline.motion import GROW_PER_S, NEW_TRACK_GROW_PER_S, Motion
from pipeline.tracking import TemporalHold
from pipeline.video import Frame

REPO = Path(__file__).resolve().parents[1]
SENDER = REPO / "tests" / "live_media.py"
FPS = 25.0
FILL = Settings(style="fill", pad_pct=0.0, hold_s=0.5)


# -- the units --------------------------------------------------------------------------
def test_hold_without_look_ahead_releases_every_frame_at_once_and_holds_after():
    hold = TemporalHold(hold=3, look_ahead=False)
    box = Detections(np.array([[10, 10, 50, 90]], np.float32))
    assert [item for item, _ in hold.push(0, "f0", box)] == ["f0"]  # nothing waits for later frames
    for index in (1, 2, 3):
        (item, found), = hold.push(index, f"f{index}", Detections.empty())
        assert list(found.kind) == [HELD] and np.allclose(found.xyxy, box.xyxy)  # held after
    (_, found), = hold.push(4, "f4", Detections.empty())
    assert len(found) == 0  # beyond the hold
    (_, found), = hold.push(9, "f9", Detections.empty())
    hold.push(10, "f10", box)
    assert len(found) == 0  # and never before a sighting: that would need look-ahead


def test_forecast_moves_boxes_by_their_track_motion_and_grows_them_with_the_delay():
    motion = Motion()
    for step in range(3):  # 100 px/s to the right
        seen = Detections(np.array([[100 + 10 * step, 50, 140 + 10 * step, 150]], np.float32),
                          track_id=np.array([7]))
        motion.update(0.1 * step, seen)
    forecast = motion.forecast(0.2, seen)
    assert forecast.at(0.2).xyxy.tolist() == seen.xyxy.tolist()  # its own frame: as found
    later = forecast.at(0.4).xyxy[0]
    grow = GROW_PER_S * 0.2 * 100  # of the larger side, per second of delay
    # the hull of where it was (x 120-160) and where it is predicted (x 140-180), grown
    assert np.allclose(later, [120 - grow, 50 - grow, 180 + grow, 150 + grow], atol=1e-3)
    new = Motion().forecast(0.0, seen).at(0.1).xyxy[0]  # seen once: no velocity, grown more
    grow = NEW_TRACK_GROW_PER_S * 0.1 * 100
    assert np.allclose(new, seen.xyxy[0] + [-grow, -grow, grow, grow], atol=1e-3)


def _frames(count: int):
    pictures = footage()
    return [Frame(i, i / FPS, sent_frame(pictures, i)) for i in range(count)]


def _uncovered(image: np.ndarray, index: int) -> int:
    """Pixels of frame `index`'s box left uncovered (fill style: black)."""
    x1, y1, x2, y2 = (int(round(v)) for v in moving_box(index))
    return int((image[y1:y2, x1:x2].max(axis=2) > 0).sum())


def test_every_frame_is_covered_though_the_detector_is_slower_than_the_frames():
    detector = BoxDetector(lambda i: [moving_box(i)], delay_s=0.1)  # 10 Hz under a 25 fps stream
    frames = _frames(40)
    with LiveMasker(detector, FILL, FPS) as masker:
        start = time.monotonic()
        for frame in frames:  # in real time, as a camera gives them
            time.sleep(max(0.0, start + frame.time_s - time.monotonic()))
            image = masker.mask(frame)
            assert _uncovered(image, frame.index) == 0, f"frame {frame.index} left part of its box"
            assert image[:24].tolist() == frame.image[:24].tolist()  # the strip was not touched
    detected = detector.seen_indices
    assert 4 <= len(detected) < 30, "detection ran on its own, on the newest frames only"


def test_strict_waits_for_each_frames_own_detection():
    detector = BoxDetector(lambda i: [moving_box(i)], delay_s=0.02)
    frames = _frames(12)
    with LiveMasker(detector, FILL, FPS, strict=True) as masker:
        images = [masker.mask(frame) for frame in frames]
    assert detector.seen_indices == list(range(12))
    for frame, image in zip(frames, images):
        x1, y1, x2, y2 = (int(round(v)) for v in moving_box(frame.index))
        assert _uncovered(image, frame.index) == 0
        outside = np.ones(image.shape[:2], bool)
        outside[y1:y2, x1:x2] = False
        assert (image[outside] == frame.image[outside]).all(), "exact boxes: nothing else covered"


def test_a_detection_too_old_to_move_forward_is_waited_for_not_used():
    detector = BoxDetector(lambda i: [moving_box(i)], delay_s=0.15)
    frames = _frames(8)
    with LiveMasker(detector, FILL, FPS, max_predict_s=0.01) as masker:
        for frame in frames:  # faster than detection: each waits for a fresh one
            image = masker.mask(frame)
            assert _uncovered(image, frame.index) == 0
    assert detector.seen_indices == list(range(8)), "every frame had to wait for its own detection"
