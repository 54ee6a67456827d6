"""Issue 34: the detection stride of a file run (pipeline/detect/stride.py).

A still scene is looked at every 3rd frame at 30 fps, what moves fast for its size, comes in
or goes at least every other frame, the hold covering the frames between with the hull of
the two looks around them. Checked with a real face (zidane.jpg, CenterFace) walking in fast
from the left edge and then standing: on every frame of the decoded --video output its face
is covered; and with stride 1 every frame is shown to the model, as before.
"""
from __future__ import annotations

import csv
import io
import zipfile

import cv2
import numpy as np
import pytest
from identity_clips import write_video, zidane
from mediakit import decode_frames

from pipeline import Settings, run_to_result
from pipeline.detect.stage import DetectStage
from pipeline.detect.stride import drift, most_frames
from pipeline.detections import Detections
from pipeline.io.video import Frame

W, H, FPS, FRAMES = 1280, 720, 30, 60
SPEED = 40  # px a frame while it walks in: half a face's width


class Counting:
    """A detector's stand-in wrapper: the real one, and the frames it was shown whole."""

    def __init__(self, inner, whole_hw):
        self.inner, self.whole_hw, self.whole = inner, whole_hw, []

    def __getattr__(self, name):
        return getattr(self.__dict__["inner"], name)

    def detect(self, frames, indices=()):
        self.whole += [i for f, i in zip(frames, indices) if f.shape[:2] == self.whole_hw]
        return self.inner.detect(frames, indices)


class Square:
    """Finds the white pixels of a frame as one box."""

    looks_at_pixels = True

    def __init__(self):
        self.looked: list[int] = []

    def detect(self, frames, indices=()):
        self.looked += list(indices)
        out = []
        for image in frames:
            ys, xs = np.nonzero(image[..., 0] > 128)
            box = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]] if len(xs) else []
            out.append(Detections(np.array(box, np.float32).reshape(-1, 4), np.full(len(box), 0.9, np.float32)))
        return out


def run_stage(xs, **settings) -> tuple[list, list[int]]:
    """A 40x60 white square at x (None: none) on each 800x450 frame, through a file run's stage
    in batches of 8; the frames out with their boxes, and the frames the detector saw."""
    detector = Square()
    stage = DetectStage(detector, Settings(detail="fast", **settings), FPS, frame_wh=(800, 450))
    frames = []
    for i, x in enumerate(xs):
        image = np.zeros((450, 800, 3), np.uint8)
        if x is not None:
            image[200:260, x:x + 40] = 255
        frames.append(Frame(i, i / FPS, image))
    out = []
    for start in range(0, len(frames), 8):
        out += stage.push(frames[start:start + 8])
    out += stage.flush()
    assert [f.index for f, _ in out] == list(range(len(xs)))
    for (frame, found), x in zip(out, xs):
        if x is not None:  # its pixels inside the boxes' union (the mask), unpadded
            mask = np.zeros((450, 800), bool)
            for x1, y1, x2, y2 in found.xyxy.round().astype(int):
                mask[max(y1, 0):y2, max(x1, 0):x2] = True
            assert mask[200:260, x:x + 40].all(), (frame.index, x, found.xyxy)
    return out, detector.looked


def test_a_still_scene_is_looked_at_every_third_frame_and_motion_every_other_frame():
    assert most_frames("auto", 30, 15) == 3 and most_frames("auto", 10, 5) == 2 and most_frames("auto", 30, 0) == 1
    _, looked = run_stage([300] * 60, interval=1000)
    assert looked == list(range(0, 60, 3)) + [59]  # and the last frame
    _, looked = run_stage([100 + 30 * i for i in range(20)], interval=1000)  # 3/4 of its width a frame
    assert all(b - a <= 2 for a, b in zip(sorted(looked), sorted(looked)[1:])) and len(looked) < 20
    _, looked = run_stage([None] * 20 + [300] * 40, interval=1000)  # appears on frame 20, then stands
    assert {19, 20} <= set(looked) and len(looked) < 25  # the gap it appeared in: every frame
    _, looked = run_stage([300] * 30 + [300 + 40 * i for i in range(1, 11)], interval=1000)  # then jumps
    assert set(range(27, 31)) <= set(looked)  # the gap it started moving in (27-30): every frame
    _, looked = run_stage([300] * 60, interval=1000, stride=1)
    assert looked == list(range(60))


def test_captured_frames_are_always_looked_at():
    _, looked = run_stage([300] * 40, interval=5)
    assert set(range(0, 40, 5)) <= set(looked) and len(looked) < 40


def test_drift_is_the_worst_box_move_in_shares_of_its_size():
    a = np.array([[0, 0, 100, 100], [500, 500, 520, 540]], np.float32)
    assert drift(a, a) == 0
    assert drift(a, a + [10, 0, 10, 0]) == pytest.approx(0.5)  # the small box moved half its width
    assert drift(a, a[:1]) > 1 and drift(a, a[:0]) == np.inf and drift(a[:0], a[:0]) == 0  # one went
    assert drift(a, a[:1], [False, True]) == 0 and drift(a, a[:0], [True, True]) == 0  # a weak one flickered


def face_clip(tmp_path):
    """zidane.jpg's right-hand man's head on a textured background: off screen for 10 frames,
    then walking in from the left edge at SPEED px a frame, then standing. Returns the clip
    and each frame's face box (None: not in view)."""
    from pipeline.models import load_detector

    photo = cv2.imread(str(zidane()))
    faces = load_detector(Settings(target="face")).detect([photo], [0])[0].xyxy
    x1, y1, x2, y2 = faces[np.argmax((faces[:, 2] - faces[:, 0]) * (faces[:, 3] - faces[:, 1]))].astype(int)
    mx, my = (x2 - x1) // 2, (y2 - y1) // 2
    head = photo[y1 - my:y2 + my, x1 - mx:x2 + mx]
    head = cv2.resize(head, None, fx=80 / (x2 - x1), fy=80 / (x2 - x1))  # the face 80 px wide
    hh, hw = head.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W]
    back = np.stack([90 + 40 * ((xx // 32) % 2), 110 + (yy * 40 // H), 70 + (xx * 50 // W)], -1).astype(np.uint8)
    frames, boxes = [], []
    for i in range(FRAMES):
        image = back.copy()
        left = None if i < 10 else min(-hw + SPEED * (i - 10), 600)
        if left is None or left + hw <= 0:
            boxes.append(None)
        else:
            a, b = max(left, 0), left + hw
            image[300:300 + hh, a:b] = head[:, a - left:]
            fx = left + mx * 80 / (x2 - x1)  # the face inside the head crop
            fy = 300 + my * 80 / (x2 - x1)
            boxes.append((fx, fy, fx + 80, fy + (y2 - y1) * 80 / (x2 - x1)))
        frames.append(image)
    return write_video(tmp_path / "walk_in.mp4", frames, fps=FPS), boxes


@pytest.mark.parametrize("stride", ["auto", 1])
def test_a_real_face_walking_in_fast_is_covered_on_every_frame(tmp_path, stride):
    from pipeline.models import load_detector

    clip, boxes = face_clip(tmp_path)
    settings = Settings(target="face", style="fill", stride=stride, audit="off")
    detector = Counting(load_detector(settings), (H, W))
    run_to_result(clip, settings, output=tmp_path / "o.zip", video_output=tmp_path / "o.mp4", detector=detector)
    frames = decode_frames(tmp_path / "o.mp4")
    seen = 0
    for index, box in enumerate(boxes):
        if box is None or box[0] + 40 < 0:  # under half of the face in view
            continue
        x1, y1, x2, y2 = box
        dx, dy = (x2 - x1) * 0.2, (y2 - y1) * 0.2  # its middle
        core = frames[index][int(y1 + dy):int(y2 - dy), max(int(x1 + dx), 0):int(x2 - dx)]
        assert core.size and core.mean() < 40, (stride, index, box, core.mean())  # filled black
        seen += 1
    assert seen >= 40
    with zipfile.ZipFile(tmp_path / "o.zip") as z:
        rows = list(csv.DictReader(io.StringIO(z.read("detections.csv").decode())))
    detected = {int(r["frame"]) for r in rows if r["kind"] == "detected"}
    if stride == 1:  # every frame shown to the model, as before the stride
        assert sorted(set(detector.whole)) == list(range(FRAMES))
        assert set(range(14, FRAMES)) <= detected
    else:  # at least every other frame; standing: every 3rd
        looked = sorted(set(detector.whole))
        assert all(b - a <= 3 for a, b in zip(looked, looked[1:])), looked
        assert all(b - a <= 2 for a, b in zip(looked, looked[1:]) if 12 <= b <= 30), looked
        assert len([i for i in looked if i >= 45]) <= 7, looked
