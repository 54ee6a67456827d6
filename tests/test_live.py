"""The live path: the stateful masker on its own (known boxes, a slow detector), and
`python -m pipeline live` end to end on a real-time UDP MPEG-TS stream served on 127.0.0.1
by tests/live_media.py, whose frames carry their index so every output frame is checked
against the exact box it had to cover."""
from __future__ import annotations

import json
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
from pipeline.jobs.live import MAX_PREDICT_S, LiveMasker
from pipeline.track.motion import GROW_PER_S, NEW_TRACK_GROW_PER_S, Motion
from pipeline.track.tracking import TemporalHold
from pipeline.io.video import Frame

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
        (_, found), = hold.push(index, f"f{index}", Detections.empty())
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


@pytest.mark.parametrize("batch", [1, 2])
def test_every_frame_is_covered_though_the_detector_is_slower_than_the_frames(batch):
    detector = BoxDetector(lambda i: [moving_box(i)], delay_s=0.1)  # 10 calls/s under a 25 fps stream
    frames = _frames(40)
    with LiveMasker(detector, FILL, FPS, batch=batch) as masker:
        start = time.monotonic()
        for frame in frames:  # in real time, as a camera gives them
            time.sleep(max(0.0, start + frame.time_s - time.monotonic()))
            image = masker.mask(frame)
            assert _uncovered(image, frame.index) == 0, f"frame {frame.index} left part of its box"
            # above the farthest a box may grow: a new track grows NEW_TRACK_GROW_PER_S of its
            # side per second of delay, for at most MAX_PREDICT_S (a loaded machine gets there)
            top = int(moving_box(frame.index)[1] - NEW_TRACK_GROW_PER_S * 120 * MAX_PREDICT_S)
            assert top > 0 and image[:top].tolist() == frame.image[:top].tolist()
    assert all(len(call) <= batch for call in detector.calls)
    assert 4 <= len(detector.calls) <= 20, "detection ran on its own thread at its own pace (0.1 s a call)"
    assert len(detector.seen_indices) < len(frames), "on some frames only: never holding the others back"


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


# -- python -m pipeline live, end to end ----------------------------------------------------
def test_frames_that_change_size_are_masked_where_their_faces_are():
    """A browser's WebRTC encoder scales its picture down and up with the CPU and the link:
    boxes found on one size must not be drawn on a frame of another (they land beside the
    faces). The faces sample at 640x480 and 480x360 by turns, every 10 frames, through the
    live masker with CenterFace: CenterFace finds no face at >= 0.6 in any masked frame (12
    before the masker waited for boxes of the frame's own size)."""
    import cv2

    from pipeline.models.face import load_face_detector

    settings = Settings(target="face")
    find = load_face_detector(Settings(target="face", conf=0.6, detail="fast"))
    with av.open(str(REPO / "ui" / "assets" / "faces_clip.mp4")) as container:
        frames = [cv2.resize(f.to_ndarray(format="bgr24"), (640, 480) if i // 10 % 2 == 0 else (480, 360))
                  for i, f in enumerate(container.decode(video=0))]
    assert sum(len(found) for found in find.detect(frames[::10], list(range(0, len(frames), 10)))) >= 10
    found = []
    with LiveMasker(load_face_detector(settings), settings, fps=FPS) as masker:
        for i, image in enumerate(frames):
            out = masker.mask(Frame(i, i / FPS, image))
            assert out.shape == (480, 640, 3)  # the first frame's size, whatever the frame's
            found += [(i, round(float(score), 2)) for score in find.detect([out], [i])[0].score]
    assert not found, f"faces CenterFace finds in masked frames (frame, score): {found}"


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether a UDP socket is bound to 127.0.0.1:port (the receiver is ready)."""
    text = Path("/proc/net/udp").read_text()
    return any(line.split()[1].upper() == f"0100007F:{port:04X}" for line in text.splitlines()[1:])


def _live(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "live", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_listening(proc: subprocess.Popen, port: int, timeout_s: float = 30.0) -> float:
    deadline = time.monotonic() + timeout_s
    while not _listening(port):
        assert proc.poll() is None, f"live exited early: {proc.communicate()}"
        assert time.monotonic() < deadline, "the live run never listened on its port"
        time.sleep(0.02)
    return time.monotonic()


def _send(port: int, frames: int, pause_at: int = -1, pause_s: float = 0.0) -> float:
    """Serve `frames` at FPS in real time (blocks); returns when the last one was sent."""
    subprocess.run([sys.executable, str(SENDER), str(port), "--frames", str(frames), "--fps", str(FPS),
                    "--pause-at", str(pause_at), "--pause-s", str(pause_s)], check=True, timeout=60,
                   capture_output=True)
    return time.monotonic()


def _masked_indices(path: Path) -> list[int]:
    """The sent index of every frame of the output, after checking that the file plays,
    its frames are in order, and each frame's box is covered (fill: black, codec noise
    aside) on every pixel."""
    with av.open(str(path)) as container:
        images = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert images, f"{path} has no frames"
    indices = [read_index(image) for image in images]
    assert indices == sorted(set(indices)), "output frames in order, none twice"
    for image, index in zip(images, indices):
        assert image.shape[:2] == (HEIGHT, WIDTH)
        x1, y1, x2, y2 = (int(round(v)) for v in moving_box(index))
        worst = int(image[y1:y2, x1:x2].max())
        assert worst < 40, f"sent frame {index}: its box is not covered (a pixel of {worst})"
    return indices


def test_a_udp_stream_is_masked_on_every_frame_and_the_run_ends_when_the_sender_stops(tmp_path):
    port, out = _free_udp_port(), tmp_path / "out.mp4"
    proc = _live(f"udp://127.0.0.1:{port}", "-o", str(out), "--detections", str(write_csv(tmp_path / "b.csv", 200)),
                 "--style", "fill", "--timeout", "3")
    try:
        _wait_listening(proc, port)
        sent_at = _send(port, 75)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    ended_after = time.monotonic() - sent_at
    assert proc.returncode == 0, stderr
    assert ended_after < 3 + 4, f"the run ended {ended_after:.1f} s after the sender stopped (--timeout 3)"
    assert "the source went quiet (no video for 3 s); output kept" in stderr
    assert "live: in" in stderr and "dropped" in stderr  # the stats lines
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["ended"] == "source went quiet" and summary["output"] == str(out)
    indices = _masked_indices(out)
    assert len(indices) >= 0.95 * 75, f"only {len(indices)} of 75 sent frames are in the output"
    assert summary["frames_out"] == len(indices)
    assert not list(tmp_path.glob("*.partial"))


def test_a_sender_that_pauses_shorter_than_the_timeout_is_waited_for(tmp_path):
    port, out = _free_udp_port(), tmp_path / "out.mp4"
    proc = _live(f"udp://127.0.0.1:{port}", "-o", str(out), "--detections", str(write_csv(tmp_path / "b.csv", 200)),
                 "--style", "fill", "--timeout", "5")
    try:
        _wait_listening(proc, port)
        _send(port, 50, pause_at=25, pause_s=3.0)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    indices = _masked_indices(out)
    assert len(indices) >= 0.95 * 50 and indices[-1] >= 48, f"frames after the pause are missing: {indices}"
    assert "went quiet" in stderr


def test_a_source_that_never_sends_fails_within_the_timeout_with_one_line_and_no_file(tmp_path):
    port, out = _free_udp_port(), tmp_path / "out.mp4"
    proc = _live(f"udp://127.0.0.1:{port}", "-o", str(out), "--timeout", "2", "--detections",
                 str(write_csv(tmp_path / "b.csv", 10)))
    listening_at = _wait_listening(proc, port)
    # the error line is timed, not the process's end: the tracker (ultralytics, torch) is
    # imported before the source is opened, and torch's teardown at exit takes 1-2 s on a busy CPU
    first = proc.stderr.readline()
    said_at = time.monotonic()
    stdout, rest = proc.communicate(timeout=30)
    assert said_at - listening_at < 2 + 1.5
    assert proc.returncode == 2
    assert (first + rest).strip().splitlines() == [
        f"error: udp://127.0.0.1:{port} did not connect within 2 s: no video arrived"]
    assert stdout == "" and list(tmp_path.iterdir()) == [tmp_path / "b.csv"]


def test_ctrl_c_closes_the_output_cleanly_with_the_real_model(tmp_path, excerpt):
    out = tmp_path / "out.mkv"
    proc = _live(str(excerpt), "-o", str(out), "--realtime", "--model", "yolo11n.yaml")
    try:
        # lines that are not ours may come first (hwloc in a root without /sys: "failed to
        # find sysfs cpu topology directory"): read past them to our first stats line
        for line in iter(proc.stderr.readline, ""):
            if line.startswith("live: in"):
                break
        else:
            raise AssertionError("stderr ended before a stats line after the first second")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped; output kept" in stderr
    with av.open(str(out)) as container:
        count = sum(1 for _ in container.decode(video=0))
    assert json.loads(stdout)["frames_out"] == count and 5 <= count < 30


def test_duration_and_refusals(tmp_path, excerpt):
    out = tmp_path / "first_second.mp4"
    done = subprocess.run([sys.executable, "-m", "pipeline", "live", str(excerpt), "-o", str(out), "--realtime",
                           "--duration", "1", "--detections", str(write_csv(tmp_path / "b.csv", 30))],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "duration reached; output kept" in done.stderr
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10  # 10 fps: frames at 0.0-0.9 s
    for args, message in (
        ([str(excerpt), "-o", str(excerpt)], "is the same file as the input"),
        ([str(tmp_path / "nope.mp4"), "-o", str(out)], "Input not found"),
        ([str(excerpt), "-o", str(tmp_path / "out.avi")], "must end in .mp4 or .mkv"),
        (["ftp://127.0.0.1/x", "-o", str(out)], "Unsupported source"),
    ):
        done = subprocess.run([sys.executable, "-m", "pipeline", "live", *args], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_the_live_tab_handler_returns_only_masked_pictures(tmp_path, monkeypatch):
    from ui import live_tab

    csv = tmp_path / "box.csv"
    csv.write_text("frame,x1,y1,x2,y2\n" + "".join(f"{i},40,60,120,200\n" for i in range(10)))
    monkeypatch.setenv(live_tab.REPLAY_ENV_VAR, str(csv))
    rgb = np.ascontiguousarray(footage()[0][:, :, ::-1])
    session = None
    for _ in range(3):
        masked, session, stats = live_tab.live_frame(rgb, session, "person", "fill", 15, 0)
        assert masked.shape == rgb.shape and masked[60:200, 40:120].max() == 0
        assert (masked[:, 130:] == rgb[:, 130:]).all() and "fps** shown" in stats and "test mode" in stats
    masked, session, stats = live_tab.live_frame(rgb, session, "person", "fill", 1, 0)  # 1 cell: refused
    assert masked is None and session is None and stats.startswith("Error: ") and "mosaic cells" in stats


def test_a_live_tab_failure_outside_our_errors_is_said_on_the_tab(monkeypatch, caplog):
    """A library's own exception (OpenVINO raises RuntimeError, e.g. a CPU plugin that cannot
    read the machine) ends the frame with the tab's error line, not Gradio's bare toast."""
    import pipeline.models
    from ui import live_tab

    def broken(settings):
        raise RuntimeError("Exception from src/plugins/intel_cpu/src/plugin.cpp: no cpu topology")

    monkeypatch.delenv(live_tab.REPLAY_ENV_VAR, raising=False)
    monkeypatch.setattr(pipeline.models, "load_detector", broken)
    rgb = np.ascontiguousarray(footage()[0][:, :, ::-1])
    masked, session, stats = live_tab.live_frame(rgb, None, "person", "fill", 15, 0)
    assert masked is None and session is None
    assert stats.startswith("Error: Processing failed on the server"), stats
    assert "no cpu topology" in caplog.text, "the log keeps the library's text for the operator"


def test_a_webrtc_session_whose_masking_fails_ends_with_its_reason():
    import asyncio

    from aiortc.mediastreams import VideoStreamTrack

    from pipeline.jobs.webrtc_track import MaskedTrack

    def broken(settings):
        raise RuntimeError("Exception from src/plugins/intel_cpu/src/plugin.cpp: no cpu topology")

    async def run() -> MaskedTrack:
        track = MaskedTrack(VideoStreamTrack(), broken, FILL)
        await asyncio.wait_for(track.ended.wait(), 20)
        return track

    track = asyncio.run(run())
    assert track.error and "masking failed (RuntimeError)" in track.error, track.error
