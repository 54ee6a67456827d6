"""The 1080p video mode's hot path (issue 13): the network input for 16:9 sources, and the
colour conversion before x264, moved from PyAV's bgr24 path to OpenCV's I420."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.models.face import detection_size
from pipeline.models.letterbox import Geometry
from pipeline.io.video import read_frames
from pipeline.io.video_sink import VideoSink


@pytest.mark.parametrize("src_hw, net_hw", [
    ((1080, 1920), (384, 640)),  # 16:9 -> 640x384, not 640x480 or 640x640
    ((2160, 3840), (384, 640)),
    ((720, 1280), (384, 640)),
    ((1920, 1080), (640, 384)),  # portrait phone video
    ((576, 768), (480, 640)),  # 4:3
])
def test_letterbox_keeps_the_aspect_in_stride_multiples(src_hw, net_hw):
    geometry = Geometry.fit(src_hw, 640, 32, rect=True)
    assert geometry.net_hw == net_hw
    assert detection_size(src_hw, 640) == net_hw  # CenterFace's input, the same rule
    if src_hw == (1080, 1920):
        assert geometry.new_wh == (640, 360) and geometry.top == 12  # 12 grey rows above and below


def test_video_sink_keeps_colours_and_odd_sizes(tmp_path, excerpt):
    """Frames go to x264 as I420 made by OpenCV: flat colour patches come back as they went in
    (a wrong matrix or range would move saturated colours by 5-20 levels), and an odd-sized
    frame is padded to even, not refused."""
    patches = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 255, 255), (40, 40, 40), (90, 160, 200)]
    height, width = 241, 7 * 64 + 1  # odd on both sides
    image = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate(patches):
        image[:, i * 64:(i + 1) * 64] = colour
    with VideoSink(tmp_path / "out.mp4", excerpt, width, height, 10.0, None) as sink:
        for i in range(5):
            sink.write(image, i / 10)
    frames = [f.image for f in read_frames(tmp_path / "out.mp4")]
    assert len(frames) == 5 and frames[0].shape == (height + 1, width + 1, 3)
    for i, colour in enumerate(patches):
        inner = frames[2][16:-16, i * 64 + 16:(i + 1) * 64 - 16].reshape(-1, 3).mean(axis=0)
        assert np.abs(inner - colour).max() <= 4, f"patch {colour} came back as {inner.round(1)}"
