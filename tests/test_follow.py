"""Follow cam (pipeline/mask/follow.py): a crop of a fixed aspect that follows the subject.

A replayed track moves across the frame with +-5 px jitter: every crop contains the box,
has the aspect asked for, and its centre moves by a bounded step from frame to frame (and
not at all while a jittering subject stands still). End to end, a real video with a
replayed track goes through `python -m pipeline --video --follow` and the video it writes
is decoded: every frame has the aspect and even sides, the subject's fill (black) is
wholly inside it, and the ZIP images stay whole frames.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from pipeline.errors import SettingsError
from pipeline.mask.follow import FOLLOW_ASPECTS, FollowCam, Rect, output_size, render_rect
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parents[1]
W, H = 1280, 720
RNG = np.random.default_rng(7)


def moving_track(frames: int, size=(120, 260), jitter: float = 5.0) -> list[np.ndarray]:
    """A box crossing the frame left to right and down a little, each corner jittered +-jitter."""
    boxes = []
    for i in range(frames):
        x = 40 + (W - 200) * i / (frames - 1)
        y = 150 + 200 * i / (frames - 1)
        box = np.array([x, y, x + size[0], y + size[1]], float) + RNG.uniform(-jitter, jitter, 4)
        boxes.append(box)
    return boxes


def centre_steps(rects: list[Rect]) -> np.ndarray:
    return np.array([np.hypot(b.cx - a.cx, b.cy - a.cy) for a, b in zip(rects, rects[1:])])


@pytest.mark.parametrize("aspect", FOLLOW_ASPECTS)
def test_the_crop_holds_a_moving_jittering_subject_smoothly(aspect):
    cam = FollowCam(W, H, aspect)
    aw, ah = map(int, aspect.split(":"))
    boxes = moving_track(150)  # ~8 px a frame across, plus jitter
    rects = [cam.step(box) for box in boxes]
    for box, rect in zip(boxes, rects):
        assert rect.contains(box), (box, rect)
        assert rect.w / rect.h == pytest.approx(aw / ah, rel=1e-6)
    out_w, out_h = cam.out_w, cam.out_h
    assert out_w % 2 == 0 and out_h % 2 == 0
    assert out_w / out_h == pytest.approx(aw / ah, rel=0.01)
    speed = np.hypot(W - 200, 200) / 149
    steps = centre_steps(rects)
    assert steps.max() < 2 * speed + 5, f"the crop jumps: {steps.max():.1f} px in one frame"


@pytest.mark.parametrize("aspect", FOLLOW_ASPECTS)
def test_a_subject_that_jitters_in_place_leaves_the_crop_still(aspect):
    cam = FollowCam(W, H, aspect)
    base = np.array([500, 200, 620, 460], float)
    rects = [cam.step(base + RNG.uniform(-5, 5, 4)) for _ in range(120)]
    steps = centre_steps(rects[10:])  # after it settled
    assert steps.max() < 1.0, f"jitter of +-5 px moves the crop by {steps.max():.2f} px"
    assert all(r.contains(base + 5 * np.array([1, 1, -1, -1])) for r in rects)


def test_nobody_there_eases_out_to_the_whole_frame_letterboxed():
    cam = FollowCam(W, H, "9:16")
    cam.step([600, 300, 700, 500])
    for _ in range(200):
        rect = cam.step(None)
    assert rect.contains([0, 0, W, H]) and rect.h == pytest.approx(W * 16 / 9)
    image = np.full((H, W, 3), 200, np.uint8)
    out = render_rect(image, rect, cam.out_w, cam.out_h)
    assert out.shape == (cam.out_h, cam.out_w, 3)
    rows = out[:, :, 0].mean(axis=1)
    assert rows[0] == 0 and rows[-1] == 0 and rows[cam.out_h // 2] == 200, "the frame in the middle, black bars"


def test_a_subject_larger_than_the_inscribed_crop_zooms_out_to_hold_it():
    cam = FollowCam(W, H, "9:16")  # the inscribed crop is 404 px wide
    box = np.array([200, 100, 900, 700], float)  # 700 px wide
    rect = cam.step(box)
    assert rect.contains(box) and rect.w >= 700


def test_output_sizes_are_even_and_fit_the_frame():
    for (w, h) in [(640, 480), (1920, 1080), (1281, 719), (101, 57)]:
        for aspect in FOLLOW_ASPECTS:
            ow, oh = output_size(w, h, aspect)
            assert ow % 2 == 0 and oh % 2 == 0 and ow <= w and oh <= h


def test_settings_refuse_an_unknown_aspect():
    with pytest.raises(SettingsError, match="follow cam aspect"):
        Settings(follow="4:3")
    assert Settings(follow="").follow is None and Settings(follow="1:1").follow == "1:1"


def _synthetic_video(path: Path, boxes: list[np.ndarray], fps: int = 25) -> None:
    """Grey noise with a white subject at each box: the subject's pixels are easy to find."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "18"}
        for box in boxes:
            image = RNG.integers(90, 160, (H, W, 3), dtype=np.uint8)
            x1, y1, x2, y2 = box.astype(int)
            image[y1:y2, x1:x2] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())


def test_a_file_run_writes_a_follow_video_that_holds_the_masked_subject(tmp_path):
    boxes = [np.round(b) for b in moving_track(60, size=(100, 200), jitter=5.0)]
    video = tmp_path / "walk.mp4"
    _synthetic_video(video, boxes)
    detections = tmp_path / "track.csv"
    with open(detections, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", "x1", "y1", "x2", "y2", "time_s", "score", "class", "track_id", "kind"])
        for i, b in enumerate(boxes):
            writer.writerow([i, *map(int, b), f"{i / 25:.3f}", "1.0", "0", "1", "detected"])
    out_zip, out_mp4 = tmp_path / "out.zip", tmp_path / "out.mp4"
    run = subprocess.run([sys.executable, "-m", "pipeline", str(video), "-o", str(out_zip), "--video", str(out_mp4),
                          "--follow", "9:16", "--style", "fill", "--pad", "0", "--hold", "0",
                          "--detections", str(detections), "--interval", "30"],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["images"] == 2
    with av.open(str(out_mp4)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 60
    out_w, out_h = output_size(W, H, "9:16")
    for i, frame in enumerate(frames):
        assert frame.shape == (out_h, out_w, 3)
        black = frame.max(axis=2) < 40
        ys, xs = np.nonzero(black)
        assert black.sum() > 0.85 * 100 * 200, f"frame {i}: the masked subject is not wholly in the crop"
        assert ys.min() > 0 and xs.min() > 0 and ys.max() < out_h - 1 and xs.max() < out_w - 1, \
            f"frame {i}: the subject touches the crop's edge"
        assert (frame.min(axis=2) > 230).sum() < 50, f"frame {i}: the white subject shows: not masked"
    import zipfile
    with zipfile.ZipFile(out_zip) as z:
        names = [n for n in z.namelist() if n.endswith(".jpg")]
        data = z.read(names[0])
    import cv2
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (H, W, 3), "ZIP images stay whole"


def test_the_live_masker_outputs_the_follow_crop(tmp_path):
    """Live (CLI live, the Live tab's two paths): every output is the crop, its subject's
    fill inside it, the rest of the frame's pixels as they were."""
    from pipeline.detect.detector import ReplayDetector
    from pipeline.jobs.live import LiveMasker
    from pipeline.io.video import Frame

    boxes = [np.round(b) for b in moving_track(40, size=(80, 160), jitter=5.0)]
    detections = tmp_path / "live.csv"
    detections.write_text("frame,x1,y1,x2,y2\n" + "".join(f"{i},{','.join(str(int(v)) for v in b)}\n"
                                                          for i, b in enumerate(boxes)))
    settings = Settings(style="fill", pad_pct=0, follow="1:1", detections_csv=detections)
    out_w, out_h = output_size(W, H, "1:1")
    with LiveMasker(ReplayDetector(detections), settings, fps=25, strict=True) as masker:
        for i, box in enumerate(boxes):
            image = np.full((H, W, 3), 128, np.uint8)
            x1, y1, x2, y2 = box.astype(int)
            image[y1:y2, x1:x2] = 255
            out = masker.mask(Frame(i, i / 25, image))
            assert out.shape == (out_h, out_w, 3)
            area = (x2 - x1) * (y2 - y1)  # the crop is 720 px of a 720 px high frame: scale 1
            assert (out.max(axis=2) < 10).sum() >= 0.95 * area, f"frame {i}: the covered subject is in the crop"
            assert (out.min(axis=2) > 250).sum() == 0, f"frame {i}: nothing of the subject shows"
