"""The mosaicked video output (issue 5): format, frame count, duration, audio, faststart,
the hold that keeps a person masked across detector misses, and cleanup on cancel."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from pipeline import Cancelled, Result, Settings, run, run_to_result
from pipeline.detect.detector import Detections
from pipeline.mask.maskers import padded_boxes
from pipeline.io.video import read_frames

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "samples"
CLIP = REPO / "ui" / "assets" / "vtest_clip.mp4"  # 40 frames, 768x576, 10 fps
BOX = (300.0, 150.0, 420.0, 400.0)


class FixedBoxDetector:
    """Finds one person at BOX in every frame except those in `missing`."""

    def __init__(self, missing=()):
        self.missing = set(missing)

    def detect(self, frames, indices):
        out = []
        for index in indices:
            if index in self.missing:
                out.append(Detections.empty())
            else:
                out.append(Detections(np.array([BOX], np.float32), np.array([0.9], np.float32),
                                      np.array([0], np.int32)))
        return out


def ffprobe(path: Path, *args: str) -> dict:
    assert shutil.which("ffprobe"), "ffprobe missing: run tests/setup_system.sh"
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, str(path)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


@pytest.mark.skipif(not (SAMPLES / "Megamind.avi").exists(), reason="../shared/samples not present")
def test_megamind_video_keeps_frames_duration_and_audio(tmp_path):
    source = SAMPLES / "Megamind.avi"
    video = tmp_path / "out.mp4"
    result = run_to_result(source, Settings(interval=30), output=tmp_path / "out.zip",
                           detector=FixedBoxDetector(), video_output=video, work_dir=tmp_path)
    assert result.video_path == video and result.video_frames == 270

    streams = ffprobe(video, "-count_frames", "-show_streams")["streams"]
    v = next(s for s in streams if s["codec_type"] == "video")
    a = [s for s in streams if s["codec_type"] == "audio"]
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p"
    assert int(v["nb_read_frames"]) == 270
    source_v = next(s for s in ffprobe(source, "-show_streams")["streams"] if s["codec_type"] == "video")
    assert v["r_frame_rate"] == source_v["r_frame_rate"] == "2997/125"
    assert abs(float(v["duration"]) - 270 / (2997 / 125)) < 0.1
    assert len(a) == 1 and a[0]["codec_name"] == "aac"  # AC-3 does not play in browsers: re-encoded
    assert abs(float(a[0]["duration"]) - float(v["duration"])) < 0.2

    head = video.read_bytes()
    assert 0 <= head.find(b"moov") < head.find(b"mdat"), "moov must precede mdat (+faststart)"

    # Every frame is masked: compare the video's frames with the source inside the box.
    x1, y1, x2, y2 = padded_boxes(np.array([BOX]), 10.0, 720, 528)[0]
    for out_frame, src_frame in zip(read_frames(video), read_frames(source)):
        inside_out = out_frame.image[y1:y2, x1:x2].astype(int)
        inside_src = src_frame.image[y1:y2, x1:x2].astype(int)
        # mosaic cells are flat: row-to-row differences vanish inside a cell
        assert np.abs(np.diff(inside_out, axis=1)).mean() < 0.5 * np.abs(np.diff(inside_src, axis=1)).mean() + 1
    # The ZIP holds the same masked frames (every 30th), and the CSV covers every frame.
    with zipfile.ZipFile(result.zip_path) as archive:
        images = [n for n in archive.namelist() if n.endswith(".jpg")]
        rows = list(csv.DictReader(io.StringIO(archive.read("detections.csv").decode())))
    assert len(images) == 9
    assert sorted({int(r["frame"]) for r in rows}) == list(range(270))


def _region_changed(zip_path: Path, index: int, source_frames: dict[int, np.ndarray]) -> bool:
    with zipfile.ZipFile(zip_path) as archive:
        name = next(n for n in archive.namelist() if n.startswith(f"frame_{index:06d}_"))
        image = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_COLOR)
    x1, y1, x2, y2 = (int(v) for v in BOX)
    return not np.array_equal(image[y1:y2, x1:x2], source_frames[index][y1:y2, x1:x2])


def _csv_with_gap(path: Path, missing: set[int]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "x1", "y1", "x2", "y2"])
        for index in range(5, 30):
            if index not in missing:
                writer.writerow([index, *BOX])
    return path


@pytest.mark.parametrize("hold_s, gap_masked", [(0.5, True), (0.0, False)])
def test_hold_masks_frames_the_detector_missed(tmp_path, hold_s, gap_masked):
    missing = {15, 16, 17}  # the person is not detected for 3 frames in the middle of the track
    detections = _csv_with_gap(tmp_path / "boxes.csv", missing)
    settings = Settings(interval=1, image_format="png", detections_csv=detections, hold_s=hold_s)
    result = run_to_result(CLIP, settings, output=tmp_path / "out.zip", work_dir=tmp_path)
    assert result.images_written == 40
    source_frames = {f.index: f.image for f in read_frames(CLIP)}
    for index in missing:
        assert _region_changed(result.zip_path, index, source_frames) is gap_masked, index
    for index in (10, 14, 18, 29):  # detected frames are masked either way
        assert _region_changed(result.zip_path, index, source_frames)
    # hold also starts the mask 5 frames (0.5 s at 10 fps) early and ends it 5 frames late
    assert _region_changed(result.zip_path, 2, source_frames) is gap_masked
    assert _region_changed(result.zip_path, 33, source_frames) is gap_masked
    assert not _region_changed(result.zip_path, 38, source_frames)
    with zipfile.ZipFile(result.zip_path) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("detections.csv").decode())))
    held = [r for r in rows if r["kind"] == "held"]
    assert {int(r["frame"]) for r in held} == ({0, 1, 2, 3, 4, 15, 16, 17, 30, 31, 32, 33, 34} if gap_masked else set())
    assert len({r["track_id"] for r in rows}) == 1  # one person, one track across the gap


def test_hold_applies_in_the_video_too(tmp_path):
    video = tmp_path / "out.mp4"
    run_to_result(CLIP, Settings(interval=40, hold_s=0.5), output=tmp_path / "out.zip",
                  detector=FixedBoxDetector(missing={15, 16, 17}), video_output=video, work_dir=tmp_path)
    x1, y1, x2, y2 = (int(v) for v in BOX)
    source = {f.index: f.image for f in read_frames(CLIP)}
    for frame in read_frames(video):
        if frame.index in (15, 16, 17):
            diff = np.abs(frame.image[y1:y2, x1:x2].astype(int) - source[frame.index][y1:y2, x1:x2]).mean()
            assert diff > 5, f"frame {frame.index} shows the unmasked person"


def test_cancel_removes_partial_video(tmp_path):
    cancel = threading.Event()
    video = tmp_path / "out.mp4"
    events = run(CLIP, Settings(interval=1), output=tmp_path / "out.zip", detector=FixedBoxDetector(),
                 video_output=video, cancel=cancel, work_dir=tmp_path)
    with pytest.raises(Cancelled):
        for event in events:
            if getattr(event, "frames_read", 0) >= 5:
                cancel.set()
            assert not isinstance(event, Result)
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "partial video, ZIP or job folder left"


def test_cli_video_flag(tmp_path):
    clip = tmp_path / "clip name é.mp4"
    shutil.copy(CLIP, clip)
    rows = tmp_path / "boxes.csv"
    rows.write_text("frame,x1,y1,x2,y2\n3,10,10,50,50\n")
    proc = subprocess.run(
        ["python", "-m", "pipeline", str(clip), "--interval", "20", "--detections", str(rows),
         "--video", str(tmp_path / "v.mp4")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["video_frames"] == 40 and Path(summary["video"]).exists()
    assert Path(summary["zip"]) == tmp_path / "clip name é_mosaic.zip"


def _clip_with_aac(path: Path, seconds: float = 2.0) -> Path:
    """H.264 + AAC in MP4, made with PyAV: an audio track that fits MP4 as it is."""
    frames = [f.image for f in read_frames(CLIP)][: int(seconds * 10)]
    rate = 44100
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 768, 576, "yuv420p"
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "stereo"
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        samples = np.stack([tone, tone])  # planar stereo
        for start in range(0, samples.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                               format="fltp", layout="stereo")
            chunk.sample_rate, chunk.pts = rate, start
            for packet in audio.encode(chunk):
                out.mux(packet)
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path


def test_aac_audio_is_copied_not_reencoded(tmp_path):
    source = _clip_with_aac(tmp_path / "with_aac.mp4")
    video = tmp_path / "out.mp4"
    run_to_result(source, Settings(interval=10), output=tmp_path / "out.zip", detector=FixedBoxDetector(),
                  video_output=video, work_dir=tmp_path)

    def audio_payloads(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]

    assert audio_payloads(video) == audio_payloads(source), "AAC must be copied packet for packet"


@pytest.mark.parametrize("codec, suffix", [("libvpx-vp9", ".webm"), ("libx264", ".mov"), ("mpeg4", ".mkv")])
def test_other_containers_in_and_a_browser_mp4_out(tmp_path, codec, suffix):
    frames = [f.image for f in read_frames(CLIP)][:12]
    source = tmp_path / f"clip{suffix}"
    with av.open(str(source), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    result = run_to_result(source, Settings(interval=4), output=tmp_path / "out.zip", detector=FixedBoxDetector(),
                           video_output=tmp_path / "out.mp4", work_dir=tmp_path)
    assert result.images_written == 3 and result.video_frames == 12
    with av.open(str(result.video_path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_rotated_source_gives_an_upright_video(tmp_path):
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg missing: run tests/setup_system.sh"
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(CLIP), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(rotated)], check=True)
    result = run_to_result(rotated, Settings(interval=40), output=tmp_path / "out.zip",
                           detector=FixedBoxDetector(missing=set(range(40))), video_output=tmp_path / "out.mp4",
                           work_dir=tmp_path)
    streams = ffprobe(result.video_path, "-show_streams")["streams"]
    v = next(s for s in streams if s["codec_type"] == "video")
    assert (v["width"], v["height"]) == (576, 768), "the picture itself is upright"
    assert not any(sd.get("rotation") for sd in v.get("side_data_list", [])), "no rotation left to apply"
    upright = next(read_frames(rotated)).image  # our reader applies the rotation, as players do
    first = next(read_frames(result.video_path)).image
    assert np.abs(first.astype(int) - upright.astype(int)).mean() < 6  # H.264 loss only


X264_SUBME = {"ultrafast": 0, "superfast": 1, "veryfast": 2, "faster": 4, "fast": 6, "medium": 7}  # x264's preset table


def _x264_options(path: Path) -> dict[str, str]:
    """The options x264 wrote into the stream's SEI ('x264 - core N - ... - options: cabac=1 ...')."""
    text = path.read_bytes().split(b"options: ", 1)[1].split(b"\x00", 1)[0].decode("ascii", "replace")
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def test_encode_fast_or_small_reaches_x264_and_both_show_the_masked_frames(tmp_path):
    from pipeline.settings import ENCODES

    rows = tmp_path / "boxes.csv"
    rows.write_text("frame,x1,y1,x2,y2\n" + "".join(f"{i},300,150,420,400\n" for i in range(40)))
    source = {f.index: f.image for f in read_frames(CLIP)}
    sizes = {}
    for encode in ("fast", "small"):
        video = tmp_path / f"{encode}.mp4"
        proc = subprocess.run(["python", "-m", "pipeline", str(CLIP), "-o", str(tmp_path / f"{encode}.zip"),
                               "--interval", "20", "--detections", str(rows), "--video", str(video),
                               "--encode", encode], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert _x264_options(video)["subme"] == str(X264_SUBME[ENCODES[encode]]), encode
        frames = list(read_frames(video))
        assert len(frames) == 40
        for frame in frames:
            covered = frame.image[150:400, 300:420].astype(int)
            assert np.abs(covered - source[frame.index][150:400, 300:420]).mean() > 5, (encode, frame.index)
            assert cv2.PSNR(frame.image[:, 450:], source[frame.index][:, 450:]) > 32, (encode, frame.index)
        sizes[encode] = video.stat().st_size
    assert sizes["small"] < 0.8 * sizes["fast"], sizes
