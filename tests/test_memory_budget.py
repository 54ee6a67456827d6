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
from pipeline.jobs.budget import plan_buffers
from pipeline.io.video import VideoInfo, probe_video

UHD = (3840, 2160)
BOX = [1500, 702, 2100, 1698]  # multiples of 6: exact at 1/6 scale and back


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


def _run(clip, settings, out, video: bool, detector):
    return run_to_result(clip, settings, output=out / "a.zip", video_output=out / "a.mp4" if video else None,
                         detector=detector)


def test_tiny_budget_gives_the_same_output_as_a_large_one(clip_4k, tmp_path, no_stray_threads):
    """ZIP only: every queue one frame deep, the full-size look-ahead just fitting."""
    info = probe_video(clip_4k)
    settings = Settings(interval=1, image_format="png", hold_s=0.2, batch=4)
    least = plan_buffers(settings.replace(memory_mb=1e6), info, make_video=False)
    tiny_mb = (least.frame_bytes * (least.lookahead + 4) + 3 * least.output_bytes) / 1e6
    tiny = settings.replace(memory_mb=tiny_mb)
    plan = plan_buffers(tiny, info, make_video=False)
    assert plan.peak_bytes <= tiny_mb * 1e6 and min(plan.decoded, plan.detected, plan.batch) == 1
    assert not plan.reread
    runs = {}
    for name, chosen in (("tiny", tiny), ("large", settings.replace(memory_mb=5000))):
        result = _run(clip_4k, chosen, tmp_path / name, False, BoxDetector([BOX]))
        assert result.images_written == 8
        runs[name] = read_zip(result.zip_path)
    assert runs["tiny"].image_names == runs["large"].image_names
    for name in runs["tiny"].image_names:
        assert np.array_equal(runs["tiny"].decoded(name), runs["large"].decoded(name)), name


def test_small_budget_video_detects_on_small_copies_and_masks_the_same(clip_4k, tmp_path, no_stray_threads):
    """With a video, a budget that cannot spare the full-size look-ahead makes detection read
    small copies and the renderer read the full frames a second time: the detector sees
    640x360 pictures, and the ZIP and every video frame are the same as a run that held
    full frames (the boxes scaled back exactly)."""
    info = probe_video(clip_4k)
    settings = Settings(interval=1, image_format="png", hold_s=0.2, batch=4)
    small = settings.replace(memory_mb=150)  # one-reader least is ~225 MB; the reread least ~130
    plan = plan_buffers(small, info, make_video=True)
    large_plan = plan_buffers(settings.replace(memory_mb=5000), info, make_video=True)
    assert plan.reread and plan.detect_size == (640, 360) and plan.peak_bytes <= 150e6
    assert not large_plan.reread
    runs, videos = {}, {}
    for name, chosen in (("small", small), ("large", settings.replace(memory_mb=5000))):
        detector = BoxDetector([BOX], frame_size=UHD)
        result = _run(clip_4k, chosen, tmp_path / name, True, detector)
        assert result.images_written == 8 and result.video_frames == 8
        assert set(detector.shapes) == {(360, 640, 3) if name == "small" else (2160, 3840, 3)}
        runs[name] = read_zip(result.zip_path)
        videos[name] = decode_frames(tmp_path / name / "a.mp4")
    for name in runs["small"].image_names:
        assert np.array_equal(runs["small"].decoded(name), runs["large"].decoded(name)), name
    assert runs["small"].csv_text == runs["large"].csv_text
    assert len(videos["small"]) == 8
    for index, frame in videos["small"].items():
        assert np.array_equal(frame, videos["large"][index]), index
    # and the box really is covered: it no longer looks like the source there
    source = cv2.resize(decode_frames(clip_4k, [3])[3], UHD)
    x1, y1, x2, y2 = BOX
    inside = np.abs(videos["small"][3][y1:y2, x1:x2].astype(int) - source[y1:y2, x1:x2]).mean()
    outside = np.abs(videos["small"][3][:600, :1400].astype(int) - source[:600, :1400]).mean()
    assert inside > 8 * max(outside, 0.5), (inside, outside)


def test_the_second_read_stops_with_a_stop_that_keeps_what_is_done(clip_4k, tmp_path, no_stray_threads):
    """Stop-and-keep ends the first reader early; the rereader must end too, not wait forever."""
    import threading

    from pipeline import run

    finish = threading.Event()
    detector = BoxDetector([BOX], frame_size=UHD, delay_s=0.2)
    result = None
    for event in run(clip_4k, Settings(interval=1, image_format="png", hold_s=0.2, batch=1, memory_mb=150),
                     output=tmp_path / "a.zip", video_output=tmp_path / "a.mp4", detector=detector, finish=finish):
        if getattr(event, "frames_read", 0) >= 2:
            finish.set()
        if hasattr(event, "zip_path"):
            result = event
    assert result is not None and result.stop_reason == "user_stop"
    assert 1 <= result.video_frames < 8 and result.images_written == result.video_frames


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


def test_default_budget_keeps_1080p_depths_and_rereads_4k_video():
    """The rule, on the default 1000 MB: 1080p keeps full frames and the old depths (its
    speed); a 4K video detects on 640x360 copies, with short output queues."""
    def info(width, height):
        return VideoInfo(width, height, 30.0, 300, 10.0, 0, "h264", True)

    hd = plan_buffers(Settings(), info(1920, 1080), make_video=True)
    assert not hd.reread and (hd.decoded, hd.detected, hd.rendered, hd.to_video) == (16, 16, 8, 8)
    uhd = plan_buffers(Settings(), info(3840, 2160), make_video=True)
    assert uhd.reread and uhd.detect_size == (640, 360) and uhd.lookahead == 16
    assert uhd.rendered == uhd.to_video == 2 and uhd.peak_bytes <= 400e6
    zip_only = plan_buffers(Settings(), info(3840, 2160), make_video=False)  # no look-ahead of every frame
    assert not zip_only.reread


def test_a_4k_tile_scan_keeps_two_full_frames_waiting_for_detection():
    """With the full-resolution scan (detect_full) detection needs 4K frames whole: at most
    DETECT_FULL_SHARE of the budget of them wait for it (two, not the 24 of a batch of 8 and
    its queue), while the detected queue, whose frames carry no pixels, keeps its depth.
    1080p has no second read and keeps its old depths."""
    from pipeline.detect.scan import look_ahead_s, tiles_apply

    def plan(width, height):
        info = VideoInfo(width, height, 30.0, 300, 10.0, 0, "h264", True)
        settings = Settings()  # detail full, person target
        return plan_buffers(settings, info, make_video=True, full_detect=tiles_apply(True, settings, (height, width)),
                            look_ahead_s=look_ahead_s(True, settings, (height, width), info.fps))

    uhd = plan(3840, 2160)
    assert uhd.detect_full and (uhd.batch, uhd.decoded) == (1, 1) and uhd.detected == 16
    assert uhd.detect_full_bytes == 2 * 3840 * 2160 * 3
    hd = plan(1920, 1080)
    assert not hd.reread and (hd.batch, hd.decoded, hd.detected) == (8, 16, 16)
