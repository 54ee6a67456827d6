"""Phone videos carry a display-matrix rotation: output images must come out upright, the
way a player (here: ffmpeg's own autorotating decode) shows them, and boxes are in upright
pixels."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from mediakit import decode_frames, ffmpeg_upright_frames, padded_boxes, read_zip, rotated_copy, shortest_inner_run
from pipeline import Settings, run_to_result
from pipeline.io.video import probe_video

W, H = 768, 576
NO_HOLD = {"hold_s": 0.0} if "hold_s" in Settings.__dataclass_fields__ else {}


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotated_video_gives_upright_images(excerpt, tmp_path, ffmpeg, box_detector, degrees):
    source = rotated_copy(ffmpeg, excerpt, tmp_path / f"rot{degrees}.mp4", degrees)
    info = probe_video(source)
    upright_w, upright_h = (H, W) if degrees in (90, 270) else (W, H)
    assert (info.width, info.height, info.rotation) == (upright_w, upright_h, degrees)

    detector = box_detector([])
    result = run_to_result(source, Settings(interval=10, image_format="png"), output=tmp_path / "o.zip",
                           detector=detector)
    contents = read_zip(result.zip_path)
    assert contents.frame_indices() == [0, 10, 20]
    player = ffmpeg_upright_frames(ffmpeg, source, upright_w, upright_h, 21)
    stored = decode_frames(excerpt, [0, 10, 20])
    for index in (0, 10, 20):
        out = contents.image_for_frame(index)
        assert out.shape == (upright_h, upright_w, 3)
        # what a player shows (colour conversion may differ by a level or two)...
        diff = np.abs(out.astype(int) - player[index].astype(int)).mean()
        assert diff < 3, f"frame {index} differs from ffmpeg's upright picture by {diff:.1f} on average"
        # ...and far from the picture turned the other way
        wrong = np.rot90(player[index], 2)
        assert np.abs(out.astype(int) - wrong.astype(int)).mean() > 10 * max(diff, 0.5)
        # exactly the stored picture turned counter-clockwise by the rotation
        assert np.array_equal(out, np.rot90(stored[index], degrees // 90))


def test_boxes_on_a_rotated_video_are_in_upright_pixels(excerpt, tmp_path, ffmpeg, box_detector):
    source = rotated_copy(ffmpeg, excerpt, tmp_path / "rot90.mp4", 90)
    box = (50.0, 400.0, 250.0, 500.0)  # only fits a 576-wide, 768-high (upright) frame
    detector = box_detector([box])
    shapes = []
    original_detect = detector.detect

    def detect(frames, indices):
        shapes.extend(f.shape for f in frames)
        return original_detect(frames, indices)

    detector.detect = detect
    result = run_to_result(source, Settings(interval=15, image_format="png", **NO_HOLD), output=tmp_path / "o.zip",
                           detector=detector)
    assert set(shapes) == {(W, H, 3)}  # the detector sees upright frames: 768 high, 576 wide
    assert_only_the_box_is_a_mosaic(read_zip(result.zip_path), decode_frames(excerpt, [0, 15]), box)


def assert_only_the_box_is_a_mosaic(contents, stored, box) -> None:
    """Frames 0 and 15 of a 90-degree video: the padded box (in upright pixels) is a mosaic,
    everything else is the stored picture turned upright."""
    (x1, y1, x2, y2), = padded_boxes([box], 10.0, H, W)
    for index in (0, 15):
        out = contents.image_for_frame(index)
        upright = np.rot90(stored[index], 1)
        mask = np.zeros(out.shape[:2], bool)
        mask[y1:y2, x1:x2] = True
        assert np.array_equal(out[~mask], upright[~mask])
        assert shortest_inner_run(out[y1:y2, x1:x2]) >= 4
        assert np.any(out[y1:y2, x1:x2] != upright[y1:y2, x1:x2])


def test_small_detection_copies_of_a_rotated_video_are_upright(excerpt, tmp_path, ffmpeg, box_detector):
    """A video run whose budget cannot spare the full-size look-ahead detects on small copies
    (budget.py's reread): those copies must be upright too, and their boxes land on the
    upright full-size frames."""
    from pipeline.jobs.budget import plan_buffers

    source = rotated_copy(ffmpeg, excerpt, tmp_path / "rot90.mp4", 90)
    info = probe_video(source)
    settings = Settings(interval=15, image_format="png", imgsz=320, memory_mb=20, hold_s=1.0)
    plan = plan_buffers(settings, info, make_video=True)
    assert plan.reread and plan.detect_size == (240, 320)  # upright: 576 wide, 768 high, long side 320
    box = (50.0, 400.0, 250.0, 500.0)  # only fits a 576-wide, 768-high (upright) frame
    detector = box_detector([box], frame_size=(H, W))
    seen = {}
    original_detect = detector.detect

    def detect(frames, indices):
        seen.update(zip(indices, frames))
        return original_detect(frames, indices)

    detector.detect = detect
    result = run_to_result(source, settings, output=tmp_path / "o.zip", video_output=tmp_path / "o.mp4",
                           detector=detector)
    stored = decode_frames(excerpt, [0, 15])
    for index in (0, 15):
        small = cv2.resize(np.rot90(stored[index], 1), (240, 320), interpolation=cv2.INTER_AREA)
        assert seen[index].shape == (320, 240, 3)
        assert np.abs(seen[index].astype(int) - small.astype(int)).mean() < 3
    assert_only_the_box_is_a_mosaic(read_zip(result.zip_path), stored, box)
