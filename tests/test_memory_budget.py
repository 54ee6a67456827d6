"""Memory bounded in bytes (pipeline/budget.py): a 4K clip with a tiny budget completes with
the same output as with a large one; a budget below one frame's look-ahead is refused before
any work; phones' 10-bit HEVC decodes to the right frames; HDR sources get a note."""
from __future__ import annotations

import subprocess

import av
import cv2
import numpy as np
import pytest

from mediakit import BoxDetector, decode_frames, leftovers, read_zip
from pipeline import Settings, SettingsError, run_to_result
from pipeline.budget import plan_buffers
from pipeline.video import probe_video

UHD = (3840, 2160)
BOX = [1500, 700, 2100, 1700]


@pytest.fixture(scope="module")
def clip_4k(excerpt, tmp_path_factory):
    """8 frames of the excerpt scaled to 3840x2160, H.264, 10 fps."""
    path = tmp_path_factory.mktemp("uhd") / "uhd.mp4"
    frames = decode_frames(excerpt, range(8))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = *UHD, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for index in range(8):
            big = cv2.resize(frames[index], UHD, interpolation=cv2.INTER_LINEAR)
            for packet in stream.encode(av.VideoFrame.from_ndarray(big, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_tiny_budget_gives_the_same_output_as_a_large_one(clip_4k, tmp_path, no_stray_threads):
    info = probe_video(clip_4k)
    settings = Settings(interval=1, image_format="png", hold_s=0.2, batch=4)
    least = plan_buffers(settings.replace(memory_mb=1e6), info, make_video=True)
    tiny_mb = (least.frame_bytes * (least.lookahead + 4) + 4 * least.output_bytes) / 1e6
    tiny = settings.replace(memory_mb=tiny_mb)
    plan = plan_buffers(tiny, info, make_video=True)
    assert plan.peak_bytes <= tiny_mb * 1e6 and min(plan.decoded, plan.detected, plan.batch) == 1
    runs = {}
    for name, chosen in (("tiny", tiny), ("large", settings.replace(memory_mb=5000))):
        out = tmp_path / name
        result = run_to_result(clip_4k, chosen, output=out / "a.zip", video_output=out / "a.mp4",
                               detector=BoxDetector([BOX]))
        assert result.images_written == 8 and result.video_frames == 8
        runs[name] = read_zip(result.zip_path)
    assert runs["tiny"].image_names == runs["large"].image_names
    for name in runs["tiny"].image_names:
        assert np.array_equal(runs["tiny"].decoded(name), runs["large"].decoded(name)), name
    with av.open(str(tmp_path / "tiny" / "a.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 8


def test_budget_below_the_look_ahead_is_refused_before_work(clip_4k, tmp_path):
    detector = BoxDetector([BOX])
    with pytest.raises(SettingsError) as caught:
        run_to_result(clip_4k, Settings(memory_mb=30), output=tmp_path / "a.zip", detector=detector)
    message = str(caught.value)
    assert "30 MB" in message and "3840x2160" in message and "at least" in message
    assert detector.calls == [] and leftovers(tmp_path) == []


def test_bad_budget_values_are_refused():
    for bad in (0, -5, "lots"):
        with pytest.raises(SettingsError, match="memory budget"):
            Settings(memory_mb=bad)


@pytest.fixture(scope="module")
def hevc_10bit(excerpt, ffmpeg, tmp_path_factory):
    path = tmp_path_factory.mktemp("hevc") / "hdr10.mp4"
    subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(excerpt), "-frames:v", "10",
                    "-c:v", "libx265", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", "-tag:v", "hvc1",
                    "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc",
                    str(path)], check=True)
    return path


def test_10bit_hevc_decodes_to_the_frames_ffmpeg_shows(hevc_10bit, ffmpeg, tmp_path):
    info = probe_video(hevc_10bit)
    assert info.codec == "hevc" and (info.width, info.height) == (768, 576)
    raw = subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(hevc_10bit), "-f", "rawvideo",
                          "-pix_fmt", "bgr24", "-"], check=True, capture_output=True).stdout
    expected = np.frombuffer(raw, np.uint8).reshape(-1, 576, 768, 3)
    result = run_to_result(hevc_10bit, Settings(interval=1, image_format="png"), output=tmp_path / "a.zip",
                           detector=BoxDetector([]))
    contents = read_zip(result.zip_path)
    assert result.images_written == len(expected) == 10
    for index in range(10):
        diff = np.abs(contents.image_for_frame(index).astype(int) - expected[index])
        # the same picture up to rounding of the 10-bit to 8-bit conversion (dither, matrix)
        assert diff.mean() < 2.0 and np.percentile(diff, 99) <= 8, f"frame {index} differs from ffmpeg's decode"


def test_hdr_source_gets_a_note_in_the_result(hevc_10bit, tmp_path):
    assert probe_video(hevc_10bit).hdr == "PQ"
    result = run_to_result(hevc_10bit, Settings(interval=5), output=tmp_path / "a.zip", detector=BoxDetector([[1, 1, 50, 50]]))
    assert any("HDR (PQ)" in w and "without tone mapping" in w for w in result.warnings)
    assert "HDR (PQ)" in result.message
