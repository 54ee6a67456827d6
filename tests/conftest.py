"""Shared fixtures for the pipeline tests: where the sample media is, the committed excerpt,
the YOLO model loaded once per session, and a detector with known boxes.

Tests run from the repo root (`python -m pytest`); the repo root is put on sys.path so
`import pipeline` also works under a bare `pytest`.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "tests"):  # `pipeline` and the tests' helper module `mediakit`
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

TESTS = REPO / "tests"
DATA = TESTS / "data"
SAMPLES = REPO.parent / "shared" / "samples"  # ../shared/samples, not part of the repo
EXCERPT = DATA / "vtest_3s.mp4"  # first 3 s of vtest.avi, H.264, 30 frames at 10 fps

os.environ.setdefault("YOLO_VERBOSE", "False")
# The audit (pipeline/audit/) looks at every output again after a run: a second or two a run,
# minutes over the suite. Tests that are about it (test_audit.py, the page and API tests, whose
# app servers run with the product's default) ask for it; the rest run without it.
os.environ.setdefault("MOSAIC_AUDIT", "off")

from mediakit import BoxDetector, mosaic_threads  # noqa: E402  (tests/ is on sys.path: conftest's folder)


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
    from pipeline.models import load_detector

    settings = Settings(model="yolo11n.yaml", device="cpu", backend="torch")
    load_detector(settings)
    return settings


@pytest.fixture
def box_detector():
    """Factory: box_detector(boxes, score=..., delay_s=...) -> BoxDetector."""
    return BoxDetector


@pytest.fixture
def no_stray_threads():
    """Fails a test that leaves pipeline threads (named mosaic-*) running a second after it."""
    yield
    deadline = time.monotonic() + 1.0
    while mosaic_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not mosaic_threads(), f"pipeline threads still running: {mosaic_threads()}"


# -- the batch tests' reference run (test_batch.py, test_ray.py) ---------------------------
@pytest.fixture(scope="module")
def serial(tmp_path_factory, excerpt) -> dict:
    """A folder of short clips plus a broken file, processed serially in this process: what
    every other way of running the batch (workers, Ray) must reproduce."""
    from batchkit import serial_reference

    return serial_reference(tmp_path_factory.getbasetemp(), excerpt)


@pytest.fixture(scope="module")
def videos(serial) -> Path:
    return serial["videos"]


@pytest.fixture(scope="module")
def model(serial) -> Path:
    """The batch tests' masking model (a module may define its own `model`)."""
    return serial["model"]


@pytest.fixture(scope="module")
def client(app, tmp_path_factory):
    """A gradio_client for the module's running `app` fixture, downloads into a temp folder."""
    from gradio_client import Client

    return Client(app.url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")),
                  analytics_enabled=False)


@pytest.fixture
def isolated_results(tmp_path, monkeypatch) -> Path:
    """Results go to this test's folder; the default model is the untrained yolo11n.yaml."""
    from ui import sources

    root = tmp_path / "results"
    monkeypatch.setattr(sources, "RESULTS_ROOT", root)
    monkeypatch.setenv("MOSAIC_MODEL", "yolo11n.yaml")
    return root
