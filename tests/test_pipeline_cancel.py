"""Cancelling: setting the cancel Event or closing the generator mid-run ends every pipeline
thread within a second and leaves no ZIP, no *.partial and no job temp folder."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from mediakit import leftovers, mosaic_threads
from pipeline import Cancelled, Settings, run
from pipeline.events import Progress


def _wait_threads_gone(limit_s: float = 1.0) -> float:
    start = time.monotonic()
    while mosaic_threads() and time.monotonic() - start < limit_s:
        time.sleep(0.01)
    assert not mosaic_threads(), f"still running after {limit_s} s: {mosaic_threads()}"
    return time.monotonic() - start


def _slow_run(excerpt, tmp_path, box_detector, cancel=None):
    # 30 frames, one per batch, 0.1 s each: about 3 s, long enough to stop in the middle
    settings = Settings(interval=1, batch=1)
    detector = box_detector([(100, 150, 160, 300)], delay_s=0.1)
    events = run(excerpt, settings, output=tmp_path / "out" / "o.zip", cancel=cancel, detector=detector,
                 work_dir=tmp_path / "work")
    return events, detector


def _started_writing(event) -> bool:
    return isinstance(event, Progress) and event.stage == "processing" and event.images_written >= 2


def test_cancel_event_mid_run_stops_everything_and_removes_partial_output(excerpt, tmp_path, box_detector):
    (tmp_path / "work").mkdir()
    cancel = threading.Event()
    events, detector = _slow_run(excerpt, tmp_path, box_detector, cancel)
    seen_partial = False
    with pytest.raises(Cancelled) as caught:
        for event in events:
            seen_partial = seen_partial or any((tmp_path / "out").glob("*.partial"))
            if _started_writing(event):
                assert mosaic_threads(), "the run should be in full swing"
                cancel.set()
    assert seen_partial, "the ZIP is written to a .partial while the run is going"
    assert "\n" not in str(caught.value)
    _wait_threads_gone()
    assert len(detector.seen_indices) < 30, "the run should have been stopped in the middle"
    assert leftovers(tmp_path) == []
    assert list((tmp_path / "work").iterdir()) == []


def test_closing_the_generator_cancels(excerpt, tmp_path, box_detector):
    (tmp_path / "work").mkdir()
    events, detector = _slow_run(excerpt, tmp_path, box_detector)
    for event in events:
        if _started_writing(event):
            break
    assert mosaic_threads()
    events.close()
    took = _wait_threads_gone()
    assert took < 1.0
    assert len(detector.seen_indices) < 30
    assert leftovers(tmp_path) == []
    assert list((tmp_path / "work").iterdir()) == []
    # and the detector is not called any more
    calls = len(detector.calls)
    time.sleep(0.3)
    assert len(detector.calls) == calls


def test_cancel_before_start_writes_nothing(excerpt, tmp_path, box_detector):
    cancel = threading.Event()
    cancel.set()
    detector = box_detector([])
    with pytest.raises(Cancelled):
        for _ in run(excerpt, Settings(), output=tmp_path / "o.zip", cancel=cancel, detector=detector,
                     work_dir=tmp_path):
            pass
    assert detector.calls == []
    assert leftovers(tmp_path) == []
    _wait_threads_gone()


def test_cancel_from_another_thread_while_the_caller_waits(excerpt, tmp_path, box_detector):
    """How the UI cancels: a button handler sets the Event while the run loop is busy."""
    (tmp_path / "work").mkdir()
    cancel = threading.Event()
    events, detector = _slow_run(excerpt, tmp_path, box_detector, cancel)
    timer = threading.Timer(0.8, cancel.set)
    timer.start()
    try:
        with pytest.raises(Cancelled):
            for _ in events:
                pass
    finally:
        timer.cancel()
    # stopped in the middle: 30 frames take at least 3 s of the detector's sleeps, whatever
    # the machine's speed (a wall-clock bound here depended on how busy the machine was)
    assert len(detector.seen_indices) < 30
    _wait_threads_gone()
    assert leftovers(tmp_path) == []


# `python -m pipeline ARGS`, except that the CSV replay holds every frame from the 5th on until
# the process has received SIGINT: the run cannot end before the test's Ctrl-C, however fast
# the machine is (on a fast one, 795 replayed frames used to finish before the signal came).
HELD_CLI = """
import runpy, signal, time
from pipeline.detect.detector import ReplayDetector

interrupted = False

def on_sigint(signum, frame):
    global interrupted
    interrupted = True
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as with no handler

signal.signal(signal.SIGINT, on_sigint)
replay = ReplayDetector.detect

def held(self, frames, indices):
    while min(indices) >= 5 and not interrupted:
        time.sleep(0.01)
    return replay(self, frames, indices)

ReplayDetector.detect = held
runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
"""


def test_cli_ctrl_c_exits_130_and_removes_partial_output(vtest_avi, tmp_path, repo_root):
    shutil.copy(vtest_avi, tmp_path / "vtest.avi")
    temp = tmp_path / "tmp"
    temp.mkdir()
    empty_csv = tmp_path / "none.csv"
    empty_csv.write_text("frame,x1,y1,x2,y2\n")
    env = dict(os.environ, PYTHONPATH=str(repo_root), TMPDIR=str(temp))
    proc = subprocess.Popen([sys.executable, "-c", HELD_CLI, "vtest.avi", "--interval", "1", "--format", "png",
                             "--detections", str(empty_csv)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # start-up only; no speed is asserted
        while not list(tmp_path.glob("*.partial")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert list(tmp_path.glob("*.partial")), f"the run never started writing: {proc.poll()}"
        assert proc.poll() is None, "the run ended before Ctrl-C"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: cancelled")
    assert out == ""
    assert leftovers(tmp_path) == []


def test_ctrl_c_while_a_sink_opens_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C can land inside a sink's constructor, after its .partial file exists and
    before anyone holds the sink to abort it (CI once kept a .zip.partial that way)."""
    import tempfile


    from pipeline.io import video_sink, zip_sink

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tempfile, "TemporaryFile", interrupted)  # ZipSink: after the ZIP is created
    with pytest.raises(KeyboardInterrupt):
        zip_sink.ZipSink(tmp_path / "o.zip")
    monkeypatch.setattr(video_sink, "x264_options", interrupted)  # VideoSink: after the MP4 is opened
    with pytest.raises(KeyboardInterrupt):
        video_sink.VideoSink(tmp_path / "o.mp4", tmp_path / "in.mp4", 64, 48, 25.0, None)
    assert list(tmp_path.iterdir()) == []
