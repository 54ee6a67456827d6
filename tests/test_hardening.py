"""Hostile and odd input, limits and cleanup (issue 6): each case either works correctly
or fails with one clear message, leaving no output and no temp folders."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pipeline import InputError, OutputError, Settings, run_to_result
from pipeline.detect.detector import Detections
from pipeline.io.disk import estimate_output_bytes
from pipeline.io.video import probe_video, read_frames

REPO = Path(__file__).resolve().parent.parent
CLIP = REPO / "ui" / "assets" / "vtest_clip.mp4"  # 40 frames, 768x576, 10 fps
ENTRY_NAME = re.compile(r"^(frame_\d{6,}_t\d+\.\d{3}s\.(jpg|png)|detections\.csv|report\.(json|html))$")


class CornerDetector:
    """One person in the top-left quarter of every frame."""

    def detect(self, frames, indices):
        return [Detections(np.array([[0, 0, f.shape[1] / 2, f.shape[0] / 2]], np.float32),
                           np.ones(1, np.float32), np.zeros(1, np.int32)) for f in frames]


def make_video(path: Path, frames: list[np.ndarray], rate: int = 10, codec: str = "libx264",
               pix_fmt: str = "yuv420p", pts: list[int] | None = None, time_base=None) -> Path:
    """Encode BGR frames with PyAV (no system ffmpeg needed)."""
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def noise_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (height, width, 3), np.uint8) for _ in range(count)]


def assert_clean(folder: Path, keep: set[str] = frozenset()) -> None:
    left = sorted(p.name for p in folder.iterdir() if p.name not in keep)
    assert left == [], f"left behind: {left}"


def test_single_frame_video(tmp_path):
    video = make_video(tmp_path / "one.mp4", noise_frames(1, 64, 48))
    out = tmp_path / "out"
    out.mkdir()
    result = run_to_result(video, Settings(interval=10), output=out / "r.zip",
                           detector=CornerDetector(), video_output=out / "r.mp4", work_dir=out)
    assert result.images_written == 1 and result.video_frames == 1
    assert sorted(p.name for p in out.iterdir()) == ["r.mp4", "r.report.html", "r.report.json", "r.zip"]


def test_tiny_16x16_video(tmp_path):
    video = make_video(tmp_path / "tiny.mp4", noise_frames(5, 16, 16))
    result = run_to_result(video, Settings(interval=1, image_format="png"), output=tmp_path / "r.zip",
                           detector=CornerDetector(), work_dir=tmp_path)
    with zipfile.ZipFile(result.zip_path) as archive:
        images = [n for n in archive.namelist() if n.endswith(".png")]
        image = cv2.imdecode(np.frombuffer(archive.read(images[0]), np.uint8), cv2.IMREAD_COLOR)
    assert len(images) == 5 and image.shape == (16, 16, 3)


def test_odd_size_video_and_odd_output_size(tmp_path):
    """33x17 frames (ffv1 keeps odd sizes): the ZIP keeps the odd size, the H.264 video
    (which needs even sizes) is padded, never cropped, and every frame is there."""
    frames = noise_frames(6, 33, 17)
    video = make_video(tmp_path / "odd.mkv", frames, codec="ffv1", pix_fmt="yuv444p")
    assert probe_video(video).resolution == (33, 17)
    result = run_to_result(video, Settings(interval=1, image_format="png", scale_pct=55),
                           output=tmp_path / "r.zip", detector=CornerDetector(),
                           video_output=tmp_path / "r.mp4", work_dir=tmp_path)
    with zipfile.ZipFile(result.zip_path) as archive:
        first = cv2.imdecode(np.frombuffer(archive.read(sorted(n for n in archive.namelist() if n.endswith(".png"))[0]), np.uint8), cv2.IMREAD_COLOR)
    assert first.shape[:2] == (round(17 * 0.55), round(33 * 0.55))  # 9 x 18
    video_frames = list(read_frames(result.video_path))
    assert len(video_frames) == 6 and video_frames[0].image.shape[:2] == (10, 18)


def test_variable_frame_rate_times_come_from_timestamps(tmp_path):
    pts = [0, 1, 2, 5, 6, 12, 13, 20]  # in 1/10 s: gaps of 0.3, 0.6 and 0.7 s
    video = make_video(tmp_path / "vfr.mkv", noise_frames(len(pts), 64, 48), codec="libx264",
                       pts=pts, time_base=Fraction(1, 10))
    result = run_to_result(video, Settings(interval=1), output=tmp_path / "r.zip",
                           detector=CornerDetector(), work_dir=tmp_path)
    with zipfile.ZipFile(result.zip_path) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith(".jpg"))
    times = [float(re.search(r"_t([\d.]+)s", n).group(1)) for n in names]
    assert times == pytest.approx([p / 10 for p in pts], abs=1e-3)


def test_truncated_file_with_wrong_frame_count_in_header(tmp_path):
    """An AVI cut short: its header still promises all 40 frames. What decodes is used."""
    avi = make_video(tmp_path / "full.avi", [f.image for f in read_frames(CLIP)], codec="mpeg4")
    data = avi.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 6 // 10])
    with av.open(str(cut)) as container:
        assert container.streams.video[0].frames == 40  # the header's claim
    result = run_to_result(cut, Settings(interval=1), output=tmp_path / "r.zip",
                           detector=CornerDetector(), work_dir=tmp_path)
    assert 5 < result.images_written < 40
    assert result.stop_reason == "completed"


def test_hostile_file_name_never_reaches_zip_entries(tmp_path):
    name = "it's \"quoted\" 名前 ../evil; rm -rf.mp4".replace("/", "_")
    video = tmp_path / name
    video.write_bytes(CLIP.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "pipeline", str(video), "--interval", "20",
                           "--detections", str(_empty_csv(tmp_path))],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    zip_path = Path(json.loads(proc.stdout.strip().splitlines()[-1])["zip"])
    assert zip_path.parent == tmp_path and zip_path.name == Path(name).stem + "_mosaic.zip"
    with zipfile.ZipFile(zip_path) as archive:
        assert all(ENTRY_NAME.match(n) for n in archive.namelist()), archive.namelist()


def _empty_csv(folder: Path) -> Path:
    path = folder / "none.csv"
    path.write_text("frame,x1,y1,x2,y2\n")
    return path


@pytest.mark.parametrize("content", [b"", b"hello, I am not a video\n" * 100, b"\x89PNG\r\n\x1a\n" + b"\0" * 500])
def test_not_a_video_is_one_clear_error(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError) as err:
        run_to_result(bad, Settings(), output=tmp_path / "r.zip", detector=CornerDetector(), work_dir=tmp_path)
    assert "bad.mp4" in str(err.value) and "\n" not in str(err.value)
    assert_clean(tmp_path, keep={"bad.mp4"})


# -- disk ------------------------------------------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MB tmpfs (needs root, as in CI). Unmounted afterwards."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_job_refused_up_front_when_disk_is_too_small(tiny_disk, tmp_path):
    settings = Settings(interval=1, image_format="png")
    assert estimate_output_bytes(probe_video(CLIP), settings, False) > 3_000_000
    with pytest.raises(OutputError, match="Not enough disk space"):
        run_to_result(CLIP, settings, output=tiny_disk / "r.zip", detector=CornerDetector(),
                      work_dir=tmp_path)
    assert_clean(tiny_disk)


def test_disk_filling_mid_run_stops_cleanly(tiny_disk, tmp_path, monkeypatch):
    """Another process fills the disk after the up-front check passed."""
    monkeypatch.setattr("pipeline.jobs.runner.ensure_free_space", lambda folder, needed: None)
    with pytest.raises(OutputError) as err:
        run_to_result(CLIP, Settings(interval=1, image_format="png"), output=tiny_disk / "r.zip",
                      detector=CornerDetector(), work_dir=tmp_path)
    assert "\n" not in str(err.value)
    assert_clean(tiny_disk)
    assert_clean(tmp_path, keep={"tiny"})


# -- memory ----------------------------------------------------------------------------
PEAK_RSS_SCRIPT = """
import resource, sys
from pipeline import Settings, run_to_result
run_to_result(sys.argv[1], Settings(interval=1, detections_csv=sys.argv[2]), output=sys.argv[3],
              video_output=sys.argv[4])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_kb(video: Path, folder: Path, frames: int) -> int:
    csv_path = folder / "boxes.csv"  # rows only for frames the video has: a replay refuses the others
    csv_path.write_text("frame,x1,y1,x2,y2\n" + "".join(f"{i},100,100,300,400\n" for i in range(0, frames, 3)))
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, str(video), str(csv_path),
                           str(folder / f"{video.stem}.zip"), str(folder / f"{video.stem}_masked.mp4")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


def test_peak_memory_is_flat_in_video_length(tmp_path):
    frames = [f.image for f in read_frames(CLIP)]
    long_video = make_video(tmp_path / "long.mp4", frames * 10)  # 400 frames
    assert probe_video(long_video).frame_count == 400
    short_kb = _peak_rss_kb(CLIP, tmp_path, 40)
    long_kb = _peak_rss_kb(long_video, tmp_path, 400)
    print(f"peak RSS: 40 frames {short_kb / 1024:.0f} MiB, 400 frames {long_kb / 1024:.0f} MiB")
    assert long_kb <= 1.25 * short_kb
