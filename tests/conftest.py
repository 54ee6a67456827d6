"""Shared fixtures for the pipeline tests: where the sample media is, the committed excerpt,
the YOLO model loaded once per session, and a detector with known boxes.

Tests run from the repo root (`python -m pytest`); the repo root is put on sys.path so
`import pipeline` also works under a bare `pytest`.
"""
from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TESTS = REPO / "tests"
DATA = TESTS / "data"
SAMPLES = REPO.parent / "shared" / "samples"  # ../shared/samples, not part of the repo
EXCERPT = DATA / "vtest_3s.mp4"  # first 3 s of vtest.avi, H.264, 30 frames at 10 fps

os.environ.setdefault("YOLO_VERBOSE", "False")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def excerpt() -> Path:
    """The committed 3-second excerpt of vtest.avi (768x576, 10 fps, 30 frames)."""
    assert EXCERPT.is_file(), f"missing test data {EXCERPT}"
    return EXCERPT


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """../shared/samples; tests that need the full-length footage skip when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"sample media folder {SAMPLES} is absent (only the excerpt in tests/data is available)")
    return SAMPLES


@pytest.fixture(scope="session")
def vtest_avi(samples_dir: Path) -> Path:
    path = samples_dir / "vtest.avi"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """Path of the ffmpeg binary (tests/setup_system.sh installs it)."""
    path = shutil.which("ffmpeg")
    if path is None:
        pytest.skip("ffmpeg is not installed (run tests/setup_system.sh)")
    return path


@pytest.fixture(scope="session")
def yolo_settings():
    """Settings for the real YOLO11n network built from yolo11n.yaml (untrained: finds no one
    at normal confidence) on the torch CPU backend. The model is loaded here, once per
    session; runs with these settings reuse the loaded network."""
    from pipeline import Settings
    from pipeline.model import load_detector

    settings = Settings(model="yolo11n.yaml", device="cpu", backend="torch")
    load_detector(settings)
    return settings


class BoxDetector:
    """A detector with known boxes, standing in for YOLO when a test needs people found.

    `boxes` is either a list of (x1, y1, x2, y2) used for every frame, or a callable
    frame index -> list of boxes. Every box gets `score` and class 0. `delay_s` sleeps per
    call (to make a run slow enough to cancel). Records the indices it was asked about."""

    def __init__(self, boxes: Sequence[Sequence[float]] | Callable[[int], Sequence[Sequence[float]]] = (),
                 score: float = 0.875, delay_s: float = 0.0):
        self.boxes = boxes
        self.score = score
        self.delay_s = delay_s
        self.calls: list[list[int]] = []
        self._lock = threading.Lock()

    def boxes_for(self, index: int) -> np.ndarray:
        boxes = self.boxes(index) if callable(self.boxes) else self.boxes
        return np.array(boxes, np.float32).reshape(-1, 4)

    def detect(self, frames, indices):
        from pipeline.detection import Detections

        with self._lock:
            self.calls.append([int(i) for i in indices])
        if self.delay_s:
            time.sleep(self.delay_s)
        out = []
        for image, index in zip(frames, indices):
            assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            xyxy = self.boxes_for(int(index))
            out.append(Detections(
                xyxy=xyxy,
                score=np.full(len(xyxy), self.score, np.float32),
                class_id=np.zeros(len(xyxy), np.int32),
            ))
        return out

    @property
    def seen_indices(self) -> list[int]:
        return sorted(i for call in self.calls for i in call)


@pytest.fixture
def box_detector():
    """Factory: box_detector(boxes, score=..., delay_s=...) -> BoxDetector."""
    return BoxDetector


def mosaic_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mosaic-") and t.is_alive()]


@pytest.fixture
def no_stray_threads():
    """Fails a test that leaves pipeline threads (named mosaic-*) running a second after it."""
    yield
    deadline = time.monotonic() + 1.0
    while mosaic_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not mosaic_threads(), f"pipeline threads still running: {mosaic_threads()}"
