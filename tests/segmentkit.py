"""A clip for the segment tests: real faces filmed by benchmarks/make_face_clip.py's virtual
camera (CenterFace finds them), a bright marker square flashed on known frames, and clicks
in the audio at those frames' times, so a test can check that the joined video and its
sound stay in sync.
"""
from __future__ import annotations

import csv
import io
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from audiokit import RATE, add_click, decode_audio

from benchmarks.make_face_clip import render, shots

FPS = 25
MARK = (8, 8, 24)  # x, y, side of the marker square flashed on FLASHES


def flashes(seconds: float) -> list[int]:
    """The frames with a flash and a click: every 1.3 s, off the segment boundaries' grid."""
    return [round(t * FPS) for t in np.arange(0.7, seconds - 0.3, 1.3)]


def write_face_clip(path: Path, seconds: float, size=(480, 270)) -> Path:
    width, height = size
    total = round(seconds * FPS)
    marks = set(flashes(seconds))
    shot_list = shots()
    per = -(-total // len(shot_list))
    frames = (image for shot in shot_list for image in render(shot, per, width, height))  # streamed
    audio = np.zeros(round(seconds * RATE), np.float32)
    for index in marks:
        audio = add_click(audio, index / FPS)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=Fraction(FPS))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": "20", "preset": "veryfast", "g": "50"}
        sound = out.add_stream("aac", rate=RATE)
        sound.layout, sound.bit_rate = "mono", 128_000
        for index, image in zip(range(total), frames):
            x, y, side = MARK
            image[y:y + side, x:x + side] = 255 if index in marks else 0
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        size_ = sound.codec_context.frame_size or 1024
        for start in range(0, len(audio), size_):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[start:start + size_][None]),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            for packet in sound.encode(frame):
                out.mux(packet)
        for packet in sound.encode(None):
            out.mux(packet)
    return path


def video_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    """(time, BGR picture) of every frame of the first video stream."""
    with av.open(str(path)) as container:
        return [(float(f.time), f.to_ndarray(format="bgr24")) for f in container.decode(video=0)]


def flashed_frames(frames: list[tuple[float, np.ndarray]]) -> list[int]:
    x, y, side = MARK
    return [i for i, (_, image) in enumerate(frames) if image[y + 4:y + side - 4, x + 4:x + side - 4].mean() > 200]


def click_times(path: Path, threshold: float = 0.4) -> list[float]:
    """Where each click starts, in seconds (onsets at least 0.3 s apart)."""
    audio = np.abs(decode_audio(path))
    times, last = [], -1.0
    for index in np.flatnonzero(audio > threshold):
        t = index / RATE
        if t - last > 0.3:
            times.append(t)
        last = t if t - last > 0.3 else last
    return times


def zip_rows(path: Path) -> list[dict]:
    with zipfile.ZipFile(path) as archive:
        return list(csv.DictReader(io.StringIO(archive.read("detections.csv").decode())))


def zip_images(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("frame_")}  # not the CSV, the report
