"""Clips for the identity and scene-cut tests, built from the sample photos.

`write_video` encodes BGR frames as H.264 (yuv420p, CRF 18). `two_shot_clip` films one
person's face in two shots separated by a cut, mirrored in the second, beside other people
(benchmarks/make_face_clip.py's virtual camera over the sample photos), and returns where
each face is on each frame, so tests can check pixels.
"""
from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def write_video(path: Path, frames: Sequence[np.ndarray], fps: int = 20) -> Path:
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def background(kind: int, width: int = 320, height: int = 240) -> np.ndarray:
    """A textured background: shot 0 bluish stripes, shot 1 reddish checks."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.zeros((height, width, 3), np.uint8)
    if kind == 0:
        image[..., 0] = 150 + 60 * ((x // 16) % 2)
        image[..., 1] = 90 + (y * 60 // height)
        image[..., 2] = 40
    else:
        image[..., 0] = 30
        image[..., 1] = 70 + 50 * (((x // 20) + (y // 20)) % 2)
        image[..., 2] = 170 + (x * 60 // width)
    return image


def zidane() -> Path:
    from benchmarks.make_face_clip import ultralytics_asset

    return ultralytics_asset("zidane.jpg")


def film(photo: np.ndarray, start: tuple[float, float, float], end: tuple[float, float, float],
         frames: int, size: tuple[int, int], boxes: dict[str, tuple]) -> tuple[list, list]:
    """A virtual camera over `photo` (crop (x, y, width) as fractions, eased from start to
    end): the frames, and each frame's {name: box} with `boxes` (photo pixels) moved along."""
    width, height = size
    ph, pw = photo.shape[:2]
    images, where = [], []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        t = t * t * (3 - 2 * t)
        x, y, w = (a + (b - a) * t for a, b in zip(start, end))
        s = width / (w * pw)
        matrix = np.array([[s, 0, -x * pw * s], [0, s, -y * ph * s]], np.float64)
        images.append(cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))
        where.append({name: (b[0] * s - x * pw * s, b[1] * s - y * ph * s, b[2] * s - x * pw * s, b[3] * s - y * ph * s)
                      for name, b in boxes.items()})
    return images, where


def two_shot_clip(tmp_path: Path, find, per_shot: int = 16, size=(640, 360)):
    """zidane.jpg filmed twice with a cut between: shot 1 as is, shot 2 mirrored and framed
    differently. "X" is the right-hand man (the photo's largest face), "Y" the other man.
    Returns (clip path, per-frame {name: box}, reference photo of X cropped and rescaled
    from shot 1's photo)."""
    photo = cv2.imread(str(zidane()))
    pw = photo.shape[1]
    x_box, y_box = find(photo)[:2]
    images, where = film(photo, (0.0, 0.0, 1.0), (0.1, 0.05, 0.85), per_shot, size, {"X": x_box, "Y": y_box})
    mirrored = np.ascontiguousarray(photo[:, ::-1])
    flip = lambda b: (pw - b[2], b[1], pw - b[0], b[3])
    more, where2 = film(mirrored, (0.05, 0.08, 0.9), (0.0, 0.0, 1.0), per_shot, size,
                        {"X": flip(x_box), "Y": flip(y_box)})
    x1, y1, x2, y2 = (int(v) for v in x_box)
    pad = (x2 - x1) // 2
    reference = cv2.resize(photo[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad], None, fx=0.7, fy=0.7,
                           interpolation=cv2.INTER_AREA)
    ref_path = tmp_path / "x_face.jpg"
    cv2.imwrite(str(ref_path), reference)
    return write_video(tmp_path / "two_shots.mp4", images + more, fps=10), where + where2, ref_path
